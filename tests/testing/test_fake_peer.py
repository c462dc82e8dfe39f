"""FakeEtcdPeer against h2's *client* side, in memory and over sockets."""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from typing import Callable, TypeVar

import h2.events
import h2.exceptions
import hpack
import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from pyetcd_wire.testing.fake_peer import FakeEtcdPeer
from pyetcd_wire.testing.peer_events import (
    CLIENT_PREFACE,
    ETCD_SERVER_SETTINGS,
    ConnectionClosed,
    ConnectionLost,
    PeerEvent,
    PingAcked,
    PingReceived,
    ProtocolViolation,
    RequestEnded,
    RequestMessage,
    RequestReceived,
    SettingsAcked,
    SettingsReceived,
    StreamReset,
    WindowUpdated,
    encode_grpc_message,
    parse_frames,
    percent_encode,
    raw_frame,
)
from pyetcd_wire.testing.peer_server import (
    PeerServer,
    canned_reply_handler,
    echo_unary_handler,
)

PATH = "/etcdserverpb.KV/Range"
REQUEST_HEADERS = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", PATH.encode()),
    (b":authority", b"localhost:2379"),
    (b"te", b"trailers"),
    (b"content-type", b"application/grpc"),
]
GRPC_HEADERS = [(b":status", b"200"), (b"content-type", b"application/grpc")]


def new_client() -> H2Connection:
    client = H2Connection(H2Configuration(client_side=True, header_encoding=None))
    client.initiate_connection()
    return client


class Pair:
    """h2's client and our peer, bytes pumped by hand (h11's ConnectionPair)."""

    def __init__(self, **peer_kwargs: object) -> None:
        self.client = new_client()
        self.peer = FakeEtcdPeer(**peer_kwargs)  # type: ignore[arg-type]
        self.last_bytes = b""

    def to_peer(self) -> list[PeerEvent]:
        return self.peer.receive_data(self.client.data_to_send())

    def to_client(self) -> list[h2.events.Event]:
        self.last_bytes = self.peer.data_to_send()
        return self.client.receive_data(self.last_bytes)

    def frames(self) -> list[Frame]:
        return parse_frames(self.last_bytes)

    def handshake(self) -> Pair:
        assert isinstance(self.to_peer()[0], SettingsReceived)
        self.to_client()
        assert self.to_peer() == [SettingsAcked()]
        return self

    def request(self, *messages: bytes, end: bool = True) -> int:
        stream_id = self.client.get_next_available_stream_id()
        self.client.send_headers(stream_id, REQUEST_HEADERS)
        body = b"".join(encode_grpc_message(m) for m in messages)
        for start in range(0, len(body), 16384):
            self.client.send_data(stream_id, body[start : start + 16384])
        if end:
            self.client.end_stream(stream_id)
        return stream_id

    def request_into_window(self, size: int) -> int:
        """Set the client's INITIAL_WINDOW_SIZE to `size` (both sides see it),
        then send one request to the peer; returns its stream id."""
        self.client.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: size})
        self.to_peer()
        self.to_client()
        stream_id = self.request()
        self.to_peer()
        return stream_id


@pytest.fixture
def pair() -> Pair:
    return Pair().handshake()


E = TypeVar("E", bound=h2.events.Event)


