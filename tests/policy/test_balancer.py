"""The balancer: round robin over healthy endpoints, quarantine on failure."""

from __future__ import annotations

import pytest

from pyetcd_wire._policy import balancer as bal
from pyetcd_wire._policy.balancer import Balancer
from pyetcd_wire._policy.endpoints import parse_endpoint

A, B, C = (parse_endpoint(f"127.0.0.1:{port}") for port in (2379, 2380, 2381))


def no_jitter() -> float:
    return 0.5  # the middle of [0, 1): jitter factor 1.0


def picks(balancer: Balancer, now: float, count: int) -> list:
    return [balancer.pick(now).port for _ in range(count)]


def test_round_robin_over_all_when_healthy():
    balancer = Balancer([A, B, C], rand=no_jitter)
    assert picks(balancer, 0.0, 6) == [2379, 2380, 2381] * 2
    assert not balancer.quarantined_count


def test_a_failed_endpoint_is_skipped_until_its_quarantine_ends():
    balancer = Balancer([A, B, C], rand=no_jitter)
    balancer.failed(B, now=10.0, why="connection refused")
    assert balancer.quarantined_count == 1
    assert set(picks(balancer, 10.5, 6)) == {2379, 2381}
    assert balancer.quarantined(10.5) == [(B, pytest.approx(0.5), "connection refused")]
    # After QUARANTINE_FIRST seconds it is tried again.
    assert 2380 in picks(balancer, 10.0 + bal.QUARANTINE_FIRST, 3)


def test_quarantine_grows_while_failures_repeat_and_success_clears_it():
    balancer = Balancer([A, B], rand=no_jitter)
    untils = []
    for _ in range(12):
        balancer.failed(A, now=0.0, why="x")
        untils.append(balancer.quarantined(0.0)[0][1])
    assert untils[0] == pytest.approx(bal.QUARANTINE_FIRST)
    assert untils[1] == pytest.approx(bal.QUARANTINE_FIRST * bal.QUARANTINE_FACTOR)
    assert untils[-1] == pytest.approx(bal.QUARANTINE_MAX)
    balancer.succeeded(A)
    assert not balancer.quarantined_count
    assert set(picks(balancer, 0.0, 2)) == {2379, 2380}
    balancer.failed(A, now=0.0, why="x")  # the count started again
    assert balancer.quarantined(0.0)[0][1] == pytest.approx(bal.QUARANTINE_FIRST)


def test_jitter_spreads_quarantines():
    low = Balancer([A], rand=lambda: 0.0)
    high = Balancer([A], rand=lambda: 0.999)
    low.failed(A, 0.0, "x")
    high.failed(A, 0.0, "x")
    jitter = bal.QUARANTINE_JITTER * bal.QUARANTINE_FIRST
    assert low.quarantined(0.0)[0][1] == pytest.approx(bal.QUARANTINE_FIRST - jitter)
    assert high.quarantined(0.0)[0][1] == pytest.approx(
        bal.QUARANTINE_FIRST + jitter, rel=1e-2
    )


def test_all_quarantined_picks_the_one_back_soonest():
    balancer = Balancer([A, B, C], rand=no_jitter)
    for endpoint in (A, B, C):
        balancer.failed(endpoint, now=0.0, why="down")
    balancer.failed(A, now=0.0, why="down")  # longer
    balancer.failed(C, now=0.1, why="down")  # later
    assert balancer.all_quarantined(0.5)
    assert picks(balancer, 0.5, 3) == [2380, 2380, 2380]
    assert not balancer.all_quarantined(1.05)


def test_set_endpoints_keeps_known_records_and_drops_others():
    balancer = Balancer([A, B], rand=no_jitter)
    balancer.failed(A, 0.0, "x")
    balancer.failed(B, 0.0, "x")
    balancer.set_endpoints([A, C, C])  # duplicates collapse
    assert balancer.endpoints == (A, C)
    assert [e for e, _, _ in balancer.quarantined(0.0)] == [A]
    balancer.failed(B, 0.0, "gone")  # no longer listed: ignored
    balancer.succeeded(B)
    assert picks(balancer, 0.0, 2) == [2381, 2381]
    with pytest.raises(ValueError, match="at least one endpoint"):
        balancer.set_endpoints([])


def test_attempt_shares_follow_the_endpoint_count():
    balancer = Balancer([A, B, C], rand=no_jitter)
    assert balancer.attempt_shares[6.0] == pytest.approx(2.0)
    balancer.set_endpoints([A])
    assert balancer.attempt_shares[6.0] == 6.0
