"""H2ClientConnection and GrpcConnection against hand-built server frames."""

from __future__ import annotations

import hpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyetcd_wire._core import state
from pyetcd_wire._core.grpc import events as ge
from pyetcd_wire._core.grpc.call import Call
from pyetcd_wire._core.grpc.connection import GrpcConnection
from pyetcd_wire._core.grpc.framing import encode_message
from pyetcd_wire._core.grpc.status import StatusCode
from pyetcd_wire._core.h2 import frames as fr
from pyetcd_wire._core.h2.connection import (
    CONTINUATION_OVERHEAD,
    DEFAULT_CONNECTION_WINDOW,
    DEFAULT_STREAM_WINDOW,
    MAX_QUEUED_CONTROL_FRAMES,
)
from pyetcd_wire._core.h2.events import DataReceived
from pyetcd_wire._core.h2.frames import ErrorCode, FrameType
from pyetcd_wire.errors import LocalProtocolError, RemoteProtocolError, TLSError

from .server_frames import Server, parse_frames, window_update

PATH = "/etcdserverpb.KV/Range"


def connected(**kwargs) -> tuple[GrpcConnection, Server]:
    conn = GrpcConnection(authority="127.0.0.1:2379", **kwargs)
    conn.initiate()
    conn.data_to_send()
    server = Server()
    server.encoder.header_table_size = 0  # what a server does once it ACKs ours
    assert conn.receive_data(server.settings() + fr.settings_frame(ack=True)) == []
    sent = parse_frames(conn.data_to_send())
    assert [(t, f) for t, f, _, _ in sent] == [(FrameType.SETTINGS, fr.ACK)]
    return conn, server


def ended(events):
    return [e for e in events if isinstance(e, ge.CallEnded)]


def terminated(events) -> RemoteProtocolError:
    closed = [e for e in events if isinstance(e, ge.ConnectionClosed)]
    assert closed, events
    assert isinstance(closed[-1].error, RemoteProtocolError)
    return closed[-1].error


def test_preface_settings_and_window():
    conn = GrpcConnection(authority="a:1")
    conn.initiate()
    data = conn.data_to_send()
    assert data.startswith(fr.PREFACE)
    frames = parse_frames(data)
    assert frames[0][0] == FrameType.SETTINGS
    settings_ = dict(fr.parse_settings(0, 0, frames[0][3]))
    assert settings_ == {1: 0, 2: 0, 4: 4 * 1024 * 1024, 6: 64 * 1024}
    assert frames[1][0] == FrameType.WINDOW_UPDATE
    assert fr.parse_window_update(0, frames[1][3]) == 16 * 1024 * 1024 - 65535


def test_unary_call_round_trip():
    conn, server = connected()
    call = conn.unary(PATH, b"req", timeout=2.0)
    frames = parse_frames(conn.data_to_send())
    assert [(t, f, s) for t, f, s, _ in frames] == [
        (FrameType.HEADERS, fr.END_HEADERS, 1),
        (FrameType.DATA, fr.END_STREAM, 1),
    ]
    assert frames[1][3] == encode_message(b"req")
    headers = dict(hpack.Decoder().decode(frames[0][3], raw=True))
    assert headers[b":path"] == PATH.encode()
    assert headers[b"grpc-timeout"] == b"2000000u"
    events = conn.receive_data(server.reply(1, b"resp"))
    assert [type(e) for e in events] == [ge.MessageReceived, ge.CallEnded]
    assert events[0].message == b"resp"
    assert events[0].call is call
    assert events[1].status.code is StatusCode.OK
    assert conn.active_calls == 0
    assert conn.data_to_send() == b""  # nothing owed: no RST, no tiny WINDOW_UPDATE


def test_trailers_only_and_error_status():
    conn, server = connected()
    conn.unary(PATH, b"")
    events = conn.receive_data(
        server.headers(
            1,
            [
                (":status", "200"),
                ("content-type", "application/grpc"),
                ("grpc-status", "12"),
                ("grpc-message", "unknown method"),
            ],
            end=True,
        )
    )
    [end] = ended(events)
    assert end.status.code is StatusCode.UNIMPLEMENTED
    assert end.status.message == "unknown method"


