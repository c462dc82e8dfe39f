"""Our HTTP/2 client (`_core/h2/connection.py`) and the gRPC layer above it
against bytes we did not frame ourselves: python-hyper's h2, server side,
and hyperframe.  server_frames.py builds frames with our own framer, so a
parser test written with it can share the framer's mistakes; here every
server frame comes from h2 or hyperframe, and h2 judges what our client
writes (it raises on any protocol violation).  Where our framer can build
the same response, the events must be the same too."""

from __future__ import annotations

from typing import Any, Callable, List, Sequence, Tuple, Union

import h2.errors
import h2.events as he
import h2.settings
import hpack
import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from hyperframe import frame as hf

from pyetcd_wire._core.grpc import events as ge
from pyetcd_wire._core.grpc.connection import GrpcConnection
from pyetcd_wire._core.grpc.framing import encode_message
from pyetcd_wire._core.grpc.status import StatusCode
from pyetcd_wire._core.h2 import events as ce
from pyetcd_wire._core.h2 import frames as fr
from pyetcd_wire._core.h2.connection import (
    DEFAULT_CONNECTION_WINDOW,
    DEFAULT_MAX_HEADER_LIST_SIZE,
    DEFAULT_STREAM_WINDOW,
    H2ClientConnection,
)
from pyetcd_wire.errors import LocalProtocolError, RemoteProtocolError

from .server_frames import Server

Client = Union[H2ClientConnection, GrpcConnection]
PATH = "/etcdserverpb.KV/Range"
REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", PATH.encode()),
    (b":authority", b"127.0.0.1:2379"),
    (b"content-type", b"application/grpc"),
    (b"te", b"trailers"),
]
RESPONSE = [(b":status", b"200"), (b"content-type", b"application/grpc")]
OK = [(b"grpc-status", b"0")]
S = h2.settings.SettingCodes


def h2_server() -> H2Connection:
    return H2Connection(config=H2Configuration(client_side=False, header_encoding=None))


class Pair:
    """Our client and h2's server, bytes pumped by hand (h11's
    ConnectionPair).  The handshake is done: both sides' SETTINGS are sent
    and acknowledged."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.server = h2_server()
        self.encoder = hpack.Encoder()  # the request headers of H2ClientConnection
        client.initiate()
        self.server.initiate_connection()
        #: Every event of h2, in order: the judge's record.
        self.judged: List[he.Event] = []
        self.to_server()
        self.handshake = self.server.data_to_send()
        assert client.receive_data(self.handshake) == []
        self.to_server()

    @property
    def h2(self) -> H2ClientConnection:
        assert isinstance(self.client, H2ClientConnection)
        return self.client

    @property
    def grpc(self) -> GrpcConnection:
        assert isinstance(self.client, GrpcConnection)
        return self.client

    def to_server(self) -> List[he.Event]:
        """What the client wrote, read by h2 (which raises on a violation)."""
        events = self.server.receive_data(self.client.data_to_send())
        self.judged.extend(events)
        return events

    def to_client(self) -> List[Any]:
        return self.client.receive_data(self.server.data_to_send())

    def open(self, *, end_stream: bool = True, data: bytes = b"") -> int:
        """A request on our H2ClientConnection (h2 validates its headers)."""
        block = self.encoder.encode(REQUEST)
        sid = self.h2.open_stream(block, end_stream=end_stream, data=data)
        events = self.to_server()
        received = [e for e in events if isinstance(e, he.RequestReceived)]
        assert [e.stream_id for e in received] == [sid]
        return sid


def h2_pair() -> Pair:
    return Pair(H2ClientConnection())


def grpc_pair() -> Pair:
    return Pair(GrpcConnection(authority="127.0.0.1:2379"))


def hyper_frames(data: bytes) -> List[hf.Frame]:
    """`data` (after the client preface, if any) parsed by hyperframe."""
    if data.startswith(fr.PREFACE):
        data = data[len(fr.PREFACE) :]
    frames = []
    view = memoryview(data)
    while view:
        frame, length = hf.Frame.parse_frame_header(view[:9])
        frame.parse_body(view[9 : 9 + length])
        frames.append(frame)
        view = view[9 + length :]
    return frames


def joined(events: Sequence[Any]) -> List[Tuple[Any, ...]]:
    """Client events as comparable values; consecutive DATA of one stream
    joined (how a run of frames is cut into events is no behaviour)."""
    out: List[Tuple[Any, ...]] = []
    for event in events:
        if isinstance(event, ce.DataReceived):
            if out and out[-1][0] == "data" and out[-1][1] == event.stream_id:
                _, sid, data, _ = out.pop()
                out.append(("data", sid, data + event.data, event.end_stream))
            else:
                out.append(("data", event.stream_id, event.data, event.end_stream))
        elif isinstance(event, ce.HeadersReceived):
            out.append(("headers", event.stream_id, event.headers, event.end_stream))
        elif isinstance(event, ge.MessageReceived):
            out.append(("message", event.message))
        elif isinstance(event, ge.ResponseHeadersReceived):
            out.append(("response-headers", event.headers))
        elif isinstance(event, ge.CallEnded):
            status = event.status
            out.append(("ended", status.code, status.message, event.error))
        else:
            out.append((type(event).__name__, *event._fields()))
    return out


def calls(events: Sequence[Any]) -> List[Tuple[Any, ...]]:
    """`joined`, without the response headers a unary call may not report."""
    return [e for e in joined(events) if e[0] != "response-headers"]


def fresh_encoder() -> hpack.Encoder:
    """An encoder for frames hyperframe builds: without a dynamic table, as
    our client's SETTINGS_HEADER_TABLE_SIZE 0 asks."""
    encoder = hpack.Encoder()
    encoder.header_table_size = 0
    return encoder


