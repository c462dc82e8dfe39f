"""`AsyncWatch`: what `AsyncClient.watch()` returns; the asyncio end of one
watch.  The queue and its rules are the `WatchBox`'s (_managers/boxes.py,
shared with the sync `Watch`); this adds the waiting (waiting.py)."""

from __future__ import annotations

import time
from typing import Any, Generator, Optional

from .._core.watch import Watcher
from .._managers.boxes import WatchBox, WatchOwner
from .._proto import rpc_pb2
from .waiting import NO_LOCK, Waiters


class AsyncWatch(WatchBox):
    """One watch.  ``async for`` it for `WatchResponse` messages; iteration
    ends after `cancel()` or `AsyncClient.aclose()`, and raises the error
    that ended the watch otherwise (`CompactedError`, ...).

    ``await`` it (or enter ``async with``) to wait until the server created
    it, so every change made after that is delivered; ``async for`` does so
    at its first step.  Leaving ``async with`` cancels the watch.
    """

    def __init__(
        self,
        worker: WatchOwner,
        watcher: Watcher,
        *,
        create_timeout: Optional[float] = None,
    ) -> None:
        super().__init__(worker, watcher)
        self._mutex = NO_LOCK
        self._waiters = Waiters()
        self.create_timeout = create_timeout
        self._confirmed = False

    def _notify(self) -> None:
        self._waiters.wake_all()

    def _orphan(self) -> None:
        self._waiters = Waiters()  # the parent's futures, on the parent's loop
        super()._orphan()

    async def _confirm(self) -> AsyncWatch:
        """Wait until the server created the watch (within `create_timeout`);
        raise if it refused, or the deadline passed (the watch is then
        cancelled)."""
        if not self._confirmed:
            timeout = self.create_timeout
            deadline = None if timeout is None else time.monotonic() + timeout
            await self._waiters.confirm(self._created_or_ended, deadline, self.cancel)
            self._creation_outcome()
            self._confirmed = True
        return self

    def __await__(self) -> Generator[Any, None, AsyncWatch]:
        return self._confirm().__await__()

    async def get(
        self, timeout: Optional[float] = None
    ) -> Optional[rpc_pb2.WatchResponse]:
        """The next response; None if `timeout` seconds passed first, or the
        watch ended normally (see `ended`).

        Raises:
            EtcdError: the error that ended the watch, once every response
                queued before it has been read.
        """
        return await self._waiters.next(self._take, self._has_news, timeout)

    def __aiter__(self) -> AsyncWatch:
        return self

    async def __anext__(self) -> rpc_pb2.WatchResponse:
        if not self._confirmed:
            await self._confirm()
        response = await self.get()
        if response is None:
            raise StopAsyncIteration
        return response

    async def __aenter__(self) -> AsyncWatch:
        return await self._confirm()

    async def __aexit__(self, *exc_info: object) -> None:
        self.cancel()


__all__ = ["AsyncWatch"]
