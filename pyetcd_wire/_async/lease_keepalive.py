"""`AsyncKeepAlive`: what `AsyncClient.keep_alive()` returns; one
subscription to the background renewal of a lease.  The queue and its rules
are the `KeepAliveBox`'s (_managers/boxes.py, shared with the sync
`KeepAlive`); this adds the waiting."""

from __future__ import annotations

import time
from typing import Any, Generator, Optional

from .._managers.boxes import KeepAliveBox, KeepAliveOwner
from .._proto import rpc_pb2
from .waiting import NO_LOCK, Waiters


class AsyncKeepAlive(KeepAliveBox):
    """Background renewal of one lease, until `close()` (or leaving
    ``async with``).  ``async for`` it for each renewal's
    `LeaseKeepAliveResponse`; once the lease is lost, iteration raises
    `LeaseExpiredError` (after `close()` or `aclose()` it just ends).

    ``await`` it (or enter ``async with``) to wait until etcd answered its
    first renewal: that returns the subscription (`response` holds the
    answer, which iteration still yields), or raises `LeaseNotFoundError` if
    the lease does not exist (never did, was revoked, expired); ``async
    for`` does so at its first step.  A task cancelled while it waits closes
    the subscription.
    """

    def __init__(self, worker: KeepAliveOwner, lease_id: int) -> None:
        super().__init__(worker, lease_id)
        self._mutex = NO_LOCK
        self._waiters = Waiters()
        self._confirmed = False
        #: Bound on waiting for the first renewal (None: only the lease's
        #: first-response deadline); set by `AsyncClient.keep_alive`.
        self.first_timeout: Optional[float] = None

    def _notify(self) -> None:
        self._waiters.wake_all()

    def _orphan(self) -> None:
        self._waiters = Waiters()  # the parent's futures, on the parent's loop
        super()._orphan()

    async def _confirm(self) -> AsyncKeepAlive:
        """Wait for the first renewal (bounded by `first_timeout` and the
        lease's first-response deadline); raise as `_first_renewal_outcome`
        if there is none."""
        if not self._confirmed:
            timeout = self.first_timeout
            deadline = None if timeout is None else time.monotonic() + timeout
            await self._waiters.confirm(self._answered_or_over, deadline, self.close)
            self._first_renewal_outcome()
            self._confirmed = True
        return self

    def __await__(self) -> Generator[Any, None, AsyncKeepAlive]:
        return self._confirm().__await__()

    async def get(
        self, timeout: Optional[float] = None
    ) -> Optional[rpc_pb2.LeaseKeepAliveResponse]:
        """The next renewal's response; None if `timeout` passed first or the
        subscription was closed.

        Raises:
            LeaseExpiredError: the lease is lost (after the queued responses).
            KeepAliveHaltedError: renewal stopped on a non-retryable error.
        """
        return await self._waiters.next(self._take_locked, self._has_news, timeout)

    def __aiter__(self) -> AsyncKeepAlive:
        return self

    async def __anext__(self) -> rpc_pb2.LeaseKeepAliveResponse:
        if not self._confirmed:
            await self._confirm()
        response = await self.get()
        if response is None:
            raise StopAsyncIteration
        return response

    async def __aenter__(self) -> AsyncKeepAlive:
        return await self._confirm()

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


__all__ = ["AsyncKeepAlive"]
