"""The backoff between attempts to open a broken stream again."""

from __future__ import annotations

import pytest

from pyetcd_wire._policy.resume import (
    BACKOFF_FACTOR,
    BACKOFF_FIRST,
    BACKOFF_MAX,
    Backoff,
)


def test_the_delay_grows_to_its_cap_and_success_starts_it_again():
    backoff = Backoff(rand=lambda: 0.5)  # no jitter
    delays = []
    for _ in range(12):
        backoff.failed(now=0.0)
        delays.append(backoff.until)
    assert delays[:2] == pytest.approx([BACKOFF_FIRST, BACKOFF_FIRST * BACKOFF_FACTOR])
    assert delays[-1] == pytest.approx(BACKOFF_MAX)
    backoff.succeeded()
    backoff.failed(now=0.0)
    assert backoff.until == pytest.approx(BACKOFF_FIRST)


def test_a_stream_failing_for_hours_waits_the_longest_delay():
    # 2.0 ** 1024 overflows: a watch resumed every second for 17 minutes of
    # outage would have raised OverflowError from its backoff.
    backoff = Backoff(rand=lambda: 0.5)
    for _ in range(5000):
        backoff.failed(now=0.0)
    assert backoff.until == pytest.approx(BACKOFF_MAX)