def only(events: list[h2.events.Event], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def shape(frames: list[Frame]) -> list[tuple[str, list[str]]]:
    return [(type(f).__name__, sorted(f.flags)) for f in frames]


def grpc_messages(events: list[h2.events.Event]) -> list[bytes]:
    data = b"".join(e.data for e in only(events, h2.events.DataReceived))
    out = []
    while data:
        _, length = struct.unpack_from(">BI", data)
        out.append(data[5 : 5 + length])
        data = data[5 + length :]
    return out


# -- byte-level helpers ---------------------------------------------------


def test_encode_grpc_message_can_lie() -> None:
    assert encode_grpc_message(b"ab") == b"\0\0\0\0\2ab"
    lie = encode_grpc_message(b"ab", compressed_flag=1, declared_length=9)
    assert lie == b"\1\0\0\0\x09ab"


def test_percent_encode() -> None:
    assert percent_encode("é 100%\n~") == b"%C3%A9 100%25%0A~"


def test_raw_frame_and_parse_frames() -> None:
    data = raw_frame(0x6, 0x1, 0, b"12345678") + WindowUpdateFrame(3, 7).serialize()
    ping, update = parse_frames(CLIENT_PREFACE + data)
    assert isinstance(ping, PingFrame)
    assert set(ping.flags) == {"ACK"}
    assert ping.opaque_data == b"12345678"
    assert isinstance(update, WindowUpdateFrame)
    assert (update.stream_id, update.window_increment) == (3, 7)
    with pytest.raises(ValueError, match="truncated"):
        parse_frames(data[:-1])
    with pytest.raises(ValueError, match="trailing"):
        parse_frames(data + b"\0")


# -- connection setup -----------------------------------------------------


def test_preface_is_exactly_etcds_settings() -> None:
    (frame,) = parse_frames(FakeEtcdPeer().data_to_send())
    assert isinstance(frame, SettingsFrame)
    assert frame.settings == ETCD_SERVER_SETTINGS


def test_custom_local_settings_bind_at_once() -> None:
    settings = {SettingCodes.INITIAL_WINDOW_SIZE: 100, 0x99: 7}
    p = Pair(local_settings=settings)
    (frame,) = parse_frames(p.peer.data_to_send())
    assert isinstance(frame, SettingsFrame)
    assert frame.settings == settings
    p = Pair(local_settings=settings).handshake()
    stream_id = p.request(end=False)
    assert p.client.local_flow_control_window(stream_id) == 100
    p.client.send_data(stream_id, b"x" * 100)
    p.to_peer()
    assert p.peer.requests[stream_id].flow_controlled_bytes == 100


def test_handshake_events(pair: Pair) -> None:
    pair.client.update_settings({SettingCodes.HEADER_TABLE_SIZE: 0})
    assert pair.to_peer() == [SettingsReceived({SettingCodes.HEADER_TABLE_SIZE: 0})]
    (ack,) = only(pair.to_client(), h2.events.SettingsAcknowledged)
    assert SettingCodes.HEADER_TABLE_SIZE in ack.changed_settings


# -- requests -------------------------------------------------------------


def test_request_headers_and_messages() -> None:
    p = Pair().handshake()
    stream_id = p.request(end=False)
    p.client.send_data(
        stream_id, encode_grpc_message(b"a") + encode_grpc_message(b"bb")
    )
    assert p.to_peer() == [
        RequestReceived(stream_id, PATH, REQUEST_HEADERS),
        RequestMessage(stream_id, b"a"),
        RequestMessage(stream_id, b"bb"),
    ]
    big = encode_grpc_message(b"z" * 20)
    for chunk in (big[:3], big[3:12]):
        p.client.send_data(stream_id, chunk)
        assert p.to_peer() == []
    assert p.peer.requests[stream_id].partial == big[:12]
    p.client.send_data(stream_id, big[12:], end_stream=True)
    assert p.to_peer() == [
        RequestMessage(stream_id, b"z" * 20),
        RequestEnded(stream_id),
    ]
    record = p.peer.requests[stream_id]
    assert record.path == PATH
    assert record.headers[b"te"] == b"trailers"
    assert record.header_list == REQUEST_HEADERS
    assert record.messages == [b"a", b"bb", b"z" * 20]
    assert record.compressed_flags == [0, 0, 0]
    assert record.data_frames == [13, 3, 9, 13]
    assert record.ended
    assert record.partial == b""


def test_truncated_request_message_stays_partial(pair: Pair) -> None:
    stream_id = pair.request(end=False)
    pair.client.send_data(stream_id, encode_grpc_message(b"abc")[:-1], end_stream=True)
    events = pair.to_peer()
    assert events[-1] == RequestEnded(stream_id)
    assert not any(isinstance(e, RequestMessage) for e in events)
    assert pair.peer.requests[stream_id].partial == b"\0\0\0\0\3ab"


def test_compressed_flag_is_recorded(pair: Pair) -> None:
    stream_id = pair.request(end=False)
    pair.client.send_data(stream_id, encode_grpc_message(b"q", compressed_flag=1))
    assert pair.to_peer()[-1] == RequestMessage(stream_id, b"q")
    assert pair.peer.requests[stream_id].compressed_flags == [1]


# -- responses ------------------------------------------------------------


def test_reply(pair: Pair) -> None:
    stream_id = pair.request(b"req")
    pair.to_peer()
    pair.peer.reply(stream_id, b"x", b"yy")
    events = pair.to_client()
    (response,) = only(events, h2.events.ResponseReceived)
    assert response.headers == GRPC_HEADERS
    assert grpc_messages(events) == [b"x", b"yy"]
    (trailers,) = only(events, h2.events.TrailersReceived)
    assert trailers.headers == [(b"grpc-status", b"0")]
    assert isinstance(events[-1], h2.events.StreamEnded)
    assert shape(pair.frames()) == [
        ("HeadersFrame", ["END_HEADERS"]),
        ("DataFrame", []),
        ("DataFrame", []),
        ("HeadersFrame", ["END_HEADERS", "END_STREAM"]),
    ]


def test_reply_after_headers_does_not_repeat_them(pair: Pair) -> None:
    stream_id = pair.request()
    pair.to_peer()
    pair.peer.send_response_headers(stream_id, extra=[("x-meta", "1")])
    pair.peer.reply(stream_id, b"m", grpc_status=5, grpc_message="no such key")
    events = pair.to_client()
    (response,) = only(events, h2.events.ResponseReceived)
    assert response.headers == [*GRPC_HEADERS, (b"x-meta", b"1")]
    (trailers,) = only(events, h2.events.TrailersReceived)
    assert trailers.headers == [
        (b"grpc-status", b"5"),
        (b"grpc-message", b"no such key"),
    ]


def test_trailer_fields(pair: Pair) -> None:
    stream_id = pair.request()
    pair.to_peer()
    pair.peer.send_response_headers(stream_id, status="200", content_type=None)
    pair.peer.send_trailers(
        stream_id,
        grpc_status="007",
        grpc_message="50% é",
        details_bin=b"\x08\x05",
        extra=[(b"x-trace", b"t")],
    )
    events = pair.to_client()
    (response,) = only(events, h2.events.ResponseReceived)
    assert response.headers == [(b":status", b"200")]
    (trailers,) = only(events, h2.events.TrailersReceived)
    assert trailers.headers == [
        (b"grpc-status", b"007"),
        (b"grpc-message", b"50%25 %C3%A9"),
        (b"grpc-status-details-bin", b"CAU"),  # base64, unpadded
        (b"x-trace", b"t"),
    ]


def test_trailers_without_status_and_raw_message(pair: Pair) -> None:
    stream_id = pair.request()
    pair.to_peer()
    pair.peer.send_response_headers(stream_id)
    pair.peer.send_trailers(stream_id, grpc_status=None, grpc_message=b"%zz")
    (trailers,) = only(pair.to_client(), h2.events.TrailersReceived)
    assert trailers.headers == [(b"grpc-message", b"%zz")]


def test_trailers_only(pair: Pair) -> None:
    stream_id = pair.request()
    pair.to_peer()
    pair.peer.trailers_only(stream_id, grpc_status=12, grpc_message="unknown method")
    events = pair.to_client()
    (frame,) = pair.frames()
    assert isinstance(frame, HeadersFrame)
    assert set(frame.flags) == {"END_HEADERS", "END_STREAM"}
    (response,) = only(events, h2.events.ResponseReceived)
    assert response.headers == [
        *GRPC_HEADERS,
        (b"grpc-status", b"12"),
        (b"grpc-message", b"unknown method"),
    ]
    assert response.stream_ended is not None


def test_trailers_only_with_odd_http_status(pair: Pair) -> None:
    stream_id = pair.request()
    pair.to_peer()
    pair.peer.trailers_only(
        stream_id, grpc_status=None, http_status=503, content_type="text/html"
    )
    (response,) = only(pair.to_client(), h2.events.ResponseReceived)
    assert response.headers == [(b":status", b"503"), (b"content-type", b"text/html")]


def test_message_split_padded_and_lying(pair: Pair) -> None:
    stream_id = pair.request()
    pair.to_peer()
    pair.peer.send_response_headers(stream_id)
    pair.peer.send_message(stream_id, b"0123456789", split=4, pad_length=3)
    pair.peer.send_message(stream_id, b"ab", compressed_flag=1, declared_length=9)
    pair.peer.send_message(stream_id, b"", pad_length=0, end_stream=True)
    events = pair.to_client()
    data_frames = [f for f in pair.frames() if isinstance(f, DataFrame)]
    sizes = [(len(f.data), f.pad_length, "PADDED" in f.flags) for f in data_frames]
    assert sizes == [
        (4, 3, True),
        (4, 3, True),
        (4, 3, True),
        (3, 3, True),
        (7, 0, False),
        (5, 0, True),
    ]
    assert b"".join(f.data for f in data_frames[:4]) == encode_grpc_message(
        b"0123456789"
    )
    assert data_frames[4].data == b"\1\0\0\0\x09ab"
    assert set(data_frames[5].flags) == {"PADDED", "END_STREAM"}
    received = only(events, h2.events.DataReceived)
    assert [e.flow_controlled_length for e in received] == [8, 8, 8, 7, 7, 6]
    assert isinstance(events[-1], h2.events.StreamEnded)


def test_send_raw_data_is_not_prefixed(pair: Pair) -> None:
    stream_id = pair.request()
    pair.to_peer()
    pair.peer.send_response_headers(stream_id)
    pair.peer.send_raw_data(stream_id, b"\0\0\0", end_stream=True, pad_length=200)
    pair.to_client()
    _, frame = pair.frames()
    assert isinstance(frame, DataFrame)
    assert (frame.data, frame.pad_length) == (b"\0\0\0", 200)
    assert set(frame.flags) == {"PADDED", "END_STREAM"}
    with pytest.raises(ValueError, match="split"):
        pair.peer.send_raw_data(stream_id, b"x", split=0)


def test_data_split_at_client_max_frame_size(pair: Pair) -> None:
    stream_id = pair.request()
    pair.to_peer()
    pair.peer.reply(stream_id, b"m" * 40000)
    events = pair.to_client()
    sizes = [len(f.data) for f in pair.frames() if isinstance(f, DataFrame)]
    assert sizes == [16384, 16384, 40005 - 2 * 16384]
    assert grpc_messages(events) == [b"m" * 40000]


# -- flow control ---------------------------------------------------------


def test_data_waits_for_window_and_trailers_wait_behind_it(pair: Pair) -> None:
    stream_id = pair.request_into_window(10)
    pair.peer.reply(stream_id, b"z" * 20)
    events = pair.to_client()
    assert only(events, h2.events.ResponseReceived)
    assert [len(e.data) for e in only(events, h2.events.DataReceived)] == [10]
    assert not only(events, h2.events.TrailersReceived)
    assert pair.peer.pending(stream_id) == 15
    pair.client.increment_flow_control_window(100, stream_id=stream_id)
    assert pair.to_peer() == [WindowUpdated(stream_id, 100)]
    assert pair.peer.pending(stream_id) == 0
    events = pair.to_client()
    assert [len(e.data) for e in only(events, h2.events.DataReceived)] == [15]
    assert only(events, h2.events.TrailersReceived)
    assert isinstance(events[-1], h2.events.StreamEnded)


def test_padding_counts_against_the_window(pair: Pair) -> None:
    stream_id = pair.request_into_window(10)
    pair.peer.send_response_headers(stream_id)
    pair.peer.send_message(stream_id, b"abc", pad_length=4)  # 8 bytes + 5 padding
    pair.to_client()
    _, frame = pair.frames()
    assert isinstance(frame, DataFrame)
    assert (len(frame.data), frame.pad_length) == (5, 4)
    assert pair.peer.pending(stream_id) == 3


def test_settings_increase_releases_queued_data(pair: Pair) -> None:
    stream_id = pair.request_into_window(0)
    pair.peer.reply(stream_id, b"abc")
    assert only(pair.to_client(), h2.events.DataReceived) == []
    pair.client.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 1000})
    changes = pair.to_peer()
    assert changes == [SettingsReceived({SettingCodes.INITIAL_WINDOW_SIZE: 1000})]
    assert grpc_messages(pair.to_client()) == [b"abc"]


