"""When the stream worker re-opens a broken stream (Go's resume rules)."""

from __future__ import annotations

import pytest

from pyetcd_wire._policy.resume import (
    BACKOFF_FIRST,
    BACKOFF_JITTER,
    BACKOFF_MAX,
    Backoff,
    retryable,
)
from pyetcd_wire.errors import (
    ConnectionLostError,
    InternalError,
    NoLeaderError,
    PermissionDeniedError,
    RemoteProtocolError,
    RpcCancelledError,
    UnavailableError,
)


@pytest.mark.parametrize(
    ("error", "watch", "keep_alive"),
    [
        (ConnectionLostError("gone"), True, True),
        (UnavailableError(), True, True),
        (InternalError(), True, True),
        (NoLeaderError(), False, True),  # a require-leader watch ends
        (RemoteProtocolError("bad bytes"), False, False),
        (PermissionDeniedError(), False, False),
        (RpcCancelledError(), False, False),
    ],
)
def test_retryable_follows_go(error, watch, keep_alive):
    assert retryable(error, watch=True) is watch
    assert retryable(error, watch=False) is keep_alive


@pytest.mark.parametrize("rand", [0.0, 0.5, 0.999999])
def test_backoff_grows_to_its_cap_and_resets(rand):
    backoff = Backoff(lambda: rand)
    delays = []
    for _ in range(12):
        backoff.failed(100.0)
        delays.append(backoff.until - 100.0)
    # (until - now loses a few ulps)
    low, high = 1 - BACKOFF_JITTER - 1e-9, 1 + BACKOFF_JITTER + 1e-9
    assert BACKOFF_FIRST * low <= delays[0] <= BACKOFF_FIRST * high
    assert BACKOFF_MAX * low <= delays[-1] <= BACKOFF_MAX * high
    assert all(d <= BACKOFF_MAX * high for d in delays)
    backoff.succeeded()
    assert backoff.until == 0.0
    backoff.failed(5.0)
    assert backoff.until - 5.0 <= BACKOFF_FIRST * high