@pytest.mark.parametrize(
    ("fields", "code", "text"),
    [
        (
            [(":status", "503"), ("content-type", "text/html")],
            StatusCode.UNAVAILABLE,
            "HTTP status 503",
        ),
        (
            [(":status", "200"), ("content-type", "text/html")],
            StatusCode.UNKNOWN,
            "text/html",
        ),
        ([(":status", "200")], StatusCode.UNKNOWN, "(none)"),
    ],
)
def test_non_grpc_responses(fields, code, text):
    conn, server = connected()
    conn.unary(PATH, b"")
    conn.data_to_send()
    [end] = ended(conn.receive_data(server.headers(1, fields)))
    assert end.status.code is code
    assert text in end.status.message
    rst = parse_frames(conn.data_to_send())
    assert rst[0][0] == FrameType.RST_STREAM
    assert fr.parse_rst_stream(1, rst[0][3]) == ErrorCode.CANCEL


def test_missing_grpc_status_is_unknown():
    conn, server = connected()
    conn.unary(PATH, b"")
    events = conn.receive_data(
        server.response_headers(1) + server.headers(1, [("x", "y")], end=True)
    )
    assert ended(events)[0].status.code is StatusCode.UNKNOWN


def test_informational_headers_are_skipped():
    conn, server = connected()
    conn.unary(PATH, b"")
    events = conn.receive_data(
        server.headers(1, [(":status", "100")]) + server.reply(1, b"ok")
    )
    assert [type(e) for e in events] == [ge.MessageReceived, ge.CallEnded]


@pytest.mark.parametrize(
    ("frames_for", "why"),
    [
        (lambda s: s.data(1, encode_message(b"x")), "DATA before the response headers"),
        (lambda s: s.response_headers(1) + s.response_headers(1), "second HEADERS"),
        (
            lambda s: s.response_headers(1) + s.data(1, encode_message(b"x"), end=True),
            "without trailers",
        ),
        (
            lambda s: (
                s.response_headers(1) + s.data(1, b"\0\0\0\0\x09abc") + s.trailers(1)
            ),
            "inside a message",
        ),
    ],
)
def test_per_call_grpc_violations_end_the_call_not_the_connection(frames_for, why):
    conn, server = connected()
    conn.unary(PATH, b"")
    [end] = ended(conn.receive_data(frames_for(server)))
    assert end.status.code is StatusCode.INTERNAL
    assert why in end.status.message
    assert conn.accepts_calls


def test_oversized_and_compressed_messages():
    conn, server = connected(max_recv_message_size=8)
    conn.unary(PATH, b"")
    [end] = ended(
        conn.receive_data(server.response_headers(1) + server.data(1, b"\0\0\0\0\x09"))
    )
    assert end.status.code is StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max (9 vs. 8)" in end.status.message
    conn.unary(PATH, b"")
    [end] = ended(
        conn.receive_data(
            server.response_headers(3) + server.data(3, b"\x01\0\0\0\x01a")
        )
    )
    assert end.status.code is StatusCode.INTERNAL
    assert "compressed" in end.status.message


def test_send_size_limit():
    conn, _ = connected(max_send_message_size=4)
    with pytest.raises(Exception, match=r"larger than max \(5 vs\. 4\)") as info:
        conn.unary(PATH, b"12345")
    assert info.value.code is StatusCode.RESOURCE_EXHAUSTED


def test_padded_data_and_headers():
    conn, server = connected()
    conn.unary(PATH, b"")
    block = server.encoder.encode(
        [(":status", "200"), ("content-type", "application/grpc")]
    )
    padded_headers = fr.frame(
        FrameType.HEADERS,
        fr.END_HEADERS | fr.PADDED | fr.PRIORITY,
        1,
        b"\x03" + b"\0\0\0\0\x10" + block + b"\0\0\0",
    )
    events = conn.receive_data(
        padded_headers
        + server.data(1, encode_message(b"hi"), pad=20)
        + server.trailers(1)
    )
    assert [e.message for e in events if isinstance(e, ge.MessageReceived)] == [b"hi"]


def test_continuation_is_merged():
    conn, server = connected()
    conn.unary(PATH, b"")
    block = server.encoder.encode(
        [
            (":status", "200"),
            ("content-type", "application/grpc"),
            ("grpc-status", "0"),
            ("x-big", "v" * 40000),
        ]
    )
    data = fr.headers_frames(1, block, end_stream=True, max_frame_size=16384)
    assert len(parse_frames(data)) == 3
    [end] = ended(conn.receive_data(data))
    assert end.status.code is StatusCode.OK
    assert (b"x-big", b"v" * 40000) in end.status.trailers


