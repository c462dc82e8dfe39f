"""gRPC calls over one HTTP/2 client connection, without I/O.

Theory of operation (PROTOCOL-HTTP2.md; grpc-go's http2_client.go for the
details the spec leaves open).

* A call is HEADERS (our cached block plus grpc-timeout), then framed request
  messages in DATA, then END_STREAM.  `unary()` sends all three in one write.
* When the server's SETTINGS_MAX_CONCURRENT_STREAMS is reached, new calls wait
  in a FIFO queue (state QUEUED, no stream id) and start as streams close.
* The response is Response-Headers, messages, Trailers; or Trailers-Only.
  `:status` other than 200, or a content-type that is not application/grpc,
  ends the call with the status the HTTP mapping gives.  Trailers without
  grpc-status give UNKNOWN (or the HTTP mapping).  DATA before headers, a
  second non-final HEADERS, an incomplete message at the end, or a stream that
  ends without trailers, end the call with INTERNAL.  These are per-call
  failures, as in grpc-go: the connection stays usable.
* Cancelling a call sends RST_STREAM CANCEL, except for a call started with
  `cancellable=False` whose request has gone out whole: the server may be
  running it, and for some calls a cancelled context crashes the server
  (etcd 3.5.0-3.5.4 panics when a read-only Txn's context ends mid-range,
  etcd#14110).  Such a call carries no grpc-timeout either (the server would
  cancel it at that deadline); it is *abandoned* instead: the caller is
  released at once, the stream is left to end on its own, and what arrives
  on it is credited back and dropped.  Abandoned streams count as active, so
  a connection that closes once idle waits for them; and as closing the
  connection under one ends its context too, a driver closing a connection
  lets them end first, for ABANDONED_GRACE seconds at most.
* RST_STREAM from the server maps to a status (status.py table); REFUSED_STREAM
  and calls above a GOAWAY's last_stream_id are marked `not_processed`, so even
  writes may be retried.
* HTTP/2 protocol violations end the connection (h2/connection.py); every call
  then ends with `error` set to that `RemoteProtocolError`.
* Back-pressure: a streaming call's stream window is credited while the
  application keeps up (no undelivered message); once messages pile up, credit
  is withheld until `message_consumed()` drains them.  So a consumer that
  stops reading holds at most one stream window (plus the message in flight)
  in memory.  Unary calls are always credited: their caller is waiting for the
  whole message, and a 64 MiB response must not stall.
"""

from __future__ import annotations

from collections import deque
from typing import Deque, Dict, List, Optional, Tuple, Union

from ...errors import (
    ConnectionLostError,
    EtcdError,
    LocalProtocolError,
    ResourceExhaustedError,
)
from .. import state as st
from ..h2 import events as h2e
from ..h2.connection import (
    DEFAULT_CONNECTION_WINDOW,
    DEFAULT_MAX_HEADER_LIST_SIZE,
    DEFAULT_STREAM_WINDOW,
    H2ClientConnection,
)
from ..h2.frames import ErrorCode, error_code_name
from .call import Call
from .events import (
    CallEnded,
    ConnectionClosed,
    GoAway,
    MessageReceived,
    PingAnswered,
    ResponseHeadersReceived,
)
from .framing import MessageDecoder, MessageError, encode_message
from .metadata import Metadata, RequestHeaders
from .status import (
    OK_STATUS,
    Status,
    StatusCode,
    status_from_http,
    status_from_rst_stream,
    status_from_trailers,
)

#: How long a driver closing a connection waits for its abandoned calls to
#: end first (see the module docstring): a read-only Txn takes milliseconds.
ABANDONED_GRACE = 2.0

# etcd's client defaults (clientv3 options.go): send 2 MiB, receive unlimited.
DEFAULT_MAX_SEND_MESSAGE_SIZE = 2 * 1024 * 1024
DEFAULT_MAX_RECV_MESSAGE_SIZE = 2**31 - 1


