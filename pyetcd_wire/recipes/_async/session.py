"""`AsyncSession`: a lease kept alive while the session is open (Go's
`concurrency.Session`), what locks and elections hang their keys on.

The session grants a lease of `ttl` seconds (or takes over `lease_id`, to
reclaim the keys of a process that restarted) and keeps it alive on the
client's shared LeaseKeepAlive stream.  If renewal fails for longer than
the TTL, or the lease is revoked, the session is *lost*: `lost` turns True,
`wait_lost()` returns, and every key the session holds is gone from etcd.
`aclose()` stops renewing and revokes the lease, so its locks are released
at once; `orphan()` only stops renewing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Generator, Optional

from ..._api.check import wait_seconds
from ..._async.client import AsyncClient
from ..._async.lease_keepalive import AsyncKeepAlive
from ...errors import EtcdError, LeaseNotFoundError

#: etcd before 3.5.3 may answer a keep-alive sent right after the grant with
#: TTL 0, "no such lease": its leader had not yet applied the grant another
#: member answered (etcd-io/etcd#13675; Go's Session then fails at once).  A
#: session that granted its lease asks again after each of these waits
#: (seconds) before it believes it.
GRANT_APPLIED_WAITS = (0.05, 0.1, 0.2, 0.4, 0.8)


class AsyncSession:
    """A lease kept alive until `aclose()`.

    Use it as a context manager (``with``; ``async with`` in asyncio).  A
    sync session starts in its constructor, an asyncio one when entered or
    awaited.

    Args:
        client: the client the lease lives on.
        ttl: the lease's TTL in seconds: how long the session's keys outlive
            a process that stopped renewing (Go's default: 60).
        lease_id: an existing lease to keep alive instead of granting one.

    Raises:
        LeaseNotFoundError: at the start, `lease_id` names a lease that does
            not exist (any more).

    Attributes:
        lease_id: the session's lease (0 until it is granted).
    """

    def __init__(self, client: AsyncClient, ttl: int = 60, *, lease_id: int = 0):
        if not callable(getattr(client, "keep_alive", None)):
            raise TypeError(
                "client must be an etcd client (AsyncClient),"
                f" not {type(client).__name__}"
            )
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
            raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
        self.client = client
        self.ttl = ttl
        self.lease_id = lease_id
        self._keep_alive: Optional[AsyncKeepAlive] = None
        self._closed = False
        # unasync: sync only: self._start()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "lost" if self.lost else "alive"
        return f"<{type(self).__name__} lease={self.lease_id:x} ttl={self.ttl} {state}>"

    async def _start(self) -> None:
        """Grant the lease (unless one was given) and start renewing it."""
        if self._keep_alive is not None:
            return
        granted = not self.lease_id
        if granted:
            self.lease_id = (await self.client.grant(self.ttl)).ID
        waits = iter(GRANT_APPLIED_WAITS if granted else ())
        while True:
            try:
                self._keep_alive = await self.client.keep_alive(self.lease_id)
                return
            except LeaseNotFoundError:
                wait = next(waits, None)
                if wait is None:
                    raise
            # unasync: async only (begin)
            await asyncio.sleep(wait)
            # unasync: async only (end)
            # unasync: sync only: time.sleep(wait)

    # unasync: async only (begin)
    def __await__(self) -> Generator[Any, None, AsyncSession]:
        return self._started().__await__()

    async def _started(self) -> AsyncSession:
        await self._start()
        return self

    # unasync: async only (end)

    @property
    def lost(self) -> bool:
        """True once the lease expired or was revoked (the session's keys are
        gone), or renewal stopped on an error."""
        return self._keep_alive is not None and self._keep_alive.lost

    @property
    def lost_reason(self) -> str:
        """Why the session was lost ("" while it is not)."""
        return self._keep_alive.lost_reason if self._keep_alive is not None else ""

    @property
    def closed(self) -> bool:
        return self._closed

    async def wait_lost(self, timeout: Optional[float] = None) -> bool:
        """Wait until the session is lost (True), or `timeout` passes, or the
        session is closed (False)."""
        timeout = wait_seconds(timeout, "timeout")
        keep_alive = self._keep_alive
        if keep_alive is None:
            return False
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not self._closed:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                if await keep_alive.get(timeout=remaining) is None:
                    return keep_alive.lost
        except EtcdError:  # LeaseExpiredError, KeepAliveHaltedError
            return True
        return False

    def orphan(self) -> None:
        """Stop renewing without revoking: the keys live on until the TTL runs
        out (Go's Orphan)."""
        if self._keep_alive is not None:
            self._keep_alive.close()

    async def aclose(self) -> None:
        """Stop renewing and revoke the lease (its keys go at once); bounded
        by the TTL, as Go's Close.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.orphan()
        if self.lease_id and self._keep_alive is not None:
            with contextlib.suppress(LeaseNotFoundError):  # expired already
                await self.client.revoke(self.lease_id, timeout=self.ttl)

    async def __aenter__(self) -> AsyncSession:
        await self._start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


__all__ = ["AsyncSession"]