@pytest.mark.parametrize(
    ("data_for", "frame", "rule", "code"),
    [
        (
            lambda s: s.data(3, b"x"),
            "DATA",
            "stream 3 was never opened",
            ErrorCode.PROTOCOL_ERROR,
        ),
        (lambda s: s.data(0, b"x"), "DATA", "stream 0", ErrorCode.PROTOCOL_ERROR),
        (
            lambda s: fr.frame(FrameType.PUSH_PROMISE, 4, 1, b"\0\0\0\x02"),
            "PUSH_PROMISE",
            "push is disabled",
            ErrorCode.PROTOCOL_ERROR,
        ),
        (
            lambda s: fr.frame(FrameType.CONTINUATION, 4, 1, b""),
            "CONTINUATION",
            "not preceded by HEADERS",
            ErrorCode.PROTOCOL_ERROR,
        ),
        (
            lambda s: fr.frame(FrameType.DATA, 0, 1, b"x" * 16385),
            "DATA",
            "exceeds our SETTINGS_MAX_FRAME_SIZE",
            ErrorCode.FRAME_SIZE_ERROR,
        ),
        (
            lambda s: window_update(0, 0),
            "WINDOW_UPDATE",
            "increment of 0",
            ErrorCode.PROTOCOL_ERROR,
        ),
        (
            lambda s: window_update(0, 2**31 - 1),
            "WINDOW_UPDATE",
            "exceed 2^31-1",
            ErrorCode.FLOW_CONTROL_ERROR,
        ),
        (
            lambda s: fr.settings_frame({fr.Setting.ENABLE_PUSH: 1}),
            "SETTINGS",
            "ENABLE_PUSH=1",
            ErrorCode.PROTOCOL_ERROR,
        ),
        (
            lambda s: fr.settings_frame({fr.Setting.MAX_FRAME_SIZE: 100}),
            "SETTINGS",
            "outside 16384",
            ErrorCode.PROTOCOL_ERROR,
        ),
        (
            lambda s: fr.settings_frame({fr.Setting.INITIAL_WINDOW_SIZE: 2**31}),
            "SETTINGS",
            "exceeds 2^31-1",
            ErrorCode.FLOW_CONTROL_ERROR,
        ),
        (
            lambda s: fr.goaway_frame(2, 0),
            "GOAWAY",
            "is even",
            ErrorCode.PROTOCOL_ERROR,
        ),
        (
            lambda s: fr.frame(FrameType.PRIORITY, 0, 1, b"\0"),
            "PRIORITY",
            "not 5",
            ErrorCode.FRAME_SIZE_ERROR,
        ),
        (
            lambda s: fr.frame(FrameType.RST_STREAM, 0, 9, b"\0\0\0\x08"),
            "RST_STREAM",
            "never opened",
            ErrorCode.PROTOCOL_ERROR,
        ),
        (
            lambda s: fr.frame(
                FrameType.HEADERS, fr.END_HEADERS, 1, b"\xff\xff\xff\xff"
            ),
            "HEADERS",
            "not valid HPACK",
            ErrorCode.COMPRESSION_ERROR,
        ),
    ],
)
def test_connection_errors_name_frame_and_rule(data_for, frame, rule, code):
    conn, server = connected()
    conn.unary(PATH, b"")  # stream 1 is open
    conn.data_to_send()
    events = conn.receive_data(data_for(server))
    error = terminated(events)
    assert error.frame == frame
    assert rule in str(error)
    assert error.error_code == code
    goaway = parse_frames(conn.data_to_send())[-1]
    assert goaway[0] == FrameType.GOAWAY
    assert fr.parse_goaway(0, goaway[3])[1] == code
    assert not conn.accepts_calls
    assert conn.receive_data(b"more") == []


def test_protocol_error_fails_open_calls_with_the_error():
    conn, server = connected()
    conn.unary(PATH, b"")
    conn.unary(PATH, b"")
    events = conn.receive_data(
        server.reply(1, b"ok") + fr.frame(FrameType.DATA, 0, 0, b"x")
    )
    ends = ended(events)
    assert [e.status.code for e in ends] == [StatusCode.OK, StatusCode.UNAVAILABLE]
    assert isinstance(ends[1].error, RemoteProtocolError)
    assert ends[1].error is terminated(events)


def test_first_frame_must_be_settings():
    conn = GrpcConnection(authority="a:1")
    conn.initiate()
    error = terminated(conn.receive_data(fr.ping_frame(b"12345678")))
    assert "first frame must be SETTINGS" in str(error)


def test_interleaved_frame_inside_header_block():
    conn, server = connected()
    conn.unary(PATH, b"")
    block = server.encoder.encode([(":status", "200")])
    data = fr.frame(FrameType.HEADERS, 0, 1, block) + fr.ping_frame(b"12345678")
    assert "middle of a header block" in str(terminated(conn.receive_data(data)))


