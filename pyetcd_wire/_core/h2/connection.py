"""A sans-IO HTTP/2 client connection (RFC 9113), lean enough for the unary path.

Theory of operation.

* Commands (`initiate`, `open_stream`, `send_data`, `reset_stream`, `ping`,
  `acknowledge_received`, `close`) only append frames to an outbound buffer;
  the driver writes `data_to_send()`.  `receive_data(bytes)` parses whole
  frames and returns a list of events (events.py).  Nothing here reads a
  clock, touches a socket or sleeps.
* Control frames are handled inside: SETTINGS are applied and ACKed, PINGs
  ACKed, WINDOW_UPDATEs release buffered DATA.  Their replies go out with the
  next write (an ACK placed after the next request halves grpc-go's BDP
  pings: it sends no new one while one is unanswered).
* Peer violations.  Frame handlers raise `LocalProtocolError`; `receive_data`
  is the single entry point for peer bytes and converts it to
  `RemoteProtocolError`, queues GOAWAY with the error code, closes the
  connection and reports it as a `ConnectionTerminated` event (with the
  events that preceded the bad frame).  RFC 9113 §5.4.1 lets an endpoint treat
  any stream error as a connection error, and we do: a peer that breaks the
  protocol on one stream is not trusted with others.
* Header blocks: HEADERS plus CONTINUATION frames are merged; no other frame
  may interleave (§6.10); the merged size is capped by our
  SETTINGS_MAX_HEADER_LIST_SIZE (a CONTINUATION flood is cut off).  Every block
  is decoded, even for streams we have already closed, to keep HPACK in sync.
* Streams we closed (reset, or ended both ways) may still see frames in
  flight: DATA on them still counts against the connection window and is
  credited back at once; everything else on them is ignored.  A frame on a
  stream id we never opened is a PROTOCOL_ERROR.
* Flow control: see flow.py.  Outbound DATA is split at the peer's
  MAX_FRAME_SIZE and waits in a per-stream queue for both windows.
* Stream ids are odd and increase; when they run out (2^31-1) the connection
  accepts no new streams and the driver opens a new one.
"""

from __future__ import annotations

import functools
from typing import Callable, Dict, List, Optional, Tuple

from ...errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .. import state as st
from . import frames as fr
from .events import (
    Buffer,
    ConnectionTerminated,
    DataReceived,
    GoAwayReceived,
    H2Event,
    HeadersReceived,
    PingAcknowledged,
    StreamReset,
)
from .flow import ReceiveWindow
from .frames import ErrorCode, FrameType, Setting, violation
from .hpack import HeaderDecoder
from .settings import LocalSettings, RemoteSettings
from .streams import SendScheduler, Stream

# Members read on the per-call path, as globals (see state.py: `_Enum`).
_CONN_AWAITING_SETTINGS = st.ConnectionState.AWAITING_SETTINGS
_CONN_CLOSED = st.ConnectionState.CLOSED
_CONN_OPEN = st.ConnectionState.OPEN
_RECV_DATA = st.StreamInput.RECV_DATA
_RECV_END_STREAM = st.StreamInput.RECV_END_STREAM
_RECV_HEADERS = st.StreamInput.RECV_HEADERS
_SEND_DATA = st.StreamInput.SEND_DATA
_SEND_END_STREAM = st.StreamInput.SEND_END_STREAM
_STREAM_CLOSED = st.StreamState.CLOSED
_STREAM_HALF_CLOSED_LOCAL = st.StreamState.HALF_CLOSED_LOCAL
_STREAM_HALF_CLOSED_REMOTE = st.StreamState.HALF_CLOSED_REMOTE

Handler = Callable[[int, int, bytes, List[H2Event]], None]

# Defaults for what we advertise.  Windows: 4 MiB per stream bounds what one
# slow consumer can make us buffer; 16 MiB for the connection lets several
# streams run at full speed (grpclib uses 4 MiB, grpc-go grows to 16 MiB).
DEFAULT_STREAM_WINDOW = 4 * 1024 * 1024
DEFAULT_CONNECTION_WINDOW = 16 * 1024 * 1024
# grpc's suggested limit is 8 KiB; etcd's trailers are far smaller, and a long
# grpc-message still fits in 64 KiB (hpack's own default).
DEFAULT_MAX_HEADER_LIST_SIZE = 64 * 1024

