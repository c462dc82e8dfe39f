"""`AsyncClient`: the etcd v3 API for asyncio.

The KV, Lease and admin methods are the facades in `kv_calls.py`,
`admin.py` and `watch_lease_calls.py` (the source of the sync client's, which
scripts/unasync.py writes); the options are checked
by the same `Options`; the balancer, the retry decisions (`UnaryRetry`), the
token bookkeeping, the watch and keep-alive managers (`_managers/`) and the
metrics are the sync client's.  What is here is only the asyncio I/O:
channels on the event loop, awaiting, sleeping, and the two things the sync
constructor does that need the loop (`reject_old_cluster`, the auto-sync
task), done at ``async with`` or at the first call.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import (
    TYPE_CHECKING,
    AsyncGenerator,
    Awaitable,
    Callable,
    List,
    Optional,
    Set,
    Tuple,
    Type,
    TypeVar,
    Union,
)

from google.protobuf.message import Message

from .. import _log
from .._api.check import call_timeout
from .._api.methods import (
    AUTH_AUTHENTICATE,
    MAINTENANCE_SNAPSHOT,
    MAINTENANCE_STATUS,
    Method,
    RetryClass,
)
from .._client.base import ClientBase, rand, too_old
from .._client.dial_errors import ClosedBeforeAnswerError, expects_tls
from .._client.options import SYNC_TIMEOUT, parse_endpoints
from .._client.pool import ChannelPool
from .._core.grpc.metadata import Metadata
from .._policy import retry as retry_policy
from .._policy.auth import TokenPlan, first_token
from .._policy.balancer import (
    HEALTH_CHECK_TIMEOUT,
    health_check_failure,
    member_endpoints,
)
from .._policy.endpoints import Endpoint, parse_endpoint
from .._proto import rpc_pb2
from ..errors import (
    ClientClosedError,
    DeadlineExceededError,
    EtcdError,
    InternalError,
    OldClusterError,
    StatusCode,
    TransportError,
    UnavailableError,
)
from .admin import AsyncAdminCalls
from .auth import AsyncTokenSource
from .call_stream import AsyncStream
from .channel import AsyncChannel
from .connection import AsyncConnection
from .kv_calls import AsyncKVCalls
from .lease_keepalive import AsyncKeepAlive
from .stream_worker import AsyncStreamWorker
from .tls_probe import speaks_tls
from .watch import AsyncWatch
from .watch_lease_calls import AsyncWatchLeaseCalls

if TYPE_CHECKING:
    from .._client.snapshot_file import PathT

REPEATABLE = RetryClass.REPEATABLE
R = TypeVar("R", bound=Message)
T = TypeVar("T")
Key = Union[str, bytes]


class AsyncClient(ClientBase, AsyncKVCalls, AsyncWatchLeaseCalls, AsyncAdminCalls):
    """A client of one etcd cluster for asyncio; the arguments are
    `ClientBase`'s, as `Client`'s.  Use ``async with``, or ``await aclose()``.
    The API reference: docs/api.md (in the repository's docs/)."""

    def _start(self) -> None:
        options = self._options
        if options.metrics is not None:
            # Measured calls only when asked: the unmeasured path stays as it is.
            from .._client.measured import MeasuredCall

            self._measure = MeasuredCall  # imported once, not per call
            self._call = self._measured_call  # type: ignore[method-assign]
        self._health_checks: Set[asyncio.Task[None]] = set()
        self._pool: ChannelPool[AsyncChannel] = ChannelPool(
            self._balancer, self._new_channel, self._start_health_check
        )
        self._auth: Optional[AsyncTokenSource] = None
        if options.credentials is not None:
            self._auth = AsyncTokenSource(
                *options.credentials, self._authenticate, self._md
            )
        self._worker: Optional[AsyncStreamWorker] = None
        self._closed = False
        # What needs the loop: run at `async with` or before the first call.
        self._first_use: Optional[asyncio.Future[None]] = None
        self._pending_start = bool(
            options.reject_old_cluster or options.auto_sync_interval is not None
        )
        self._auto_sync: Optional[asyncio.Task[None]] = None
        #: The last error of an automatic sync (None after one that worked).
        self.auto_sync_error: Optional[EtcdError] = None

    def _after_fork_in_child(self) -> None:
        """In a forked child (`_fork.py`): a new pool that dials afresh, on
        the loop the child runs; the parent's connections let go of without
        a word and never through the parent's loop, whose tasks (the stream
        worker, health checks, auto-sync) are dropped; its watches and
        keep-alives left to it.  What needs the loop runs again before the
        first call."""
        streams, self._worker = self._worker, None
        self._health_checks = set()
        self._first_use = None
        self._auto_sync = None
        options = self._options
        self._pending_start = not self._closed and bool(
            options.reject_old_cluster or options.auto_sync_interval is not None
        )
        if self._auth is not None:
            self._auth.after_fork()
        self._pool = self._pool.after_fork(self._fresh_balancer(), closed=self._closed)
        if streams is not None:
            streams.forget()

    def set_endpoints(self, *endpoints: str) -> None:
        """As `Client.set_endpoints`."""
        parsed = parse_endpoints(endpoints)
        self._pool.set_endpoints(parsed)
        if self._worker is not None:
            self._worker.set_endpoints(parsed)

    async def sync(self, *, timeout: Optional[float] = None) -> Tuple[str, ...]:
        """As `Client.sync`."""
        members = (await self.member_list(timeout=timeout)).members
        urls = member_endpoints(members)
        if urls:
            self.set_endpoints(*urls)
        return self.endpoints

    async def aclose(self) -> None:
        """Close every connection; calls in flight fail, watches and
        keep-alives end, the auto-sync task stops.  Idempotent."""
        self._closed = True
        if self._auto_sync is not None:
            self._auto_sync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._auto_sync
            self._auto_sync = None
        if self._worker is not None:
            self._worker.close()
            await self._worker.wait_closed()
        checks = list(self._health_checks)
        for check in checks:
            check.cancel()
        await asyncio.gather(*checks, return_exceptions=True)
        channels = self._pool.channels()
        self._pool.close()
        for channel in channels:
            await channel.wait_closed()

    async def __aenter__(self) -> AsyncClient:
        if self._pending_start:
            try:
                await self._start_on_loop()
            except BaseException:
                await self.aclose()
                raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- plumbing ---------------------------------------------------------------

    def _new_channel(self, endpoint: Endpoint) -> AsyncChannel:
        options = self._options
        return AsyncChannel(
            endpoint,
            ssl_context=options.ssl_context,
            server_name=options.server_name,
            dial_timeout=options.dial_timeout,
            max_send_message_size=options.max_send_message_size,
            max_recv_message_size=options.max_recv_message_size,
            keepalive_time=options.keepalive_time,
            keepalive_timeout=options.keepalive_timeout,
        )

    async def _call(
        self,
        method: Method,
        request: Union[Message, bytes],
        response_type: Type[R],
        timeout: Optional[float],
    ) -> R:
        """One unary call, retried as `UnaryRetry` decides (as `Client._call`)."""
        # A message, or its bytes already (the KV calls' hot path encodes them).
        data = request if isinstance(request, bytes) else request.SerializeToString()
        timeout = self.timeout if timeout is None else call_timeout(timeout)
        started = time.monotonic() if timeout is not None else 0.0
        # A read's first attempt: its share of the deadline (`attempt_timeout`).
        attempt = (
            self._balancer.attempt_shares[timeout]
            if method.retry is REPEATABLE
            else timeout
        )
        if self._pending_start:
            await self._start_on_loop()
        fetch = first_token(self._auth)
        if fetch is not None:
            await self._replace_token(fetch)
        channel = self._pool.pick()
        # `channel.unary` inlined (a coroutine frame less per call), but
        # for a dial, which it does within the attempt's time.
        conn = channel.current
        try:
            caller: Union[AsyncConnection, AsyncChannel] = (
                channel if conn is None or conn.dead is not None else conn
            )
            sent = self._md.calls  # its token: the one a refusal would be about
            raw = await caller.unary(
                method.path,
                data,
                timeout=attempt,
                metadata=sent,
                cancellable=method.cancellable,
            )
        except EtcdError as exc:
            raw = await self._retry(
                method, data, timeout, started, channel, exc, attempt != timeout, sent
            )
        else:
            if self._balancer.quarantined_count:
                self._pool.succeeded(channel)
        return response_type.FromString(raw)

    async def _measured_call(
        self,
        method: Method,
        request: Union[Message, bytes],
        response_type: Type[R],
        timeout: Optional[float],
    ) -> R:
        """`_call`, reported to the metrics hook (as `Client._measured_call`)."""
        metrics = self._options.metrics
        assert metrics is not None
        with self._measure(metrics, method):
            return await AsyncClient._call(
                self, method, request, response_type, timeout
            )

    async def _retry(
        self,
        method: Method,
        data: bytes,
        timeout: Optional[float],
        started: float,
        channel: AsyncChannel,
        error: EtcdError,
        shared: bool,
        sent: Metadata,
    ) -> bytes:
        deadline = None if timeout is None else started + timeout
        auth = self._auth
        plan = retry_policy.UnaryRetry(
            method.retry,
            deadline,
            auth=auth is not None,
            rand=rand,
            shared=shared,
        )
        # The generation the failed attempt was sent with (`sent`, its
        # metadata): a token installed since, by another caller, is newer, and
        # makes our refresh a no-op.
        generation = 0
        if auth is not None:
            generation = auth.generation
            if self._md.calls is not sent:
                generation -= 1
        first = channel.endpoint
        # The next attempt goes where this call has not been yet, while it can.
        tried = [first]
        while True:
            if isinstance(error, ClosedBeforeAnswerError):
                error = await self._diagnosed(channel.endpoint, error, deadline)
            step = plan.after(
                error,
                time.monotonic(),
                len(self._balancer.endpoints),
                silent=channel.silent_since(started),
            )
            if step.quarantine:
                self._pool.failed(channel.endpoint, str(error))
            if step.give_up:
                _log.gave_up(method.path, channel.endpoint.text, error, plan.attempt)
                raise plan.surfaced(error)
            _log.retrying(
                method.path, channel.endpoint.text, error, plan.attempt, step.wait
            )
            if step.refresh_token and auth is not None:
                await auth.refresh(generation)
            if step.wait:
                await asyncio.sleep(step.wait)
            channel = self._pool.pick_untried(tried)
            tried.append(channel.endpoint)
            started = time.monotonic()
            if auth is not None:
                generation = auth.generation
            try:
                raw = await channel.unary(
                    method.path,
                    data,
                    timeout=step.timeout,
                    metadata=self._md.calls,
                    cancellable=method.cancellable,
                )
            except EtcdError as exc:
                error = exc
                continue
            self._pool.succeeded(channel)
            if channel.endpoint != first:
                _log.failed_over(method.path, first.text, channel.endpoint.text)
            return raw

    async def _with_token(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """`await attempt()` as the token rule says (as `Client._with_token`):
        every call but the unary ones goes through here."""
        plan = TokenPlan(self._auth)
        while True:
            replace = plan.before()
            if replace is None:
                try:
                    return await attempt()
                except EtcdError as exc:
                    replace = plan.after(exc)
                    if replace is None:
                        raise
            await self._replace_token(replace)

    async def _replace_token(self, generation: int) -> None:
        """Carry out a token decision: a new token over `generation`."""
        auth = self._auth
        assert auth is not None  # only a client with credentials decides so
        await auth.refresh(generation)

    async def _diagnosed(
        self,
        endpoint: Endpoint,
        error: ClosedBeforeAnswerError,
        deadline: Optional[float],
    ) -> EtcdError:
        """As `Client._diagnosed`: `error`, or its TLSError if `endpoint`
        answers a TLS handshake."""
        timeout = self._probe_timeout(deadline)
        if timeout is not None and timeout <= 0:
            return error
        if await speaks_tls(endpoint, timeout):
            return expects_tls(error)
        return error

    async def _authenticate(self, username: str, password: str) -> str:
        """The Authenticate RPC without a token, on the endpoints in turn."""
        from .._api import auth as auth_api

        data = auth_api.authenticate_request(username, password).SerializeToString()
        error: Optional[EtcdError] = None
        tried: List[Endpoint] = []
        for _ in self._balancer.endpoints:
            channel = self._pool.pick_untried(tried)
            tried.append(channel.endpoint)
            try:
                raw = await channel.unary(
                    AUTH_AUTHENTICATE.path,
                    data,
                    timeout=self._options.dial_timeout,
                    metadata=self._md.without_token,
                )
            except (TransportError, UnavailableError) as exc:
                self._pool.failed(channel.endpoint, str(exc))
                error = exc
                continue
            return rpc_pb2.AuthenticateResponse.FromString(raw).token
        assert error is not None
        raise error

    def _start_health_check(self, endpoint: Endpoint) -> None:
        """Check `endpoint`'s health in a task of its own (`_policy/balancer.py`):
        calls do not wait for it.  It lasts HEALTH_CHECK_TIMEOUT at most."""
        if self._closed:
            return
        task = asyncio.ensure_future(self._check_health(endpoint))
        self._health_checks.add(task)
        task.add_done_callback(self._health_checks.discard)

    async def _check_health(self, endpoint: Endpoint) -> None:
        """Ask `endpoint`'s member for its Status; tell the balancer."""
        error: Optional[EtcdError] = None
        leader = 0
        try:
            status = self._call_endpoint(
                endpoint.text,
                MAINTENANCE_STATUS,
                rpc_pb2.StatusRequest(),
                rpc_pb2.StatusResponse,
                HEALTH_CHECK_TIMEOUT,
            )
            # wait_for: the dial too is bounded (the call's timeout is not).
            leader = (await asyncio.wait_for(status, HEALTH_CHECK_TIMEOUT)).leader
        except EtcdError as exc:
            error = exc
        except asyncio.TimeoutError:
            error = DeadlineExceededError(
                f"health check: no answer within {HEALTH_CHECK_TIMEOUT:g} s",
                endpoint=endpoint.text,
            )
        self._pool.health_checked(endpoint, health_check_failure(error, leader))

    async def _call_endpoint(
        self,
        endpoint: str,
        method: Method,
        request: Message,
        response_type: Type[R],
        timeout: Optional[float],
    ) -> R:
        """One call to exactly `endpoint`, not retried elsewhere (as
        `Client._call_endpoint`)."""
        channel = self._pool.channel(parse_endpoint(endpoint))
        data = request.SerializeToString()
        deadline = self._deadline(timeout)
        try:
            raw = await self._with_token(
                lambda: channel.unary(
                    method.path, data, timeout=_left(deadline), metadata=self._md.calls
                )
            )
        finally:
            if not self._pool.owns(channel):
                channel.close()
        return response_type.FromString(raw)

    # --- what needs the loop --------------------------------------------------------

    async def _start_on_loop(self) -> None:
        """`reject_old_cluster` and the auto-sync task, once (concurrent
        first calls wait for the same check)."""
        if self._first_use is None:
            self._first_use = asyncio.ensure_future(self._check_and_start())
        await asyncio.shield(self._first_use)
        self._pending_start = False

    async def _check_and_start(self) -> None:
        options = self._options
        if options.reject_old_cluster:
            await self._reject_old_cluster()
        if options.auto_sync_interval is not None and not self._closed:
            self._auto_sync = asyncio.ensure_future(
                self._sync_every(options.auto_sync_interval)
            )

    async def _reject_old_cluster(self) -> None:
        """As `Client._reject_old_cluster` (Go's RejectOldCluster)."""
        for endpoint in self.endpoints:
            status = await self.status(endpoint, timeout=self._options.dial_timeout)
            if too_old(status.version):
                raise OldClusterError(endpoint=endpoint, version=status.version)

    async def _sync_every(self, interval: float) -> None:
        """As the sync client's `AutoSync`: a failed sync leaves the endpoints
        as they were (`auto_sync_error` keeps why)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sync(timeout=SYNC_TIMEOUT)
            except EtcdError as exc:
                self.auto_sync_error = exc
            else:
                self.auto_sync_error = None

    # --- streams ------------------------------------------------------

    def _add_watch(
        self, create: rpc_pb2.WatchCreateRequest, timeout: Optional[float]
    ) -> AsyncWatch:
        """A new watch, to be awaited for its creation (within `timeout`)."""
        create_timeout = self._timeout(timeout)  # before the worker dials
        watch = self._stream_worker().add_watch(create)
        watch.create_timeout = create_timeout
        return watch

    def _add_keep_alive(
        self, lease_id: int, timeout: Optional[float]
    ) -> AsyncKeepAlive:
        """A new keep-alive subscription, to be awaited for its first renewal
        (within `timeout`)."""
        first_timeout = self._timeout(timeout)  # before the worker dials
        keep_alive = self._stream_worker().add_keep_alive(lease_id)
        keep_alive.first_timeout = first_timeout
        return keep_alive

    def _stream_worker_or_none(self) -> Optional[AsyncStreamWorker]:
        if self._closed:
            raise ClientClosedError()
        return self._worker

    async def snapshot(
        self, *, timeout: Optional[float] = None
    ) -> AsyncGenerator[bytes, None]:
        """As `Client.snapshot`: ``async for`` the chunks, the SHA-256 last
        (checked); ``aclose()`` the iterator to stop early (cancels the call).

        Raises:
            RemoteProtocolError: the stream ended without a matching checksum.
        """
        from .._api import maintenance as maintenance_api

        request = maintenance_api.snapshot_request().SerializeToString()
        deadline = self._deadline(timeout)

        async def first() -> Tuple[AsyncStream, Optional[bytes]]:
            stream = await self._pool.pick().open_stream(
                MAINTENANCE_SNAPSHOT.path,
                request=request,
                metadata=self._md.calls,
                timeout=_left(deadline),
            )
            try:
                return stream, await stream.receive(deadline)
            except BaseException:
                stream.cancel()
                raise

        stream, raw = await self._with_token(first)
        check = maintenance_api.SnapshotCheck()
        try:
            while raw is not None:
                blob = check.feed(raw)
                if blob is not None:
                    yield blob
                raw = await stream.receive(deadline)
        finally:
            stream.cancel()
        yield check.end()

    async def snapshot_save(
        self, path: PathT, *, timeout: Optional[float] = None
    ) -> PathT:
        """As `Client.snapshot_save` (`<path>.part`, fsync, rename; the fsync
        runs in the loop's default executor, not blocking the loop)."""
        from .._client.snapshot_file import part_file

        loop = asyncio.get_running_loop()
        with part_file(path) as file:
            blobs = self.snapshot(timeout=timeout)
            try:
                async for blob in blobs:
                    file.write(blob)
            finally:
                await blobs.aclose()
            file.flush()
            await loop.run_in_executor(None, os.fsync, file.fileno())
        return path

    def _stream_worker(self) -> AsyncStreamWorker:
        if self._closed:
            raise ClientClosedError()
        if self._worker is None:
            self._worker = AsyncStreamWorker(
                ChannelPool(
                    self._balancer, self._new_channel, self._start_health_check
                ),
                metadata=self._md,
                first_response_timeout=self._options.first_keep_alive_timeout,
                auth=self._auth,
            )
        return self._worker

    def _deadline(self, timeout: Optional[float]) -> Optional[float]:
        timeout = self._timeout(timeout)
        return None if timeout is None else time.monotonic() + timeout

    async def _one_message(
        self, method: Method, request: bytes, timeout: Optional[float]
    ) -> bytes:
        """The first response of a bidi stream opened for one request."""
        deadline = self._deadline(timeout)

        async def attempt() -> Optional[bytes]:
            stream = await self._pool.pick().open_stream(
                method.path, metadata=self._md.calls, timeout=_left(deadline)
            )
            try:
                stream.send_many([request], end=True)
                return await stream.receive(deadline)
            finally:
                stream.cancel()

        raw = await self._with_token(attempt)
        if raw is None:
            raise InternalError(
                StatusCode.INTERNAL, f"{method.name} ended without a response"
            )
        return raw


def _left(deadline: Optional[float]) -> Optional[float]:
    """Seconds until `deadline` (None: no deadline)."""
    return None if deadline is None else deadline - time.monotonic()


__all__ = ["AsyncClient"]
