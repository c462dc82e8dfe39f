"""The asyncio stream worker: watches and lease keep-alive of one
`AsyncClient`, without a thread or a task of its own.

The decisions are the driver-neutral managers' (`_managers/`: `WatchManager`,
`LeaseManager`), as in the sync worker; this is only their loop, made of event
loop callbacks:

* what arrives is routed in the connection's `buffer_updated`: each stream
  calls `_on_news` once per read, which reads both managers (responses go to
  the `AsyncWatch` / `AsyncKeepAlive` objects, waking the tasks that await
  them); when a manager must look after its stream again (requests to send, a
  stream that ended), a `_look` is scheduled;
* `_look` (at most one pending, run by `call_soon`) tends both managers: opens
  or closes their streams, resumes after failures, sends what is due; then
  one timer is armed for the earliest of the managers' timers (a renewal, a
  lease deadline, a backoff);
* opening a stream needs a connection: if the picked endpoint's is not up,
  the manager is told `StreamNotReadyError` and a dial task runs; its end
  schedules a `_look` (a failed dial is reported to the next open, so it
  backs off and quarantines the endpoint as any failed open);
* fetching the first token (the token rule, `_policy/auth.py`: no stream
  opens without it) and a refresh (a stream refused for its stale token) run
  as a task; opens wait for it the same way.

Connections are the worker's own (a second `ChannelPool` over the client's
balancer), as in the sync client, so an unread watch never holds up a call.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Callable, List, Optional, Sequence

from .._client.pool import ChannelPool
from .._client.tokens import CallMetadata
from .._core.grpc.metadata import Metadata
from .._managers.boxes import KeepAliveBox
from .._managers.leases import LeaseManager
from .._managers.ports import StreamNotReadyError, StreamPort, WatchSink
from .._managers.watches import WatchManager
from .._policy.auth import first_token
from .._policy.endpoints import Endpoint, parse_endpoint
from .._proto import rpc_pb2
from ..errors import ClientClosedError, EtcdError
from .auth import AsyncTokenSource
from .call_stream import AsyncStream
from .channel import AsyncChannel
from .lease_keepalive import AsyncKeepAlive
from .waiting import NO_LOCK
from .watch import AsyncWatch


class AsyncStreamWorker:
    """Watches and keep-alives of one `AsyncClient`; see the module docstring.

    Args:
        pool: the worker's own channels to the client's endpoints.
        metadata: the client's metadata (`.calls` for the Watch stream,
            `.lease` for LeaseKeepAlive), read at each open.
        first_response_timeout: seconds a new keep-alive may wait for its
            first response before the lease counts as lost.
        auth: the client's token source (password auth), or None.
    """

    def __init__(
        self,
        pool: ChannelPool[AsyncChannel],
        *,
        metadata: CallMetadata,
        first_response_timeout: float,
        auth: Optional[AsyncTokenSource],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._pool = pool
        self._auth = auth
        self._watches = WatchManager(
            NO_LOCK,
            NO_LOCK,
            random.random,
            metadata=metadata,
            wake=self._wake,
            on_stream_failed=self._stream_failed,
            refresh_token=self._refresh_token,
            all_quarantined=pool.balancer.all_quarantined,
            anonymous=auth is None,
        )
        self._leases = LeaseManager(
            NO_LOCK,
            random.random,
            metadata=metadata,
            first_response_timeout=first_response_timeout,
            on_stream_failed=self._stream_failed,
            refresh_token=self._refresh_token,
        )
        self._closed = False
        # What `close()` stopped, for `wait_closed`.
        self._closed_tasks: List[asyncio.Task[None]] = []
        self._closed_channels: List[AsyncChannel] = []
        self._look_pending = False
        self._timer: Optional[asyncio.TimerHandle] = None
        # Opening streams: the channel being dialed for them, the dial, a
        # dial's failure for the next open to report, a token refresh.
        self._dial_channel: Optional[AsyncChannel] = None
        self._dialing: Optional[asyncio.Task[None]] = None
        self._open_error: Optional[EtcdError] = None
        self._refreshing: Optional[asyncio.Task[None]] = None

    # --- the client's side ----------------------------------------------------

    def add_watch(self, create: rpc_pb2.WatchCreateRequest) -> AsyncWatch:
        self._check_open()
        watch = self._watches.add(create, lambda w: AsyncWatch(self, w))
        assert isinstance(watch, AsyncWatch)
        self._wake()
        return watch

    def cancel_watch(self, sink: WatchSink) -> None:
        if not self._closed and self._watches.cancel(sink):
            self._wake()

    def request_progress(self) -> None:
        if not self._closed and self._watches.request_progress():
            self._wake()

    def _taken(self, size: int) -> None:
        """Readers took `size` bytes of watch responses."""
        self._watches.taken(size)

    def add_keep_alive(self, lease_id: int) -> AsyncKeepAlive:
        self._check_open()
        keep_alive = AsyncKeepAlive(self, lease_id)
        self._leases.add(keep_alive, time.monotonic())
        self._wake()
        return keep_alive

    def remove_keep_alive(self, keep_alive: KeepAliveBox) -> None:
        if not self._closed and self._leases.remove(keep_alive):
            self._wake()

    def set_endpoints(self, endpoints: Sequence[Endpoint]) -> None:
        """Streams on endpoints no longer listed end and resume elsewhere."""
        self._pool.set_endpoints(endpoints)
        self._wake()

    def close(self) -> None:
        """End every watch and keep-alive and close the connections;
        idempotent."""
        if self._closed:
            return
        self._closed = True
        watches = self._watches.stop()
        keep_alives = self._leases.stop()
        for watch in watches:
            watch._on_end(None)
        for keep_alive in keep_alives:
            keep_alive._on_stopped()
        self._closed_tasks = self.tasks()
        for task in self._closed_tasks:
            task.cancel()
        if self._timer is not None:
            self._timer.cancel()
        self._watches.close_stream()
        self._leases.close_stream()
        self._closed_channels = self._pool.channels()
        self._pool.close()

    def forget(self) -> None:
        """In a forked child (`_fork.py`): the watches and keep-alives are
        the parent's, so are the connections (let go of without a word) and
        the tasks and timers (the parent's loop); the worker stays closed."""
        self._closed = True
        self._timer = self._dialing = self._refreshing = None
        for watch in self._watches.stop():
            watch._orphan()
        for keep_alive in self._leases.stop():
            keep_alive._orphan()
        self._pool.forget()

    async def wait_closed(self) -> None:
        """After `close()`: return once its tasks ended and its sockets are
        closed."""
        await asyncio.gather(*self._closed_tasks, return_exceptions=True)
        for channel in self._closed_channels:
            await channel.wait_closed()

    def tasks(self) -> List[asyncio.Task[None]]:
        """Its tasks still running (a dial, a token refresh): `close()`
        cancels them; `wait_closed` awaits them."""
        return [t for t in (self._dialing, self._refreshing) if t is not None]

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError()

    # --- the loop -----------------------------------------------------------------

    def _wake(self) -> None:
        """Look after the streams soon (once per loop turn)."""
        if not self._look_pending and not self._closed:
            self._look_pending = True
            self._loop.call_soon(self._look)

    def _on_news(self) -> None:
        """A stream received messages or ended (from `buffer_updated`)."""
        if self._closed:
            return
        now = time.monotonic()
        again = self._guarded(lambda: self._watches.read(now))
        if self._guarded(lambda: self._leases.read(now)):
            again = True
        if again:
            self._wake()

    def _look(self) -> None:
        self._look_pending = False
        if self._closed:
            return
        now = time.monotonic()
        self._guarded(lambda: self._tend(now))

    def _tend(self, now: float) -> bool:
        watches, leases = self._watches, self._leases
        watches.release_backlog()
        watches.read(now)
        leases.read(now)
        watches.tend(now, self._open, self._send)
        leases.tend(now, self._open, self._send)
        wakeups = [
            t
            for t in (watches.next_wakeup(now), leases.next_wakeup(now))
            if t is not None
        ]
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if wakeups:
            delay = max(0.0, min(wakeups) - now)
            self._timer = self._loop.call_later(delay, self._wake)
        return False

    def _guarded(self, step: Callable[[], bool]) -> bool:
        """Run a step of the loop; a bug in it ends every watch and
        keep-alive with an error that says so (instead of leaving them
        waiting on a loop that stopped), and is raised for the event loop's
        exception handler to report."""
        try:
            return step()
        except Exception as exc:
            error = EtcdError(f"pyetcd-wire's stream worker failed: {exc!r}")
            error.__cause__ = exc
            self._watches.fail_all(error)
            self._leases.halt(str(error))
            raise

    # --- opening and sending --------------------------------------------------------

    def _open(self, path: str, metadata: Metadata) -> StreamPort:
        if self._refreshing is not None:
            raise StreamNotReadyError
        if first_token(self._auth) is not None:
            self._refresh_token()  # the first token; opens wait for it
            raise StreamNotReadyError
        if self._open_error is not None:
            error, self._open_error = self._open_error, None
            raise error
        channel = self._dial_channel or self._pool.pick()
        conn = channel.ready()
        if conn is None:
            self._dial_channel = channel
            if self._dialing is None:
                self._dialing = self._loop.create_task(self._dial(channel))
            raise StreamNotReadyError
        self._dial_channel = None
        try:
            return conn.open_stream(path, metadata=metadata, on_news=self._on_news)
        except EtcdError as exc:
            self._pool.stream_failed(channel.endpoint, exc)
            raise

    async def _dial(self, channel: AsyncChannel) -> None:
        try:
            await channel.connection()
        except EtcdError as exc:
            self._dial_channel = None
            self._pool.stream_failed(channel.endpoint, exc)
            self._open_error = exc
        finally:
            self._dialing = None
            self._wake()

    def _send(self, stream: StreamPort, messages: List[bytes]) -> None:
        assert isinstance(stream, AsyncStream)
        try:
            stream.send_many(messages)
        except EtcdError as exc:
            # The stream is failing; it ends (and resumes) through its manager.
            stream.connection.close_with(exc)

    def _stream_failed(self, stream: StreamPort, error: EtcdError) -> None:
        self._pool.stream_failed(parse_endpoint(stream.connection.endpoint), error)

    def _refresh_token(self) -> bool:
        """Start getting a new token, or the first one (opens wait for it);
        False without password auth."""
        auth = self._auth
        if auth is None:
            return False
        if self._refreshing is None:
            self._refreshing = self._loop.create_task(self._refresh(auth))
        return True

    async def _refresh(self, auth: AsyncTokenSource) -> None:
        try:
            await auth.refresh(auth.generation)
        except EtcdError as exc:
            self._open_error = exc  # the next open fails with it
        finally:
            self._refreshing = None
            self._wake()


__all__ = ["AsyncStreamWorker"]
