"""PING keepalive decisions: ping after silence, dead after an unanswered PING."""

from __future__ import annotations

import pytest

from pyetcd_wire._policy.ping import MIN_TIME, Due, PingKeepalive


def test_ping_after_keepalive_time_of_silence_then_dead_after_timeout():
    ka = PingKeepalive(10.0, 2.0)
    assert ka.due(now=109.9, last_read=100.0) is Due.NOTHING
    assert ka.next_check(last_read=100.0) == 110.0
    assert ka.due(now=110.0, last_read=100.0) is Due.PING
    ka.pinged(110.0)
    assert ka.pings == 1
    assert ka.next_check(last_read=100.0) == 112.0
    assert ka.due(now=111.9, last_read=100.0) is Due.NOTHING
    assert ka.due(now=112.0, last_read=100.0) is Due.DEAD


def test_anything_heard_answers_the_ping():
    ka = PingKeepalive(10.0, 2.0)
    ka.pinged(110.0)
    ka.heard()
    assert ka.due(now=115.0, last_read=111.0) is Due.NOTHING
    assert ka.next_check(last_read=111.0) == 121.0


def test_time_is_raised_to_the_servers_minimum():
    assert PingKeepalive(0.5, 1.0).time == MIN_TIME
    assert PingKeepalive(30.0, 1.0).time == 30.0


@pytest.mark.parametrize(("time", "timeout"), [(0, 1), (-1, 1), (10, 0)])
def test_non_positive_values_are_refused(time, timeout):
    with pytest.raises(ValueError, match="positive"):
        PingKeepalive(time, timeout)
