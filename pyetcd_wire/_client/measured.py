"""One logical call reported to an `RpcMetrics` hook, for both clients."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Optional, Type

from .._api.methods import Method
from ..errors import EtcdError
from ..metrics import RpcMetrics, code_name
from .loaded import instance_of_loaded


class MeasuredCall:
    """``with MeasuredCall(metrics, method):`` around a call with its
    retries: `started` on entry, `handled` with its outcome on exit (a
    plain context manager, so ``async def`` code uses it too)."""

    __slots__ = ("_method", "_metrics", "_started")

    def __init__(self, metrics: RpcMetrics, method: Method) -> None:
        self._metrics = metrics
        self._method = method
        self._started = 0.0

    def __enter__(self) -> None:
        self._metrics.started(self._method)
        self._started = time.monotonic()

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        if exc is None or isinstance(exc, EtcdError):
            code = code_name(exc)
        elif isinstance(exc, KeyboardInterrupt) or instance_of_loaded(
            exc, "asyncio", "CancelledError"
        ):
            code = "Canceled"  # the caller gave up on it
        else:
            code = "Unknown"
        self._metrics.handled(self._method, code, time.monotonic() - self._started)


__all__ = ["MeasuredCall"]
