"""Builders of fault-campaign records, and a brute-force linearizability
checker to compare the real one with on small histories."""

from __future__ import annotations

import dataclasses
import itertools
import random
from typing import Iterator, List, Optional, Sequence

from benchmarks.fault_campaign.history import (
    CAS,
    DELETE,
    GET,
    OK,
    PUT,
    UNKNOWN,
    Op,
    WatchEvent,
    WatchLog,
)

KEY = b"k"


def put(
    process: str, start: float, end: Optional[float], value: bytes, key: bytes = KEY
) -> Op:
    outcome = OK if end is not None else UNKNOWN
    return Op(process, PUT, key, start, end, outcome, value=value)


def get(
    process: str,
    start: float,
    end: Optional[float],
    result: Optional[bytes],
    key: bytes = KEY,
) -> Op:
    outcome = OK if end is not None else UNKNOWN
    return Op(process, GET, key, start, end, outcome, result=result)


def delete(
    process: str,
    start: float,
    end: Optional[float],
    succeeded: Optional[bool] = None,
    key: bytes = KEY,
) -> Op:
    outcome = OK if end is not None else UNKNOWN
    return Op(process, DELETE, key, start, end, outcome, succeeded=succeeded)


def cas(
    process: str,
    start: float,
    end: Optional[float],
    expect: Optional[bytes],
    value: bytes,
    succeeded: Optional[bool] = None,
    key: bytes = KEY,
) -> Op:
    outcome = OK if end is not None else UNKNOWN
    return Op(
        process,
        CAS,
        key,
        start,
        end,
        outcome,
        value=value,
        expect=expect,
        succeeded=succeeded,
    )


def _orders(ops: Sequence[Op]) -> Iterator[List[Op]]:
    """Every sequence of the ops (unknown ones optional) that keeps real-time
    order: a before b when a ended before b started."""
    unknown = [op for op in ops if op.outcome == UNKNOWN]
    known = [op for op in ops if op.outcome == OK]
    for n in range(len(unknown) + 1):
        for chosen in itertools.combinations(unknown, n):
            for order in itertools.permutations(known + list(chosen)):
                if all(
                    not (b.end is not None and b.outcome == OK and b.end < a.start)
                    for x, a in enumerate(order)
                    for b in order[x + 1 :]
                ):
                    yield list(order)


def _legal(order: Sequence[Op]) -> bool:
    state: Optional[bytes] = None
    for op in order:
        known = op.outcome == OK
        if op.kind == GET:
            if known and op.result != state:
                return False
        elif op.kind == PUT:
            state = op.value
        elif op.kind == DELETE:
            if (
                known
                and op.succeeded is not None
                and op.succeeded != (state is not None)
            ):
                return False
            state = None
        elif op.kind == CAS:
            held = state == op.expect
            if known and op.succeeded is not None and op.succeeded != held:
                return False
            if held:
                state = op.value
    return True


def brute_force_linearizable(ops: Sequence[Op]) -> bool:
    """Whether some order of `ops` (one key, ok or unknown) is legal."""
    return any(_legal(order) for order in _orders(ops))


def simulate(
    rand: random.Random,
    count: int,
    processes: int = 4,
    unknown: float = 0.05,
    keys: Sequence[bytes] = (KEY,),
) -> List[Op]:
    """A linearizable history: `count` operations run one after the other
    (each takes effect at its own instant, in order), each given an
    interval around that instant as several processes would see it; a
    fraction `unknown` of them end unknown, applied or not."""
    state: dict = {}
    ops: List[Op] = []
    busy = [0.0] * processes  # when each process's last operation ended
    now = 0.0
    for n in range(count):
        now += rand.uniform(0.001, 0.01)
        p = min(range(processes), key=lambda i: (busy[i], rand.random()))
        now = max(now, busy[p] + 0.001)
        start = max(busy[p], now - rand.uniform(0, 0.03))
        end: Optional[float] = now + rand.uniform(0, 0.03)
        busy[p] = end
        key = rand.choice(keys)
        current = state.get(key)
        applied = True
        if rand.random() < unknown:
            end, applied = None, rand.random() < 0.5
        roll = rand.random()
        value = b"v%d" % n
        if roll < 0.4:
            op = Op(f"p{p}", GET, key, start, end, OK, result=current)
            if end is None:
                op.outcome, op.result = UNKNOWN, None
        elif roll < 0.7:
            op = Op(f"p{p}", PUT, key, start, end, OK, value=value)
            if applied:
                state[key] = value
        elif roll < 0.8:
            op = Op(f"p{p}", DELETE, key, start, end, OK, succeeded=current is not None)
            if applied:
                state[key] = None
        else:
            expect = (
                current
                if rand.random() < 0.6
                else rand.choice([None, b"v%d" % rand.randrange(n + 1)])
            )
            held = expect == current
            op = Op(
                f"p{p}",
                CAS,
                key,
                start,
                end,
                OK,
                value=value,
                expect=expect,
                succeeded=held,
            )
            if applied and held:
                state[key] = value
        if end is None:
            op.outcome = UNKNOWN
            op.succeeded = None
        ops.append(op)
    return ops


def reference_history(
    rand: random.Random, revisions: int, keys: Sequence[bytes]
) -> List[WatchEvent]:
    """etcd's history of `revisions` revisions over `keys`: each revision a
    put or a delete of one key, or a transaction over two."""
    events: List[WatchEvent] = []
    live: dict = {}  # key -> (create_revision, version)
    for revision in range(2, revisions + 2):
        touched = rand.sample(list(keys), 2 if rand.random() < 0.2 else 1)
        for key in touched:
            if key in live and rand.random() < 0.25:
                del live[key]
                events.append(WatchEvent(revision, key, "delete", None))
                continue
            created, version = live.get(key, (revision, 0))
            live[key] = (created, version + 1)
            value = b"%s=%d" % (key, revision)
            events.append(WatchEvent(revision, key, "put", value, created, version + 1))
    return events


def watch_log(
    rand: random.Random,
    reference: Sequence[WatchEvent],
    prefix: bytes,
    start_revision: int,
    prev_kv: bool,
) -> WatchLog:
    """What a correct watcher of `prefix` from `start_revision` sees of
    `reference`: its events, a revision's in one response, several
    revisions per response at times, progress notifications between them."""
    log = WatchLog("w", prefix, start_revision, prev_kv=prev_kv)
    state: dict = {}
    response = 0
    last = 0
    for event in reference:
        before = state.get(event.key, (None, None))
        if event.type == "delete":
            state.pop(event.key, None)
        else:
            state[event.key] = (event.value, event.revision)
        if not event.key.startswith(prefix) or event.revision < start_revision:
            continue
        if event.revision != last:
            if last and rand.random() < 0.6:
                response += 1
                if rand.random() < 0.2:
                    log.progress.append(last)
                    log.progress_responses.append(response)
                    response += 1
            last = event.revision
        delivered = dataclasses.replace(event, response=response)
        if prev_kv:
            delivered.prev_value, delivered.prev_mod_revision = before
        log.events.append(delivered)
    log.last_revision = reference[-1].revision if reference else 0
    return log