def test_auto_ack_data_uses_h2_policy(pair: Pair) -> None:
    stream_id = pair.request(b"x" * 40000, end=False)
    pair.to_peer()
    pair.to_client()
    updates = [f for f in pair.frames() if isinstance(f, WindowUpdateFrame)]
    assert sorted(f.stream_id for f in updates) == [0, stream_id]


def test_manual_acknowledgement_stalls_the_client() -> None:
    p = Pair(auto_ack_data=False).handshake()
    stream_id = p.request(b"x" * 40000, end=False)
    p.to_peer()
    assert p.peer.data_to_send() == b""
    assert p.client.outbound_flow_control_window == 65535 - 40005
    p.peer.acknowledge(stream_id, 40005)
    p.peer.window_update(0, 1000)
    p.peer.window_update(stream_id, 7)
    events = p.to_client()
    deltas = [(e.stream_id, e.delta) for e in only(events, h2.events.WindowUpdated)]
    assert deltas == [(0, 40005), (stream_id, 40005), (0, 1000), (stream_id, 7)]
    assert p.client.outbound_flow_control_window == 65535 + 1000


# -- resets and GOAWAY ----------------------------------------------------


def test_reset_drops_queued_data(pair: Pair) -> None:
    stream_id = pair.request_into_window(5)
    pair.peer.reply(stream_id, b"z" * 20)
    pair.peer.reset(stream_id, ErrorCodes.REFUSED_STREAM)
    assert pair.peer.pending(stream_id) == 0
    events = pair.to_client()
    (reset,) = only(events, h2.events.StreamReset)
    assert reset.error_code == ErrorCodes.REFUSED_STREAM
    assert isinstance(pair.frames()[-1], RstStreamFrame)