# Flood limits (the frames a peer can make us hold without sending us data).
# CONTINUATION: each frame of a header block counts its 9-octet frame header
# against our max header list size, so empty CONTINUATIONs (CVE-2024-27316
# and kin) reach the cap too instead of growing the held fragment list
# forever; a block in 1-octet fragments, which the RFC allows, still passes.
CONTINUATION_OVERHEAD = 9
# Replies a peer's frames make us queue (PING ACK, SETTINGS ACK) between two
# `data_to_send()` calls.  A driver takes its bytes after every read, so only
# a peer that floods PINGs or SETTINGS (CVE-2019-9512, -9515) while we cannot
# send reaches it; then the connection ends with ENHANCE_YOUR_CALM rather
# than queue without bound.  nghttp2 allows 1000 such frames queued
# (max_outbound_ack), Netty 10000; grpc-go stops reading at 50 until its
# writer catches up, which a sans-IO core cannot do.
MAX_QUEUED_CONTROL_FRAMES = 1000
# Frames that ask no reply (empty DATA, RST_STREAM or WINDOW_UPDATE for a
# closed stream, PRIORITY, unknown types, SETTINGS ACKs) queue nothing and
# leave no state behind, so they cost the peer what they cost us and have no
# limit of their own (Netty ends a connection after 2 consecutive empty DATA
# frames; nghttp2 and grpc-go do not count them).  WINDOW_UPDATEs end at the
# largest window, 2^31-1 (§6.9.1).


