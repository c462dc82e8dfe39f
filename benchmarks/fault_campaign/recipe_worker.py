"""A Lock contender or an Election candidate, each in a process of its own
(``python -m fault_campaign.recipe_worker lock|election NAME ENDPOINTS SECONDS``
with benchmarks/ on the path), so that the recipes are contended by
independent clients and sessions.

While it holds the lock (or leads), a worker writes a fenced key through a
txn guarded by `Lock.is_owner()` (`Election.is_leader()`): values
``fencing.encode(tenure, seq)``, seq 1, 2, 3... within one tenure, which
ends at the first write that fails or whose outcome is unknown.  A tenure's
id (``<name>.<n>:<key>@<create revision>``) is never used twice in the
process, even across sessions.  The fencing
check then finds, in etcd's history, whether two holders ever interleaved.

It prints one JSON line at the end: its counts, and every exception that
was not an `EtcdError` (each a violation).  With ``CHAOS_TRACE_DIR`` set, it
also writes ``<dir>/<name>.jsonl``: one line per acquisition, fenced write
and release, with the revision and member of etcd's answer, for a
post-mortem of a fencing violation.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sys
import time
from collections import Counter
from typing import Any, Dict, List, Optional, Union

import pyetcd_wire as etcd
from pyetcd_wire import Op
from pyetcd_wire.recipes import Election, Lock, Session

from .fencing import encode

LOCK_NAME = b"/chaos/lock"
LOCK_FENCE = b"/chaos/fenced/lock"
ELECTION_NAME = b"/chaos/election"
ELECTION_FENCE = b"/chaos/fenced/election"
SESSION_TTL = 5
CALL_TIMEOUT = 3.0

# Tenures (terms) are numbered across the whole process: a loop that ends
# on an error and starts again must not reuse an id the fencing check has
# seen end.
_tenures = itertools.count(1)


class Trace:
    """JSON lines of what a worker did and what etcd answered (or nothing)."""

    def __init__(self, path: Optional[str]) -> None:
        self._path = path

    def __call__(self, event: str, **fields: Any) -> None:
        if self._path is not None:
            fields.update(t=round(time.monotonic(), 4), ev=event)
            with open(self._path, "a") as file:  # whole lines, even if killed
                file.write(json.dumps(fields) + "\n")

    def answer(self, event: str, header: Any, **fields: Any) -> None:
        self(event, rev=header.revision, member=f"{header.member_id:x}", **fields)


trace = Trace(None)


def _held_writes(
    client: etcd.Client,
    guard: Any,
    fence: bytes,
    tenure: str,
    counts: Counter,
    rng: random.Random,
) -> None:
    """Fenced writes for up to 1.5 s of a tenure; stops at the first doubt."""
    until = time.monotonic() + rng.uniform(0.2, 1.5)
    seq = 1
    while time.monotonic() < until:
        value = encode(tenure, seq)
        try:
            response = client.txn([guard], [Op.put(fence, value)], timeout=CALL_TIMEOUT)
        except etcd.EtcdError as exc:
            counts["write-" + ("fail" if exc.outcome_known else "unknown")] += 1
            trace("write-error", tenure=tenure, seq=seq, error=repr(exc)[:200])
            return
        ok = response.succeeded
        trace.answer("write", response.header, tenure=tenure, seq=seq, ok=ok)
        if not response.succeeded:
            counts["write-not-owner"] += 1
            return
        counts["write-ok"] += 1
        seq += 1
        time.sleep(0.02)


def lock_loop(client: etcd.Client, name: str, seconds: float, counts: Counter) -> None:
    rng = random.Random(name)
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        with Session(client, ttl=SESSION_TTL) as session:
            trace("session", lease=f"{session.lease_id:x}")
            lock = Lock(session, LOCK_NAME)
            while time.monotonic() < stop_at and not session.lost:
                try:
                    lock.acquire(timeout=5.0)
                except etcd.EtcdError as exc:
                    counts[f"acquire-{type(exc).__name__}"] += 1
                    trace("acquire-error", key=lock.key.decode(), error=repr(exc)[:200])
                    continue
                counts["acquired"] += 1
                # The key and its create revision in the tenure's id: a
                # fencing violation then shows which key each holder held.
                tenure = f"{name}.{next(_tenures)}:{lock.key.decode()}@{lock.revision}"
                assert lock.header is not None
                trace.answer("acquired", lock.header, tenure=tenure)
                _held_writes(client, lock.is_owner(), LOCK_FENCE, tenure, counts, rng)
                try:
                    lock.release()
                    trace("released", tenure=tenure)
                except etcd.EtcdError as exc:
                    counts[f"release-{type(exc).__name__}"] += 1
                    trace("release-error", tenure=tenure, error=repr(exc)[:200])
                time.sleep(rng.uniform(0.0, 0.2))


def election_loop(
    client: etcd.Client, name: str, seconds: float, counts: Counter
) -> None:
    rng = random.Random(name)
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        with Session(client, ttl=SESSION_TTL) as session:
            election = Election(session, ELECTION_NAME)
            while time.monotonic() < stop_at and not session.lost:
                term = f"{name}.{next(_tenures)}"
                try:
                    election.campaign(term, timeout=5.0)
                except etcd.EtcdError as exc:
                    counts[f"campaign-{type(exc).__name__}"] += 1
                    continue
                counts["elected"] += 1
                _held_writes(
                    client,
                    election.is_leader(),
                    ELECTION_FENCE,
                    f"{term}:{election.key.decode()}@{election.revision}",
                    counts,
                    rng,
                )
                try:
                    election.resign(timeout=CALL_TIMEOUT)
                except etcd.EtcdError as exc:
                    counts[f"resign-{type(exc).__name__}"] += 1
                time.sleep(rng.uniform(0.0, 0.3))


def main(argv: List[str]) -> int:
    global trace
    role, name, endpoints, seconds = argv
    trace_dir = os.environ.get("CHAOS_TRACE_DIR")
    trace = Trace(os.path.join(trace_dir, f"{name}.jsonl") if trace_dir else None)
    counts: Counter = Counter()
    untyped: List[str] = []
    loop = lock_loop if role == "lock" else election_loop
    stop_at = time.monotonic() + float(seconds)
    client = etcd.Client(
        endpoints.split(","),
        timeout=CALL_TIMEOUT,
        dial_timeout=2.0,
        keepalive_time=1.0,
        keepalive_timeout=1.0,
    )
    with client:
        while time.monotonic() < stop_at:
            try:
                loop(client, name, stop_at - time.monotonic(), counts)
            except etcd.EtcdError as exc:  # a session that could not start or end
                counts[f"session-{type(exc).__name__}"] += 1
                time.sleep(0.2)
            except Exception as exc:
                untyped.append(f"{name}: {exc!r}"[:300])
                time.sleep(0.2)
    summary: Dict[str, Union[str, Dict[str, int], List[str]]] = {
        "name": name,
        "role": role,
        "counts": dict(counts),
        "untyped": untyped,
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
