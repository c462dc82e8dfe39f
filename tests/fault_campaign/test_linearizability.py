"""The fault campaign's linearizability check (benchmarks/fault_campaign/
linearizability.py): histories known to be wrong are rejected, histories
known to be right accepted, and on small random histories it agrees with a
brute-force search over every order."""

from __future__ import annotations

import random
from typing import List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.fault_campaign.history import FAIL, GET, OK, Op
from benchmarks.fault_campaign.linearizability import check

from .helpers import brute_force_linearizable, cas, delete, get, put, simulate

NOT_LINEARIZABLE = {
    "stale read after a completed write": [
        put("a", 0, 1, b"x"),
        put("a", 2, 3, b"y"),
        get("b", 4, 5, b"x"),
    ],
    "two reads see two writes in opposite orders": [
        put("a", 0, 10, b"x"),
        put("b", 0, 10, b"y"),
        get("c", 1, 2, b"x"),
        get("c", 3, 4, b"y"),
        get("d", 1, 2, b"y"),
        get("d", 3, 4, b"x"),
    ],
    "a CAS succeeded against a value never current": [
        put("a", 0, 1, b"x"),
        cas("b", 2, 3, b"w", b"y", succeeded=True),
    ],
    "a CAS succeeded against a value overwritten before it began": [
        put("a", 0, 1, b"x"),
        put("a", 2, 3, b"z"),
        cas("b", 4, 5, b"x", b"y", succeeded=True),
    ],
    "a read of a value never written": [put("a", 0, 1, b"x"), get("b", 0, 2, b"q")],
    "an acknowledged write lost": [
        put("a", 0, 1, b"x"),
        get("b", 2, 3, None),
    ],
    "a read of a write that failed": [
        Op("a", "put", b"k", 0, 1, FAIL, value=b"x"),
        get("b", 2, 3, b"x"),
    ],
    "a value read back after it was overwritten": [
        put("a", 0, 1, b"x"),
        get("b", 2, 3, b"x"),
        put("a", 4, 5, b"y"),
        get("b", 6, 7, b"y"),
        get("c", 8, 9, b"x"),
    ],
    "a failed CAS whose compare held": [
        put("a", 0, 1, b"x"),
        cas("b", 2, 3, b"x", b"y", succeeded=False),
    ],
    "a delete that found nothing, of a present key": [
        put("a", 0, 1, b"x"),
        delete("b", 2, 3, succeeded=False),
    ],
    "a value read back after an unknown write was read": [
        put("a", 0, 1, b"x"),
        put("b", 2, None, b"y"),
        get("c", 3, 4, b"y"),
        get("c", 5, 6, b"x"),
    ],
}

LINEARIZABLE = {
    "overlapping writes, reads in either order": [
        put("a", 0, 10, b"x"),
        put("b", 0, 10, b"y"),
        get("c", 1, 2, b"x"),
        get("c", 3, 4, b"y"),
    ],
    "a read overlapping a write sees the old value": [
        put("a", 0, 1, b"x"),
        put("a", 2, 5, b"y"),
        get("b", 3, 4, b"x"),
    ],
    "a read overlapping a write sees the new value": [
        put("a", 0, 1, b"x"),
        put("a", 2, 5, b"y"),
        get("b", 3, 4, b"y"),
    ],
    "an unknown write that applied, long after it began": [
        put("a", 0, None, b"x"),
        get("b", 1, 2, None),
        get("b", 100, 101, b"x"),
    ],
    "an unknown write that never applied": [
        put("a", 0, None, b"x"),
        get("b", 1, 2, None),
        get("b", 100, 101, None),
    ],
    "an unknown delete explains a read of nothing": [
        put("a", 0, 1, b"x"),
        delete("a", 2, None),
        get("b", 3, 4, None),
    ],
    "an unknown unread put explains a failed CAS": [
        put("a", 0, 1, b"x"),
        put("b", 2, None, b"z"),
        cas("c", 3, 4, b"x", b"y", succeeded=False),
    ],
    "an unknown CAS that applied": [
        put("a", 0, 1, b"x"),
        cas("b", 2, None, b"x", b"y"),
        get("c", 3, 4, b"y"),
    ],
    "a serializable read may be stale": [
        put("a", 0, 1, b"x"),
        put("a", 2, 3, b"y"),
        Op("b", GET, b"k", 4, 5, OK, result=b"x", serializable=True),
    ],
    "operations ending and starting at one instant may go either way": [
        put("a", 0, 1, b"x"),
        get("b", 1, 2, None),
    ],
    "keys are separate registers": [
        put("a", 0, 1, b"x", key=b"k1"),
        get("b", 2, 3, None, key=b"k2"),
        get("b", 4, 5, b"x", key=b"k1"),
    ],
    "CAS on an absent key, then delete": [
        cas("a", 0, 1, None, b"x", succeeded=True),
        delete("b", 2, 3, succeeded=True),
        delete("c", 4, 5, succeeded=False),
        get("c", 6, 7, None),
    ],
}


@pytest.mark.parametrize("name", sorted(NOT_LINEARIZABLE))
def test_rejects(name: str) -> None:
    history = NOT_LINEARIZABLE[name]
    assert not brute_force_linearizable([op for op in history if op.outcome != FAIL])
    violations = check(history)
    assert [v.check for v in violations] == ["linearizable"]
    assert "b'k'" in violations[0].detail
    assert len(violations[0].detail) <= 600


@pytest.mark.parametrize("name", sorted(LINEARIZABLE))
def test_accepts(name: str) -> None:
    history = LINEARIZABLE[name]
    assert check(history) == []


def test_detail_names_the_ops_that_cannot_be_ordered() -> None:
    [violation] = check(NOT_LINEARIZABLE["stale read after a completed write"])
    assert "put b'y'" in violation.detail
    assert "get->b'x'" in violation.detail


def test_out_of_budget_is_undecided_not_passed() -> None:
    ops = simulate(random.Random(3), 200, processes=6, unknown=0.05)
    assert check(ops) == []
    [violation] = check(ops, budget=10)
    assert violation.check == "linearizable-undecided"
    assert "b'k'" in violation.detail


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32), count=st.integers(1, 400))
def test_sequential_executions_are_accepted(seed: int, count: int) -> None:
    rand = random.Random(seed)
    keys = [b"a", b"b", b"c"]
    ops = simulate(rand, count, processes=rand.randint(1, 8), unknown=0.1, keys=keys)
    assert check(ops) == []


def _corrupt(rand: random.Random, ops: List[Op]) -> List[Op]:
    reads = [i for i, op in enumerate(ops) if op.kind == GET and op.outcome == OK]
    if not reads:
        return ops
    i = rand.choice(reads)
    written = [op.value for op in ops if op.value is not None]
    choices = [v for v in [None, b"never", *written] if v != ops[i].result]
    corrupted = list(ops)
    corrupted[i] = Op(**{**ops[i].__dict__, "result": rand.choice(choices)})
    return corrupted


@settings(max_examples=400, deadline=None)
@given(seed=st.integers(0, 2**32), count=st.integers(1, 7))
def test_a_corrupted_read_is_rejected_unless_still_explainable(
    seed: int, count: int
) -> None:
    rand = random.Random(seed)
    ops = _corrupt(rand, simulate(rand, count, processes=3, unknown=0.3))
    expected = brute_force_linearizable(ops)
    assert (check(ops) == []) == expected
