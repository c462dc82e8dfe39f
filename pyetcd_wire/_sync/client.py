"""`Client`: the etcd v3 API over one channel (sync).

Each method is a one-line facade over a request builder in `_api` and
`Channel.unary` (Go's kv.go: `Put` = `Do(OpPut(…))`).  Results are
the etcd protobuf response messages (docs/api.md).
"""

from __future__ import annotations

import threading
import time
from typing import (
    TYPE_CHECKING,
    Callable,
    Iterator,
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
    MAINTENANCE_STATUS,
    Method,
    RetryClass,
)
from .._client.base import ClientBase, rand, too_old
from .._client.dial_errors import ClosedBeforeAnswerError, expects_tls
from .._client.options import parse_endpoints
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
    EtcdError,
    InternalError,
    OldClusterError,
    StatusCode,
    TransportError,
    UnavailableError,
)
from . import transport
from .admin import AdminCalls
from .channel import Channel, Stream
from .kv_calls import KVCalls
from .snapshot import SnapshotCalls
from .watch_lease_calls import WatchLeaseCalls

if TYPE_CHECKING:
    from .auth import TokenSource
    from .autosync import AutoSync
    from .lease_keepalive import KeepAlive
    from .stream_worker import StreamWorker
    from .watch import Watch

REPEATABLE = RetryClass.REPEATABLE
Key = Union[str, bytes]
R = TypeVar("R", bound=Message)
T = TypeVar("T")