class CallsNotAcceptedError(LocalProtocolError):
    """A call was started on a connection that takes no new calls (after
    GOAWAY, close, or stream-id exhaustion): start it on a new connection."""


GrpcEvent = Union[
    CallEnded,
    ConnectionClosed,
    GoAway,
    MessageReceived,
    PingAnswered,
    ResponseHeadersReceived,
]


# Marks a 1xx header block, which is skipped.
_INFORMATIONAL = Status(StatusCode.OK, "informational headers")


def _http_status(headers: h2e.HeaderList) -> int:
    for name, value in headers:
        if name == b":status":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _is_grpc_content_type(headers: h2e.HeaderList) -> bool:
    for name, value in headers:
        if name == b"content-type":
            return value == b"application/grpc" or value.startswith(
                (b"application/grpc+", b"application/grpc;")
            )
    return False


# Members read on the per-call path, as globals (see state.py: `_Enum`).
_CALL_END = st.CallInput.END
_CALL_FINISH = st.CallInput.FINISH
_CALL_SEND_HEADERS = st.CallInput.SEND_HEADERS
_CALL_SEND_MESSAGE = st.CallInput.SEND_MESSAGE
_CALL_STATE_CLOSED = st.CallState.CLOSED
_CONN_AWAITING_SETTINGS = st.ConnectionState.AWAITING_SETTINGS
_RESPONSE_END = st.ResponseInput.END
_RESPONSE_HEADERS = st.ResponseInput.HEADERS
_RESPONSE_RECEIVING_MESSAGES = st.ResponseState.RECEIVING_MESSAGES
_OK = StatusCode.OK