def test_client_reset_is_reported(pair: Pair) -> None:
    stream_id = pair.request(end=False)
    pair.to_peer()
    pair.client.reset_stream(stream_id, ErrorCodes.CANCEL)
    assert pair.to_peer() == [StreamReset(stream_id, ErrorCodes.CANCEL)]
    assert pair.peer.requests[stream_id].reset_code == ErrorCodes.CANCEL


def test_goaway(pair: Pair) -> None:
    first = pair.request()
    pair.request()
    pair.to_peer()
    pair.peer.goaway(
        error_code=ErrorCodes.ENHANCE_YOUR_CALM, debug_data=b"too_many_pings"
    )
    (gone,) = pair.to_client()
    assert isinstance(gone, h2.events.ConnectionTerminated)
    assert gone.last_stream_id == first + 2
    assert gone.error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert gone.additional_data == b"too_many_pings"


def test_graceful_goaway_then_the_call_still_finishes(pair: Pair) -> None:
    stream_id = pair.request()
    pair.to_peer()
    pair.peer.goaway(last_stream_id=2**31 - 1)
    pair.peer.ping(b"shutdown")
    pair.peer.goaway(last_stream_id=stream_id)
    pair.peer.reply(stream_id, b"done")
    frames = parse_frames(pair.peer.data_to_send())
    assert [type(f) for f in frames] == [
        GoAwayFrame,
        PingFrame,
        GoAwayFrame,
        HeadersFrame,
        DataFrame,
        HeadersFrame,
    ]
    assert [f.last_stream_id for f in frames if isinstance(f, GoAwayFrame)] == [
        2**31 - 1,
        stream_id,
    ]
    decoder = hpack.Decoder()
    blocks = [
        decoder.decode(f.data, raw=True) for f in frames if isinstance(f, HeadersFrame)
    ]
    assert blocks == [GRPC_HEADERS, [(b"grpc-status", b"0")]]