def test_continuation_flood_is_cut_off():
    conn, _server = connected()
    conn.unary(PATH, b"")
    data = fr.frame(FrameType.HEADERS, 0, 1, b"\x88")
    data += fr.frame(FrameType.CONTINUATION, 0, 1, b"\0" * 16000) * 5
    error = terminated(conn.receive_data(data))
    assert error.frame == "CONTINUATION"
    assert error.error_code == ErrorCode.ENHANCE_YOUR_CALM


def test_empty_continuation_flood_is_cut_off():
    # Found by tests/fuzz: empty CONTINUATIONs never reach the size cap, and
    # each one grew the held block's fragment list.
    conn, _server = connected(max_header_list_size=1000)
    conn.unary(PATH, b"")
    data = fr.frame(FrameType.HEADERS, 0, 1, b"\x88")
    flood = fr.frame(FrameType.CONTINUATION, 0, 1, b"")
    allowed = (1000 - 1) // CONTINUATION_OVERHEAD
    assert conn.receive_data(data + flood * allowed) == []
    error = terminated(conn.receive_data(flood))
    assert error.error_code == ErrorCode.ENHANCE_YOUR_CALM
    assert "grew past 1000 octets" in str(error)
    assert conn.h2._header_block is None


def test_header_block_over_the_limit_is_not_held():
    # Found by tests/fuzz: the first fragment was stored before its size was
    # checked, and held after the connection ended.
    conn, _server = connected(max_header_list_size=200)
    conn.unary(PATH, b"")
    error = terminated(
        conn.receive_data(fr.frame(FrameType.HEADERS, 0, 1, b"\0" * 229))
    )
    assert error.error_code == ErrorCode.ENHANCE_YOUR_CALM
    assert conn.h2._header_block is None


@pytest.mark.parametrize(
    ("flood", "frame"),
    [
        (fr.ping_frame(b"12345678"), "PING"),
        (fr.settings_frame(), "SETTINGS"),
    ],
)
def test_ping_and_settings_floods_are_bounded_when_we_cannot_send(flood, frame):
    conn, _server = connected()
    events = conn.receive_data(flood * MAX_QUEUED_CONTROL_FRAMES)
    assert events == []
    assert conn.data_to_send()  # sent: the count starts again
    assert conn.receive_data(flood * MAX_QUEUED_CONTROL_FRAMES) == []
    error = terminated(conn.receive_data(flood))  # one more before we send
    assert error.error_code == ErrorCode.ENHANCE_YOUR_CALM
    assert error.frame == frame
    sent = parse_frames(conn.data_to_send())
    assert len(sent) == MAX_QUEUED_CONTROL_FRAMES + 1  # the ACKs, then GOAWAY
    assert sent[-1][0] == FrameType.GOAWAY


def test_unknown_frames_and_priority_are_ignored():
    conn, server = connected()
    conn.unary(PATH, b"")
    data = fr.frame(0x42, 0xFF, 1, b"whatever") + fr.frame(
        FrameType.PRIORITY, 0, 1, b"\0" * 5
    )
    assert (
        conn.receive_data(data + server.reply(1, b"x"))[-1].status.code is StatusCode.OK
    )


def test_ping_is_acked_and_our_ping_reported():
    conn, _server = connected()
    assert conn.receive_data(fr.ping_frame(b"abcdefgh")) == []
    [(t, f, _, payload)] = parse_frames(conn.data_to_send())
    assert (t, f, payload) == (FrameType.PING, fr.ACK, b"abcdefgh")
    conn.ping(b"ourping!")
    conn.data_to_send()
    assert conn.receive_data(fr.ping_frame(b"ourping!", ack=True)) == [
        ge.PingAnswered(data=b"ourping!")
    ]
    assert conn.receive_data(fr.ping_frame(b"stranger", ack=True)) == []
    with pytest.raises(ValueError, match="8 octets"):
        conn.ping(b"short")
    conn.close()
    conn.data_to_send()
    conn.ping(b"too late")  # after our GOAWAY: nothing more is sent
    assert conn.data_to_send() == b""


def test_header_table_limit_applies_on_ack():
    conn = GrpcConnection(authority="a:1")
    conn.initiate()
    decoder = conn.h2._decoder
    grow = b"\x3f\xe1\x1f\x88"  # a table size update to 4096, then :status 200
    assert decoder.decode(grow) == ((b":status", b"200"),)
    conn.receive_data(Server().settings())
    assert decoder.decode(grow) == ((b":status", b"200"),)  # not before the ACK
    conn.receive_data(fr.settings_frame(ack=True))
    with pytest.raises(LocalProtocolError, match="not valid HPACK"):
        decoder.decode(grow)


