"""The clients' writes and reads, against etcd's own history, by revision.

Where linearizability.py orders operations by time alone, these checks use
the revisions etcd returned (each response's header revision), and the
workload's promise that every write's value is unique:

* ack-write-present: an acknowledged write (a put, a CAS that succeeded, a
  delete that deleted) is in etcd's history at exactly its revision, with
  its key and value: nothing acknowledged was lost.
* write-at-most-once: no write's value is in the history twice under the
  workload's prefix (a retried put applied twice would be).
* failed-write-absent: a write that failed (its error said it had no
  effect) is not in the history.
* write-not-invented: every put in the history under the workload's prefix
  carries a value some client wrote.
* read-current: a linearizable GET that returned revision R read the key's
  value as of R, exactly: no stale linearizable read.
* read-not-invented: a serializable GET that returned revision R read a
  value the key had at R or before (it may lag, it may not invent).
"""

from __future__ import annotations

import bisect
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from .history import (
    CAS,
    DELETE,
    FAIL,
    GET,
    OK,
    PUT,
    Op,
    Violation,
    WatchEvent,
    describe,
    summarize,
)


class _Timeline:
    """One key's values by revision, from etcd's history."""

    def __init__(self) -> None:
        self.revisions: List[int] = []
        self.values: List[Optional[bytes]] = []  # None: deleted
        self.first: Dict[bytes, int] = {}  # value -> the revision first put

    def add(self, event: WatchEvent) -> None:
        self.revisions.append(event.revision)
        if event.type == "put":
            value = event.value or b""
            self.values.append(value)
            self.first.setdefault(value, event.revision)
        else:
            self.values.append(None)

    def at(self, revision: int) -> Optional[bytes]:
        """The value as of `revision` (None: absent)."""
        i = bisect.bisect_right(self.revisions, revision)
        return self.values[i - 1] if i else None

    def had(self, value: Optional[bytes], revision: int) -> bool:
        """Whether the key had `value` at `revision` or before (None: absent,
        as every key is before its first put).  Constant time: a campaign
        checks hundreds of thousands of reads against keys of tens of
        thousands of values."""
        if value is None:
            return True
        first = self.first.get(value)
        return first is not None and first <= revision


def check(
    ops: Sequence[Op], reference: Sequence[WatchEvent], prefix: bytes = b""
) -> List[Violation]:
    """The checks above; `prefix` is the key range the workload owns (every
    put under it must be one of `ops`)."""
    timelines: Dict[bytes, _Timeline] = {}
    at: Dict[Tuple[int, bytes], WatchEvent] = {}
    where: Dict[bytes, List[WatchEvent]] = {}  # value -> the puts of it
    for event in reference:
        timelines.setdefault(event.key, _Timeline()).add(event)
        at[(event.revision, event.key)] = event
        # Only the workload's own values are unique per write (a lock's
        # keys, say, all hold b"").
        if event.type == "put" and event.key.startswith(prefix):
            where.setdefault(event.value or b"", []).append(event)
    found: Dict[str, List[str]] = {}

    def report(check: str, text: str) -> None:
        found.setdefault(check, []).append(text)

    written: Set[bytes] = set()
    for op in ops:
        if op.kind in (PUT, CAS) and op.value is not None:
            written.add(op.value)
            if op.outcome == FAIL and op.value in where:
                report("failed-write-absent", f"{describe(op)} is in the history")
        if op.outcome != OK:
            continue
        if op.kind == GET:
            _read(op, timelines.get(op.key, _Timeline()), report)
        elif _acknowledged(op):
            problem = _present(op, at, where)
            if problem:
                report("ack-write-present", f"{describe(op)}: {problem}")
    for value, events in where.items():
        if len(events) > 1:
            revisions = [e.revision for e in events]
            report("write-at-most-once", f"{value!r} put at revisions {revisions}")
    for event in reference:
        if (
            event.type == "put"
            and event.key.startswith(prefix)
            and event.value not in written
        ):
            report(
                "write-not-invented",
                f"{event.key!r}@{event.revision} put {event.value!r}, which no "
                "client wrote",
            )
    return [Violation(check, summarize(texts)) for check, texts in found.items()]


def _acknowledged(op: Op) -> bool:
    if op.kind == PUT:
        return True
    if op.kind in (CAS, DELETE):
        return op.succeeded is True
    return False


def _present(
    op: Op,
    at: Dict[Tuple[int, bytes], WatchEvent],
    where: Dict[bytes, List[WatchEvent]],
) -> Optional[str]:
    """What is wrong with an acknowledged write's place in the history."""
    if op.revision is None:
        if op.kind == DELETE:
            return None  # nothing to find it by
        if op.value not in where:
            return "not in the history"
        return None
    event = at.get((op.revision, op.key))
    if event is None:
        return f"no event of the key at revision {op.revision}"
    if op.kind == DELETE:
        return None if event.type == "delete" else f"a put at {op.revision}"
    if event.type != "put" or event.value != op.value:
        return f"etcd has {event.type} {event.value!r} at {op.revision}"
    return None


def _read(op: Op, timeline: _Timeline, report: Callable[[str, str], None]) -> None:
    if op.revision is None:
        return
    if not op.serializable:
        value = timeline.at(op.revision)
        if value != op.result:
            report(
                "read-current",
                f"{describe(op)}, but as of revision {op.revision} it was {value!r}",
            )
    elif not timeline.had(op.result, op.revision):
        report(
            "read-not-invented",
            f"{describe(op)}: the key never had that value by revision {op.revision}",
        )
