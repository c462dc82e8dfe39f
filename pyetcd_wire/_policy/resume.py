"""When a broken stream is opened again, and how soon (Go's watch.go and
lease.go resume rules)."""

from __future__ import annotations

from typing import Callable

from ..errors import (
    EtcdError,
    InternalError,
    NoLeaderError,
    RemoteProtocolError,
    TransportError,
    UnavailableError,
)
from .growth import capped_exponential

#: Reconnect backoff: first delay, growth factor, cap (seconds), +/- jitter.
BACKOFF_FIRST = 0.025
BACKOFF_FACTOR = 2.0
BACKOFF_MAX = 1.0
BACKOFF_JITTER = 0.2


def retryable(error: EtcdError, *, watch: bool) -> bool:
    """Go's "resume" errors: the stream may be opened again."""
    if isinstance(error, NoLeaderError):
        return not watch  # a require-leader watch ends; keep-alive retries
    if isinstance(error, RemoteProtocolError):
        return False
    return isinstance(error, (TransportError, UnavailableError, InternalError))


class Backoff:
    """Exponential backoff with jitter between attempts to open a stream."""

    __slots__ = ("_rand", "failures", "until")

    def __init__(self, rand: Callable[[], float]) -> None:
        self._rand = rand  # uniform in [0, 1)
        self.failures = 0
        self.until = 0.0

    def failed(self, now: float) -> None:
        delay = capped_exponential(
            BACKOFF_FIRST, BACKOFF_FACTOR, BACKOFF_MAX, self.failures
        )
        delay *= 1.0 + BACKOFF_JITTER * (2.0 * self._rand() - 1.0)
        self.failures += 1
        self.until = now + delay

    def succeeded(self) -> None:
        self.failures = 0
        self.until = 0.0
