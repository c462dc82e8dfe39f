"""A scriptable fake etcd (gRPC over HTTP/2) server for transport tests.

Theory of operation
-------------------
Our client speaks HTTP/2 through a hand-rolled framer, so its tests need a peer
that was *not* written by us: :class:`FakeEtcdPeer` wraps python-hyper ``h2``'s
server side (``H2Connection(H2Configuration(client_side=False))``). Like the
client core it is sans-IO: bytes go in through
:meth:`FakeEtcdPeer.receive_data`, simple frozen events come out, and bytes to
send are pulled with :meth:`FakeEtcdPeer.data_to_send`. :class:`PeerServer`
runs a peer on a socket in a helper thread for driver tests.

What it sends follows a real grpc-go server (as etcd 3.5 was seen sending,
and gRPC's ``doc/PROTOCOL-HTTP2.md``):

* Preface: one SETTINGS frame holding exactly ``local_settings`` (etcd 3.5 was
  observed sending ``MAX_FRAME_SIZE=16384, MAX_CONCURRENT_STREAMS=2**32-1``).
* Response-Headers, DATA carrying 5-byte length-prefixed messages, Trailers
  (HEADERS + END_STREAM with ``grpc-status``); or one Trailers-Only block.
* DATA respects the client's flow-control windows (RFC 9113 §6.9) and its
  MAX_FRAME_SIZE: what does not fit waits in a per-stream queue, together with
  the trailers behind it, and goes out when WINDOW_UPDATE or SETTINGS opens the
  window, as a real server does.

Everything a real etcd will not do on demand is scriptable: padded DATA (h2
pads DATA itself); padded or prioritised HEADERS, CONTINUATION split at any
size, header blocks on any stream (:meth:`FakeEtcdPeer.send_raw_headers`,
built with ``hyperframe``, HPACK-encoded by the connection's own encoder so the
compression context stays in step); HPACK dynamic-table size updates; GOAWAY
followed by more frames (h2 itself goes quiet after GOAWAY, so GOAWAY is built
by hand); and arbitrary bytes (:meth:`FakeEtcdPeer.send_raw_frame` with
:func:`raw_frame`), e.g. DATA on stream 0, bad padding, oversized frames,
PUSH_PROMISE, or a CONTINUATION without HEADERS. Raw frames go out
immediately, after whatever h2 already queued, and bypass h2's state machines.

Outbound header validation is off, so trailers may carry pseudo-headers,
upper-case names and the like; inbound validation is on by default because it
checks our client.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import struct
from dataclasses import dataclass
from typing import Optional, Union

import h2.events
import h2.exceptions
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.settings import SettingCodes, Settings
from hyperframe.frame import (
    ContinuationFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
)

from .peer_events import (
    _H2_MAX_HEADER_LIST_SIZE,
    ETCD_SERVER_SETTINGS,
    ConnectionClosed,
    ConnectionLost,
    HeaderPairs,
    HeaderValue,
    PeerEvent,
    PingAcked,
    PingReceived,
    ProtocolViolation,
    RequestEnded,
    RequestMessage,
    RequestReceived,
    RequestRecord,
    SettingsAcked,
    SettingsReceived,
    StreamReset,
    WindowUpdated,
    _header_list,
    _to_bytes,
    encode_grpc_message,
    percent_encode,
    raw_frame,
)

__all__ = ["FakeEtcdPeer"]


@dataclass
class _OutData:
    data: bytes
    end_stream: bool
    pad_length: Optional[int]


@dataclass
class _OutHeaders:
    headers: list[tuple[bytes, bytes]]
    end_stream: bool


_Outbound = Union[_OutData, _OutHeaders]


class FakeEtcdPeer:
    """The server side of one HTTP/2 connection, scripted by a test.

    Every scripting method only queues bytes; pull them with
    :meth:`data_to_send`. Methods raise h2's exceptions when the script asks
    for something h2 refuses (a stream that is closed, a bad PING length...);
    use the ``raw`` methods to send such things anyway.

    Attributes:
        requests: per stream id, what the client sent on it.
        connection: the underlying ``h2`` connection (escape hatch).
        terminated: True after a :class:`ProtocolViolation`.
    """

    def __init__(
        self,
        *,
        local_settings: dict[int, int] | None = None,
        auto_ack_data: bool = True,
        header_table_size: int | None = None,
        validate_inbound_headers: bool = True,
    ) -> None:
        """Create the peer and queue its preface (one SETTINGS frame).

        Args:
            local_settings: the SETTINGS of the preface, exactly; defaults to
                :data:`ETCD_SERVER_SETTINGS`. They bind h2 at once.
            auto_ack_data: return received DATA to the client's windows using
                h2's policy (WINDOW_UPDATE once half a window is consumed).
                False: nothing is returned until :meth:`window_update` or
                :meth:`acknowledge`, to stall a client's upload.
            header_table_size: HPACK dynamic-table size for our encoder; the
                first header block opens with a size update. Kept (capped at
                the client's HEADER_TABLE_SIZE) when the client's SETTINGS
                would change it.
            validate_inbound_headers: let h2 check the client's header blocks.
        """
        self.connection = H2Connection(
            H2Configuration(
                client_side=False,
                header_encoding=None,
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
                validate_inbound_headers=validate_inbound_headers,
            )
        )
        self.requests: dict[int, RequestRecord] = {}
        self.auto_ack_data = auto_ack_data
        self.terminated = False
        self._out = bytearray()
        self._outbound: dict[int, collections.deque[_Outbound]] = {}
        self._buffers: dict[int, bytearray] = {}
        self._table_size = header_table_size
        preface = dict(
            ETCD_SERVER_SETTINGS if local_settings is None else local_settings
        )
        self._apply_local_settings(preface)
        self.connection.initiate_connection()
        # h2 announces all its settings; etcd sends only a few. Keep h2's state
        # transition, replace its frame with exactly ours.
        self.connection.data_to_send()
        self.send_raw_frame(raw_frame(0x4, 0, 0, _settings_payload(preface)))
        if header_table_size is not None:
            self.set_header_table_size(header_table_size)

    def _apply_local_settings(self, settings: dict[int, int]) -> None:
        known = {
            SettingCodes.MAX_CONCURRENT_STREAMS: 2**32 - 1,
            SettingCodes.MAX_HEADER_LIST_SIZE: _H2_MAX_HEADER_LIST_SIZE,
        }
        for code, value in settings.items():
            with contextlib.suppress(ValueError):
                known[SettingCodes(code)] = value
        local = Settings(client=False, initial_values=known)
        conn = self.connection
        conn.local_settings = local
        conn.max_inbound_frame_size = local.max_frame_size
        conn.decoder.max_header_list_size = known[SettingCodes.MAX_HEADER_LIST_SIZE]
        conn.decoder.max_allowed_table_size = local.header_table_size

    # -- input --------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[PeerEvent]:
        """Feed bytes from the client; return what they meant.

        A client that breaks HTTP/2 yields :class:`ProtocolViolation` (h2 has
        queued GOAWAY); input after that is ignored.
        """
        if self.terminated:
            return []
        try:
            h2_events = self.connection.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self.terminated = True
            return [ProtocolViolation(int(exc.error_code), str(exc))]
        events: list[PeerEvent] = []
        for event in h2_events:
            events.extend(self._translate(event))
        if any(isinstance(e, (WindowUpdated, SettingsReceived)) for e in events):
            for stream_id in list(self._outbound):
                self._pump(stream_id)
        return events

    def receive_eof(self) -> list[PeerEvent]:
        """Tell the peer the transport closed; returns ``[ConnectionLost()]``."""
        self.terminated = True
        return [ConnectionLost()]

    def _translate(self, event: h2.events.Event) -> list[PeerEvent]:
        if isinstance(event, h2.events.RequestReceived):
            return self._on_request(event.stream_id, event.headers)
        if isinstance(event, h2.events.DataReceived):
            return self._on_data(event)
        if isinstance(event, h2.events.StreamEnded):
            return self._on_end(event.stream_id)
        if isinstance(event, h2.events.TrailersReceived):
            self.requests[event.stream_id].trailers = _header_list(event.headers)
            return []
        if isinstance(event, h2.events.StreamReset):
            return self._on_reset(event)
        return self._translate_connection_event(event)

    def _translate_connection_event(self, event: h2.events.Event) -> list[PeerEvent]:
        if isinstance(event, h2.events.PingReceived):
            return [PingReceived(event.ping_data)]
        if isinstance(event, h2.events.PingAckReceived):
            return [PingAcked(event.ping_data)]
        if isinstance(event, h2.events.SettingsAcknowledged):
            return [SettingsAcked()]
        if isinstance(event, h2.events.RemoteSettingsChanged):
            return self._on_settings(event)
        if isinstance(event, h2.events.WindowUpdated):
            return [WindowUpdated(event.stream_id, event.delta)]
        if isinstance(event, h2.events.ConnectionTerminated):
            return [
                ConnectionClosed(
                    int(event.error_code or 0),
                    event.last_stream_id or 0,
                    event.additional_data or b"",
                )
            ]
        return []  # PRIORITY, unknown frames, ALTSVC: nothing a gRPC server uses

    def _on_request(self, stream_id: int, raw: HeaderPairs) -> list[PeerEvent]:
        headers = _header_list(raw)
        as_dict = dict(headers)
        path = as_dict.get(b":path", b"").decode("utf-8", "replace")
        self.requests[stream_id] = RequestRecord(stream_id, path, headers, as_dict)
        self._buffers[stream_id] = bytearray()
        return [RequestReceived(stream_id, path, headers)]

    def _on_data(self, event: h2.events.DataReceived) -> list[PeerEvent]:
        stream_id = event.stream_id
        record = self.requests[stream_id]
        record.data_frames.append(len(event.data))
        record.flow_controlled_bytes += event.flow_controlled_length
        if self.auto_ack_data and event.flow_controlled_length:
            self.connection.acknowledge_received_data(
                event.flow_controlled_length, stream_id
            )
        buffer = self._buffers[stream_id]
        buffer += event.data
        events: list[PeerEvent] = []
        while len(buffer) >= 5:
            flag, length = struct.unpack_from(">BI", buffer)
            if len(buffer) < 5 + length:
                break
            message = bytes(buffer[5 : 5 + length])
            del buffer[: 5 + length]
            record.messages.append(message)
            record.compressed_flags.append(flag)
            events.append(RequestMessage(stream_id, message))
        record.partial = bytes(buffer)
        return events

    def _on_end(self, stream_id: int) -> list[PeerEvent]:
        self.requests[stream_id].ended = True
        return [RequestEnded(stream_id)]

    def _on_reset(self, event: h2.events.StreamReset) -> list[PeerEvent]:
        self._outbound.pop(event.stream_id, None)
        code = int(event.error_code)
        if not event.remote_reset:  # h2 reset a stream the client misused
            return [ProtocolViolation(code, f"h2 reset stream {event.stream_id}")]
        if event.stream_id in self.requests:
            self.requests[event.stream_id].reset_code = code
        return [StreamReset(event.stream_id, code)]

    def _on_settings(self, event: h2.events.RemoteSettingsChanged) -> list[PeerEvent]:
        changes = {int(k): v.new_value for k, v in event.changed_settings.items()}
        table = changes.get(SettingCodes.HEADER_TABLE_SIZE)
        if table is not None and self._table_size is not None:
            # h2 just resized our encoder to the client's value; keep ours.
            self.set_header_table_size(min(self._table_size, table))
        return [SettingsReceived(changes)]

    # -- output -------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Return (and forget) every byte queued for the client."""
        self._out += self.connection.data_to_send()
        out = bytes(self._out)
        self._out.clear()
        return out

    def send_raw_frame(self, frame: Frame | bytes) -> None:
        """Queue a frame (``hyperframe`` object or bytes) as is, bypassing h2."""
        self._out += self.connection.data_to_send()
        self._out += frame if isinstance(frame, bytes) else frame.serialize()

    def send_response_headers(
        self,
        stream_id: int,
        *,
        status: int | str = 200,
        content_type: HeaderValue | None = "application/grpc",
        extra: HeaderPairs = (),
    ) -> None:
        """Queue Response-Headers: ``:status``, ``content-type`` (if any), ``extra``."""
        headers = [(b":status", str(status).encode())]
        if content_type is not None:
            headers.append((b"content-type", _to_bytes(content_type)))
        headers += _header_list(extra)
        self._record(stream_id).response_started = True
        self._enqueue(stream_id, _OutHeaders(headers, end_stream=False))

    def send_message(
        self,
        stream_id: int,
        payload: bytes,
        *,
        compressed_flag: int = 0,
        declared_length: int | None = None,
        pad_length: int | None = None,
        split: int | None = None,
        end_stream: bool = False,
    ) -> None:
        """Queue one gRPC length-prefixed message as DATA.

        Args:
            stream_id: the stream.
            payload: the message (the 5-byte prefix is added).
            compressed_flag: the prefix's first byte.
            declared_length: the prefix's length field, if not ``len(payload)``.
            pad_length: pad every DATA frame of it (None: no PADDED flag;
                0: PADDED with zero padding).
            split: spread the prefixed bytes over DATA frames of at most this
                many bytes (frames also split at the client's MAX_FRAME_SIZE
                and windows).
            end_stream: END_STREAM on the last frame (a reply without trailers).
        """
        data = encode_grpc_message(
            payload, compressed_flag=compressed_flag, declared_length=declared_length
        )
        self.send_raw_data(
            stream_id, data, end_stream=end_stream, pad_length=pad_length, split=split
        )

    def send_raw_data(
        self,
        stream_id: int,
        data: bytes,
        *,
        end_stream: bool = False,
        pad_length: int | None = None,
        split: int | None = None,
    ) -> None:
        """Queue DATA carrying ``data`` verbatim (flow-controlled; no gRPC prefix).

        Empty ``data`` queues one empty DATA frame.
        """
        if split is not None and split <= 0:
            raise ValueError("split must be positive")
        step = split or max(len(data), 1)
        chunks = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            self._enqueue(stream_id, _OutData(chunk, end_stream and last, pad_length))

    def send_trailers(
        self,
        stream_id: int,
        *,
        grpc_status: int | str | None = 0,
        grpc_message: str | bytes | None = None,
        extra: HeaderPairs = (),
        details_bin: bytes | None = None,
    ) -> None:
        """Queue Trailers (HEADERS + END_STREAM) behind any queued DATA.

        Args:
            stream_id: the stream.
            grpc_status: the ``grpc-status`` value; None omits it, a str is
                sent verbatim (e.g. ``"007"``).
            grpc_message: str is percent-encoded; bytes are sent verbatim.
            extra: more trailer fields (a 40 kB value yields CONTINUATION).
            details_bin: a serialized ``google.rpc.Status``, sent base64
                unpadded as ``grpc-status-details-bin``.
        """
        trailers = _status_fields(grpc_status, grpc_message)
        if details_bin is not None:
            encoded = base64.b64encode(details_bin).rstrip(b"=")
            trailers.append((b"grpc-status-details-bin", encoded))
        trailers += _header_list(extra)
        self._enqueue(stream_id, _OutHeaders(trailers, end_stream=True))

    def reply(
        self,
        stream_id: int,
        *messages: bytes,
        grpc_status: int | str | None = 0,
        grpc_message: str | bytes | None = None,
    ) -> None:
        """Queue a whole response: headers (unless sent), messages, trailers."""
        if not self._record(stream_id).response_started:
            self.send_response_headers(stream_id)
        for message in messages:
            self.send_message(stream_id, message)
        self.send_trailers(
            stream_id, grpc_status=grpc_status, grpc_message=grpc_message
        )

    def trailers_only(
        self,
        stream_id: int,
        *,
        grpc_status: int | str | None,
        grpc_message: str | bytes | None = None,
        http_status: int | str = 200,
        content_type: HeaderValue | None = "application/grpc",
        extra: HeaderPairs = (),
    ) -> None:
        """Queue a Trailers-Only response: one HEADERS block with END_STREAM."""
        headers = [(b":status", str(http_status).encode())]
        if content_type is not None:
            headers.append((b"content-type", _to_bytes(content_type)))
        headers += _status_fields(grpc_status, grpc_message) + _header_list(extra)
        self._record(stream_id).response_started = True
        self._enqueue(stream_id, _OutHeaders(headers, end_stream=True))

    def send_raw_headers(
        self,
        stream_id: int,
        headers: HeaderPairs,
        *,
        end_stream: bool = False,
        end_headers: bool = True,
        pad_length: int | None = None,
        priority: tuple[int, int, bool] | None = None,
        fragment_size: int | None = None,
    ) -> None:
        """Queue a header block built by hand, immediately, on any stream.

        The block is HPACK-encoded by the connection's encoder (keeping the
        client's decoder in step) but h2's stream state is not told.

        Args:
            stream_id: the stream (need not exist).
            headers: the fields, in order, unchecked.
            end_stream: END_STREAM on the HEADERS frame.
            end_headers: END_HEADERS on the last frame (False leaves the block
                open, e.g. to interleave a frame illegally).
            pad_length: pad the HEADERS frame (PADDED flag).
            priority: ``(depends_on, weight 1-256, exclusive)``: PRIORITY flag.
            fragment_size: header-block bytes per frame; the rest goes in
                CONTINUATION frames. Default: the client's MAX_FRAME_SIZE.
        """
        pairs = _header_list(headers)
        block = self.encode_header_block(pairs)
        if stream_id in self.requests and any(n == b":status" for n, _ in pairs):
            self.requests[stream_id].response_started = True
        step = fragment_size or self.connection.max_outbound_frame_size
        fragments = [block[i : i + step] for i in range(0, len(block), step)] or [b""]
        first = HeadersFrame(stream_id, fragments[0])
        if end_stream:
            first.flags.add("END_STREAM")
        if pad_length is not None:
            first.flags.add("PADDED")
            first.pad_length = pad_length
        if priority is not None:
            first.flags.add("PRIORITY")
            first.depends_on, weight, first.exclusive = priority
            first.stream_weight = weight - 1  # the wire carries weight - 1
        frames: list[Frame] = [first]
        frames += [ContinuationFrame(stream_id, fragment) for fragment in fragments[1:]]
        if end_headers:
            frames[-1].flags.add("END_HEADERS")
        for frame in frames:
            self.send_raw_frame(frame)

    def encode_header_block(self, headers: HeaderPairs) -> bytes:
        """HPACK-encode fields with the connection's encoder (for raw frames)."""
        return bytes(self.connection.encoder.encode(_header_list(headers)))

    def reset(self, stream_id: int, error_code: int) -> None:
        """Queue RST_STREAM now (anything still queued on the stream is dropped)."""
        self._outbound.pop(stream_id, None)
        self.connection.reset_stream(stream_id, error_code)

    def goaway(
        self,
        *,
        last_stream_id: int | None = None,
        error_code: int = 0,
        debug_data: bytes = b"",
    ) -> None:
        """Queue GOAWAY. The peer can keep answering streams afterwards.

        Args:
            last_stream_id: defaults to the highest stream the client opened;
                2**31-1 for the first GOAWAY of a graceful shutdown.
            error_code: e.g. 0 (NO_ERROR) or 11 (ENHANCE_YOUR_CALM).
            debug_data: e.g. ``b"too_many_pings"``.
        """
        if last_stream_id is None:
            last_stream_id = self.connection.highest_inbound_stream_id
        frame = GoAwayFrame(
            0,
            last_stream_id=last_stream_id,
            error_code=error_code,
            additional_data=debug_data,
        )
        self.send_raw_frame(frame)

    def update_settings(self, settings: dict[int, int]) -> None:
        """Queue SETTINGS; they bind h2 once the client ACKs them (SettingsAcked)."""
        self.connection.update_settings(settings)

    def ping(self, data: bytes = b"\0" * 8) -> None:
        """Queue PING (8 bytes of data); the ACK yields :class:`PingAcked`."""
        self.connection.ping(data)

    def window_update(self, stream_id: int, increment: int) -> None:
        """Queue WINDOW_UPDATE (stream_id 0: the connection window)."""
        target = None if stream_id == 0 else stream_id
        self.connection.increment_flow_control_window(increment, stream_id=target)

    def acknowledge(self, stream_id: int, nbytes: int) -> None:
        """Give ``nbytes`` of received DATA back to both windows, h2's way."""
        self.connection.acknowledge_received_data(nbytes, stream_id)

    def set_header_table_size(self, size: int) -> None:
        """Make our HPACK encoder open its next header block with a size update.

        ``size`` may exceed what the client allowed, to test its rejection.
        """
        encoder = self.connection.encoder
        encoder.header_table_size = size
        # RFC 7541 §4.2: signal the smallest size since the last block, then
        # the final one; intermediate sizes (say, h2 applying the client's
        # SETTINGS just before) may exceed what the client now allows.
        smallest = min([*encoder.table_size_changes, size])
        encoder.table_size_changes[:] = [smallest, size] if smallest < size else [size]
        encoder.header_table.resized = True

    def pending(self, stream_id: int) -> int:
        """Return how many DATA bytes wait on the stream for window."""
        queue = self._outbound.get(stream_id, ())
        return sum(len(item.data) for item in queue if isinstance(item, _OutData))

    # -- the per-stream outbound queue --------------------------------------

    def _record(self, stream_id: int) -> RequestRecord:
        record = self.requests.get(stream_id)
        if record is None:  # scripting a stream the client never opened
            record = self.requests[stream_id] = RequestRecord(stream_id, "", [], {})
        return record

    def _enqueue(self, stream_id: int, item: _Outbound) -> None:
        self._outbound.setdefault(stream_id, collections.deque()).append(item)
        self._pump(stream_id)

    def _pump(self, stream_id: int) -> None:
        queue = self._outbound[stream_id]
        while queue:
            item = queue[0]
            if isinstance(item, _OutHeaders):
                self.connection.send_headers(
                    stream_id, item.headers, end_stream=item.end_stream
                )
            elif not self._send_some(stream_id, item):
                return
            queue.popleft()
        del self._outbound[stream_id]

    def _send_some(self, stream_id: int, item: _OutData) -> bool:
        """Send as much of ``item`` as the windows allow; True when all went."""
        pad_cost = 0 if item.pad_length is None else item.pad_length + 1
        while True:
            window = self.connection.local_flow_control_window(stream_id)
            room = min(window, self.connection.max_outbound_frame_size) - pad_cost
            if room < 0 or (room == 0 and item.data):
                return False
            chunk, item.data = item.data[:room], item.data[room:]
            end = item.end_stream and not item.data
            self.connection.send_data(
                stream_id, chunk, end_stream=end, pad_length=item.pad_length
            )
            if not item.data:
                return True


def _status_fields(
    grpc_status: int | str | None, grpc_message: str | bytes | None
) -> list[tuple[bytes, bytes]]:
    fields: list[tuple[bytes, bytes]] = []
    if grpc_status is not None:
        fields.append((b"grpc-status", str(grpc_status).encode()))
    if isinstance(grpc_message, str):
        fields.append((b"grpc-message", percent_encode(grpc_message)))
    elif grpc_message is not None:
        fields.append((b"grpc-message", grpc_message))
    return fields


def _settings_payload(settings: dict[int, int]) -> bytes:
    return b"".join(struct.pack(">HI", code, value) for code, value in settings.items())


# --------------------------------------------------------------------------
# Ready-made handlers
# --------------------------------------------------------------------------