def test_client_goaway_is_reported(pair: Pair) -> None:
    pair.client.close_connection(error_code=ErrorCodes.NO_ERROR, additional_data=b"bye")
    assert pair.to_peer() == [ConnectionClosed(0, 0, b"bye")]


# -- SETTINGS and PING ----------------------------------------------------


def test_update_settings_binds_on_ack(pair: Pair) -> None:
    pair.peer.update_settings(
        {SettingCodes.MAX_FRAME_SIZE: 32768, SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20}
    )
    (changed,) = only(pair.to_client(), h2.events.RemoteSettingsChanged)
    new = {k: v.new_value for k, v in changed.changed_settings.items()}
    assert new == {
        SettingCodes.MAX_FRAME_SIZE: 32768,
        SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20,
    }
    assert pair.peer.connection.max_inbound_frame_size == 16384
    assert pair.to_peer() == [SettingsAcked()]
    assert pair.peer.connection.max_inbound_frame_size == 32768


def test_ping_both_ways(pair: Pair) -> None:
    pair.peer.ping(b"12345678")
    (ping,) = pair.to_client()
    assert isinstance(ping, h2.events.PingReceived)
    assert pair.to_peer() == [PingAcked(b"12345678")]
    pair.client.ping(b"abcdefgh")
    assert pair.to_peer() == [PingReceived(b"abcdefgh")]
    pair.to_client()
    (ack,) = pair.frames()
    assert isinstance(ack, PingFrame)
    assert set(ack.flags) == {"ACK"}
    assert ack.opaque_data == b"abcdefgh"


# -- HPACK and header blocks ----------------------------------------------


def test_table_size_update_reaches_the_client_decoder(pair: Pair) -> None:
    stream_id = pair.request()
    pair.to_peer()
    pair.peer.set_header_table_size(0)
    pair.peer.reply(stream_id, b"x")
    events = pair.to_client()
    assert only(events, h2.events.StreamEnded)
    first = pair.frames()[0]
    assert isinstance(first, HeadersFrame)
    assert bytes(first.data[:1]) == b"\x20"  # 001xxxxx: dynamic table size update to 0
    assert pair.client.decoder.header_table_size == 0


def test_same_size_update_is_still_emitted(pair: Pair) -> None:
    stream_id = pair.request()
    pair.to_peer()
    pair.peer.set_header_table_size(4096)
    pair.peer.send_response_headers(stream_id)
    pair.to_client()
    (frame,) = pair.frames()
    assert isinstance(frame, HeadersFrame)
    assert frame.data[:3] == b"\x3f\xe1\x1f"  # 4096 = 31 + 4065