def send_chunked(server: H2Connection, sid: int, data: bytes) -> int:
    """DATA frames of h2's largest size; how many."""
    size = server.max_outbound_frame_size
    for i in range(0, len(data), size):
        server.send_data(sid, data[i : i + size])
    return -(-len(data) // size)


def unary_started(pair: Pair) -> int:
    """A unary call on the gRPC pair, read by h2; its stream."""
    call = pair.grpc.unary(PATH, b"req")
    pair.to_server()
    assert call.stream_id is not None
    return call.stream_id


def judged_errors(pair: Pair) -> List[he.Event]:
    return [e for e in pair.judged if isinstance(e, he.ConnectionTerminated)]


# --- what h2 sends, read by our client ------------------------------------------


def test_the_handshake_is_accepted_by_h2() -> None:
    pair = h2_pair()
    changed = [e for e in pair.judged if isinstance(e, he.RemoteSettingsChanged)]
    assert len(changed) == 1
    settings = {k: v.new_value for k, v in changed[0].changed_settings.items()}
    assert settings == {
        S.HEADER_TABLE_SIZE: 0,
        S.ENABLE_PUSH: 0,
        S.INITIAL_WINDOW_SIZE: DEFAULT_STREAM_WINDOW,
        S.MAX_HEADER_LIST_SIZE: DEFAULT_MAX_HEADER_LIST_SIZE,
    }
    (grant,) = [e for e in pair.judged if isinstance(e, he.WindowUpdated)]
    assert (grant.stream_id, grant.delta) == (0, DEFAULT_CONNECTION_WINDOW - 65535)
    assert any(isinstance(e, he.SettingsAcknowledged) for e in pair.judged)
    assert judged_errors(pair) == []


def test_settings_with_every_standard_setting() -> None:
    client = H2ClientConnection()
    client.initiate()
    client.data_to_send()
    settings = hf.SettingsFrame(
        0,
        settings={
            hf.SettingsFrame.HEADER_TABLE_SIZE: 8192,
            hf.SettingsFrame.ENABLE_PUSH: 0,
            hf.SettingsFrame.MAX_CONCURRENT_STREAMS: 7,
            hf.SettingsFrame.INITIAL_WINDOW_SIZE: 1000,
            hf.SettingsFrame.MAX_FRAME_SIZE: 32768,
            hf.SettingsFrame.MAX_HEADER_LIST_SIZE: 10000,
            hf.SettingsFrame.ENABLE_CONNECT_PROTOCOL: 1,  # RFC 8441
            0x99: 5,  # unknown: ignored (RFC 9113 §6.5.2)
        },
    )
    assert client.receive_data(settings.serialize()) == []
    remote = client.remote
    assert (
        remote.header_table_size,
        remote.max_concurrent_streams,
        remote.initial_window_size,
        remote.max_frame_size,
        remote.max_header_list_size,
    ) == (8192, 7, 1000, 32768, 10000)
    (ack,) = hyper_frames(client.data_to_send())
    assert isinstance(ack, hf.SettingsFrame)
    assert set(ack.flags) == {"ACK"}
    assert ack.settings == {}


def test_server_settings_bind_what_the_client_sends() -> None:
    pair = h2_pair()
    pair.server.update_settings(
        {
            S.MAX_FRAME_SIZE: 20000,
            S.INITIAL_WINDOW_SIZE: 1000,
            S.MAX_CONCURRENT_STREAMS: 1,
        }
    )
    assert pair.to_client() == []
    assert any(isinstance(e, he.SettingsAcknowledged) for e in pair.to_server())
    body = bytes(range(256)) * 200  # 51,200 octets
    sid = pair.open(end_stream=True, data=body)
    with pytest.raises(LocalProtocolError, match="concurrent streams"):
        pair.h2.open_stream(pair.encoder.encode(REQUEST), end_stream=True)
    events = pair.judged
    received = b""
    while True:
        data = [e for e in events if isinstance(e, he.DataReceived)]
        assert all(len(e.data) <= 20000 for e in data)  # h2 checks it too
        received += b"".join(e.data for e in data)
        if any(isinstance(e, he.StreamEnded) for e in events):
            break
        assert data, "the client stalled"
        pair.server.increment_flow_control_window(30000, stream_id=sid)
        pair.server.increment_flow_control_window(30000)
        pair.to_client()
        events = pair.to_server()
    assert received == body
    assert judged_errors(pair) == []


def test_headers_with_continuation_from_h2() -> None:
    pair = h2_pair()
    sid = pair.open()
    big = b"v" * 40000  # over two of the client's 16 KiB frames
    pair.server.send_headers(sid, [*RESPONSE, (b"x-big", big)])
    wire = pair.server.data_to_send()
    kinds = [type(f).__name__ for f in hyper_frames(wire)]
    assert kinds == ["HeadersFrame", "ContinuationFrame", "ContinuationFrame"]
    (event,) = pair.client.receive_data(wire)
    assert isinstance(event, ce.HeadersReceived)
    assert dict(event.headers)[b"x-big"] == big
    assert not event.end_stream


@pytest.mark.parametrize("piece", [1, 2, 7])
def test_a_header_block_in_tiny_continuation_fragments(piece: int) -> None:
    pair = h2_pair()
    sid = pair.open()
    block = fresh_encoder().encode([*RESPONSE, (b"x-note", b"n" * 40)])
    chunks = [block[i : i + piece] for i in range(0, len(block), piece)]
    wire = hf.HeadersFrame(sid, data=chunks[0]).serialize()
    for i, chunk in enumerate(chunks[1:], 2):
        flags = ["END_HEADERS"] if i == len(chunks) else []
        wire += hf.ContinuationFrame(sid, data=chunk, flags=flags).serialize()
    (event,) = pair.client.receive_data(wire)
    assert isinstance(event, ce.HeadersReceived)
    assert dict(event.headers)[b"x-note"] == b"n" * 40


def test_a_frame_between_headers_and_continuation_is_a_protocol_error() -> None:
    pair = h2_pair()
    sid = pair.open()
    block = fresh_encoder().encode(RESPONSE)
    wire = (
        hf.HeadersFrame(sid, data=block[:2]).serialize()
        + hf.PingFrame(0, opaque_data=b"12345678").serialize()
        + hf.ContinuationFrame(sid, data=block[2:], flags=["END_HEADERS"]).serialize()
    )
    events = pair.client.receive_data(wire)
    assert isinstance(events[-1], ce.ConnectionTerminated)
    assert isinstance(events[-1].error, RemoteProtocolError)
    assert "CONTINUATION" in str(events[-1].error)
    goaway = hyper_frames(pair.client.data_to_send())[-1]
    assert isinstance(goaway, hf.GoAwayFrame)
    assert goaway.error_code == h2.errors.ErrorCodes.PROTOCOL_ERROR


def test_padded_headers_with_priority_and_padded_data() -> None:
    pair = h2_pair()
    sid = pair.open()
    block = fresh_encoder().encode(RESPONSE)
    headers = hf.HeadersFrame(
        sid, data=block, flags=["END_HEADERS", "PADDED", "PRIORITY"], pad_length=17
    )
    headers.depends_on, headers.stream_weight, headers.exclusive = 0, 200, True
    data = hf.DataFrame(sid, data=b"payload", flags=["PADDED"], pad_length=255)
    last = hf.DataFrame(sid, data=b"", flags=["END_STREAM", "PADDED"], pad_length=0)
    events = pair.client.receive_data(
        headers.serialize() + data.serialize() + last.serialize()
    )
    assert joined(events) == [
        ("headers", sid, tuple(RESPONSE), False),
        ("data", sid, b"payload", True),
    ]


def test_padded_data_from_h2_is_credited_and_judged() -> None:
    pair = grpc_pair()
    sid = unary_started(pair)
    pair.server.send_headers(sid, RESPONSE)
    pair.server.send_data(sid, encode_message(b"resp"), pad_length=100)
    pair.server.send_headers(sid, OK, end_stream=True)
    events = pair.to_client()
    assert calls(events) == [
        ("message", b"resp"),
        ("ended", StatusCode.OK, "", None),
    ]
    pair.to_server()
    assert judged_errors(pair) == []


@pytest.mark.parametrize("stream_id", [1, 3, 2], ids=["open", "idle", "server-idle"])
def test_priority_frames_are_ignored(stream_id: int) -> None:
    """RFC 9113 §5.1: PRIORITY may arrive on a stream in any state, idle
    ones included; §5.3.2: it is deprecated, and ignored."""
    pair = h2_pair()
    pair.open()
    priority = hf.PriorityFrame(stream_id, depends_on=0, stream_weight=16)
    assert pair.client.receive_data(priority.serialize()) == []
    assert pair.h2.accepts_streams


def test_window_update_from_h2_releases_data_the_client_holds() -> None:
    pair = h2_pair()
    body = b"x" * 100_000  # more than the default 65,535 windows
    sid = pair.open(end_stream=True, data=body)
    received = b"".join(e.data for e in pair.judged if isinstance(e, he.DataReceived))
    assert len(received) == 65535
    pair.server.increment_flow_control_window(100_000)
    pair.to_client()
    assert pair.to_server() == []  # the stream's window is still spent
    pair.server.increment_flow_control_window(100_000, stream_id=sid)
    pair.to_client()
    events = pair.to_server()
    received += b"".join(e.data for e in events if isinstance(e, he.DataReceived))
    assert received == body
    assert any(isinstance(e, he.StreamEnded) for e in events)


def test_ping_both_ways() -> None:
    pair = h2_pair()
    pair.server.ping(b"server!!")
    assert pair.to_client() == []
    (ack,) = pair.to_server()
    assert isinstance(ack, he.PingAckReceived)
    assert ack.ping_data == b"server!!"
    pair.h2.ping(b"client!!")
    (received,) = pair.to_server()
    assert isinstance(received, he.PingReceived)
    assert pair.to_client() == [ce.PingAcknowledged(data=b"client!!")]


def test_rst_stream_from_h2() -> None:
    pair = grpc_pair()
    client = pair.grpc
    sid = unary_started(pair)
    pair.server.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
    (ended,) = pair.to_client()
    assert isinstance(ended, ge.CallEnded)
    assert ended.status.code is StatusCode.UNAVAILABLE
    assert client.active_calls == 0


def test_goaway_with_debug_data_from_h2() -> None:
    pair = h2_pair()
    first = pair.open(end_stream=False)
    second = pair.open(end_stream=False)
    pair.server.close_connection(
        error_code=h2.errors.ErrorCodes.ENHANCE_YOUR_CALM,
        additional_data=b"too_many_pings",
        last_stream_id=first,
    )
    events = pair.to_client()
    assert events == [
        ce.GoAwayReceived(
            last_stream_id=first,
            error_code=h2.errors.ErrorCodes.ENHANCE_YOUR_CALM,
            debug_data=b"too_many_pings",
            refused_stream_ids=(second,),
        )
    ]
    assert not pair.h2.accepts_streams


def test_a_trailers_only_response_from_h2() -> None:
    pair = grpc_pair()
    sid = unary_started(pair)
    pair.server.send_headers(
        sid,
        [*RESPONSE, (b"grpc-status", b"5"), (b"grpc-message", b"no%20such%20key")],
        end_stream=True,
    )
    (ended,) = pair.to_client()
    assert isinstance(ended, ge.CallEnded)
    assert (ended.status.code, ended.status.message) == (
        StatusCode.NOT_FOUND,
        "no such key",
    )


def test_a_large_message_split_across_frames_by_h2() -> None:
    pair = grpc_pair()
    client = pair.grpc
    sid = unary_started(pair)
    message = bytes(range(256)) * 400  # 102,400 octets
    pair.server.send_headers(sid, RESPONSE)
    assert send_chunked(pair.server, sid, encode_message(message)) == 7
    pair.server.send_headers(sid, OK, end_stream=True)
    wire = pair.server.data_to_send()
    assert sum(isinstance(f, hf.DataFrame) for f in hyper_frames(wire)) == 7
    events = client.receive_data(wire)
    assert calls(events) == [
        ("message", message),
        ("ended", StatusCode.OK, "", None),
    ]
    pair.to_server()
    assert judged_errors(pair) == []


def h2_response(pair: Pair, sid: int) -> bytes:
    """A streaming response from h2: headers, two padded messages (the
    second cut across DATA frames), trailers."""
    server = pair.server
    server.send_headers(sid, [*RESPONSE, (b"x-meta", b"m" * 30)])
    server.send_data(sid, encode_message(b"first"), pad_length=3)
    second = encode_message(b"second message")
    server.send_data(sid, second[:4])
    server.send_data(sid, second[4:], pad_length=0)
    server.send_headers(
        sid, [(b"grpc-status", b"0"), (b"grpc-message", b"")], end_stream=True
    )
    return server.data_to_send()


def test_a_response_split_at_every_byte_boundary() -> None:
    pair = grpc_pair()
    client = pair.grpc
    call = client.unary(PATH, b"req", server_streaming=True)
    request = pair.client.data_to_send()
    pair.server.receive_data(request)
    assert call.stream_id is not None
    wire = h2_response(pair, call.stream_id)
    whole = joined(client.receive_data(wire))
    assert [e[0] for e in whole] == ["response-headers", "message", "message", "ended"]

    def fresh() -> GrpcConnection:
        """A client in the state `client` was in before `wire` came."""
        again = GrpcConnection(authority="127.0.0.1:2379")
        again.initiate()
        again.receive_data(pair.handshake)
        again.unary(PATH, b"req", server_streaming=True)
        return again

    for cut in range(1, len(wire)):
        cut_client = fresh()
        events = cut_client.receive_data(wire[:cut])
        events += cut_client.receive_data(wire[cut:])
        assert joined(events) == whole, f"cut at {cut}"
    one_by_one = fresh()
    events = []
    for i in range(len(wire)):
        events += one_by_one.receive_data(wire[i : i + 1])
    assert joined(events) == whole


# --- the same events as from our framer's bytes ------------------------------------


def ours(sid: int) -> Server:
    server = Server()
    server.encoder.header_table_size = 0
    return server


def _reply(pair: Pair, sid: int) -> Tuple[bytes, bytes]:
    pair.server.send_headers(sid, RESPONSE)
    pair.server.send_data(sid, encode_message(b"resp"))
    pair.server.send_headers(sid, OK, end_stream=True)
    return pair.server.data_to_send(), ours(sid).reply(sid, b"resp")


def _padded(pair: Pair, sid: int) -> Tuple[bytes, bytes]:
    pair.server.send_headers(sid, RESPONSE)
    pair.server.send_data(sid, encode_message(b"resp"), pad_length=9, end_stream=True)
    server = ours(sid)
    mine = server.response_headers(sid) + server.data(
        sid, encode_message(b"resp"), end=True, pad=9
    )
    return pair.server.data_to_send(), mine


def _trailers_only(pair: Pair, sid: int) -> Tuple[bytes, bytes]:
    fields = [(":status", "200"), ("content-type", "application/grpc")]
    fields += [("grpc-status", "14"), ("grpc-message", "etcdserver: no leader")]
    pair.server.send_headers(
        sid, [(k.encode(), v.encode()) for k, v in fields], end_stream=True
    )
    return pair.server.data_to_send(), ours(sid).headers(sid, fields, end=True)


def _reset(pair: Pair, sid: int) -> Tuple[bytes, bytes]:
    pair.server.send_headers(sid, RESPONSE)
    pair.server.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
    server = ours(sid)
    mine = server.response_headers(sid) + server.rst_stream(sid, 2)
    return pair.server.data_to_send(), mine


def _large(pair: Pair, sid: int) -> Tuple[bytes, bytes]:
    framed = encode_message(b"L" * 40000)
    pair.server.send_headers(sid, RESPONSE)
    assert send_chunked(pair.server, sid, framed) == 3
    pair.server.send_headers(sid, OK, end_stream=True)
    server = ours(sid)
    mine = server.response_headers(sid)
    for i in range(0, len(framed), 16384):
        mine += server.data(sid, framed[i : i + 16384])
    mine += server.trailers(sid)
    return pair.server.data_to_send(), mine


SCENARIOS: List[Callable[[Pair, int], Tuple[bytes, bytes]]] = [
    _reply,
    _padded,
    _trailers_only,
    _reset,
    _large,
]


@pytest.mark.parametrize("make", SCENARIOS, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("layer", ["h2", "grpc"])
def test_the_same_events_as_from_our_framer(
    make: Callable[[Pair, int], Tuple[bytes, bytes]], layer: str
) -> None:
    def fresh() -> Tuple[Pair, int]:
        pair = h2_pair() if layer == "h2" else grpc_pair()
        client = pair.client
        if isinstance(client, GrpcConnection):
            return pair, unary_started(pair)
        return pair, pair.open()

    theirs, sid = fresh()
    h2_bytes, our_bytes = make(theirs, sid)
    mine, mine_sid = fresh()
    assert mine_sid == sid
    from_h2 = joined(theirs.client.receive_data(h2_bytes))
    from_ours = joined(mine.client.receive_data(our_bytes))
    assert from_h2 == from_ours
    assert from_h2  # something came out


# --- what our client sends, judged by h2 ---------------------------------------------


def request_headers(pair: Pair) -> dict[bytes, bytes]:
    (received,) = [e for e in pair.judged if isinstance(e, he.RequestReceived)]
    return dict(received.headers)


def test_a_unary_call_is_accepted_by_h2() -> None:
    pair = grpc_pair()
    client = pair.grpc
    call = client.unary(PATH, b"request", timeout=1.5, metadata=(("token", "abc"),))
    events = pair.to_server()
    headers = request_headers(pair)
    assert headers[b":method"] == b"POST"
    assert headers[b":path"] == PATH.encode()
    assert headers[b":scheme"] == b"http"
    assert headers[b"content-type"] == b"application/grpc"
    assert headers[b"te"] == b"trailers"
    assert headers[b"grpc-timeout"] == b"1500000u"
    assert headers[b"token"] == b"abc"
    (data,) = [e for e in events if isinstance(e, he.DataReceived)]
    assert data.data == encode_message(b"request")
    assert any(isinstance(e, he.StreamEnded) for e in events)
    assert call.stream_id == data.stream_id
    assert judged_errors(pair) == []


def test_a_streaming_call_cancelled_and_acknowledged_is_accepted_by_h2() -> None:
    pair = grpc_pair()
    client = pair.grpc
    call = client.start_call("/etcdserverpb.Watch/Watch")
    for message in (b"one", b"two" * 10_000, b"three"):
        client.send_message(call, message)
    events = pair.to_server()
    sid = call.stream_id
    assert sid is not None
    body = b"".join(e.data for e in events if isinstance(e, he.DataReceived))
    assert body == b"".join(
        encode_message(m) for m in (b"one", b"two" * 10_000, b"three")
    )
    for e in events:
        if isinstance(e, he.DataReceived):
            pair.server.acknowledge_received_data(e.flow_controlled_length, sid)
    pair.server.send_headers(sid, RESPONSE)
    # Three messages, over half the client's 4 MiB stream window.  The first
    # is credited as it arrives (nothing was waiting to be read); the next
    # two, which arrive while it waits, once the application took them.
    send_chunked(pair.server, sid, encode_message(b"r" * 800_000))
    received = pair.to_client()
    for _ in range(2):
        send_chunked(pair.server, sid, encode_message(b"r" * 800_000))
    received += pair.to_client()
    assert sum(isinstance(e, ge.MessageReceived) for e in received) == 3
    assert not [e for e in pair.to_server() if isinstance(e, he.WindowUpdated)]
    for _ in range(3):
        client.message_consumed(call)
    (update,) = [e for e in pair.to_server() if isinstance(e, he.WindowUpdated)]
    assert update.stream_id == sid
    assert update.delta == 3 * (800_000 + 5)
    client.cancel_call(call)
    (reset,) = pair.to_server()
    assert isinstance(reset, he.StreamReset)
    assert reset.error_code == h2.errors.ErrorCodes.CANCEL
    client.ping(b"12345678")
    pair.to_server()
    assert pair.to_client() == [ge.PingAnswered(data=b"12345678")]
    client.close()
    (closed,) = pair.to_server()
    assert isinstance(closed, he.ConnectionTerminated)
    assert closed.error_code == h2.errors.ErrorCodes.NO_ERROR
    assert judged_errors(pair) == [closed]


def test_a_half_closed_streaming_call_and_its_trailers() -> None:
    pair = grpc_pair()
    client = pair.grpc
    call = client.start_call("/etcdserverpb.Lease/LeaseKeepAlive")
    client.send_message(call, b"ping")
    client.end_call(call)
    events = pair.to_server()
    assert any(isinstance(e, he.StreamEnded) for e in events)
    sid = call.stream_id
    assert sid is not None
    pair.server.send_headers(sid, RESPONSE)
    pair.server.send_data(sid, encode_message(b"pong"))
    pair.server.send_headers(sid, OK, end_stream=True)
    assert calls(pair.to_client()) == [
        ("message", b"pong"),
        ("ended", StatusCode.OK, "", None),
    ]
    pair.to_server()
    assert judged_errors(pair) == []
    assert client.active_calls == 0


def test_a_large_request_is_split_to_h2s_frame_size_and_window() -> None:
    pair = grpc_pair()
    pair.server.update_settings({S.MAX_FRAME_SIZE: 16384 * 2})
    pair.to_client()
    pair.to_server()
    client = pair.grpc
    message = bytes(range(256)) * 1000  # 256,000 octets: beyond the windows
    call = client.unary(PATH, message)
    received = b""
    for _ in range(20):
        events = pair.to_server()
        data = [e for e in events if isinstance(e, he.DataReceived)]
        received += b"".join(e.data for e in data)
        if any(isinstance(e, he.StreamEnded) for e in events):
            break
        assert call.stream_id is not None
        for e in data:
            pair.server.acknowledge_received_data(
                e.flow_controlled_length, call.stream_id
            )
        pair.server.increment_flow_control_window(65535, stream_id=call.stream_id)
        pair.server.increment_flow_control_window(65535)
        pair.to_client()
    assert received == encode_message(message)
    assert judged_errors(pair) == []