class H2ClientConnection:
    """One HTTP/2 connection, client side, without I/O."""

    def __init__(
        self,
        *,
        stream_window: int = DEFAULT_STREAM_WINDOW,
        connection_window: int = DEFAULT_CONNECTION_WINDOW,
        max_header_list_size: int = DEFAULT_MAX_HEADER_LIST_SIZE,
        first_stream_id: int = 1,
    ) -> None:
        if not (first_stream_id % 2 and 0 < first_stream_id <= fr.MAX_STREAM_ID):
            raise ValueError("first_stream_id must be odd and below 2^31")
        self.state = _CONN_AWAITING_SETTINGS
        self.remote = RemoteSettings()
        self.local = LocalSettings()
        self._stream_window = stream_window
        self._connection_window = connection_window
        self._max_header_list_size = max_header_list_size
        self._decoder = HeaderDecoder(max_header_list_size)
        self._streams: Dict[int, Stream] = {}
        self._next_stream_id = first_stream_id
        self._sender = SendScheduler()
        self._recv_window = ReceiveWindow(fr.DEFAULT_WINDOW)
        self._out: List[bytes] = []
        self._queued_replies = 0  # PING/SETTINGS ACKs in _out (a flood guard)
        self._inbuf = bytearray()
        # HEADERS waiting for CONTINUATION: (stream_id, flags, fragments, size)
        self._header_block: Optional[Tuple[int, int, List[bytes], int]] = None
        self._goaway_last_id: Optional[int] = None
        self._pings: Dict[bytes, None] = {}
        # Frame dispatch depends on the connection state: until the server's
        # SETTINGS arrive, every frame goes to `_on_first_frame` (§3.4).
        self._open_handlers: Dict[int, Handler] = {
            FrameType.DATA: self._on_data,
            FrameType.HEADERS: self._on_headers,
            FrameType.PRIORITY: self._on_priority,
            FrameType.RST_STREAM: self._on_rst_stream,
            FrameType.SETTINGS: self._on_settings,
            FrameType.PUSH_PROMISE: self._on_push_promise,
            FrameType.PING: self._on_ping,
            FrameType.GOAWAY: self._on_goaway,
            FrameType.WINDOW_UPDATE: self._on_window_update,
            FrameType.CONTINUATION: self._on_continuation,
        }
        self._handlers: Dict[int, Handler] = {
            frame_type: functools.partial(self._on_first_frame, frame_type)
            for frame_type in self._open_handlers
        }

    # --- commands -------------------------------------------------------------

    def initiate(self) -> None:
        """Queue the preface, our SETTINGS and the connection window grant."""
        settings: Dict[int, int] = {
            Setting.HEADER_TABLE_SIZE: 0,  # stateless responses: see hpack.py
            Setting.ENABLE_PUSH: 0,
            Setting.INITIAL_WINDOW_SIZE: self._stream_window,
            Setting.MAX_HEADER_LIST_SIZE: self._max_header_list_size,
        }
        self.local.sent(settings)
        self._out.append(fr.PREFACE)
        self._out.append(fr.settings_frame(settings))
        increment = self._recv_window.grow(self._connection_window)
        if increment:
            self._out.append(fr.window_update_frame(0, increment))

    def data_to_send(self) -> bytes:
        """Everything queued for the wire, in order; empties the buffer."""
        out = self._out
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self._queued_replies = 0
        return data

    @property
    def accepts_streams(self) -> bool:
        """False once GOAWAY arrived, the connection closed, or ids ran out."""
        return (
            self.state is _CONN_OPEN or self.state is _CONN_AWAITING_SETTINGS
        ) and self._next_stream_id <= fr.MAX_STREAM_ID

    @property
    def has_stream_capacity(self) -> bool:
        return len(self._streams) < self.remote.max_concurrent_streams

    def open_stream(
        self, header_block: bytes, *, end_stream: bool = False, data: bytes = b""
    ) -> int:
        """Start a stream with a complete header block; returns its id.

        `data` (with `end_stream`) is sent right behind the HEADERS, which is
        how a unary request goes out in one write.

        Raises:
            LocalProtocolError: no new stream may start (see `accepts_streams`,
                `has_stream_capacity`), or the block is larger than the
                server's SETTINGS_MAX_HEADER_LIST_SIZE allows.
        """
        state = self.state
        if not (
            (state is _CONN_OPEN or state is _CONN_AWAITING_SETTINGS)
            and self._next_stream_id <= fr.MAX_STREAM_ID
        ):  # `accepts_streams`, inlined: this runs once per call
            raise LocalProtocolError(
                f"cannot open a stream: connection is {self.state.value}"
                + (
                    " and out of stream ids"
                    if self._next_stream_id > fr.MAX_STREAM_ID
                    else ""
                )
            )
        if len(self._streams) >= self.remote.max_concurrent_streams:
            raise LocalProtocolError(
                "cannot open a stream: server allows only"
                f" {self.remote.max_concurrent_streams} concurrent streams"
            )
        if len(header_block) > self.remote.max_header_list_size:
            raise LocalProtocolError(
                f"request header block of {len(header_block)} octets exceeds the"
                f" server's SETTINGS_MAX_HEADER_LIST_SIZE"
                f" ({self.remote.max_header_list_size})"
            )
        stream_id = self._next_stream_id
        self._next_stream_id += 2
        remote = self.remote
        stream = Stream(remote.initial_window_size, self._stream_window)
        self._streams[stream_id] = stream
        n = len(data)
        if (
            end_stream
            and n
            and n <= remote.max_frame_size
            and len(header_block) <= remote.max_frame_size
            and n <= stream.send.available
            and n <= self._sender.window.available
        ):
            # A unary request, the common case: both frames at once, and the
            # windows charged here, as `send_data` would (nothing is queued).
            stream.send.available -= n
            self._sender.window.available -= n
            stream.state = _STREAM_HALF_CLOSED_LOCAL
            self._out.append(fr.unary_request_frames(stream_id, header_block, data))
            return stream_id
        headers_end = end_stream and not data
        self._out.append(
            fr.headers_frames(
                stream_id,
                header_block,
                end_stream=headers_end,
                max_frame_size=self.remote.max_frame_size,
            )
        )
        if headers_end:
            stream.state = _STREAM_HALF_CLOSED_LOCAL
        elif data or end_stream:
            self.send_data(stream_id, data, end_stream=end_stream)
        return stream_id

    def send_data(
        self, stream_id: int, data: bytes, *, end_stream: bool = False
    ) -> None:
        """Queue DATA; it goes out as both flow-control windows allow.

        Raises:
            LocalProtocolError: the stream is not open for sending.
        """
        stream = self._streams.get(stream_id)
        if stream is None:
            raise LocalProtocolError(f"stream {stream_id} is closed")
        stream.state = st.transition(
            st.STREAM_TRANSITIONS,
            stream.state,
            _SEND_END_STREAM if end_stream else _SEND_DATA,
        )
        self._sender.send(
            stream_id, stream, data, end_stream, self.remote.max_frame_size, self._out
        )
        if stream.state is _STREAM_CLOSED and not stream.pending:
            self._streams.pop(stream_id, None)  # ended both ways

    def _flush(self, stream_id: int, stream: Stream) -> None:
        self._sender.flush(stream_id, stream, self.remote.max_frame_size, self._out)
        if stream.state is _STREAM_CLOSED and not stream.pending:
            self._streams.pop(stream_id, None)  # ended both ways

    def _flush_blocked(self) -> None:
        for stream_id in self._sender.take_blocked():
            stream = self._streams.get(stream_id)
            if stream is not None and stream.pending:
                self._flush(stream_id, stream)

    def reset_stream(self, stream_id: int, error_code: int = ErrorCode.CANCEL) -> None:
        """Send RST_STREAM and forget the stream; unknown ids are ignored."""
        stream = self._streams.pop(stream_id, None)
        if stream is None or self.state is _CONN_CLOSED:
            return
        stream.state = _STREAM_CLOSED
        self._out.append(fr.rst_stream_frame(stream_id, error_code))

    def request_sent(self, stream_id: int) -> bool:
        """True once the stream's request side has been handed over whole
        (END_STREAM queued and no DATA waiting for window), or the stream
        has ended."""
        stream = self._streams.get(stream_id)
        return stream is None or (
            not stream.pending
            and (
                stream.state is _STREAM_HALF_CLOSED_LOCAL
                or stream.state is _STREAM_CLOSED
            )
        )

    def is_open(self, stream_id: int) -> bool:
        """True while the stream may still receive frames."""
        return stream_id in self._streams

    def acknowledge_received(self, stream_id: int, n: int) -> None:
        """Give back `n` octets of stream window the application has consumed."""
        stream = self._streams.get(stream_id)
        if stream is None or stream.state is _STREAM_HALF_CLOSED_REMOTE:
            return  # the server will send nothing more on it
        increment = stream.recv.consumed(n)
        if increment:
            self._out.append(fr.window_update_frame(stream_id, increment))

    def ping(self, data: bytes) -> None:
        """Send a PING; its ACK comes back as `PingAcknowledged`."""
        if len(data) != 8:
            raise ValueError("PING data must be 8 octets")
        if self.state is _CONN_CLOSED:
            return  # nothing follows GOAWAY, and no ACK would come
        self._pings[data] = None
        self._out.append(fr.ping_frame(data))

    def close(self, error_code: int = ErrorCode.NO_ERROR, debug: bytes = b"") -> None:
        """Queue GOAWAY and close; open streams are abandoned."""
        if self.state is _CONN_CLOSED:
            return
        self._out.append(fr.goaway_frame(0, error_code, debug))
        self.state = _CONN_CLOSED
        self._streams.clear()

    def connection_lost(self) -> Tuple[int, ...]:
        """The transport is gone; returns the ids of the streams that were open."""
        ids = tuple(self._streams)
        self._streams.clear()
        self.state = _CONN_CLOSED
        return ids

    # --- receiving ------------------------------------------------------------

    def receive_data(self, data: Buffer) -> List[H2Event]:
        """Process bytes from the server; returns the events they complete.

        `data` may be any buffer, and may be reused once this returns: the
        `DataReceived` events hold views of it, to be consumed before then
        (`GrpcConnection` does), and nothing else refers to it.

        A protocol violation by the server ends the list with a
        `ConnectionTerminated` whose `error` is a `RemoteProtocolError` naming
        the frame and the rule; GOAWAY is queued for the server.
        """
        if self.state is _CONN_CLOSED:
            return []
        events: List[H2Event] = []
        pos = 0
        try:
            if self._inbuf:  # first complete the frame the last piece began
                pos = self._complete_pending(data, events)
                if self._inbuf:
                    return events
            pos = self._parse(data, pos, events)
        except LocalProtocolError as exc:
            events.append(self._terminate(exc))
            self._inbuf = bytearray()
            return events
        if pos < len(data):
            self._inbuf = bytearray(memoryview(data)[pos:])
        return events

    def _complete_pending(self, data: Buffer, events: List[H2Event]) -> int:
        """Add to `_inbuf` (a frame's beginning) what it lacks from `data`;
        process the frame once whole.  Returns the octets of `data` used.

        Only the split frame is copied: the rest of `data` is parsed where it
        is (a piece ending mid-frame is the rule for large responses).
        """
        inbuf = self._inbuf
        used = 0
        if len(inbuf) < 9:
            used = min(9 - len(inbuf), len(data))
            inbuf += data[:used]
            if len(inbuf) < 9:
                return used
        size = 9 + (int.from_bytes(inbuf[:3], "big"))
        if size - 9 > fr.MIN_MAX_FRAME_SIZE:
            self._parse(bytes(inbuf), 0, events)  # raises FRAME_SIZE_ERROR
        take = min(size - len(inbuf), len(data) - used)
        inbuf += memoryview(data)[used : used + take]
        used += take
        if len(inbuf) == size:
            self._inbuf = bytearray()
            self._parse(bytes(inbuf), 0, events)
        return used

    def _parse(self, buf: Buffer, pos: int, events: List[H2Event]) -> int:
        """Process the whole frames in `buf` from `pos`; returns where the
        first incomplete one starts.

        DATA payloads are views of `buf` (see `DataReceived`); every other
        payload is copied to bytes, as it may be kept.  A DATA frame that
        continues a run (the frame before was DATA on the same stream, and
        neither has flags) joins that run's event: a few checks and sums
        here instead of a handler, an event and the gRPC layer's work per
        16 KiB frame."""
        view = memoryview(buf)
        end = len(buf)
        unpack = fr.FRAME_HEADER.unpack_from
        max_size = fr.MIN_MAX_FRAME_SIZE  # we never raise SETTINGS_MAX_FRAME_SIZE
        run: Optional[DataReceived] = None  # the DATA run being extended
        run_stream: Optional[Stream] = None
        window = self._recv_window
        data_type = fr.DATA_TYPE  # a local, read once per buffer
        while end - pos >= 9:
            length_type, flags, stream_id = unpack(buf, pos)
            length = length_type >> 8
            frame_type = length_type & 0xFF
            if length > max_size:
                raise violation(
                    frame_type,
                    f"length {length} exceeds our SETTINGS_MAX_FRAME_SIZE"
                    f" {max_size} (§4.2)",
                    ErrorCode.FRAME_SIZE_ERROR,
                )
            frame_end = pos + 9 + length
            if frame_end > end:
                break
            if (
                run is not None
                and frame_type == data_type
                and not flags
                and stream_id == run.stream_id
                and length <= window.available
                and length <= run_stream.recv.available  # type: ignore[union-attr]
            ):  # the run goes on (the checks `_on_data` makes, inline)
                window.available -= length
                window.unacked += length
                if window.unacked >= window.size >> 1:
                    self._out.append(fr.window_update_frame(0, window.consumed(0)))
                run_stream.recv.available -= length  # type: ignore[union-attr]
                run.chunks.append(view[pos + 9 : frame_end])
                run.length += length
                pos = frame_end
                continue
            run = None
            payload: bytes
            is_data = frame_type == data_type
            if is_data:
                # DATA is copied once, by the gRPC message decoder: a view of
                # the input saves a copy of every response octet.
                payload = view[pos + 9 : frame_end]  # type: ignore[assignment]
            else:  # bytes: other payloads may be kept (PING data, GOAWAY text)
                payload = bytes(view[pos + 9 : frame_end])
            pos = frame_end
            handler = self._handlers.get(frame_type)
            if self._header_block is not None and frame_type != FrameType.CONTINUATION:
                raise violation(
                    frame_type,
                    "arrived in the middle of a header block; only CONTINUATION"
                    " may follow HEADERS without END_HEADERS (§6.10)",
                )
            if handler is None:
                continue  # Unknown frame types are ignored (§5.5).
            if is_data and not flags:  # a run may start
                count = len(events)
                handler(flags, stream_id & fr.MAX_STREAM_ID, payload, events)
                if len(events) > count:
                    run = events[-1]  # type: ignore[assignment]
                    run_stream = self._streams[stream_id & fr.MAX_STREAM_ID]
            else:
                handler(flags, stream_id & fr.MAX_STREAM_ID, payload, events)
        return pos

    def _terminate(self, exc: LocalProtocolError) -> ConnectionTerminated:
        error: ProtocolError = RemoteProtocolError(
            f"server broke HTTP/2: {exc}", error_code=exc.error_code, frame=exc.frame
        )
        ids = tuple(self._streams)
        self._out.append(
            fr.goaway_frame(
                self._next_stream_id - 2 if self._next_stream_id > 1 else 0,
                exc.error_code,
                str(exc).encode("utf-8", "replace")[:256],
            )
        )
        self._streams.clear()
        self._header_block = None
        self.state = _CONN_CLOSED
        return ConnectionTerminated(error=error, stream_ids=ids)

    def _on_first_frame(
        self,
        frame_type: int,
        flags: int,
        stream_id: int,
        payload: bytes,
        events: List[H2Event],
    ) -> None:
        """Dispatch while AWAITING_SETTINGS: only a non-ACK SETTINGS may come."""
        if frame_type != FrameType.SETTINGS or flags & fr.ACK:
            raise violation(
                frame_type, "the server's first frame must be SETTINGS (§3.4)"
            )
        self._on_settings(flags, stream_id, payload, events)

    def _stream_for(self, frame_type: int, stream_id: int) -> Optional[Stream]:
        """The open stream, None for one we closed, or an error for idle ids."""
        if not stream_id:
            raise violation(frame_type, "sent on stream 0 (§6)")
        stream = self._streams.get(stream_id)
        if stream is None and (not stream_id % 2 or stream_id >= self._next_stream_id):
            raise violation(
                frame_type, f"stream {stream_id} was never opened by us (§5.1)"
            )
        return stream

    def _on_data(
        self, flags: int, stream_id: int, payload: bytes, events: List[H2Event]
    ) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            self._stream_for(FrameType.DATA, stream_id)  # closed, or an error
        n = len(payload)
        window = self._recv_window
        if n > window.available:
            raise violation(
                FrameType.DATA,
                f"{n} octets exceed the connection window of {window.available} (§6.9)",
                ErrorCode.FLOW_CONTROL_ERROR,
            )
        # The connection window is credited on arrival (see flow.py).
        window.available -= n
        increment = window.consumed(n)
        if increment:
            self._out.append(fr.window_update_frame(0, increment))
        if stream is None:
            return  # a stream we closed
        if n > stream.recv.available:
            raise violation(
                FrameType.DATA,
                f"{n} octets exceed stream {stream_id}'s window of"
                f" {stream.recv.available} (§6.9)",
                ErrorCode.FLOW_CONTROL_ERROR,
            )
        stream.recv.available -= n
        data = (
            fr.strip_padding(FrameType.DATA, flags, payload)
            if flags & fr.PADDED
            else payload
        )
        end_stream = bool(flags & fr.END_STREAM)
        if n != len(data):  # padding is never held back
            self.acknowledge_received(stream_id, n - len(data))
        self._stream_input(
            stream_id,
            stream,
            _RECV_END_STREAM if end_stream else _RECV_DATA,
            fr.DATA_TYPE,
        )
        events.append(
            DataReceived(
                stream_id=stream_id,
                chunks=[data],
                length=len(data),
                end_stream=end_stream,
            )
        )

    def _stream_input(
        self, stream_id: int, stream: Stream, event: st.StreamInput, frame_type: int
    ) -> None:
        new = st.STREAM_TRANSITIONS.get((stream.state, event))
        if new is None:
            raise violation(
                frame_type,
                f"stream {stream_id} is {stream.state.value}; the server already"
                " ended it (§5.1)",
                ErrorCode.STREAM_CLOSED,
            )
        stream.state = new
        if new is _STREAM_CLOSED:
            del self._streams[stream_id]
            self._sender.forget(stream_id)

    def _on_headers(
        self, flags: int, stream_id: int, payload: bytes, events: List[H2Event]
    ) -> None:
        if stream_id not in self._streams:
            self._stream_for(FrameType.HEADERS, stream_id)  # closed, or an error
        if flags & (fr.PADDED | fr.PRIORITY):
            fragment = fr.header_block_fragment(flags, payload)
        else:
            fragment = payload
        if flags & fr.END_HEADERS:
            self._headers_complete(stream_id, flags, fragment, events)
        else:
            self._check_header_size(len(fragment))
            self._header_block = (stream_id, flags, [fragment], len(fragment))

    def _on_continuation(
        self, flags: int, stream_id: int, payload: bytes, events: List[H2Event]
    ) -> None:
        pending = self._header_block
        if pending is None or pending[0] != stream_id:
            raise violation(
                FrameType.CONTINUATION,
                "not preceded by HEADERS without END_HEADERS on the same stream"
                " (§6.10)",
            )
        sid, first_flags, fragments, size = pending
        size += len(payload) + CONTINUATION_OVERHEAD
        self._check_header_size(size)
        fragments.append(payload)
        if flags & fr.END_HEADERS:
            self._header_block = None
            self._headers_complete(sid, first_flags, b"".join(fragments), events)
        else:
            self._header_block = (sid, first_flags, fragments, size)

    def _check_header_size(self, size: int) -> None:
        if size > self._max_header_list_size:
            raise violation(
                FrameType.CONTINUATION,
                f"header block grew past {self._max_header_list_size} octets"
                " (with 9 per CONTINUATION frame), our"
                " SETTINGS_MAX_HEADER_LIST_SIZE (§6.5.2, §10.5.1)",
                ErrorCode.ENHANCE_YOUR_CALM,
            )

    def _headers_complete(
        self, stream_id: int, flags: int, block: bytes, events: List[H2Event]
    ) -> None:
        headers = self._decoder.decode(block)  # always, to keep HPACK in sync
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        end_stream = bool(flags & fr.END_STREAM)
        # RECV_END_STREAM is legal exactly where RECV_HEADERS is, so one
        # transition checks both.
        self._stream_input(
            stream_id,
            stream,
            _RECV_END_STREAM if end_stream else _RECV_HEADERS,
            fr.HEADERS_TYPE,
        )
        events.append(
            HeadersReceived(stream_id=stream_id, headers=headers, end_stream=end_stream)
        )

    def _on_priority(
        self, flags: int, stream_id: int, payload: bytes, events: List[H2Event]
    ) -> None:
        if not stream_id:
            raise violation(FrameType.PRIORITY, "sent on stream 0 (§6.3)")
        if len(payload) != 5:
            raise violation(
                FrameType.PRIORITY,
                f"payload of {len(payload)} octets, not 5 (§6.3)",
                ErrorCode.FRAME_SIZE_ERROR,
            )
        # Deprecated by RFC 9113 §5.3.2: valid ones are ignored.

    def _on_rst_stream(
        self, flags: int, stream_id: int, payload: bytes, events: List[H2Event]
    ) -> None:
        code = fr.parse_rst_stream(stream_id, payload)
        stream = self._stream_for(FrameType.RST_STREAM, stream_id)
        if stream is None:
            return
        del self._streams[stream_id]
        stream.state = _STREAM_CLOSED
        self._sender.forget(stream_id)
        events.append(StreamReset(stream_id=stream_id, error_code=code))

    def _on_settings(
        self, flags: int, stream_id: int, payload: bytes, events: List[H2Event]
    ) -> None:
        pairs = fr.parse_settings(flags, stream_id, payload)
        if flags & fr.ACK:
            confirmed = self.local.acknowledged()
            if Setting.HEADER_TABLE_SIZE in confirmed:
                self._decoder.limit_table_size(confirmed[Setting.HEADER_TABLE_SIZE])
            return
        self.state = st.transition(
            st.CONNECTION_TRANSITIONS, self.state, st.ConnectionInput.RECV_SETTINGS
        )
        self._handlers = self._open_handlers
        delta = self.remote.apply(pairs)
        self._queue_reply(fr.SETTINGS_ACK_FRAME, FrameType.SETTINGS)
        if delta:
            for sid, stream in list(self._streams.items()):
                if stream.send.available + delta > fr.MAX_WINDOW:
                    raise violation(
                        FrameType.SETTINGS,
                        f"INITIAL_WINDOW_SIZE change overflows stream {sid}'s window"
                        " (§6.9.2)",
                        ErrorCode.FLOW_CONTROL_ERROR,
                    )
                stream.send.available += delta
            self._flush_blocked()

    def _on_push_promise(
        self, flags: int, stream_id: int, payload: bytes, events: List[H2Event]
    ) -> None:
        raise violation(
            FrameType.PUSH_PROMISE,
            "push is disabled by our SETTINGS_ENABLE_PUSH=0 (§8.4)",
        )

    def _on_ping(
        self, flags: int, stream_id: int, payload: bytes, events: List[H2Event]
    ) -> None:
        data = fr.parse_ping(stream_id, payload)
        if flags & fr.ACK:
            if data in self._pings:
                del self._pings[data]
                events.append(PingAcknowledged(data=data))
            return
        self._queue_reply(fr.PING_ACK_HEADER + data, fr.PING_TYPE)

    def _queue_reply(self, frame: bytes, frame_type: int) -> None:
        """Queue the ACK a PING or SETTINGS asks for, up to the flood limit."""
        self._queued_replies += 1
        if self._queued_replies > MAX_QUEUED_CONTROL_FRAMES:
            raise violation(
                frame_type,
                f"more than {MAX_QUEUED_CONTROL_FRAMES} PING and SETTINGS"
                " frames arrived before we could send their ACKs (a flood)",
                ErrorCode.ENHANCE_YOUR_CALM,
            )
        self._out.append(frame)

    def _on_goaway(
        self, flags: int, stream_id: int, payload: bytes, events: List[H2Event]
    ) -> None:
        last_id, code, debug = fr.parse_goaway(stream_id, payload)
        if last_id and not last_id % 2:
            raise violation(
                FrameType.GOAWAY,
                f"last_stream_id {last_id} is even; we only open odd streams (§6.8)",
            )
        previous = self._goaway_last_id
        if previous is not None and last_id > previous:
            raise violation(
                FrameType.GOAWAY,
                f"last_stream_id rose from {previous} to {last_id}; it may only"
                " fall (§6.8)",
            )
        self._goaway_last_id = last_id
        self.state = st.transition(
            st.CONNECTION_TRANSITIONS, self.state, st.ConnectionInput.RECV_GOAWAY
        )
        refused = tuple(sid for sid in self._streams if sid > last_id)
        for sid in refused:
            del self._streams[sid]
            self._sender.forget(sid)
        events.append(
            GoAwayReceived(
                last_stream_id=last_id,
                error_code=code,
                debug_data=debug,
                refused_stream_ids=refused,
            )
        )

    def _on_window_update(
        self, flags: int, stream_id: int, payload: bytes, events: List[H2Event]
    ) -> None:
        increment = fr.parse_window_update(stream_id, payload)
        if increment == 0:
            raise violation(FrameType.WINDOW_UPDATE, "increment of 0 (§6.9)")
        if stream_id == 0:
            if not self._sender.window.increase(increment):
                raise violation(
                    FrameType.WINDOW_UPDATE,
                    "connection window would exceed 2^31-1 (§6.9.1)",
                    ErrorCode.FLOW_CONTROL_ERROR,
                )
            if self._sender.blocked:
                self._flush_blocked()
            return
        stream = self._stream_for(FrameType.WINDOW_UPDATE, stream_id)
        if stream is None:
            return
        if not stream.send.increase(increment):
            raise violation(
                FrameType.WINDOW_UPDATE,
                f"stream {stream_id}'s window would exceed 2^31-1 (§6.9.1)",
                ErrorCode.FLOW_CONTROL_ERROR,
            )
        if stream.pending:
            self._flush(stream_id, stream)

    @property
    def pending_send_bytes(self) -> int:
        """DATA octets queued behind flow control, across all streams."""
        return sum(len(d) for s in self._streams.values() for d, _ in s.pending)