def test_large_request_waits_for_window_and_respects_frame_size():
    conn, server = connected()
    conn.receive_data(server.settings(max_frame_size=20000))
    call = conn.start_call(PATH)
    payload = b"x" * 100_000
    conn.send_message(call, payload, end=True)
    frames = parse_frames(conn.data_to_send())
    data = [f for f in frames if f[0] == FrameType.DATA]
    assert sum(len(f[3]) for f in data) == 65535  # the initial window
    assert all(len(f[3]) <= 20000 for f in data)
    assert not any(f[1] & fr.END_STREAM for f in data)
    assert conn.h2.pending_send_bytes == 100_005 - 65535
    conn.receive_data(window_update(0, 50000))
    assert conn.data_to_send() == b""  # the stream window is still empty
    conn.receive_data(window_update(1, 50000))
    data = [f for f in parse_frames(conn.data_to_send()) if f[0] == FrameType.DATA]
    assert sum(len(f[3]) for f in data) == 100_005 - 65535
    assert data[-1][1] & fr.END_STREAM


def test_settings_window_delta_applies_to_open_streams_and_can_go_negative():
    conn, server = connected()
    call = conn.start_call(PATH)
    conn.send_message(call, b"x" * 60000)
    conn.data_to_send()
    conn.receive_data(
        server.settings(initial_window_size=1000)
    )  # window now 1000-60005 < 0
    conn.send_message(call, b"y" * 10)
    assert [
        f for f in parse_frames(conn.data_to_send()) if f[0] == FrameType.DATA
    ] == []
    conn.receive_data(server.settings(initial_window_size=70000))
    data = [f for f in parse_frames(conn.data_to_send()) if f[0] == FrameType.DATA]
    assert b"".join(f[3] for f in data) == encode_message(b"y" * 10)


def test_max_concurrent_streams_queues_calls():
    conn, server = connected()
    conn.receive_data(server.settings(max_concurrent_streams=1))
    conn.data_to_send()
    first = conn.unary(PATH, b"1")
    second = conn.unary(PATH, b"2")
    third = conn.start_call(PATH)
    conn.send_message(third, b"3", end=True)
    assert second.state is state.CallState.QUEUED_HALF_CLOSED
    assert second.stream_id is None
    assert [f[2] for f in parse_frames(conn.data_to_send())] == [1, 1]
    events = conn.receive_data(server.reply(1, b"r1"))
    assert ended(events)[0].call is first
    frames = parse_frames(conn.data_to_send())
    assert {f[2] for f in frames} == {3}
    assert second.stream_id == 3
    assert second.state is state.CallState.HALF_CLOSED
    conn.receive_data(server.reply(3, b"r2"))
    frames = parse_frames(conn.data_to_send())
    assert {f[2] for f in frames} == {5}
    assert frames[-1][3] == encode_message(b"3")


def test_goaway_fails_calls_above_last_stream_id_as_not_processed():
    conn, server = connected()
    calls = [conn.unary(PATH, b"") for _ in range(3)]  # streams 1, 3, 5
    events = conn.receive_data(fr.goaway_frame(3, 0, b"shutting down"))
    [goaway] = [e for e in events if isinstance(e, ge.GoAway)]
    assert goaway.last_stream_id == 3
    [refused] = ended(events)
    assert refused.call is calls[2]
    assert refused.status.not_processed
    assert refused.status.code is StatusCode.UNAVAILABLE
    assert "shutting down" in refused.status.message
    assert not conn.accepts_calls
    with pytest.raises(LocalProtocolError, match="accepts no new calls"):
        conn.unary(PATH, b"")
    events = conn.receive_data(server.reply(1, b"a") + server.reply(3, b"b"))
    assert [e.status.code for e in ended(events)] == [StatusCode.OK, StatusCode.OK]
    # A second GOAWAY may lower last_stream_id (grpc-go's graceful shutdown),
    # never raise it.
    assert "rose from 3 to 5" in str(
        terminated(conn.receive_data(fr.goaway_frame(5, 0)))
    )


def test_goaway_fails_queued_calls_as_not_processed():
    conn, server = connected()
    conn.receive_data(server.settings(max_concurrent_streams=0))
    queued = conn.unary(PATH, b"")
    [end] = ended(conn.receive_data(fr.goaway_frame(2**31 - 1, 0)))
    assert end.call is queued
    assert end.status.not_processed


