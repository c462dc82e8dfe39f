"""Deliberate corruption of what the workload recorded (``--inject-bug``),
to show that the checks catch what they claim to: each bug is what a broken
client would have reported."""

from __future__ import annotations

import random
from typing import List, Sequence

from .history import GET, OK, PUT, Op, WatchEvent, WatchLog

BUGS = ("lost-write", "stale-read", "double-event")


def inject(
    bug: str,
    ops: List[Op],
    watches: List[WatchLog],
    reference: Sequence[WatchEvent],
    rng: random.Random,
) -> str:
    """Corrupt the records in place; say what was done."""
    if bug == "lost-write":
        # An acknowledged put whose value etcd never saw.
        puts = [op for op in ops if op.kind == PUT and op.outcome == OK]
        op = rng.choice(puts)
        op.value = (op.value or b"") + b"-lost"
        return (
            f"{op.process}'s put of {op.key!r} at revision {op.revision}"
            " reported a value never written"
        )
    if bug == "stale-read":
        # A linearizable read that returns the value its key had before the
        # last write that completed before the read began.
        history = [e for e in reference if e.type == "put"]
        for op in sorted(ops, key=lambda o: o.start):
            if op.kind != GET or op.serializable or op.outcome != OK or not op.revision:
                continue
            older = [
                e.value
                for e in history
                if e.key == op.key and e.revision < op.revision and e.value != op.result
            ]
            if older and op.start > ops[0].start + 5:
                op.result = older[0]
                return (
                    f"{op.process}'s get of {op.key!r} at revision {op.revision}"
                    " returned an old value"
                )
        raise RuntimeError("no read to make stale")
    if bug == "double-event":
        log = max(watches, key=lambda w: len(w.events))
        at = rng.randrange(len(log.events))
        log.events.insert(at + 1, log.events[at])
        revision = log.events[at].revision
        return f"watch {log.name} delivered the event at revision {revision} twice"
    raise ValueError(f"unknown bug {bug!r}; one of {', '.join(BUGS)}")