def test_oversized_table_update_is_refused_by_the_client(pair: Pair) -> None:
    stream_id = pair.request()
    pair.to_peer()
    pair.peer.set_header_table_size(8192)
    pair.peer.send_response_headers(stream_id)
    with pytest.raises(h2.exceptions.ProtocolError):
        pair.to_client()


def test_header_table_size_survives_client_settings() -> None:
    p = Pair(header_table_size=256)
    p.client.update_settings({SettingCodes.HEADER_TABLE_SIZE: 1024})
    p.handshake()
    p.to_client()
    stream_id = p.request()
    p.to_peer()
    p.peer.reply(stream_id, b"x")
    assert only(p.to_client(), h2.events.StreamEnded)
    assert p.client.decoder.header_table_size == 256


def test_large_trailers_use_continuation(pair: Pair) -> None:
    stream_id = pair.request()
    pair.to_peer()
    big = "a" * 60000  # a 37,522-byte block once Huffman-coded (5 bits per "a")
    pair.peer.send_response_headers(stream_id)
    pair.peer.send_trailers(stream_id, extra=[("x-big", big)])
    events = pair.to_client()
    frames = pair.frames()
    assert shape(frames) == [
        ("HeadersFrame", ["END_HEADERS"]),
        ("HeadersFrame", ["END_STREAM"]),  # trailers: END_HEADERS comes later
        ("ContinuationFrame", []),
        ("ContinuationFrame", ["END_HEADERS"]),
    ]
    fragments = [f.data for f in frames if isinstance(f, ContinuationFrame)]
    assert [len(f) for f in fragments] == [16384, 37522 - 2 * 16384]
    (trailers,) = only(events, h2.events.TrailersReceived)
    assert trailers.headers == [(b"grpc-status", b"0"), (b"x-big", big.encode())]


def test_raw_headers_padded_prioritised_and_fragmented(pair: Pair) -> None:
    stream_id = pair.request()
    pair.to_peer()
    pair.peer.send_raw_headers(
        stream_id,
        GRPC_HEADERS,
        pad_length=5,
        priority=(0, 16, True),
        fragment_size=2,
    )
    pair.peer.reply(stream_id, b"ok")  # headers count as sent: not repeated
    events = pair.to_client()
    frames = pair.frames()
    first = frames[0]
    assert isinstance(first, HeadersFrame)
    assert set(first.flags) == {"PADDED", "PRIORITY"}
    assert (first.pad_length, first.stream_weight, first.exclusive) == (5, 15, True)
    assert len(first.data) == 2
    assert isinstance(frames[1], ContinuationFrame)
    (response,) = only(events, h2.events.ResponseReceived)
    assert response.headers == GRPC_HEADERS
    assert grpc_messages(events) == [b"ok"]
    assert only(events, h2.events.StreamEnded)


def test_raw_headers_can_leave_the_block_open(pair: Pair) -> None:
    stream_id = pair.request()
    pair.to_peer()
    pair.peer.send_raw_headers(stream_id, GRPC_HEADERS, end_headers=False)
    pair.peer.ping()
    with pytest.raises(h2.exceptions.ProtocolError):
        pair.to_client()


# -- raw frames -----------------------------------------------------------


def test_raw_frames_keep_their_place_after_h2_output(pair: Pair) -> None:
    pair.peer.ping(b"firstone")
    pair.peer.send_raw_frame(PingFrame(0, b"secondxx"))
    pair.peer.send_raw_frame(raw_frame(0x6, 0, 0, b"thirdxxx"))
    frames = parse_frames(pair.peer.data_to_send())
    data = [f.opaque_data for f in frames if isinstance(f, PingFrame)]
    assert data == [b"firstone", b"secondxx", b"thirdxxx"]


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(raw_frame(0x0, 0, 0, b"x"), id="data-on-stream-0"),
        pytest.param(raw_frame(0x0, 0x8, 1, b"\x09abc"), id="padding-too-long"),
        pytest.param(raw_frame(0x0, 0, 1, b"x" * 16385), id="oversized"),
        pytest.param(
            ContinuationFrame(1, b"\x88", flags=["END_HEADERS"]), id="naked-cont"
        ),
        pytest.param(raw_frame(0x6, 0, 0, b"short"), id="short-ping"),
    ],
)
def test_malformed_raw_frames_break_the_client(
    pair: Pair, frame: Frame | bytes
) -> None:
    pair.request()
    pair.to_peer()
    pair.peer.send_raw_frame(frame)
    with pytest.raises(h2.exceptions.ProtocolError):
        pair.to_client()


