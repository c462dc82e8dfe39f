"""The fault campaign's fencing and deadline checks
(benchmarks/fault_campaign/fencing.py, deadlines.py)."""

from __future__ import annotations

from typing import List, Tuple

import pytest

from benchmarks.fault_campaign import deadlines, fencing
from benchmarks.fault_campaign.history import Op

from .helpers import put

GOOD = [("t1", 1), ("t1", 2), ("t2", 1), ("t3", 1), ("t3", 2), ("t3", 3)]


def test_values_round_trip() -> None:
    assert fencing.decode(fencing.encode("host-1/42", 7)) == ("host-1/42", 7)
    with pytest.raises(ValueError, match="not a fenced write"):
        fencing.decode(b"plain")
    with pytest.raises(ValueError, match="cannot hold"):
        fencing.encode("a#b", 1)


def test_one_run_per_tenure_passes() -> None:
    assert fencing.check(GOOD) == []
    assert fencing.check([]) == []


@pytest.mark.parametrize(
    "writes",
    [
        [("t1", 1), ("t2", 1), ("t1", 2)],  # two holders interleave
        [("t1", 1), ("t1", 3)],  # a write of the run lost
        [("t1", 1), ("t1", 1)],  # one written twice
        [("t1", 2)],  # a run that does not begin at 1
        [("t1", 1), ("t1", 2), ("t2", 1), ("t1", 3)],  # a holder after its end
        [("t1", 1), ("t2", 1), ("t1", 1)],  # one tenure, two runs
        # Another holder between two tenures of one holder:
        [("w.1:k@5", 1), ("v.1:j@7", 1), ("w.2:k@5", 1)],
        # A tenure of one holder after its next began: one late write at most.
        [("w.1:k@5", 1), ("w.2:k@5", 1), ("w.1:k@5", 2), ("w.1:k@5", 3)],
        # ... and the next one in its run.
        [("w.1:k@5", 1), ("w.2:k@5", 1), ("w.1:k@5", 3)],
    ],
)
def test_interleaved_or_broken_runs_fail(writes: List[Tuple[str, int]]) -> None:
    [violation] = fencing.check(writes)
    assert violation.check == "fencing"
    assert fencing.holder(writes[0][0]) in violation.detail


def test_one_holder_s_tenures_may_overlap_by_the_last_write_in_flight() -> None:
    """A session that elects (locks) again while its key is still there is the
    same holder to etcd's guard: the write its previous tenure gave up on
    may land during the next tenure (the campaign saw it on the election)."""
    writes = [("w.1:k@5", 1), ("w.1:k@5", 2), ("w.2:k@5", 1), ("w.1:k@5", 3)]
    writes += [("w.2:k@5", 2), ("v.1:j@9", 1)]
    assert fencing.check(writes) == []


def _op(start: float, end: float, deadline: float) -> Op:
    op = put("a", start, end, b"x")
    op.deadline = deadline
    return op


def test_deadlines() -> None:
    within = [_op(0, 1.05, 1.0), _op(0, 5, 9.0), put("a", 0, 100, b"y")]
    within.append(Op("a", "get", b"k", 0, None, "unknown", deadline=1.0))
    assert deadlines.check(within) == []
    late = [*within, _op(10, 11.2, 1.0)]
    [violation] = deadlines.check(late)
    assert violation.check == "deadline"
    assert "1.200 s of 1.0 s" in violation.detail
    assert deadlines.check(late, slack=0.3) == []


def test_a_starved_process_is_late_by_no_more_than_its_stalls() -> None:
    # Due at 11.0, ended at 11.2: 0.1 s past the slack.
    late = [_op(10, 11.2, 1.0)]
    # 0.15 s starved between the deadline and the end covers it.
    assert deadlines.check(late, stalls=[(11.0, 11.2, 0.15)]) == []
    # Half of a stall inside the window counts half.
    assert deadlines.check(late, stalls=[(10.9, 11.1, 0.3)]) == []
    for stalls in (
        [(11.0, 11.2, 0.05)],  # too short
        [(10.0, 10.9, 0.9)],  # before the deadline: no excuse
        [(11.3, 12.0, 0.7)],  # after the end
    ):
        [violation] = deadlines.check(late, stalls=stalls)
        assert violation.check == "deadline", stalls


def test_a_thread_kept_runnable_is_late_by_no_more_than_it_waited() -> None:
    late = _op(10, 11.2, 1.0)
    late.runnable = 0.15
    assert deadlines.check([late]) == []
    late.runnable = 0.05
    [violation] = deadlines.check([late])
    assert "(0.050 s starved, 0.000 s CPU)" in violation.detail