class Client(ClientBase, KVCalls, WatchLeaseCalls, AdminCalls, SnapshotCalls):
    """A client of one etcd cluster (sync; threads may share it).  The
    constructor's arguments and every method are listed in docs/api.md (the
    API reference, in the repository's docs/, with the user guide)."""

    def _start(self) -> None:
        options = self._options
        self._auth: Optional[TokenSource] = None
        if options.credentials is not None:
            # Imported here, as every module only some clients use: what the
            # import of pyetcd_wire loads is what every client needs.
            from .auth import TokenSource

            self._auth = TokenSource(*options.credentials, self._authenticate, self._md)
        if options.metrics is not None:
            # Measured calls only when asked: the unmeasured path stays as it is.
            from .._client.measured import MeasuredCall

            self._measure = MeasuredCall  # imported once, not per call
            self._call = self._measured_call  # type: ignore[method-assign]
        self._health_checks_lock = threading.Lock()
        self._health_checks: Set[threading.Thread] = set()
        self._health_checks_stopped = False
        self._pool: ChannelPool[Channel] = ChannelPool(
            self._balancer, self._new_channel, self._start_health_check
        )
        self._worker_lock = threading.Lock()
        self._worker: Optional[StreamWorker] = None
        self._closed = False
        self._auto_sync: Optional[AutoSync] = None
        self._auto_sync_due = False  # in a forked child, until it dials
        if options.reject_old_cluster:
            try:
                self._reject_old_cluster()
            except BaseException:
                self.close()
                raise
        if options.auto_sync_interval is not None:
            self._start_auto_sync(options.auto_sync_interval)

    def _start_auto_sync(self, interval: float) -> None:
        from .autosync import AutoSync

        self._auto_sync = AutoSync(lambda timeout: self.sync(timeout=timeout), interval)

    def _after_fork_in_child(self) -> None:
        """In a forked child (`_fork.py`): new locks, a new pool that dials
        afresh, the parent's connections let go of without a word, its
        watches and keep-alives left to it; the auto-sync thread starts
        again with the first dial."""
        streams, self._worker = self._worker, None
        self._health_checks_lock = threading.Lock()
        self._health_checks = set()
        self._worker_lock = threading.Lock()
        if self._auth is not None:
            self._auth.after_fork()
        if self._auto_sync is not None:
            self._auto_sync = None
            self._auto_sync_due = not self._closed
        self._pool = self._pool.after_fork(self._fresh_balancer(), closed=self._closed)
        if streams is not None:
            streams.forget()

    @property
    def _channel(self) -> Channel:
        """A channel to the next endpoint (round robin, healthy first)."""
        return self._pool.pick()

    def set_endpoints(self, *endpoints: str) -> None:
        """Use these endpoints from now on (Go's SetEndpoints).  Connections
        to endpoints no longer listed are closed: their calls in flight fail
        and are retried on the others where their retry class allows; watches
        and keep-alives resume on the others.

        Raises:
            ValueError: no endpoint, or a malformed one.
        """
        parsed = parse_endpoints(endpoints)
        self._pool.set_endpoints(parsed)
        with self._worker_lock:
            streams = self._worker
        if streams is not None:
            streams.set_endpoints(parsed)

    def _reject_old_cluster(self) -> None:
        """Go's RejectOldCluster: every endpoint's Status, bounded by
        dial_timeout; any error, or a member older than MIN_CLUSTER_VERSION,
        fails the constructor."""
        for endpoint in self.endpoints:
            version = self.status(endpoint, timeout=self._options.dial_timeout).version
            if too_old(version):
                raise OldClusterError(endpoint=endpoint, version=version)

    def sync(self, *, timeout: Optional[float] = None) -> Tuple[str, ...]:
        """Set the endpoints to the client URLs of the cluster's started
        voting members (Go's Sync: a linearizable member list; members not
        started yet have no name, learners serve no client traffic).
        Returns the new endpoints.

        Raises:
            EtcdError: the member list could not be read; the endpoints are
                left as they were.
        """
        members = self.member_list(timeout=timeout).members
        urls = member_endpoints(members)
        if urls:
            self.set_endpoints(*urls)
        return self.endpoints

    def close(self) -> None:
        """Close every connection; calls in flight fail, watches and
        keep-alives end, the background threads are joined.  Idempotent."""
        if self._auto_sync is not None:
            self._auto_sync.stop()
        with self._worker_lock:
            self._closed = True
            streams, self._worker = self._worker, None
        if streams is not None:
            streams.close()
        with self._health_checks_lock:
            self._health_checks_stopped = True
            checks = list(self._health_checks)
        self._pool.close()  # a health check under way fails at once
        for thread in checks:
            thread.join()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- plumbing ---------------------------------------------------------------

    def _new_channel(self, endpoint: Endpoint) -> Channel:
        options = self._options
        if self._auto_sync_due and options.auto_sync_interval is not None:
            self._auto_sync_due = False  # a forked child's first dial
            self._start_auto_sync(options.auto_sync_interval)
        return Channel(
            endpoint,
            ssl_context=options.ssl_context,
            server_name=options.server_name,
            keepalive_time=options.keepalive_time,
            keepalive_timeout=options.keepalive_timeout,
            dial_timeout=options.dial_timeout,
            max_send_message_size=options.max_send_message_size,
            max_recv_message_size=options.max_recv_message_size,
        )

    def _add_watch(
        self, create: rpc_pb2.WatchCreateRequest, timeout: Optional[float]
    ) -> Watch:
        """A new watch, once the server created it (within `timeout`)."""
        timeout = self._timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        watch = self._stream_worker().add_watch(create)
        watch._wait_created(deadline)
        return watch

    def _add_keep_alive(self, lease_id: int, timeout: Optional[float]) -> KeepAlive:
        """A new keep-alive subscription, once etcd answered its first renewal
        (within `timeout`)."""
        timeout = self._timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        keep_alive = self._stream_worker().add_keep_alive(lease_id)
        keep_alive._wait_first_renewal(deadline)
        return keep_alive

    def _stream_worker_or_none(self) -> Optional[StreamWorker]:
        if self._closed:
            raise ClientClosedError()
        return self._worker

    def _one_message(
        self, method: Method, request: bytes, timeout: Optional[float]
    ) -> bytes:
        """The first response of a bidi stream opened for one request."""
        deadline = self._deadline(timeout)

        def attempt() -> Optional[bytes]:
            stream = self._pool.pick().bidi_stream(
                method.path, timeout=_left(deadline), metadata=self._md.calls
            )
            with stream:  # cancels the stream if it is still open
                stream.send(request, end=True)
                return stream.receive()

        raw = self._with_token(attempt)
        if raw is None:
            raise InternalError(
                StatusCode.INTERNAL, f"{method.name} ended without a response"
            )
        return raw

    def _stream_worker(self) -> StreamWorker:
        # Imported by the first watch or keep-alive, not with the client: it
        # brings the stream managers (start-up time).
        from .stream_worker import StreamWorker

        with self._worker_lock:
            if self._closed:
                raise ClientClosedError()
            if self._worker is None:
                self._worker = StreamWorker(
                    ChannelPool(
                        self._balancer, self._new_channel, self._start_health_check
                    ),
                    metadata=self._md,
                    first_response_timeout=self._options.first_keep_alive_timeout,
                    auth=self._auth,
                    keepalive=self.keepalive_time is not None,
                )
            return self._worker

    def _call(
        self,
        method: Method,
        request: Union[Message, bytes],
        response_type: Type[R],
        timeout: Optional[float],
    ) -> R:
        """One unary call, retried on other endpoints as `method.retry`
        allows (`_policy/retry.py`), within the call's deadline."""
        # A message, or its bytes already (the KV calls' hot path encodes them).
        data = request if isinstance(request, bytes) else request.SerializeToString()
        timeout = self.timeout if timeout is None else call_timeout(timeout)
        started = time.monotonic() if timeout is not None else 0.0
        repeatable = method.retry is REPEATABLE
        # A read's first attempt: its share of the deadline (`attempt_timeout`).
        attempt = self._balancer.attempt_shares[timeout] if repeatable else timeout
        fetch = first_token(self._auth)
        if fetch is not None:
            self._replace_token(fetch)
        channel = self._pool.pick()
        sent = self._md.calls  # its token: the one a refusal would be about
        try:
            raw = channel.unary(
                method.path,
                data,
                timeout=attempt,
                metadata=sent,
                probe=not repeatable,
                cancellable=method.cancellable,
            )
        except EtcdError as exc:
            raw = self._retry(
                method, data, timeout, started, channel, exc, attempt != timeout, sent
            )
        else:
            if self._balancer.quarantined_count:
                self._pool.succeeded(channel)
        return response_type.FromString(raw)

    def _measured_call(
        self,
        method: Method,
        request: Union[Message, bytes],
        response_type: Type[R],
        timeout: Optional[float],
    ) -> R:
        """`_call`, reported to the metrics hook (one start, one outcome per
        logical call, retries included)."""
        metrics = self._options.metrics
        assert metrics is not None
        with self._measure(metrics, method):
            return Client._call(self, method, request, response_type, timeout)

    def _retry(
        self,
        method: Method,
        data: bytes,
        timeout: Optional[float],
        started: float,
        channel: Channel,
        error: EtcdError,
        shared: bool,
        sent: Metadata,
    ) -> bytes:
        """Attempts after the first failed with `error` on `channel` (`shared`:
        with a share of the deadline only), as `retry_policy.UnaryRetry`
        decides."""
        deadline = None if timeout is None else started + timeout
        pool = self._pool
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
                error = self._diagnosed(channel.endpoint, error, deadline)
            step = plan.after(
                error,
                time.monotonic(),
                len(self._balancer.endpoints),
                silent=channel.silent_since(started),
            )
            if step.quarantine:
                pool.failed(channel.endpoint, str(error))
            if step.give_up:
                _log.gave_up(method.path, channel.endpoint.text, error, plan.attempt)
                raise plan.surfaced(error)
            _log.retrying(
                method.path, channel.endpoint.text, error, plan.attempt, step.wait
            )
            if step.refresh_token and auth is not None:
                auth.refresh(generation)
            if step.wait:
                time.sleep(step.wait)
            channel = pool.pick_untried(tried)
            tried.append(channel.endpoint)
            started = time.monotonic()
            if auth is not None:
                generation = auth.generation
            try:
                raw = channel.unary(
                    method.path,
                    data,
                    timeout=step.timeout,
                    metadata=self._md.calls,
                    probe=method.retry is not REPEATABLE,
                    cancellable=method.cancellable,
                )
            except EtcdError as exc:
                error = exc
                continue
            pool.succeeded(channel)
            if channel.endpoint != first:
                _log.failed_over(method.path, first.text, channel.endpoint.text)
            return raw

    def _diagnosed(
        self,
        endpoint: Endpoint,
        error: ClosedBeforeAnswerError,
        deadline: Optional[float],
    ) -> EtcdError:
        """`error` if `endpoint` does not answer TLS either (a proxy whose
        member is gone, a member dying: retried); its TLSError if it does (a
        TLS-only port: not retried)."""
        timeout = self._probe_timeout(deadline)
        if timeout is not None and timeout <= 0:
            return error
        if transport.speaks_tls(endpoint, timeout):
            return expects_tls(error)
        return error

    def _authenticate(self, username: str, password: str) -> str:
        """The Authenticate RPC, sent without a token, on the endpoints in
        turn until one answers (bounded by dial_timeout per attempt)."""
        from .._api import auth as auth_api

        request = auth_api.authenticate_request(username, password)
        data = request.SerializeToString()
        error: Optional[EtcdError] = None
        tried: List[Endpoint] = []
        for _ in self._balancer.endpoints:
            channel = self._pool.pick_untried(tried)
            tried.append(channel.endpoint)
            try:
                raw = channel.unary(
                    AUTH_AUTHENTICATE.path,
                    data,
                    timeout=self._options.dial_timeout,
                    metadata=self._md.without_token,
                )
            except (TransportError, UnavailableError) as exc:
                pool_error = exc
                self._pool.failed(channel.endpoint, str(exc))
                error = pool_error
                continue
            return rpc_pb2.AuthenticateResponse.FromString(raw).token
        assert error is not None
        raise error

    def _start_health_check(self, endpoint: Endpoint) -> None:
        """Check `endpoint`'s health in a thread of its own (`_policy/balancer.py`):
        calls do not wait for it.  It lasts HEALTH_CHECK_TIMEOUT at most."""
        with self._health_checks_lock:
            if self._health_checks_stopped:
                return
            thread = threading.Thread(
                target=self._check_health,
                args=(endpoint,),
                name=f"pyetcd-wire-health-check {endpoint.text}",
                daemon=True,
            )
            self._health_checks.add(thread)
        thread.start()

    def _check_health(self, endpoint: Endpoint) -> None:
        """Ask `endpoint`'s member for its Status; tell the balancer."""
        error: Optional[EtcdError] = None
        leader = 0
        try:
            leader = self._call_endpoint(
                endpoint.text,
                MAINTENANCE_STATUS,
                rpc_pb2.StatusRequest(),
                rpc_pb2.StatusResponse,
                HEALTH_CHECK_TIMEOUT,
            ).leader
        except EtcdError as exc:
            error = exc
        finally:
            self._pool.health_checked(endpoint, health_check_failure(error, leader))
            with self._health_checks_lock:
                self._health_checks.discard(threading.current_thread())

    def _with_token(self, attempt: Callable[[], T]) -> T:
        """`attempt()` as the token rule says (`_policy/auth.py`): the first
        token fetched before it, a new one after a refusal for a stale one
        and then `attempt()` again.  Every call but the unary ones (whose
        `UnaryRetry` has the rule) goes through here."""
        plan = TokenPlan(self._auth)
        while True:
            replace = plan.before()
            if replace is None:
                try:
                    return attempt()
                except EtcdError as exc:
                    replace = plan.after(exc)
                    if replace is None:
                        raise
            self._replace_token(replace)

    def _replace_token(self, generation: int) -> None:
        """Carry out a token decision: a new token over `generation`."""
        auth = self._auth
        assert auth is not None  # only a client with credentials decides so
        auth.refresh(generation)

    def _deadline(self, timeout: Optional[float]) -> Optional[float]:
        timeout = self._timeout(timeout)
        return None if timeout is None else time.monotonic() + timeout

    def _call_endpoint(
        self,
        endpoint: str,
        method: Method,
        request: Message,
        response_type: Type[R],
        timeout: Optional[float],
    ) -> R:
        """One call to exactly `endpoint` (Go's per-endpoint Maintenance calls:
        Status, HashKV, Defragment), not retried elsewhere (but sent again
        with a new token if refused for its token)."""
        target = parse_endpoint(endpoint)
        channel = self._pool.channel(target)
        data = request.SerializeToString()
        deadline = self._deadline(timeout)
        try:
            raw = self._with_token(
                lambda: channel.unary(
                    method.path, data, timeout=_left(deadline), metadata=self._md.calls
                )
            )
        finally:
            if not self._pool.owns(channel):
                channel.close()
        return response_type.FromString(raw)

    def _server_stream(
        self, method: Method, request: Message, timeout: Optional[float]
    ) -> Iterator[bytes]:
        """A server-streaming call (Snapshot): its raw response messages.
        Closing the iterator early cancels the call.  Sent again with a new
        token if refused for its token before its first message."""
        data = request.SerializeToString()
        deadline = self._deadline(timeout)

        def first() -> Tuple[Stream, Optional[bytes]]:
            stream = self._pool.pick().server_stream(
                method.path, data, timeout=_left(deadline), metadata=self._md.calls
            )
            try:
                return stream, stream.receive()
            except BaseException:
                stream.cancel()
                raise

        stream, raw = self._with_token(first)
        with stream:
            while raw is not None:
                yield raw
                raw = stream.receive()


def _left(deadline: Optional[float]) -> Optional[float]:
    """Seconds until `deadline` (None: no deadline)."""
    return None if deadline is None else deadline - time.monotonic()