def test_push_promise_is_refused_when_push_is_off() -> None:
    p = Pair()
    p.client.update_settings({SettingCodes.ENABLE_PUSH: 0})
    p.handshake()
    p.to_client()
    p.to_peer()
    stream_id = p.request()
    p.to_peer()
    block = p.peer.encode_header_block([(":method", "GET"), (":path", "/")])
    promise = PushPromiseFrame(stream_id, promised_stream_id=2, data=block)
    promise.flags.add("END_HEADERS")
    p.peer.send_raw_frame(promise)
    with pytest.raises(h2.exceptions.ProtocolError):
        p.to_client()


# -- a misbehaving client -------------------------------------------------


def test_client_protocol_violation() -> None:
    p = Pair()
    p.peer.receive_data(p.client.data_to_send())
    (violation,) = p.peer.receive_data(raw_frame(0x0, 0, 0, b"x"))
    assert isinstance(violation, ProtocolViolation)
    assert violation.error_code == ErrorCodes.PROTOCOL_ERROR
    assert p.peer.terminated
    goaway = parse_frames(p.peer.data_to_send())[-1]
    assert isinstance(goaway, GoAwayFrame)
    assert goaway.error_code == ErrorCodes.PROTOCOL_ERROR
    assert p.peer.receive_data(b"more") == []


def test_bad_preface_is_a_violation() -> None:
    (violation,) = FakeEtcdPeer().receive_data(b"GET / HTTP/1.1\r\n\r\n" * 2)
    assert isinstance(violation, ProtocolViolation)


def test_inbound_header_validation_can_be_disabled() -> None:
    bad = [*REQUEST_HEADERS, (b"Upper", b"x")]
    for validate, expected in ((True, ProtocolViolation), (False, RequestReceived)):
        p = Pair(validate_inbound_headers=validate)
        client = H2Connection(
            H2Configuration(client_side=True, validate_outbound_headers=False)
        )
        client.config.normalize_outbound_headers = False
        client.initiate_connection()
        p.client = client
        p.handshake()
        p.client.send_headers(1, bad, end_stream=True)
        events = p.to_peer()
        assert isinstance(events[0], expected)


def test_receive_eof() -> None:
    peer = FakeEtcdPeer()
    assert peer.receive_eof() == [ConnectionLost()]
    assert peer.terminated


# -- ready-made handlers, sans-IO -----------------------------------------


def drive(p: Pair, handler: Callable[[FakeEtcdPeer, PeerEvent], None]) -> None:
    for event in p.to_peer():
        handler(p.peer, event)


def test_echo_unary_handler(pair: Pair) -> None:
    pair.request(b"one", b"two")
    drive(pair, echo_unary_handler)
    events = pair.to_client()
    assert grpc_messages(events) == [b"one", b"two"]
    assert only(events, h2.events.StreamEnded)


def test_canned_reply_handler(pair: Pair) -> None:
    pair.request(b"q")
    drive(pair, canned_reply_handler(b"a", grpc_status=14, grpc_message="down"))
    events = pair.to_client()
    assert grpc_messages(events) == [b"a"]
    (trailers,) = only(events, h2.events.TrailersReceived)
    assert trailers.headers == [(b"grpc-status", b"14"), (b"grpc-message", b"down")]


# -- PeerServer over sockets ----------------------------------------------