def test_queued_call_over_the_servers_header_list_size_ends():
    # Found by tests/fuzz: a queued call's block exceeding a
    # SETTINGS_MAX_HEADER_LIST_SIZE that arrived while it waited made
    # receive_data raise LocalProtocolError from open_stream.
    conn, server = connected()
    conn.receive_data(server.settings(max_concurrent_streams=0))
    queued = conn.unary(PATH, b"")
    events = conn.receive_data(
        server.settings(max_concurrent_streams=5, max_header_list_size=10)
    )
    [end] = ended(events)
    assert end.call is queued
    assert end.status.code is StatusCode.INTERNAL
    assert end.status.not_processed
    assert "exceeds the SETTINGS_MAX_HEADER_LIST_SIZE (10)" in end.status.message
    assert not [f for f in parse_frames(conn.data_to_send()) if f[0] == 1]
    with pytest.raises(LocalProtocolError, match="SETTINGS_MAX_HEADER_LIST_SIZE"):
        conn.start_call(PATH)
    assert conn.active_calls == 0


def test_rst_stream_maps_to_status():
    conn, server = connected()
    conn.unary(PATH, b"")
    conn.unary(PATH, b"")
    events = conn.receive_data(
        fr.rst_stream_frame(1, ErrorCode.REFUSED_STREAM)
        + server.response_headers(3)
        + fr.rst_stream_frame(3, ErrorCode.CANCEL)
    )
    first, second = ended(events)
    assert first.status.code is StatusCode.UNAVAILABLE
    assert first.status.not_processed
    assert second.status.code is StatusCode.CANCELLED
    assert not second.status.not_processed


def test_frames_for_cancelled_streams_are_absorbed():
    conn, server = connected()
    call = conn.unary(PATH, b"")
    conn.data_to_send()
    conn.cancel_call(call)
    [rst] = parse_frames(conn.data_to_send())
    assert rst[0] == FrameType.RST_STREAM
    assert fr.parse_rst_stream(1, rst[3]) == ErrorCode.CANCEL
    big = b"z" * 16000
    # DATA for the dead stream still counts (and is credited) on the connection.
    assert conn.receive_data(server.reply(1, big)) == []
    assert conn.receive_data(server.reply(1, b"a")) == []  # HPACK stays in sync
    conn.unary(PATH, b"")
    assert (
        ended(conn.receive_data(server.reply(3, b"ok")))[0].status.code is StatusCode.OK
    )


def test_a_call_that_must_not_be_cancelled_is_abandoned_not_reset():
    """etcd 3.5.0-3.5.4 panic when a read-only Txn's context ends mid-range
    (etcd#14110): such a call carries no grpc-timeout and is never reset;
    given up, it is left to end on its own and what comes is dropped."""
    conn, server = connected()
    call = conn.unary(PATH, b"req", timeout=2.0, cancellable=False)
    headers_frame = parse_frames(conn.data_to_send())[0]
    assert b"grpc-timeout" not in dict(hpack.Decoder().decode(headers_frame[3]))
    conn.cancel_call(call)
    assert conn.data_to_send() == b""  # no RST_STREAM
    assert conn.active_calls == 1  # it still occupies the connection
    big = encode_message(b"z" * 3 * 1024 * 1024)
    events = conn.receive_data(server.response_headers(1))
    for i in range(0, len(big), 16384):
        events += conn.receive_data(server.data(1, big[i : i + 16384]))
    credit = [
        fr.parse_window_update(1, f[3])
        for f in parse_frames(conn.data_to_send())
        if f[0] == FrameType.WINDOW_UPDATE and f[2] == 1
    ]
    assert sum(credit) >= len(big) - DEFAULT_STREAM_WINDOW  # the stream never stalls
    events += conn.receive_data(server.trailers(1))
    assert events == []  # nobody is told: the caller has gone
    assert conn.active_calls == 0
    assert conn.data_to_send() == b""


def test_a_call_not_sent_whole_is_reset_even_if_it_must_not_be_cancelled():
    # The server handles a unary request only once it has all of it.
    conn, _server = connected()
    call = conn.unary(PATH, b"x" * 100_000, cancellable=False)
    conn.data_to_send()
    conn.cancel_call(call)
    [rst] = parse_frames(conn.data_to_send())
    assert rst[0] == FrameType.RST_STREAM
    assert conn.active_calls == 0


def test_abandoned_calls_end_with_the_connection_or_a_reset():
    conn, server = connected()
    first = conn.unary(PATH, b"", cancellable=False)
    second = conn.unary(PATH, b"", cancellable=False)
    conn.data_to_send()
    conn.cancel_call(first)
    conn.cancel_call(second)
    assert conn.active_calls == 2
    assert conn.receive_data(server.rst_stream(1, ErrorCode.CANCEL)) == []
    assert conn.active_calls == 1
    assert conn.connection_lost("gone") == []
    assert conn.active_calls == 0


