"""What a server can make the client hold: the receive side's limits.

A response over max_recv_message_size is refused at its length prefix;
huge SETTINGS and windows bind only what we send, which is bounded by what
we have; header blocks are refused before they are whole; floods of small
frames queue nothing, or end the connection (h2/connection.py's limits).
"""

from __future__ import annotations

import struct

import pytest

from pyetcd_wire._core.grpc import events as ge
from pyetcd_wire._core.grpc.outcome import call_error
from pyetcd_wire._core.grpc.status import StatusCode
from pyetcd_wire._core.h2 import frames as fr
from pyetcd_wire._core.h2.frames import ErrorCode, FrameType, Setting
from pyetcd_wire._core.h2.hpack import _integer
from pyetcd_wire.errors import ResourceExhaustedError

from .server_frames import Server, parse_frames, window_update
from .test_h2_connection import PATH, connected, ended, terminated

MIB = 1024 * 1024


def test_a_message_over_the_limit_ends_the_call_at_its_prefix():
    conn, server = connected(max_recv_message_size=1000)
    call = conn.unary(PATH, b"")
    conn.data_to_send()
    prefix = struct.pack(">BI", 0, MIB)  # announces 1 MiB, 1000 allowed
    events = conn.receive_data(
        server.response_headers(1) + server.data(1, prefix + b"m" * 100)
    )
    [end] = ended(events)
    assert end.call is call
    assert end.status.code is StatusCode.RESOURCE_EXHAUSTED
    assert "received message larger than max (1048576 vs. 1000)" in (end.status.message)
    error = call_error(end.status, end.error, "127.0.0.1:2379")
    assert isinstance(error, ResourceExhaustedError)
    assert call.decoder.buffered == 0
    sent = parse_frames(conn.data_to_send())
    assert (FrameType.RST_STREAM, 1) in {(f[0], f[2]) for f in sent}
    # The rest of the megabyte, which the server sent before our RST_STREAM
    # reached it: dropped as it comes, its connection window given back.
    credit = 0
    for _ in range(0, MIB, 16_384):
        assert conn.receive_data(server.data(1, b"m" * 16_384)) == []
        assert len(conn.h2._inbuf) == 0
        assert call.decoder.buffered == 0
        credit += sum(
            fr.parse_window_update(0, f[3])
            for f in parse_frames(conn.data_to_send())
            if f[0] == FrameType.WINDOW_UPDATE and f[2] == 0
        )
    assert credit >= MIB - conn.h2._recv_window.size // 2


def test_a_frame_longer_than_our_max_frame_size_is_refused_at_its_header():
    conn, _server = connected()
    conn.unary(PATH, b"")
    # Only the 9-octet header of a frame announcing 2^24-1 octets.
    header = fr.frame_header(FrameType.DATA, 0, 1, 2**24 - 1)
    error = terminated(conn.receive_data(header[:5]) + conn.receive_data(header[5:]))
    assert error.error_code == ErrorCode.FRAME_SIZE_ERROR
    assert len(conn.h2._inbuf) == 0


def huge_settings(server: Server) -> bytes:
    return fr.settings_frame(
        {
            Setting.HEADER_TABLE_SIZE: 2**32 - 1,
            Setting.INITIAL_WINDOW_SIZE: 2**31 - 1,
            Setting.MAX_FRAME_SIZE: 2**24 - 1,
            Setting.MAX_HEADER_LIST_SIZE: 2**32 - 1,
            Setting.MAX_CONCURRENT_STREAMS: 2**32 - 1,
        }
    )


