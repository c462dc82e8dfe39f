"""Frame encoders and parsers, checked against hyperframe (h2's framer) as an
independent implementation."""

from __future__ import annotations

import pytest
from hyperframe import frame as hf

from pyetcd_wire._core.h2 import frames as fr
from pyetcd_wire.errors import LocalProtocolError


def parse_one(data: bytes) -> hf.Frame:
    frame, length = hf.Frame.parse_frame_header(memoryview(data[:9]))
    frame.parse_body(memoryview(data[9 : 9 + length]))
    assert len(data) == 9 + length
    return frame


ENCODED_CASES = [
    (
        fr.settings_frame(
            {fr.Setting.ENABLE_PUSH: 0, fr.Setting.INITIAL_WINDOW_SIZE: 1 << 22}
        ),
        hf.SettingsFrame,
        {"settings": {2: 0, 4: 1 << 22}},
        set(),
    ),
    (fr.settings_frame(ack=True), hf.SettingsFrame, {"settings": {}}, {"ACK"}),
    (
        fr.window_update_frame(0, 1000),
        hf.WindowUpdateFrame,
        {"window_increment": 1000, "stream_id": 0},
        set(),
    ),
    (
        fr.window_update_frame(7, 2**31 - 1),
        hf.WindowUpdateFrame,
        {"window_increment": 2**31 - 1, "stream_id": 7},
        set(),
    ),
    (fr.ping_frame(b"abcdefgh"), hf.PingFrame, {"opaque_data": b"abcdefgh"}, set()),
    (
        fr.ping_frame(b"abcdefgh", ack=True),
        hf.PingFrame,
        {"opaque_data": b"abcdefgh"},
        {"ACK"},
    ),
    (
        fr.rst_stream_frame(5, fr.ErrorCode.CANCEL),
        hf.RstStreamFrame,
        {"error_code": 8, "stream_id": 5},
        set(),
    ),
    (
        fr.goaway_frame(9, fr.ErrorCode.ENHANCE_YOUR_CALM, b"too_many_pings"),
        hf.GoAwayFrame,
        {"last_stream_id": 9, "error_code": 11, "additional_data": b"too_many_pings"},
        set(),
    ),
    (
        fr.frame(fr.FrameType.DATA, fr.END_STREAM, 3, b"xyz"),
        hf.DataFrame,
        {"data": b"xyz", "stream_id": 3},
        {"END_STREAM"},
    ),
    (
        fr.frame_header(fr.FrameType.DATA, 0, 1, 2) + b"ab",
        hf.DataFrame,
        {"data": b"ab"},
        set(),
    ),
]


@pytest.mark.parametrize(("data", "cls", "attrs", "flags"), ENCODED_CASES)
def test_encoded_frames_parse_with_hyperframe(data, cls, attrs, flags):
    frame = parse_one(data)
    assert type(frame) is cls
    for name, value in attrs.items():
        assert getattr(frame, name) == value
    assert set(frame.flags) == flags