def test_a_cancellable_call_is_reset():
    conn, _server = connected()
    call = conn.unary(PATH, b"", cancellable=True)
    conn.data_to_send()
    conn.cancel_call(call)
    [rst] = parse_frames(conn.data_to_send())
    assert rst[0] == FrameType.RST_STREAM
    assert conn.active_calls == 0


def test_stream_id_exhaustion_stops_new_calls():
    conn, server = connected(first_stream_id=2**31 - 3)
    conn.unary(PATH, b"")
    assert conn.accepts_calls
    conn.unary(PATH, b"")
    assert not conn.accepts_calls
    with pytest.raises(LocalProtocolError, match="accepts no new calls"):
        conn.unary(PATH, b"")
    assert (
        ended(conn.receive_data(server.reply(2**31 - 1, b"x")))[0].status.code
        is StatusCode.OK
    )


def test_connection_lost_ends_every_call():
    conn, _ = connected()
    conn.unary(PATH, b"")
    call = conn.start_call(PATH)
    events = conn.connection_lost("reset by peer")
    assert {e.call for e in events} >= {call}
    assert all(
        e.status.code is StatusCode.UNAVAILABLE and "reset by peer" in e.status.message
        for e in events
    )


def test_a_connection_lost_before_the_server_preface_says_so_and_takes_an_error():
    # What the drivers read to tell a TLS-only port (closed unanswered) from
    # a server that spoke HTTP/2 and then went away.
    conn = GrpcConnection(authority="127.0.0.1:2379")
    conn.initiate()
    call = conn.unary(PATH, b"")
    conn.data_to_send()
    assert not conn.server_preface_received
    error = TLSError([("127.0.0.1:2379", "the server expects TLS")])
    [end] = ended(conn.connection_lost("the server closed the connection", error))
    assert end.call is call
    assert end.error is error
    answered, _ = connected()
    assert answered.server_preface_received


def test_flow_control_credit_for_large_unary_response():
    conn, server = connected()
    conn.unary(PATH, b"")
    conn.data_to_send()
    body = encode_message(b"m" * 10_000_000)
    events = conn.receive_data(server.response_headers(1))
    updates = []
    for i in range(0, len(body), 16384):
        events += conn.receive_data(server.data(1, body[i : i + 16384]))
        updates += [
            f
            for f in parse_frames(conn.data_to_send())
            if f[0] == FrameType.WINDOW_UPDATE
        ]
    # Both windows are refilled as the message arrives: a 10 MB response never stalls.
    assert {f[2] for f in updates} == {0, 1}
    stream_credit = sum(fr.parse_window_update(1, f[3]) for f in updates if f[2] == 1)
    assert stream_credit >= len(body) - 4 * 1024 * 1024
    events += conn.receive_data(server.trailers(1))
    assert events[-2].message == b"m" * 10_000_000


def responding_call(conn: GrpcConnection, server: Server) -> Call:
    """A call on stream 1 whose request is sent and whose response has begun."""
    call = conn.start_call(PATH)
    conn.end_call(call)
    conn.data_to_send()
    conn.receive_data(server.response_headers(1))
    return call


def stream_credit(conn: GrpcConnection) -> int:
    """The WINDOW_UPDATE credit for stream 1 in what `conn` sends now."""
    return sum(
        fr.parse_window_update(1, f[3])
        for f in parse_frames(conn.data_to_send())
        if f[0] == FrameType.WINDOW_UPDATE and f[2] == 1
    )


def test_streaming_consumer_back_pressure():
    conn, server = connected(stream_window=64 * 1024)
    call = responding_call(conn, server)
    msg = encode_message(b"e" * 1000)
    credit = 0
    for _ in range(60):  # 60 kB, nobody consumes
        conn.receive_data(server.data(1, msg))
        credit += stream_credit(conn)
    assert credit == 0  # withheld: the server stops after one stream window
    assert call.undelivered == 60
    for _ in range(60):
        conn.message_consumed(call)
    credit = stream_credit(conn)
    assert credit >= 32 * 1024


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_events_do_not_depend_on_how_bytes_are_split(data):
    def run(chunks):
        conn, server = connected()
        calls = [conn.unary(PATH, b"") for _ in range(3)]
        big = encode_message(b"c" * 5000)
        stream = (
            server.reply(1, b"a", b"b")
            + fr.ping_frame(b"pingpong")
            + server.response_headers(3)
            + server.data(3, big[:3000])  # a run of DATA frames
            + server.data(3, big[3000:4000])
            + server.data(3, big[4000:])
            + server.data(3, encode_message(b"d"), pad=7)
            + server.headers(
                5,
                [
                    (":status", "200"),
                    ("content-type", "application/grpc"),
                    ("grpc-status", "5"),
                    ("grpc-message", "not found"),
                ],
                end=True,
            )
            + server.trailers(3)
        )
        events = []
        for piece in chunks(stream):
            events += conn.receive_data(piece)
        return [
            (
                calls.index(e.call),
                type(e).__name__,
                getattr(e, "message", None),
                getattr(e, "status", None),
            )
            for e in events
            if hasattr(e, "call")
        ]

    whole = run(lambda s: [s])
    cuts_drawn = []

    def split(s):
        cuts = sorted(data.draw(st.lists(st.integers(0, len(s)), max_size=12)))
        cuts_drawn.append(cuts)
        prev, out = 0, []
        for c in [*cuts, len(s)]:
            out.append(s[prev:c])
            prev = c
        return out

    assert run(split) == whole


