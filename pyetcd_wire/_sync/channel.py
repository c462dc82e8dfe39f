"""A channel to one endpoint: dials, replaces a connection that stops taking
calls (GOAWAY, stream ids exhausted, loss), and offers unary and streaming
calls on raw request/response bytes.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Iterator, List, Optional, Tuple, Union

from .. import _log
from .._client import dial_errors
from .._client.tls import context_for
from .._core.grpc.call import Call
from .._core.grpc.connection import (
    DEFAULT_MAX_RECV_MESSAGE_SIZE,
    DEFAULT_MAX_SEND_MESSAGE_SIZE,
    GrpcConnection,
)
from .._core.grpc.metadata import Metadata
from .._core.grpc.outcome import call_error
from .._policy.endpoints import Endpoint, parse_endpoint
from .._policy.ping import PingKeepalive
from ..errors import ConnectionFailedError, ConnectionLostError, EtcdError, TLSError
from . import transport
from .connection import Connection, ConnectionRetiredError, _Slot

if TYPE_CHECKING:
    import ssl

HeaderList = Tuple[Tuple[bytes, bytes], ...]


class Channel:
    """Calls to one etcd endpoint over one HTTP/2 connection at a time.

    Args:
        endpoint: "host:port", "http://host:port", "https://host:port",
            "unix:///path" or "unixs:///path".
        dial_timeout: bound on connecting (TLS handshake included), in
            seconds (None: no bound).
        max_send_message_size, max_recv_message_size: per-message limits.
        ssl_context: the client's TLS settings.  TLS is used for https and
            unixs endpoints (with this context, or else the system's roots),
            and for bare host:port and unix endpoints when a context is
            given; never for http (clientv3 endpoint forms).  The context
            must offer ALPN "h2".
        server_name: the name the server's certificate must hold (and SNI);
            default the endpoint's host, or a unix socket's base name.
    """

    def __init__(
        self,
        endpoint: Union[str, Endpoint],
        *,
        dial_timeout: Optional[float] = 5.0,
        max_send_message_size: int = DEFAULT_MAX_SEND_MESSAGE_SIZE,
        max_recv_message_size: int = DEFAULT_MAX_RECV_MESSAGE_SIZE,
        first_stream_id: int = 1,
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
        self._keepalive = (keepalive_time, keepalive_timeout)
        self.dial_timeout = dial_timeout
        self.max_send_message_size = max_send_message_size
        self.max_recv_message_size = max_recv_message_size
        self._first_stream_id = first_stream_id
        self._lock = threading.Lock()
        self._current: Optional[Connection] = None
        self._draining: List[Connection] = []
        self._closed = False
        self._dial_failures = 0  # in a row (for the log)

    def unary(
        self,
        path: str,
        request: bytes,
        *,
        timeout: Optional[float] = None,
        metadata: Metadata = (),
        probe: bool = False,
        cancellable: bool = True,
    ) -> bytes:
        """Make one unary call; returns the serialized response.  `probe`:
        read what the connection has first (`Connection._start`).
        `cancellable=False`: a call given up at its deadline is abandoned,
        never cancelled on the server (`GrpcConnection.cancel_call`).

        Raises:
            DeadlineExceededError: `timeout` passed (the call is cancelled).
            RpcError: the server answered with a non-OK status.
            ConnectionFailedError: no connection could be made.
            ConnectionLostError: the connection ended first (`not_processed`
                says if the server provably never saw the call).
            ProtocolError: the server broke HTTP/2; the connection is dropped.
        """
        return self._unary(path, request, timeout, metadata, probe, cancellable)[0]

    def unary_with_metadata(
        self,
        path: str,
        request: bytes,
        *,
        timeout: Optional[float] = None,
        metadata: Metadata = (),
    ) -> Tuple[bytes, HeaderList, HeaderList]:
        """`unary()`, also returning the response headers and trailers."""
        message, call, slot = self._unary(path, request, timeout, metadata)
        trailers = tuple(slot.status.trailers) if slot.status is not None else ()
        return message, call.response_headers, trailers

    def _unary(
        self,
        path: str,
        request: bytes,
        timeout: Optional[float],
        metadata: Metadata,
        probe: bool = False,
        cancellable: bool = True,
    ) -> Tuple[bytes, Call, _Slot]:
        deadline = None if timeout is None else time.monotonic() + timeout
        conn = self._current or self.connection(deadline)
        try:
            return conn.unary(
                path,
                request,
                deadline=deadline,
                metadata=metadata,
                probe=probe,
                cancellable=cancellable,
            )
        except ConnectionRetiredError:  # once more, on a new connection
            conn = self.connection(deadline)
            return conn.unary(
                path,
                request,
                deadline=deadline,
                metadata=metadata,
                cancellable=cancellable,
            )
        except dial_errors.ClosedBeforeAnswerError:
            # The caller's to decide (is it a TLS-only port?), but the next
            # call dials again: the member behind a proxy may be back.
            self._drop(conn)
            raise

    def server_stream(
        self,
        path: str,
        request: bytes,
        *,
        timeout: Optional[float] = None,
        metadata: Metadata = (),
    ) -> Stream:
        """Start a server-streaming call; iterate the result for messages."""
        return self._stream(path, timeout, metadata, request)

    def bidi_stream(
        self, path: str, *, timeout: Optional[float] = None, metadata: Metadata = ()
    ) -> Stream:
        """Start a bidirectional call; `send()` messages, iterate for replies."""
        return self._stream(path, timeout, metadata, None)

    def _stream(
        self,
        path: str,
        timeout: Optional[float],
        metadata: Metadata,
        request: Optional[bytes],
    ) -> Stream:
        deadline = None if timeout is None else time.monotonic() + timeout
        conn = self.connection(deadline)
        try:
            call, slot = conn.start_stream(
                path, deadline=deadline, metadata=metadata, request=request
            )
        except ConnectionRetiredError:  # once more, on a new connection
            conn = self.connection(deadline)
            call, slot = conn.start_stream(
                path, deadline=deadline, metadata=metadata, request=request
            )
        return Stream(conn, call, slot, deadline)

    def connection(self, deadline: Optional[float]) -> Connection:
        """The connection new calls go to, dialing one if needed (one dial
        at a time).  `deadline` bounds the wait for it, dialing included:
        DeadlineExceededError once it passes, if it came before
        dial_timeout (a ConnectionFailedError says dial_timeout did)."""
        current = self._current
        if current is not None and current.usable:
            return current
        if not self._lock.acquire(timeout=_lock_timeout(deadline)):
            raise dial_errors.dial_deadline_passed(self.endpoint.text)
        try:
            return self._connection_locked(deadline)
        finally:
            self._lock.release()

    def _connection_locked(self, deadline: Optional[float]) -> Connection:
        """`connection`, lock held."""
        if self._closed:
            raise ConnectionLostError("channel is closed", not_processed=True)
        current = self._current
        if current is not None and current.usable:
            return current
        if current is not None:
            self._retire(current)
        timeout = None if deadline is None else deadline - time.monotonic()
        if timeout is not None and timeout <= 0:
            raise dial_errors.dial_deadline_passed(self.endpoint.text)
        bound_by_deadline = timeout is not None and (
            self.dial_timeout is None or timeout < self.dial_timeout
        )
        if not bound_by_deadline:
            timeout = self.dial_timeout
        try:
            sock = transport.connect(
                self.endpoint, timeout, self.ssl_context, self._server_name
            )
        except transport.DialTimedOutError as exc:
            if bound_by_deadline:
                raise dial_errors.dial_deadline_passed(self.endpoint.text) from exc
            self._dial_failed(exc)
            raise
        except (ConnectionFailedError, TLSError) as exc:
            self._dial_failed(exc)
            raise
        _log.dialed(
            self.endpoint.text, self.ssl_context is not None, self._dial_failures
        )
        self._dial_failures = 0
        core = GrpcConnection(
            authority=self.endpoint.authority,
            max_send_message_size=self.max_send_message_size,
            max_recv_message_size=self.max_recv_message_size,
            first_stream_id=self._first_stream_id,
            endpoint=self.endpoint.text,
        )
        keepalive_time, keepalive_timeout = self._keepalive
        self._current = Connection(
            sock,
            core,
            self.endpoint.text,
            keepalive=None
            if keepalive_time is None
            else PingKeepalive(keepalive_time, keepalive_timeout),
        )
        return self._current

    def _dial_failed(self, error: Union[ConnectionFailedError, TLSError]) -> None:
        self._dial_failures += 1
        _log.dial_failed(error.failures, self._dial_failures)

    def silent_since(self, when: float) -> bool:
        """True if the current connection has received nothing from the
        server since `when` (monotonic), or there is none (a dial that did
        not complete): a call that timed out was met with silence, not with
        slowness."""
        current = self._current
        return current is None or current.last_read < when

    def _drop(self, conn: Connection) -> None:
        """Give `conn` no more calls: the next one dials."""
        with self._lock:
            if self._current is conn:
                self._current = None
                self._retire(conn)

    def _retire(self, conn: Connection) -> None:
        """Stop giving `conn` new calls (lock held).  A connection with calls
        in flight closes itself once they finish (GOAWAY lets them)."""
        self._draining = [c for c in self._draining if not c.closed]
        if conn.idle:
            conn.close()
        elif not conn.closed:
            self._draining.append(conn)

    def close(self) -> None:
        """Close every connection; idempotent.  Calls in flight fail with
        ConnectionLostError."""
        with self._lock:
            if self._closed:
                return
            conns = self._let_go()
        for conn in conns:
            conn.close()

    def forget(self) -> None:
        """In a forked child: drop the parent's connections, sending nothing
        (`_fork.py`); the channel stays closed.  Takes no lock."""
        self._lock = threading.Lock()
        for conn in self._let_go():
            conn.forget()

    def _let_go(self) -> List[Connection]:
        """Close the channel; its connections, which it no longer knows
        (lock held, or in a forked child)."""
        self._closed = True
        conns = [*self._draining, *([self._current] if self._current else [])]
        self._current = None
        self._draining = []
        return conns

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Stream:
    """A streaming call: iterate for response messages; `send()` for bidi."""

    def __init__(
        self, conn: Connection, call: Call, slot: _Slot, deadline: Optional[float]
    ):
        self._conn = conn
        self._call = call
        self._slot = slot
        self._deadline = deadline

    @property
    def headers(self) -> Optional[Tuple[Tuple[bytes, bytes], ...]]:
        """Response headers, once they arrived."""
        return self._slot.headers

    @property
    def trailers(self) -> Tuple[Tuple[bytes, bytes], ...]:
        status = self._slot.status
        return tuple(status.trailers) if status is not None else ()

    def send(self, message: bytes, *, end: bool = False) -> None:
        self._conn.send_messages(self._call, [message], self._deadline, end=end)

    def send_many(self, messages: List[bytes], timeout: Optional[float] = None) -> None:
        """Send several messages in one write; `timeout` bounds this write."""
        self._conn.send_messages(self._call, messages, self._within(timeout))

    def done_writing(self) -> None:
        self._conn.end_stream(self._call, self._deadline)

    def receive(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The next message; None when the stream ended OK.  `timeout` bounds
        this wait only (the call's own deadline still applies)."""
        return self._conn.next_message(self._call, self._slot, self._within(timeout))

    def _within(self, timeout: Optional[float]) -> Optional[float]:
        """The call's deadline, or `timeout` from now if that comes first."""
        if timeout is None:
            return self._deadline
        mine = time.monotonic() + timeout
        return mine if self._deadline is None else min(self._deadline, mine)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            message = self.receive()
            if message is None:
                return
            yield message

    # --- for a thread that reads with `Connection.pump()` (the stream worker)

    @property
    def connection(self) -> Connection:
        return self._conn

    def take_messages(self) -> List[bytes]:
        """Every message received so far, without giving stream credit back:
        call `message_consumed()` for each once it is done with."""
        messages = self._slot.messages
        taken = list(messages)
        messages.clear()
        return taken

    def message_consumed(self, count: int = 1) -> None:
        self._conn.message_consumed(self._call, count)

    @property
    def ended(self) -> bool:
        """True once the call is over (status received, or connection lost)."""
        return self._slot.status is not None

    def end_error(self) -> Optional[EtcdError]:
        """Why the call ended: None for status OK, else the typed error."""
        slot = self._slot
        return call_error(slot.status, slot.error, self._conn.endpoint)

    def cancel(self) -> None:
        self._conn.cancel(self._call)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()


def _lock_timeout(deadline: Optional[float]) -> float:
    """`Lock.acquire`'s timeout for `deadline` (-1: none)."""
    return -1 if deadline is None else max(0.0, deadline - time.monotonic())


__all__ = ["Channel", "Stream"]