@pytest.mark.parametrize("size", [0, 10, 16384, 16385, 40000])
def test_headers_split_into_continuation(size):
    block = bytes(range(256)) * (size // 256 + 1)
    block = block[:size]
    data = fr.headers_frames(1, block, end_stream=True, max_frame_size=16384)
    frames, pos = [], 0
    while pos < len(data):
        frame, length = hf.Frame.parse_frame_header(memoryview(data[pos : pos + 9]))
        frame.parse_body(memoryview(data[pos + 9 : pos + 9 + length]))
        frames.append(frame)
        pos += 9 + length
    assert type(frames[0]) is hf.HeadersFrame
    assert "END_STREAM" in frames[0].flags
    assert all(type(f) is hf.ContinuationFrame for f in frames[1:])
    assert "END_HEADERS" in frames[-1].flags
    assert all("END_HEADERS" not in f.flags for f in frames[:-1])
    assert b"".join(f.data for f in frames) == block
    assert all(len(f.data) <= 16384 for f in frames)


def test_padding_is_stripped():
    assert fr.strip_padding(0, fr.PADDED, b"\x03abc\0\0\0") == b"abc"
    assert fr.strip_padding(0, 0, b"\x03abc") == b"\x03abc"
    assert fr.strip_padding(0, fr.PADDED, b"\x00abc") == b"abc"


@pytest.mark.parametrize("payload", [b"", b"\x03ab", b"\x04abc"])
def test_bad_padding_is_a_protocol_error(payload):
    with pytest.raises(
        LocalProtocolError, match=r"DATA frame: .*padding|PADDED"
    ) as info:
        fr.strip_padding(fr.FrameType.DATA, fr.PADDED, payload)
    assert info.value.error_code == fr.ErrorCode.PROTOCOL_ERROR
    assert info.value.frame == "DATA"


def test_priority_field_is_skipped_on_headers():
    assert fr.header_block_fragment(fr.PRIORITY, b"\0\0\0\0\x10block") == b"block"
    assert (
        fr.header_block_fragment(fr.PRIORITY | fr.PADDED, b"\x02\0\0\0\0\x10bl\0\0")
        == b"bl"
    )
    with pytest.raises(LocalProtocolError, match="PRIORITY flag"):
        fr.header_block_fragment(fr.PRIORITY, b"\0\0")


PARSE_ERRORS = [
    (
        lambda: fr.parse_settings(0, 1, b""),
        "SETTINGS frame: sent on a stream",
        fr.ErrorCode.PROTOCOL_ERROR,
    ),
    (
        lambda: fr.parse_settings(fr.ACK, 0, b"\0"),
        "ACK with a non-empty",
        fr.ErrorCode.FRAME_SIZE_ERROR,
    ),
    (
        lambda: fr.parse_settings(0, 0, b"\0" * 5),
        "not a multiple of 6",
        fr.ErrorCode.FRAME_SIZE_ERROR,
    ),
    (
        lambda: fr.parse_window_update(0, b"\0\0\0"),
        "not 4",
        fr.ErrorCode.FRAME_SIZE_ERROR,
    ),
    (
        lambda: fr.parse_ping(1, b"\0" * 8),
        "PING frame: sent on a stream",
        fr.ErrorCode.PROTOCOL_ERROR,
    ),
    (lambda: fr.parse_ping(0, b"\0" * 7), "not 8", fr.ErrorCode.FRAME_SIZE_ERROR),
    (
        lambda: fr.parse_rst_stream(0, b"\0" * 4),
        "RST_STREAM frame: sent on stream 0",
        fr.ErrorCode.PROTOCOL_ERROR,
    ),
    (lambda: fr.parse_rst_stream(1, b"\0" * 5), "not 4", fr.ErrorCode.FRAME_SIZE_ERROR),
    (
        lambda: fr.parse_goaway(1, b"\0" * 8),
        "GOAWAY frame: sent on a stream",
        fr.ErrorCode.PROTOCOL_ERROR,
    ),
    (
        lambda: fr.parse_goaway(0, b"\0" * 7),
        "fewer than 8",
        fr.ErrorCode.FRAME_SIZE_ERROR,
    ),
]


@pytest.mark.parametrize(("parse", "message", "code"), PARSE_ERRORS)
def test_malformed_control_frames(parse, message, code):
    with pytest.raises(LocalProtocolError, match=message) as info:
        parse()
    assert info.value.error_code == code


def test_parsers_return_values():
    assert fr.parse_settings(0, 0, b"\0\x04\0\0\x10\0\0\x05\0\0\x40\0") == [
        (4, 4096),
        (5, 16384),
    ]
    assert fr.parse_window_update(0, b"\x80\0\0\x01") == 1  # reserved bit ignored
    assert fr.parse_goaway(0, b"\x80\0\0\x03\0\0\0\x0bcalm") == (3, 11, b"calm")
    assert fr.parse_rst_stream(1, b"\0\0\0\x07") == 7
    assert fr.error_code_name(7) == "REFUSED_STREAM"
    assert fr.error_code_name(0x99) == "UNKNOWN_ERROR_0x99"
    assert fr.frame_name(0x42) == "UNKNOWN_FRAME_0x42"
