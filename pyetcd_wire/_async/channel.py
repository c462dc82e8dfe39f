"""A channel to one endpoint for asyncio: dials with the loop, replaces a
connection that stops taking calls, and makes unary calls on raw bytes (the
asyncio twin of `_sync/channel.py`)."""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any, Callable, List, Optional, Union

from .. import _log
from .._client.dial_errors import (
    alpn_refusal,
    describe,
    dial_deadline_passed,
    host_name,
    tls_dial_error,
)
from .._client.tls import context_for
from .._core.grpc.connection import (
    DEFAULT_MAX_RECV_MESSAGE_SIZE,
    DEFAULT_MAX_SEND_MESSAGE_SIZE,
    GrpcConnection,
)
from .._core.grpc.metadata import Metadata
from .._policy.endpoints import Endpoint, parse_endpoint
from .._policy.ping import PingKeepalive
from ..errors import ConnectionFailedError, ConnectionLostError, TLSError
from .call_stream import AsyncStream
from .connection import AsyncConnection


class AsyncChannel:
    """Calls to one etcd endpoint over one HTTP/2 connection at a time.

    Args: as `Channel` (endpoint, dial_timeout, message size limits,
        ssl_context, server_name, keepalive_time and keepalive_timeout).
    """

    def __init__(
        self,
        endpoint: Union[str, Endpoint],
        *,
        dial_timeout: Optional[float] = 5.0,
        max_send_message_size: int = DEFAULT_MAX_SEND_MESSAGE_SIZE,
        max_recv_message_size: int = DEFAULT_MAX_RECV_MESSAGE_SIZE,
        ssl_context: Optional[ssl.SSLContext] = None,
        server_name: Optional[str] = None,
        keepalive_time: Optional[float] = None,
        keepalive_timeout: float = 20.0,
    ) -> None:
        self.endpoint = (
            endpoint if isinstance(endpoint, Endpoint) else parse_endpoint(endpoint)
        )
        #: The TLS context connections use (None: plaintext).
        self.ssl_context = context_for(self.endpoint, ssl_context)
        self._server_name = server_name
        self.dial_timeout = dial_timeout
        self.max_send_message_size = max_send_message_size
        self.max_recv_message_size = max_recv_message_size
        self._keepalive_time = keepalive_time
        self._keepalive_timeout = keepalive_timeout
        #: The connection calls go to (None before the first dial).
        self.current: Optional[AsyncConnection] = None
        self._dialing: Optional[asyncio.Future[AsyncConnection]] = None
        # Every connection made and not closed yet: the current one, and
        # replaced ones whose calls still run (they close once idle).
        self._conns: List[AsyncConnection] = []
        self._closing: List[asyncio.Future[Any]] = []  # for `wait_closed`
        self._closed = False
        self._dial_failures = 0  # in a row (for the log)

    async def unary(
        self,
        path: str,
        request: bytes,
        *,
        timeout: Optional[float] = None,
        metadata: Metadata = (),
        cancellable: bool = True,
    ) -> bytes:
        """One unary call; the serialized response (errors and `cancellable`
        as `Channel.unary`).  A dial it needs counts against `timeout`."""
        conn = self.current
        if conn is None or conn.dead is not None:
            if timeout is None:
                conn = await self.connection()
            else:
                started = time.monotonic()
                conn = await self.connection(timeout)
                timeout = max(0.0, timeout - (time.monotonic() - started))
        return await conn.unary(
            path, request, timeout=timeout, metadata=metadata, cancellable=cancellable
        )

    def ready(self) -> Optional[AsyncConnection]:
        """The connection new calls go to, if one is up (no dial)."""
        current = self.current
        return current if current is not None and current.usable else None

    async def open_stream(
        self,
        path: str,
        *,
        metadata: Metadata = (),
        request: Optional[bytes] = None,
        timeout: Optional[float] = None,
    ) -> AsyncStream:
        """A streaming call (see `AsyncConnection.open_stream`), dialing if
        needed (within `timeout`)."""
        conn = await self.connection(timeout)
        return conn.open_stream(
            path, metadata=metadata, request=request, timeout=timeout
        )

    async def connection(self, timeout: Optional[float] = None) -> AsyncConnection:
        """The connection new calls go to, dialing one if needed (one dial at
        a time: concurrent callers wait for the same one).  `timeout`: wait
        for a dial this long at most (DeadlineExceededError), a call's
        deadline, shorter than dial_timeout; the dial goes on for others."""
        if self._closed:
            raise ConnectionLostError("channel is closed", not_processed=True)
        current = self.current
        if current is not None and current.usable:
            return current
        if timeout is not None and timeout <= 0:  # no dial for a call past its deadline
            raise dial_deadline_passed(self.endpoint.text)
        dialing = self._dialing
        if dialing is None:
            dialing = self._dialing = asyncio.ensure_future(self._dial())
            dialing.add_done_callback(self._dialed)
        try:
            if timeout is None:
                # Shielded: a caller that gives up does not stop the others' dial.
                return await asyncio.shield(dialing)
            return await _dialed_within(dialing, timeout, self.endpoint.text)
        except asyncio.CancelledError:
            if self._closed and dialing.cancelled():  # by close(), not our caller
                raise ConnectionLostError(
                    f"{self.endpoint.text}: the client closed while connecting",
                    not_processed=True,
                ) from None
            raise

    def _dialed(self, dialing: asyncio.Future[AsyncConnection]) -> None:
        if self._dialing is dialing:
            self._dialing = None
        if dialing.cancelled():
            return
        error = dialing.exception()  # the waiters had it; none left is no leak
        if error is None:
            tls = self.ssl_context is not None
            _log.dialed(self.endpoint.text, tls, self._dial_failures)
            self._dial_failures = 0
        elif isinstance(error, (ConnectionFailedError, TLSError)):
            self._dial_failures += 1
            _log.dial_failed(error.failures, self._dial_failures)

    async def _dial(self) -> AsyncConnection:
        endpoint = self.endpoint
        core = GrpcConnection(
            authority=endpoint.authority,
            max_send_message_size=self.max_send_message_size,
            max_recv_message_size=self.max_recv_message_size,
            endpoint=endpoint.text,
        )

        keepalive = None
        if self._keepalive_time is not None:
            keepalive = PingKeepalive(self._keepalive_time, self._keepalive_timeout)

        def protocol() -> AsyncConnection:
            return AsyncConnection(core, endpoint.text, keepalive)

        conn = await self._open(protocol)
        if self._closed:  # closed while dialing
            conn.close()
            raise ConnectionLostError("channel is closed", not_processed=True)
        old, self.current = self.current, conn
        if old is not None and old is not conn and not old.active:
            old.close()  # one with calls in flight drains (GOAWAY lets them)
        self._conns = [c for c in self._conns if not c.socket_closed.done()]
        self._conns.append(conn)
        return conn

    async def _open(self, protocol: Callable[[], AsyncConnection]) -> AsyncConnection:
        """The socket (and TLS, with ALPN h2) to the endpoint within
        dial_timeout; its failures as the sync driver names them."""
        endpoint = self.endpoint
        loop = asyncio.get_running_loop()
        tls = self.ssl_context
        server_hostname = (self._server_name or host_name(endpoint)) if tls else None
        try:
            if endpoint.path:
                opening = loop.create_unix_connection(
                    protocol, endpoint.path, ssl=tls, server_hostname=server_hostname
                )
            else:
                opening = loop.create_connection(
                    protocol,
                    endpoint.host,
                    endpoint.port,
                    ssl=tls,
                    server_hostname=server_hostname,
                )
            transport, conn = await asyncio.wait_for(opening, self.dial_timeout)
        except asyncio.TimeoutError:
            raise ConnectionFailedError(
                [
                    (
                        endpoint.text,
                        f"no connection within dial_timeout ({self.dial_timeout} s)",
                    )
                ]
            ) from None
        except OSError as exc:
            if tls and not isinstance(exc, ConnectionRefusedError):
                raise tls_dial_error(endpoint.text, exc) from None
            raise ConnectionFailedError([(endpoint.text, describe(exc))]) from None
        if tls is not None:
            ssl_object = transport.get_extra_info("ssl_object")
            chosen = ssl_object.selected_alpn_protocol() if ssl_object else None
            refusal = alpn_refusal(chosen)
            if refusal is not None:
                transport.abort()
                raise TLSError([(endpoint.text, refusal)])
        return conn

    def silent_since(self, when: float) -> bool:
        """True if the current connection has received nothing since `when`
        (monotonic): see `Channel.silent_since`."""
        current = self.current
        return current is None or current.last_read < when

    def close(self) -> None:
        """Close the connections (`wait_closed` waits until their sockets
        are); calls in flight fail.  Idempotent."""
        self._closed = True
        if self._dialing is not None:
            self._dialing.cancel()
            self._closing.append(self._dialing)
        for conn in self._conns:
            conn.close()
            self._closing.append(conn.socket_closed)
        self._conns = []
        self.current = None

    def forget(self) -> None:
        """In a forked child: drop the parent's connections, sending nothing
        (`_fork.py`); the channel stays closed."""
        self._closed = True
        conns, self._conns = self._conns, []
        self.current = None
        self._dialing = None
        self._closing = []
        for conn in conns:
            conn.forget()

    async def wait_closed(self) -> None:
        """Return once the sockets `close()` closed are closed, and a dial it
        stopped has closed what it opened."""
        if self._closing:
            await asyncio.wait(self._closing)


async def _dialed_within(
    dialing: asyncio.Future[AsyncConnection], timeout: float, endpoint: str
) -> AsyncConnection:
    """`dialing`'s connection, or DeadlineExceededError once `timeout`
    seconds passed; either way, as with `asyncio.shield`, the dial goes on for
    the other callers.  A timer, not `asyncio.wait_for`, which before Python
    3.12 can swallow a cancellation that arrives with the result (gh-86296)."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: object) -> None:
        if not waiter.done():
            waiter.set_result(None)

    dialing.add_done_callback(wake)
    timer = loop.call_later(timeout, wake, None)
    try:
        await waiter
    finally:
        timer.cancel()
        dialing.remove_done_callback(wake)
    if not dialing.done():
        raise dial_deadline_passed(endpoint)
    return dialing.result()


__all__ = ["AsyncChannel"]