class SocketClient:
    """A blocking h2 client on a plain socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.settimeout(5.0)
        self.h2 = new_client()
        self.flush()

    def flush(self) -> None:
        self.sock.sendall(self.h2.data_to_send())

    def read_until(
        self, done: Callable[[list[h2.events.Event]], bool]
    ) -> list[h2.events.Event]:
        events: list[h2.events.Event] = []
        while not done(events):
            data = self.sock.recv(65536)
            assert data, "server closed the connection"
            events += self.h2.receive_data(data)
            self.flush()
        return events

    def handshake(self) -> None:
        self.read_until(lambda ev: bool(only(ev, h2.events.SettingsAcknowledged)))

    def call(self, *messages: bytes) -> list[h2.events.Event]:
        stream_id = self.h2.get_next_available_stream_id()
        self.h2.send_headers(stream_id, REQUEST_HEADERS)
        body = b"".join(encode_grpc_message(m) for m in messages)
        self.h2.send_data(stream_id, body, end_stream=True)
        self.flush()
        return self.read_until(
            lambda ev: any(
                isinstance(e, h2.events.StreamEnded) and e.stream_id == stream_id
                for e in ev
            )
        )


def test_server_over_socketpair_echoes() -> None:
    with PeerServer(echo_unary_handler) as server:
        assert server.client_socket is not None
        client = SocketClient(server.client_socket)
        client.handshake()
        events = client.call(b"hello", b"world")
        assert grpc_messages(events) == [b"hello", b"world"]
        assert server.peer.requests[1].path == PATH


def test_server_script_from_the_test_thread() -> None:
    with PeerServer() as server:
        assert server.client_socket is not None
        client = SocketClient(server.client_socket)
        client.handshake()
        with server.script() as peer:
            peer.ping(b"fromtest")
        (ping,) = client.read_until(lambda ev: bool(ev))
        assert isinstance(ping, h2.events.PingReceived)
        assert ping.ping_data == b"fromtest"


def test_server_stop_reading_blocks_the_client() -> None:
    with PeerServer() as server:
        sock = server.client_socket
        assert sock is not None
        client = SocketClient(sock)
        client.handshake()
        server.stop_reading()
        sock.setblocking(False)
        written = 0
        with pytest.raises(BlockingIOError):  # noqa: PT012
            for _ in range(10_000):
                written += sock.send(b"\0" * 65536)
        assert written > 0
        assert server.peer.requests == {}


def test_server_resume_reading() -> None:
    with PeerServer() as server:
        sock = server.client_socket
        assert sock is not None
        client = SocketClient(sock)
        client.handshake()
        server.stop_reading()
        client.h2.ping(b"waiting!")
        client.flush()
        assert select.select([sock], [], [], 0.1)[0] == []
        server.resume_reading()
        events = client.read_until(lambda ev: bool(ev))
        assert isinstance(events[0], h2.events.PingAckReceived)


def test_server_eof_reports_connection_lost() -> None:
    seen: list[PeerEvent] = []
    with PeerServer(lambda peer, event: seen.append(event)) as server:
        assert server.client_socket is not None
        server.client_socket.close()
        assert server.connection.closed.wait(5.0)
    assert seen == [ConnectionLost()]


def test_server_delay() -> None:
    with PeerServer(echo_unary_handler, delay=0.15) as server:
        assert server.client_socket is not None
        client = SocketClient(server.client_socket)
        client.handshake()
        started = time.monotonic()
        client.call(b"slow")
        assert time.monotonic() - started >= 0.15


def test_server_handler_errors_are_raised_on_close() -> None:
    def broken(peer: FakeEtcdPeer, event: PeerEvent) -> None:
        if isinstance(event, RequestReceived):
            raise RuntimeError("boom")

    server = PeerServer(broken)
    assert server.client_socket is not None
    client = SocketClient(server.client_socket)
    client.handshake()
    client.h2.send_headers(1, REQUEST_HEADERS, end_stream=True)
    client.flush()
    assert server.connection.closed.wait(5.0)
    assert server.client_socket.recv(100) == b""
    with pytest.raises(RuntimeError, match="boom"):
        server.close()


def test_tcp_server_abort_and_reconnect() -> None:
    with PeerServer(canned_reply_handler(b"pong"), listen=True) as server:
        assert server.address is not None
        for index in range(2):
            with socket.create_connection(server.address) as sock:
                client = SocketClient(sock)
                client.handshake()
                assert grpc_messages(client.call(b"ping")) == [b"pong"]
                assert server.wait_for_connection(index) is server.connection
                server.abort()
                # SO_LINGER 0 makes the abort a TCP RST, seen as a reset or EOF
                with contextlib.suppress(ConnectionResetError):
                    assert sock.recv(100) == b""
        assert len(server.connections) == 2


def test_wait_for_connection_times_out() -> None:
    with PeerServer(listen=True) as server, pytest.raises(TimeoutError):
        server.wait_for_connection(0, timeout=0.05)


def test_server_peer_factory() -> None:
    def factory() -> FakeEtcdPeer:
        return FakeEtcdPeer(local_settings={SettingCodes.MAX_CONCURRENT_STREAMS: 1})

    with PeerServer(peer_factory=factory) as server:
        assert server.client_socket is not None
        client = SocketClient(server.client_socket)
        client.handshake()
        assert client.h2.remote_settings.max_concurrent_streams == 1


def test_threads_are_joined() -> None:
    before = threading.active_count()
    with PeerServer(echo_unary_handler) as server:
        assert server.client_socket is not None
        SocketClient(server.client_socket).handshake()
    assert threading.active_count() == before


def test_server_close_is_idempotent() -> None:
    server = PeerServer(listen=True)
    server.close()
    server.close()
