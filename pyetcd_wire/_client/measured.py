"""One logical call reported to an `RpcMetrics` hook, for both clients."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Optional, Type

from .._api.methods import Method
from ..errors import EtcdError
from ..metrics import RpcMetrics, code_name


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
        elif isinstance(exc, KeyboardInterrupt) or _cancelled(exc):
            code = "Canceled"  # the caller gave up on it
        else:
            code = "Unknown"
        self._metrics.handled(self._method, code, time.monotonic() - self._started)


def _cancelled(exc: BaseException) -> bool:
    """Whether `exc` is asyncio's CancelledError, without importing asyncio
    for the sync client: only code that imported asyncio can raise it."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)


__all__ = ["MeasuredCall"]