def test_huge_settings_and_windows_bind_only_what_we_send():
    conn, server = connected()
    conn.receive_data(huge_settings(server) + window_update(0, 2**31 - 1 - 65_535))
    conn.data_to_send()
    call = conn.start_call(PATH)
    conn.send_message(call, b"q" * 100_000)
    sent = conn.data_to_send()
    # What goes out is the message and its framing, in one frame: a larger
    # window or frame size allocates nothing of ours.
    frames = parse_frames(sent)
    assert [f[0] for f in frames] == [FrameType.HEADERS, FrameType.DATA]
    assert len(frames[1][3]) == 100_005
    assert len(sent) == 9 + len(call.header_block) + 9 + 100_005
    assert conn.h2.pending_send_bytes == 0
    # Back to 2^31 - 1, the largest legal window; one octet more is a
    # connection error, not a bigger int.
    assert conn.receive_data(window_update(1, 100_005)) == []
    error = terminated(conn.receive_data(window_update(1, 1)))
    assert error.error_code == ErrorCode.FLOW_CONTROL_ERROR


def test_the_servers_header_table_size_does_not_size_our_decoder():
    conn, server = connected()
    conn.unary(PATH, b"")
    conn.receive_data(huge_settings(server))
    # A block whose dynamic table size update takes the server's word for it.
    block = _integer(2**32 - 1, 5, 0x20) + b"\x88"
    error = terminated(
        conn.receive_data(fr.frame(FrameType.HEADERS, fr.END_HEADERS, 1, block))
    )
    assert error.error_code == ErrorCode.COMPRESSION_ERROR
    decoder = conn.h2._decoder._decoder
    assert decoder.max_allowed_table_size == 0  # ours, ACKed by the server
    assert decoder.header_table.maxsize <= 4096  # never the server's 2^32-1


def test_a_header_block_over_our_limit_is_refused_before_it_is_whole():
    conn, _server = connected(max_header_list_size=40_000)
    conn.unary(PATH, b"")
    first = fr.frame(FrameType.HEADERS, 0, 1, b"\0" * 16_384)
    more = fr.frame(FrameType.CONTINUATION, 0, 1, b"\0" * 16_384)
    assert conn.receive_data(first) == []
    assert conn.receive_data(more) == []
    assert conn.h2._header_block[3] <= 40_000
    # The third fragment would pass the limit: refused before END_HEADERS.
    error = terminated(conn.receive_data(more))
    assert error.error_code == ErrorCode.ENHANCE_YOUR_CALM
    assert conn.h2._header_block is None


@pytest.mark.parametrize(
    "flood",
    [
        pytest.param(fr.frame(FrameType.DATA, 0, 1, b""), id="empty-DATA"),
        pytest.param(fr.rst_stream_frame(3, ErrorCode.CANCEL), id="RST_STREAM"),
        pytest.param(fr.frame(FrameType.PRIORITY, 0, 1, b"\0" * 5), id="PRIORITY"),
        pytest.param(fr.frame(0xAB, 0, 1, b"x"), id="unknown-type"),
        pytest.param(fr.settings_frame(ack=True), id="SETTINGS-ACK"),
    ],
)
def test_floods_that_need_no_reply_queue_nothing(flood):
    # Netty caps consecutive empty DATA frames at 2; we need not: these
    # frames leave no state behind and queue no reply, so they cost the
    # server as much as us.
    conn, server = connected()
    conn.unary(PATH, b"")
    conn.unary(PATH, b"")
    conn.receive_data(server.response_headers(1) + server.trailers(3))  # 3 ends
    conn.data_to_send()
    for _ in range(10):
        assert conn.receive_data(flood * 10_000) == []
        assert conn.data_to_send() == b""
    assert conn.accepts_calls
    [end] = ended(conn.receive_data(server.data(1, b"") + server.trailers(1)))
    assert end.status.code is StatusCode.OK


def test_a_window_update_flood_ends_at_the_largest_window():
    conn, _server = connected()
    conn.unary(PATH, b"")
    conn.data_to_send()
    updates = window_update(1, 2**20) * 2048  # 2^31: one too many
    events = conn.receive_data(updates)
    assert terminated(events).error_code == ErrorCode.FLOW_CONTROL_ERROR
    assert [type(e) for e in events] == [ge.CallEnded, ge.ConnectionClosed]
