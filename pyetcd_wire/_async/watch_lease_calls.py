"""`AsyncWatchLeaseCalls`: the Watch and LeaseKeepAlive calls of `AsyncClient`,
as a mixin over the driver hooks `_add_watch`, `_add_keep_alive`,
`_one_message` and `_stream_worker_or_none`.

The methods watch() and keep_alive() are plain in both clients: they
return a watch, a subscription (see each for when).  Their request builders
load with the first watch or keep-alive, as the stream worker does: importing
pyetcd_wire loads what every client needs, not what some do.
"""

# unasync: async only (begin)
# The source of _sync/watch_lease_calls.py: change this module, then run
# python scripts/unasync.py.
# unasync: async only (end)

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Union

from .._api.methods import LEASE_KEEP_ALIVE, Method
from .._proto import rpc_pb2
from ..errors import LeaseNotFoundError

if TYPE_CHECKING:
    # Types only: the stream worker and its managers load with the first
    # watch or keep-alive, not with the client (start-up time).
    from .lease_keepalive import AsyncKeepAlive
    from .stream_worker import AsyncStreamWorker
    from .watch import AsyncWatch

Key = Union[str, bytes]


class AsyncWatchLeaseCalls:
    """Watch and Lease-stream calls; the class using it provides the hooks."""

    if TYPE_CHECKING:

        def _add_watch(
            self, create: rpc_pb2.WatchCreateRequest, timeout: Optional[float]
        ) -> AsyncWatch: ...

        def _add_keep_alive(
            self, lease_id: int, timeout: Optional[float]
        ) -> AsyncKeepAlive: ...

        def _stream_worker_or_none(self) -> Optional[AsyncStreamWorker]: ...

        async def _one_message(
            self, method: Method, request: bytes, timeout: Optional[float]
        ) -> bytes: ...

    # --- Watch ------------------------------------------------------------------

    def watch(
        self,
        key: Key,
        *,
        range_end: Optional[Key] = None,
        prefix: bool = False,
        from_key: bool = False,
        start_revision: int = 0,
        prev_kv: bool = False,
        progress_notify: bool = False,
        filter_put: bool = False,
        filter_delete: bool = False,
        fragment: bool = False,
        timeout: Optional[float] = None,
    ) -> AsyncWatch:
        """Watch a key or a range.  The sync client's watch() returns once
        the server confirmed it, so every change made after it returns is
        delivered; the asyncio client's returns at once: ``await`` the
        result, or enter ``async with``, to wait for that (``async for``
        does so at its first step).

        Iterate the result for WatchResponse messages (``.events``, each with
        ``.type`` PUT=0/DELETE=1, ``.kv`` and, with `prev_kv`, ``.prev_kv``);
        use it as a context manager, or `cancel()` it, to end it.  After a
        lost connection or a server restart the watch resumes by itself from
        the revision after the last one delivered: no event is lost,
        duplicated or reordered.  Every watch of the client shares one Watch
        stream.

        Args:
            range_end, prefix, from_key: the range, as for `get`.
            start_revision: the first revision to deliver (0: changes after
                now); a compacted one ends iteration with CompactedError.
            prev_kv: include each event's previous key-value.
            progress_notify: let the server send periodic progress
                notifications (responses without events) while idle.
            filter_put, filter_delete: leave out PUT or DELETE events.
            fragment: let the server split huge responses (joined here).
            timeout: bound on waiting for the server to create the watch
                (None: the client default).

        Raises:
            ValueError: invalid options (before anything is sent).
            DeadlineExceededError: not created within `timeout`.
            ConnectionFailedError: the endpoint cannot be reached.
            EtcdError: the server refused the watch (PermissionDeniedError,
                CompactedError for a negative revision, ...).
        """
        from .._api import watch as watch_api

        request = watch_api.watch_create_request(
            key,
            range_end=range_end,
            prefix=prefix,
            from_key=from_key,
            start_revision=start_revision,
            prev_kv=prev_kv,
            progress_notify=progress_notify,
            filter_put=filter_put,
            filter_delete=filter_delete,
            fragment=fragment,
        )
        return self._add_watch(request.create_request, timeout)

    async def request_progress(self) -> None:
        """Ask the server for a progress notification on every watch: each
        gets a response without events once it has caught up with the store
        (etcd >= 3.5.8/3.4.25; earlier servers answer at once).  No
        `timeout`: it queues the request on the Watch stream and returns at
        once, and does nothing when the client has no watch.

        Raises:
            ClientClosedError: the client is closed.
        """
        streams = self._stream_worker_or_none()
        if streams is not None:
            streams.request_progress()

    # --- Lease streams ------------------------------------------------------------

    def keep_alive(
        self, lease_id: int, *, timeout: Optional[float] = None
    ) -> AsyncKeepAlive:
        """Keep a lease alive in the background until `close()` of the result.

        Renewals go out at TTL/3 on the client's one LeaseKeepAlive stream
        (the first at once) and survive reconnects.  The sync client's
        keep_alive() returns once etcd answered the first renewal (its
        `.response`); the asyncio client's returns at once: ``await`` the
        result, or enter ``async with``, to wait for that (``async for``
        does so at its first step).  That wait is bounded by `timeout`, and also by the
        client's dial_timeout + 1 s (Go's first keep-alive deadline, after
        which the lease counts as lost).  Iterate the result for each
        renewal's response, the first included; once the lease is lost
        (expired, revoked, or not renewed before its TTL ran out) `.lost` is
        True and iteration raises LeaseExpiredError.

        Args:
            lease_id: the lease to keep alive.
            timeout: bound on waiting for the first renewal's answer (None:
                the client default).  The renewals after it have no deadline.

        Raises:
            ValueError, TypeError: `lease_id` is not a positive int64.
            LeaseNotFoundError: etcd answered that the lease does not exist
                (never did, was revoked, or expired), as `keep_alive_once`.
            LeaseExpiredError: no answer to the first renewal within
                dial_timeout + 1 s.
            DeadlineExceededError: no answer to the first renewal within
                `timeout`; the subscription is closed.
            ClientClosedError: the client is closed.
            KeepAliveHaltedError: the LeaseKeepAlive stream failed with a
                non-retryable error (AuthFailedError, ...).
        """
        from .._api import lease as lease_api

        lease_api.lease_keep_alive_request(lease_id)  # checks the ID
        return self._add_keep_alive(lease_id, timeout)

    async def keep_alive_once(
        self, lease_id: int, *, timeout: Optional[float] = None
    ) -> rpc_pb2.LeaseKeepAliveResponse:
        """Renew a lease once (one request on its own LeaseKeepAlive stream).

        Raises:
            LeaseNotFoundError: the lease expired or was revoked (etcd answers
                TTL 0 rather than an error).
        """
        from .._api import lease as lease_api

        request = lease_api.lease_keep_alive_request(lease_id).SerializeToString()
        raw = await self._one_message(LEASE_KEEP_ALIVE, request, timeout)
        response = rpc_pb2.LeaseKeepAliveResponse.FromString(raw)
        if response.TTL <= 0:
            raise LeaseNotFoundError()
        return response


__all__ = ["AsyncWatchLeaseCalls"]