class GrpcConnection:
    """The gRPC calls of one HTTP/2 connection."""

    def __init__(
        self,
        *,
        authority: str,
        scheme: str = "http",
        max_send_message_size: int = DEFAULT_MAX_SEND_MESSAGE_SIZE,
        max_recv_message_size: int = DEFAULT_MAX_RECV_MESSAGE_SIZE,
        stream_window: int = DEFAULT_STREAM_WINDOW,
        connection_window: int = DEFAULT_CONNECTION_WINDOW,
        max_header_list_size: int = DEFAULT_MAX_HEADER_LIST_SIZE,
        first_stream_id: int = 1,
        endpoint: str = "",
    ) -> None:
        self.h2 = H2ClientConnection(
            stream_window=stream_window,
            connection_window=connection_window,
            max_header_list_size=max_header_list_size,
            first_stream_id=first_stream_id,
        )
        self.authority = authority
        self.endpoint = endpoint or authority  # names the peer in errors
        self.max_send_message_size = max_send_message_size
        self.max_recv_message_size = max_recv_message_size
        self._headers = RequestHeaders(authority=authority, scheme=scheme)
        self._calls: Dict[int, Call] = {}
        self._queued: Deque[Call] = deque()
        # Stream ids of calls abandoned without RST_STREAM (see the docstring).
        self._abandoned: Dict[int, None] = {}
        self._accepted_headers: Optional[h2e.HeaderList] = None

    # --- commands -------------------------------------------------------------

    def initiate(self) -> None:
        self.h2.initiate()

    def data_to_send(self) -> bytes:
        return self.h2.data_to_send()

    @property
    def accepts_calls(self) -> bool:
        """False after GOAWAY, close, loss, or stream-id exhaustion: the driver
        must start new calls on a new connection."""
        return self.h2.accepts_streams

    @property
    def server_preface_received(self) -> bool:
        """Has the server's preface (its first SETTINGS, RFC 9113 §3.4)
        arrived?  Read before `connection_lost`: a connection that ends
        without it never spoke HTTP/2 with us."""
        return self.h2.state is not _CONN_AWAITING_SETTINGS

    @property
    def abandoned_calls(self) -> int:
        """Calls given up but left to end on their own (see the docstring)."""
        return len(self._abandoned)

    @property
    def active_calls(self) -> int:
        """Calls in flight or queued, abandoned ones included."""
        return len(self._calls) + len(self._queued) + len(self._abandoned)

    def unary(
        self,
        path: str,
        request: bytes,
        *,
        metadata: Metadata = (),
        timeout: Optional[float] = None,
        server_streaming: bool = False,
        cancellable: bool = True,
    ) -> Call:
        """Start a unary (or server-streaming) call with its only request message.

        A server-streaming call's messages are flow-controlled by
        `message_consumed()`; a unary call's are credited at once.
        `cancellable=False`: never cancel the call on the server, neither
        with RST_STREAM nor with a grpc-timeout (see the module docstring);
        `timeout` is then the caller's to keep.

        Raises:
            ResourceExhaustedError: the request exceeds max_send_message_size.
            LocalProtocolError: the connection accepts no new calls.
            ValueError: bad metadata or path.
        """
        self._check_send_size(len(request))
        call = self._new_call(
            path,
            metadata,
            timeout if cancellable else None,
            unary=not server_streaming,
        )
        call.cancellable = cancellable
        framed = encode_message(request)
        call.move(_CALL_END)  # the only message is given
        if not self._queued and self.h2.has_stream_capacity:
            call.stream_id = self.h2.open_stream(
                call.header_block, end_stream=True, data=framed
            )
            call.move(_CALL_SEND_HEADERS)
            self._calls[call.stream_id] = call
        else:
            call.outbox = deque([(framed, True)])
            self._queued.append(call)
        return call

    def start_call(
        self,
        path: str,
        *,
        metadata: Metadata = (),
        timeout: Optional[float] = None,
    ) -> Call:
        """Start a streaming call; messages follow with `send_message`.

        Raises:
            LocalProtocolError: the connection accepts no new calls.
            ValueError: bad metadata or path.
        """
        call = self._new_call(path, metadata, timeout, unary=False)
        self._queued.append(call)
        self._start_queued()
        return call

    def send_message(self, call: Call, message: bytes, *, end: bool = False) -> None:
        """Send one request message on a streaming call (and half-close if `end`).

        Raises:
            ResourceExhaustedError: the message exceeds max_send_message_size.
            LocalProtocolError: the call has already ended or half-closed.
        """
        self._check_send_size(len(message))
        self._send(call, encode_message(message), end)

    def end_call(self, call: Call) -> None:
        """Half-close: no more request messages."""
        self._send(call, b"", True)

    def cancel_call(self, call: Call, error_code: int = ErrorCode.CANCEL) -> None:
        """Give up a call: RST_STREAM if it started (unless it must not be
        cancelled on the server: then it is abandoned, see the module
        docstring).  No event follows."""
        if call.state is _CALL_STATE_CLOSED:
            return
        sid = call.stream_id
        if sid is None:
            self._queued.remove(call)
        else:
            self._calls.pop(sid, None)
            if call.cancellable or not self.h2.request_sent(sid):
                # A server handles a unary request only once it is whole, so
                # one not sent in full may be reset whatever the call.
                self.h2.reset_stream(sid, error_code)
            elif self.h2.is_open(sid):
                self._abandoned[sid] = None
        call.move(_CALL_FINISH)
        call.move_response(_RESPONSE_END)
        self._start_queued()

    def message_consumed(self, call: Call) -> None:
        """The application took one message of a streaming call (back-pressure)."""
        call.undelivered -= 1
        if call.undelivered <= 0 and call.withheld and call.stream_id is not None:
            self.h2.acknowledge_received(call.stream_id, call.withheld)
            call.withheld = 0

    def ping(self, data: bytes) -> None:
        self.h2.ping(data)

    def close(self) -> List[GrpcEvent]:
        """Queue GOAWAY; every call still open ends as not processed."""
        ids = tuple(self._calls)
        self.h2.close()
        self._abandoned.clear()
        return self._end_all(ids, "the client closed the connection", None)

    def connection_lost(
        self, reason: str, error: Optional[EtcdError] = None
    ) -> List[GrpcEvent]:
        """The transport broke; every call ends with UNAVAILABLE, and with
        `error` if the driver knows better (default: ConnectionLostError)."""
        ids = self.h2.connection_lost()
        self._abandoned.clear()
        return self._end_all(ids, f"connection lost: {reason}", error)

    # --- receiving --------------------------------------------------------------

    def receive_data(
        self, data: Union[bytes, bytearray, memoryview]
    ) -> List[GrpcEvent]:
        """Bytes from the server in, call events out.

        Views of `data` are kept until the messages it begins are whole (see
        `MessageDecoder`): give `bytes`, or views of them, never a buffer
        that will be reused."""
        out: List[GrpcEvent] = []
        for event in self.h2.receive_data(data):
            kind = type(event)
            if kind is h2e.DataReceived:
                self._on_data(event, out)  # type: ignore[arg-type]
            elif kind is h2e.HeadersReceived:
                self._on_headers(event, out)  # type: ignore[arg-type]
            else:
                self._on_control(event, out)
        if self._queued:
            self._end_oversized(out)
            self._start_queued()
        return out

    def _on_headers(self, event: h2e.HeadersReceived, out: List[GrpcEvent]) -> None:
        call = self._calls.get(event.stream_id)
        if call is None:
            if event.stream_id in self._abandoned:
                self._drop_abandoned(event.stream_id, 0, event.end_stream)
            return
        if call.response is _RESPONSE_RECEIVING_MESSAGES:
            self._on_trailers(call, event, out)
        else:
            self._on_response_headers(call, event, out)

    def _on_response_headers(
        self, call: Call, event: h2e.HeadersReceived, out: List[GrpcEvent]
    ) -> None:
        headers = event.headers
        if event.end_stream:  # Trailers-Only
            self._finish(
                call, status_from_trailers(headers, _http_status(headers)), out
            )
            return
        # The HPACK cache hands back the same tuple for the same block, so a
        # block accepted once is accepted again by identity.
        if headers is not self._accepted_headers:
            status = self._check_response_headers(headers)
            if status is _INFORMATIONAL:
                return  # 1xx: the real headers follow
            if status is not None:
                self._finish(call, status, out, ErrorCode.CANCEL)
                return
            self._accepted_headers = headers
        call.move_response(_RESPONSE_HEADERS)
        call.response_headers = headers
        if not call.unary:
            out.append(ResponseHeadersReceived(call=call, headers=headers))

    @staticmethod
    def _check_response_headers(headers: h2e.HeaderList) -> Optional[Status]:
        """None if `headers` start a gRPC response; else the status that ends
        the call (or `_INFORMATIONAL` for a 1xx block to skip)."""
        http_status = _http_status(headers)
        if 100 <= http_status < 200:
            return _INFORMATIONAL
        if http_status != 200:
            return status_from_http(http_status, "not a gRPC response")
        if not _is_grpc_content_type(headers):
            content_type = dict(headers).get(b"content-type", b"(none)")
            return Status(
                StatusCode.UNKNOWN,
                f"response content-type {content_type.decode('latin-1')!r} is not"
                " application/grpc",
            )
        return None

    def _on_trailers(
        self, call: Call, event: h2e.HeadersReceived, out: List[GrpcEvent]
    ) -> None:
        if not event.end_stream:
            self._fail(
                call, "server sent a second HEADERS that does not end the stream", out
            )
            return
        status = status_from_trailers(event.headers)
        if call.decoder.buffered and status.code is _OK:
            status = Status(
                StatusCode.INTERNAL,
                f"stream ended inside a message ({call.decoder.buffered} octets"
                " of it received)",
                trailers=event.headers,
            )
        self._finish(call, status, out)

    def _on_data(self, event: h2e.DataReceived, out: List[GrpcEvent]) -> None:
        call = self._calls.get(event.stream_id)
        if call is None:
            if event.stream_id in self._abandoned:
                self._drop_abandoned(event.stream_id, event.length, event.end_stream)
            return
        if call.response is not _RESPONSE_RECEIVING_MESSAGES:
            self._fail(call, "server sent DATA before the response headers", out)
            return
        try:
            chunks = event.chunks
            messages = (
                call.decoder.feed(chunks[0])
                if len(chunks) == 1
                else call.decoder.feed_chunks(chunks)
            )
        except MessageError as exc:
            self._finish(call, Status(exc.code, exc.message), out, ErrorCode.CANCEL)
            return
        self._deliver(call, event.length, messages, out)
        if event.end_stream:
            self._fail(call, "server ended the stream without trailers", out)

    def _deliver(
        self, call: Call, flow_length: int, messages: List[bytes], out: List[GrpcEvent]
    ) -> None:
        sid = call.stream_id
        assert sid is not None
        if call.unary or call.undelivered <= 0:
            self.h2.acknowledge_received(sid, flow_length)
        else:
            call.withheld += flow_length
        if messages:
            if not call.unary:
                call.undelivered += len(messages)
            for message in messages:
                out.append(MessageReceived(call=call, message=message))

    def _drop_abandoned(self, stream_id: int, length: int, end_stream: bool) -> None:
        """What arrived on an abandoned stream: credited back and dropped."""
        if end_stream:
            del self._abandoned[stream_id]
        elif length:
            self.h2.acknowledge_received(stream_id, length)

    def _on_control(self, event: h2e.H2Event, out: List[GrpcEvent]) -> None:
        if isinstance(event, h2e.StreamReset):
            self._abandoned.pop(event.stream_id, None)
            call = self._calls.get(event.stream_id)
            if call is not None:
                status = status_from_rst_stream(
                    event.error_code, error_code_name(event.error_code)
                )
                self._finish(call, status, out, rst=None)
        elif isinstance(event, h2e.GoAwayReceived):
            why = (
                f"the server is going away (GOAWAY {error_code_name(event.error_code)},"
                f" last_stream_id={event.last_stream_id}"
                + (
                    f", {event.debug_data.decode('utf-8', 'replace')!r}"
                    if event.debug_data
                    else ""
                )
                + ")"
            )
            out.append(
                GoAway(
                    last_stream_id=event.last_stream_id,
                    error_code=event.error_code,
                    debug_data=event.debug_data,
                )
            )
            out.extend(
                self._end_all(event.refused_stream_ids, why, None, not_processed=True)
            )
        elif isinstance(event, h2e.PingAcknowledged):
            out.append(PingAnswered(data=event.data))
        elif isinstance(event, h2e.ConnectionTerminated):
            error = event.error
            out.extend(
                self._end_all(event.stream_ids, f"connection closed: {error}", error)
            )
            out.append(ConnectionClosed(error=error))

    # --- helpers ----------------------------------------------------------------

    def _new_call(
        self, path: str, metadata: Metadata, timeout: Optional[float], unary: bool
    ) -> Call:
        if not self.h2.accepts_streams:
            raise CallsNotAcceptedError(
                f"connection to {self.endpoint} accepts no new calls"
                f" ({self.h2.state.value})"
            )
        block = self._headers.block(path, metadata, timeout)
        if len(block) > self.h2.remote.max_header_list_size:
            raise LocalProtocolError(self._oversized(len(block)))
        return Call(path, block, MessageDecoder(self.max_recv_message_size), unary)

    def _oversized(self, size: int) -> str:
        return (
            f"request header block of {size} octets exceeds the"
            f" SETTINGS_MAX_HEADER_LIST_SIZE ({self.h2.remote.max_header_list_size})"
            f" of {self.endpoint}"
        )

    def _end_oversized(self, out: List[GrpcEvent]) -> None:
        """End the queued calls whose header block the server's SETTINGS,
        received while they waited, no longer allow (as grpc-go: INTERNAL).
        Only SETTINGS change the limit, so after this no queued call exceeds
        it and `_start_queued` never meets one."""
        limit = self.h2.remote.max_header_list_size
        for call in [c for c in self._queued if len(c.header_block) > limit]:
            self._queued.remove(call)
            status = Status(
                StatusCode.INTERNAL,
                self._oversized(len(call.header_block)),
                not_processed=True,
            )
            self._finish(call, status, out)

    def _check_send_size(self, n: int) -> None:
        if n > self.max_send_message_size:
            raise ResourceExhaustedError(
                StatusCode.RESOURCE_EXHAUSTED,
                f"trying to send message larger than max ({n} vs."
                f" {self.max_send_message_size}); raise max_send_message_size, and"
                " the server's --max-request-bytes, to send it",
                not_processed=True,
            )

    def _send(self, call: Call, framed: bytes, end: bool) -> None:
        call.move(_CALL_END if end else _CALL_SEND_MESSAGE)
        if call.stream_id is None:
            if call.outbox is None:
                call.outbox = deque()
            call.outbox.append((framed, end))
        else:
            self.h2.send_data(call.stream_id, framed, end_stream=end)

    def _start_queued(self) -> None:
        h2 = self.h2
        while self._queued and h2.accepts_streams and h2.has_stream_capacity:
            call = self._queued.popleft()
            outbox = call.outbox
            first, end = outbox.popleft() if outbox else (b"", False)
            sid = h2.open_stream(call.header_block, end_stream=end, data=first)
            call.stream_id = sid
            call.move(_CALL_SEND_HEADERS)
            self._calls[sid] = call
            while outbox:
                framed, end = outbox.popleft()
                h2.send_data(sid, framed, end_stream=end)

    def _fail(self, call: Call, why: str, out: List[GrpcEvent]) -> None:
        """A per-call protocol violation: INTERNAL, and reset the stream."""
        self._finish(
            call, Status(StatusCode.INTERNAL, why), out, ErrorCode.PROTOCOL_ERROR
        )

    def _finish(
        self,
        call: Call,
        status: Status,
        out: List[GrpcEvent],
        rst: Optional[int] = ErrorCode.NO_ERROR,
        error: Optional[EtcdError] = None,
    ) -> None:
        sid = call.stream_id
        if sid is not None:
            self._calls.pop(sid, None)
            if rst is not None:
                # No-op when the stream already ended both ways; otherwise tells
                # the server we will send nothing more (or why we stopped).
                self.h2.reset_stream(sid, rst)
        call.move(_CALL_FINISH)
        call.move_response(_RESPONSE_END)
        out.append(CallEnded(call=call, status=status, error=error))

    def _end_all(
        self,
        stream_ids: Tuple[int, ...],
        why: str,
        error: Optional[EtcdError],
        *,
        not_processed: bool = False,
    ) -> List[GrpcEvent]:
        """End the calls on `stream_ids` (and queued calls, if no stream can
        start any more) because of the connection, not the server's answer."""
        out: List[GrpcEvent] = []
        abandoned = self._abandoned
        for sid in stream_ids:
            if abandoned:
                abandoned.pop(sid, None)
            call = self._calls.get(sid)
            if call is not None:
                self._end_for_connection(call, why, error, not_processed, out)
        if not self.h2.accepts_streams:
            while self._queued:
                call = self._queued.popleft()
                self._end_for_connection(call, why, error, True, out)
        return out

    def _end_for_connection(
        self,
        call: Call,
        why: str,
        error: Optional[EtcdError],
        not_processed: bool,
        out: List[GrpcEvent],
    ) -> None:
        if not_processed:
            why += "; the server never processed this call"
        status = Status(StatusCode.UNAVAILABLE, why, not_processed=not_processed)
        if error is None:
            error = ConnectionLostError(
                f"{self.endpoint}: {why}",
                endpoint=self.endpoint,
                not_processed=not_processed,
            )
        self._finish(call, status, out, None, error)


__all__ = ["OK_STATUS", "GrpcConnection", "GrpcEvent"]