def test_padding_is_credited_even_when_data_is_held_back():
    conn, server = connected(stream_window=64 * 1024)
    responding_call(conn, server)
    credit = 0
    for _ in range(200):  # 200 x 250 octets of padding, nobody consumes messages
        conn.receive_data(server.data(1, encode_message(b"m"), pad=250))
        credit += stream_credit(conn)
    assert credit >= 200 * 251 - 32 * 1024  # all padding, give or take one batch
    assert credit <= 200 * 251


# --- DATA runs: consecutive DATA frames of a stream make one event ------------------


def test_consecutive_data_frames_of_a_stream_make_one_event():
    conn, server = connected()
    for _ in range(2):
        conn.end_call(conn.start_call(PATH))
    conn.data_to_send()
    conn.receive_data(server.response_headers(1) + server.response_headers(3))
    wire = (
        server.data(1, b"a" * 10)
        + server.data(1, b"b" * 20)
        + server.data(1, b"c" * 30)
        + server.data(3, b"d")  # another stream: a new run
        + server.data(3, b"e", pad=4)  # flags: an event of its own
        + server.data(3, b"f")
        + fr.ping_frame(b"12345678")  # any other frame ends a run
        + server.data(3, b"g")
        + server.data(3, b"h", end=True)
    )
    events = conn.h2.receive_data(wire)
    assert [
        (e.stream_id, [bytes(c) for c in e.chunks], e.length, e.end_stream)
        for e in events
        if isinstance(e, DataReceived)
    ] == [
        (1, [b"a" * 10, b"b" * 20, b"c" * 30], 60, False),
        (3, [b"d"], 1, False),
        (3, [b"e"], 1, False),
        (3, [b"f"], 1, False),
        (3, [b"g"], 1, False),
        (3, [b"h"], 1, True),
    ]
    assert conn.h2._streams[1].recv.available == DEFAULT_STREAM_WINDOW - 60
    assert conn.h2._recv_window.available == DEFAULT_CONNECTION_WINDOW - 65 - 5


@pytest.mark.parametrize("one_read", [True, False], ids=["one read", "frame by frame"])
def test_data_beyond_the_stream_window_is_a_flow_control_error(one_read):
    conn, server = connected(stream_window=40_000)
    responding_call(conn, server)
    # "x" is delivered and not consumed: the stream's credit is held back.
    body = encode_message(b"x") + encode_message(b"m" * 60_000)
    frames = [server.data(1, body[i : i + 16384]) for i in range(0, len(body), 16384)]
    events = []
    for piece in [b"".join(frames)] if one_read else frames:
        events += conn.receive_data(piece)
    error = terminated(events)
    assert error.error_code == ErrorCode.FLOW_CONTROL_ERROR
    assert "16384 octets exceed stream 1's window of 7232 (§6.9)" in str(error)
    assert [e.message for e in events if isinstance(e, ge.MessageReceived)] == [b"x"]


def test_connection_window_is_credited_inside_a_run():
    conn, server = connected(connection_window=1 << 20)
    conn.unary(PATH, b"")
    conn.data_to_send()
    body = encode_message(b"m" * 3_000_000)
    wire = server.response_headers(1) + b"".join(
        server.data(1, body[i : i + 16384]) for i in range(0, len(body), 16384)
    )
    events = conn.receive_data(wire + server.trailers(1))
    credit = sum(
        fr.parse_window_update(0, f[3])
        for f in parse_frames(conn.data_to_send())
        if f[0] == FrameType.WINDOW_UPDATE and f[2] == 0
    )
    # Credit goes back at each half window, as frame by frame: all but < half.
    assert len(body) - (1 << 19) < credit <= len(body)
    assert [e.message for e in events if isinstance(e, ge.MessageReceived)] == [
        b"m" * 3_000_000
    ]
