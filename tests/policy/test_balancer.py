"""The balancer: round robin over healthy endpoints, quarantine on failure."""

from __future__ import annotations

import pytest

from pyetcd_wire._policy import balancer as bal
from pyetcd_wire._policy.balancer import Balancer, health_check_failure
from pyetcd_wire._policy.endpoints import parse_endpoint
from pyetcd_wire.errors import (
    ConnectionFailedError,
    ConnectionLostError,
    DeadlineExceededError,
    InvalidAuthTokenError,
    NoLeaderError,
    PermissionDeniedError,
    RemoteProtocolError,
)

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


def test_a_retry_goes_to_an_endpoint_its_call_has_not_tried():
    balancer = Balancer([A, B, C], rand=no_jitter)
    # Other calls moved the round robin back to A, which the call tried.
    assert balancer.pick_untried(0.0, [A]).port == 2380
    assert balancer.pick(0.0).port == 2381  # the turn goes on after B
    assert balancer.pick_untried(0.0, [C, A]).port == 2380
    # A quarantined untried endpoint is passed over for a healthy one ...
    balancer.failed(C, now=0.0, why="down")
    assert balancer.pick_untried(0.5, [A, B]).port in (2379, 2380)
    # ... and every endpoint tried: the plain round robin (healthy first).
    assert balancer.pick_untried(0.5, [A, B, C]).port in (2379, 2380)


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


# --- health checks: an endpoint whose quarantine ended gets calls once it passes one


def quarantine_ended(endpoints=(A, B, C)) -> Balancer:
    """B failed at 0.0; its quarantine is over at QUARANTINE_FIRST."""
    balancer = Balancer(list(endpoints), rand=no_jitter)
    balancer.failed(B, now=0.0, why="deadline exceeded")
    return balancer


def test_an_endpoint_is_checked_when_its_quarantine_ends_and_gets_no_call_meanwhile():
    balancer = quarantine_ended()
    assert balancer.health_checks_due(bal.QUARANTINE_FIRST - 0.01) == []
    now = bal.QUARANTINE_FIRST
    assert balancer.health_checks_due(now) == [B]
    assert balancer.health_checks_due(now) == []  # one check at a time
    assert 2380 not in picks(balancer, now, 6)
    assert balancer.quarantined(now) == [(B, 0.0, "deadline exceeded")]
    assert not balancer.all_quarantined(now)
    balancer.health_checked(B, now + 0.1, None)  # it answered
    assert not balancer.quarantined_count
    assert picks(balancer, now + 0.1, 3) == [2379, 2380, 2381]


def test_a_failed_health_check_quarantines_the_endpoint_again_for_longer():
    balancer = quarantine_ended()
    now = bal.QUARANTINE_FIRST
    balancer.health_checks_due(now)
    balancer.health_checked(B, now + 1.0, "health check: no answer")
    [(endpoint, left, why)] = balancer.quarantined(now + 1.0)
    assert (endpoint, why) == (B, "health check: no answer")
    assert left == pytest.approx(bal.QUARANTINE_FIRST * bal.QUARANTINE_FACTOR)
    assert balancer.health_checks_due(now + 1.0 + left - 0.01) == []
    assert balancer.health_checks_due(now + 1.0 + left) == [B]


def test_a_call_outcome_decides_before_a_late_health_check():
    """When every endpoint is out of service, calls go to one anyway (the
    one being checked first); what they find out wins over a check still out."""
    balancer = Balancer([A, B], rand=no_jitter)
    balancer.failed(A, now=0.0, why="down")
    balancer.failed(A, now=0.0, why="down")  # longer
    balancer.failed(B, now=0.0, why="down")
    now = bal.QUARANTINE_FIRST
    assert balancer.health_checks_due(now) == [B]
    assert balancer.all_quarantined(now)
    assert picks(balancer, now, 2) == [2380, 2380]
    balancer.succeeded(B)  # a call went through
    balancer.health_checked(B, now + 0.1, "health check: no answer")  # ignored
    assert [e for e, _, _ in balancer.quarantined(now + 0.1)] == [A]
    balancer.failed(A, now=now, why="down")
    balancer.health_checked(A, now, None)  # not being checked: ignored
    assert [e for e, _, _ in balancer.quarantined(now)] == [A]


def test_a_single_endpoint_is_never_checked():
    balancer = quarantine_ended([B])
    assert balancer.health_checks_due(100.0) == []
    assert picks(balancer, 0.5, 2) == [2380, 2380]  # calls go to it anyway


def test_an_endpoint_removed_while_checked_is_forgotten():
    balancer = quarantine_ended()
    balancer.health_checks_due(bal.QUARANTINE_FIRST)
    balancer.set_endpoints([A, C])
    balancer.health_checked(B, bal.QUARANTINE_FIRST, None)
    assert balancer.quarantined_count == 0


@pytest.mark.parametrize(
    ("error", "leader", "healthy"),
    [
        (None, 7, True),
        (None, 0, False),  # answered, but has no leader
        (PermissionDeniedError(), 0, True),  # answered: it serves
        (InvalidAuthTokenError(), 0, True),
        (NoLeaderError(), 0, False),
        (ConnectionFailedError([("127.0.0.1:1", "refused")]), 0, False),
        (ConnectionLostError("keepalive: no answer"), 0, False),
        (DeadlineExceededError("no answer"), 0, False),
        (RemoteProtocolError("bad frame"), 0, False),
    ],
)
def test_health_check_failure_says_whether_the_member_serves(error, leader, healthy):
    why = health_check_failure(error, leader)
    assert (why is None) is healthy
    if why is not None:
        assert why.startswith("health check: ")


def test_attempt_shares_follow_the_endpoint_count():
    balancer = Balancer([A, B, C], rand=no_jitter)
    assert balancer.attempt_shares[6.0] == pytest.approx(2.0)
    balancer.set_endpoints([A])
    assert balancer.attempt_shares[6.0] == 6.0


def test_each_change_returns_the_facts_the_driver_logs():
    """The balancer logs nothing: `failed` and `health_checked` return the
    endpoint's record, `succeeded` whether a quarantine ended (pool.py logs)."""
    balancer = Balancer([A, B], rand=no_jitter)
    assert balancer.succeeded(A) is False  # nothing to clear
    record = balancer.failed(A, now=10.0, why="refused")
    assert record is not None
    assert (record.until, record.failures, record.last_error) == (
        pytest.approx(10.0 + bal.QUARANTINE_FIRST),
        1,
        "refused",
    )
    assert balancer.failed(C, now=10.0, why="not listed") is None
    assert balancer.succeeded(A) is True
    assert balancer.succeeded(A) is False
    balancer.failed(B, now=0.0, why="down")
    assert balancer.health_checked(B, 0.5, None) is None  # no check was due
    balancer.health_checks_due(bal.QUARANTINE_FIRST)
    again = balancer.health_checked(B, 2.0, "health check: no leader")
    assert again is not None
    assert again.failures == 2
    balancer.health_checks_due(10.0)
    healthy = balancer.health_checked(B, 10.0, None)
    assert healthy is not None
    assert (healthy.until, healthy.failures) == (0.0, 0)


def test_an_endpoint_failing_for_hours_stays_at_the_longest_quarantine():
    # 1.6 ** 1510 is past the largest float: counting on in the exponent made
    # every call raise OverflowError once an endpoint had failed that often.
    balancer = Balancer([A, B], rand=no_jitter)
    for _ in range(5000):
        balancer.failed(A, now=0.0, why="connection refused")
    assert balancer.quarantined(0.0)[0][1] == pytest.approx(bal.QUARANTINE_MAX)
