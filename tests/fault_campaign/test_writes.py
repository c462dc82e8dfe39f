"""The fault campaign's checks of writes and reads by revision
(benchmarks/fault_campaign/writes.py)."""

from __future__ import annotations

from typing import List, Optional

import pytest

from benchmarks.fault_campaign.history import FAIL, GET, OK, Op, WatchEvent
from benchmarks.fault_campaign.writes import check

from .helpers import cas, delete, get, put

K = b"/w/k"


def at(op: Op, revision: int) -> Op:
    op.revision = revision
    return op


def event(revision: int, value: Optional[bytes], key: bytes = K) -> WatchEvent:
    if value is None:
        return WatchEvent(revision, key, "delete", None)
    return WatchEvent(revision, key, "put", value)


# etcd's history: x at 2, y at 3 (a CAS), deleted at 4, z at 5; another
# key's put at 6 by somebody else, outside the workload's prefix.
REFERENCE = [
    event(2, b"x"),
    event(3, b"y"),
    event(4, None),
    event(5, b"z"),
    event(6, b"other", key=b"/elsewhere"),
]


def good() -> List[Op]:
    return [
        at(put("a", 0, 1, b"x", key=K), 2),
        at(cas("b", 1, 2, b"x", b"y", succeeded=True, key=K), 3),
        at(get("c", 2, 3, b"y", key=K), 3),
        at(delete("a", 3, 4, succeeded=True, key=K), 4),
        at(get("c", 4, 5, None, key=K), 4),
        put("b", 5, None, b"z", key=K),  # unknown, and applied
        put("b", 6, None, b"never", key=K),  # unknown, and not applied
        at(cas("a", 6, 7, b"x", b"no", succeeded=False, key=K), 5),
        Op("d", "put", K, 7, 8, FAIL, value=b"refused"),
        at(Op("e", GET, K, 8, 9, OK, result=b"y", serializable=True), 3),
        at(Op("e", GET, K, 8, 9, OK, result=None, serializable=True), 4),
        at(get("c", 9, 10, b"z", key=K), 6),
    ]


def test_a_consistent_history_passes() -> None:
    assert check(good(), REFERENCE, prefix=b"/w/") == []


def _broken(name: str) -> tuple:
    ops, reference = good(), list(REFERENCE)
    if name == "lost put":
        reference[0] = event(2, b"x", key=b"/w/k2")
        return ops, reference, ["ack-write-present"]
    if name == "put at another revision":
        ops[0].revision = 3
        return ops, reference, ["ack-write-present"]
    if name == "lost delete":
        ops[3].revision = 5
        return ops, reference, ["ack-write-present"]
    if name == "a CAS acknowledged, another value in etcd":
        ops[1].value = b"y2"
        return ops, reference, ["ack-write-present", "write-not-invented"]
    if name == "unknown write applied twice":
        reference.append(event(7, b"z"))
        return ops, reference, ["write-at-most-once"]
    if name == "failed write applied":
        reference.append(event(7, b"refused"))
        return ops, reference, ["failed-write-absent"]
    if name == "invented value":
        reference.append(event(7, b"nobody's"))
        return ops, reference, ["write-not-invented"]
    if name == "stale linearizable read":
        ops[11].revision = 7
        ops[11].result = b"y"
        return ops, reference, ["read-current"]
    if name == "serializable read of the future":
        ops[9].result = b"z"
        return ops, reference, ["read-not-invented"]
    raise AssertionError(name)


CASES = [
    "lost put",
    "put at another revision",
    "lost delete",
    "a CAS acknowledged, another value in etcd",
    "unknown write applied twice",
    "failed write applied",
    "invented value",
    "stale linearizable read",
    "serializable read of the future",
]


@pytest.mark.parametrize("name", CASES)
def test_each_wrong_history_is_caught(name: str) -> None:
    ops, reference, expected = _broken(name)
    violations = check(ops, reference, prefix=b"/w/")
    assert sorted(v.check for v in violations) == expected, violations
    assert all(len(v.detail) <= 600 for v in violations)


def test_a_serializable_read_may_lag() -> None:
    ops = [*good(), at(Op("e", GET, K, 0, 1, OK, result=b"x", serializable=True), 5)]
    assert check(ops, REFERENCE, prefix=b"/w/") == []
    ops[-1].serializable = False
    assert [v.check for v in check(ops, REFERENCE, prefix=b"/w/")] == ["read-current"]


def test_values_repeat_freely_outside_the_prefix() -> None:
    # Other keys (a lock's, a lease-bound key) may hold the same value
    # many times, and may hold one of the workload's values.
    reference = [
        *REFERENCE,
        event(7, b"", key=b"/elsewhere/lock/1"),
        event(8, b"", key=b"/elsewhere/lock/2"),
        event(9, b"z", key=b"/elsewhere"),
    ]
    assert check(good(), reference, prefix=b"/w/") == []
