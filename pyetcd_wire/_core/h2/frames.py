"""HTTP/2 frame layout (RFC 9113 §4 and §6): constants, encoders and payload parsers.

Every frame starts with a 9-byte header: a 24-bit payload length, an 8-bit type,
an 8-bit flags field and a 31-bit stream identifier (the high bit is reserved and
ignored on receipt).  Encoders return ready-to-send bytes; parsers take a payload
and return plain values, raising `LocalProtocolError` naming the frame and the
rule it broke.  The connection turns those into `RemoteProtocolError` at the one
place where peer bytes enter (`H2ClientConnection.receive_data`).

One `struct` call per frame header keeps the per-call cost low.
"""

from __future__ import annotations

import enum
import struct

from ...errors import LocalProtocolError

# RFC 9113 §3.4: the client connection preface.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

FRAME_HEADER = struct.Struct(">IBI")  # (length << 8 | type), flags, stream id
_HEADER_PACK = struct.Struct(">HBBBI").pack  # length hi16, length lo8, type, flags, id

# RFC 9113 §6.5.2 / §4.2: bounds for SETTINGS_MAX_FRAME_SIZE.
MIN_MAX_FRAME_SIZE = 16_384
MAX_MAX_FRAME_SIZE = 16_777_215
# RFC 9113 §6.9.1: the largest flow-control window.
MAX_WINDOW = 2**31 - 1
MAX_STREAM_ID = 2**31 - 1
# RFC 9113 §6.9.2: the initial window before SETTINGS say otherwise.
DEFAULT_WINDOW = 65_535


class FrameType(enum.IntEnum):
    """RFC 9113 §6 frame types."""

    DATA = 0x0
    HEADERS = 0x1
    PRIORITY = 0x2
    RST_STREAM = 0x3
    SETTINGS = 0x4
    PUSH_PROMISE = 0x5
    PING = 0x6
    GOAWAY = 0x7
    WINDOW_UPDATE = 0x8
    CONTINUATION = 0x9


# The types the per-call path names, as plain ints (reading a member through
# its class is slow on CPython < 3.12: see state.py `_Enum`).
DATA_TYPE = int(FrameType.DATA)
HEADERS_TYPE = int(FrameType.HEADERS)
PING_TYPE = int(FrameType.PING)


# Frame flags (RFC 9113 §6), plain ints: the same bit means different things
# on different frames, and IntFlag arithmetic is slow on the hot path.
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY = 0x20


class ErrorCode(enum.IntEnum):
    """RFC 9113 §7 error codes, carried by RST_STREAM and GOAWAY."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


def error_code_name(code: int) -> str:
    """Name an error code, including ones RFC 9113 does not define."""
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"UNKNOWN_ERROR_{code:#x}"


class Setting(enum.IntEnum):
    """RFC 9113 §6.5.2 setting identifiers."""

    HEADER_TABLE_SIZE = 0x1
    ENABLE_PUSH = 0x2
    MAX_CONCURRENT_STREAMS = 0x3
    INITIAL_WINDOW_SIZE = 0x4
    MAX_FRAME_SIZE = 0x5
    MAX_HEADER_LIST_SIZE = 0x6


def frame_name(frame_type: int) -> str:
    try:
        return FrameType(frame_type).name
    except ValueError:
        return f"UNKNOWN_FRAME_{frame_type:#x}"


def violation(
    frame_type: int, rule: str, code: ErrorCode = ErrorCode.PROTOCOL_ERROR
) -> LocalProtocolError:
    """Build the error for a frame that breaks `rule` (RFC 9113 section given)."""
    return LocalProtocolError(
        f"{frame_name(frame_type)} frame: {rule}",
        error_code=code,
        frame=frame_name(frame_type),
    )


# --- encoders -------------------------------------------------------------


def frame(frame_type: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """Encode one frame."""
    n = len(payload)
    return _HEADER_PACK(n >> 8, n & 0xFF, frame_type, flags, stream_id) + payload


def frame_header(frame_type: int, flags: int, stream_id: int, length: int) -> bytes:
    return _HEADER_PACK(length >> 8, length & 0xFF, frame_type, flags, stream_id)


SETTINGS_ACK_FRAME = frame_header(FrameType.SETTINGS, ACK, 0, 0)
# Every PING ACK has the same header; one per unary call against grpc-go.
PING_ACK_HEADER = frame_header(FrameType.PING, ACK, 0, 8)


def settings_frame(
    settings: dict[int, int] | None = None, *, ack: bool = False
) -> bytes:
    if ack:
        return frame(FrameType.SETTINGS, ACK, 0)
    payload = b"".join(struct.pack(">HI", k, v) for k, v in (settings or {}).items())
    return frame(FrameType.SETTINGS, 0, 0, payload)


def window_update_frame(stream_id: int, increment: int) -> bytes:
    return frame(FrameType.WINDOW_UPDATE, 0, stream_id, struct.pack(">I", increment))


def ping_frame(data: bytes, *, ack: bool = False) -> bytes:
    return frame(FrameType.PING, ACK if ack else 0, 0, data)


def rst_stream_frame(stream_id: int, code: int) -> bytes:
    return frame(FrameType.RST_STREAM, 0, stream_id, struct.pack(">I", code))


def goaway_frame(last_stream_id: int, code: int, debug: bytes = b"") -> bytes:
    return frame(
        FrameType.GOAWAY, 0, 0, struct.pack(">II", last_stream_id, code) + debug
    )


def headers_frames(
    stream_id: int, block: bytes, *, end_stream: bool, max_frame_size: int
) -> bytes:
    """HEADERS, split into CONTINUATION frames when the block exceeds a frame."""
    flags = END_STREAM if end_stream else 0
    if len(block) <= max_frame_size:
        return frame(FrameType.HEADERS, flags | END_HEADERS, stream_id, block)
    parts = [frame(FrameType.HEADERS, flags, stream_id, block[:max_frame_size])]
    rest = block[max_frame_size:]
    while rest:
        chunk, rest = rest[:max_frame_size], rest[max_frame_size:]
        last = END_HEADERS if not rest else 0
        parts.append(frame(FrameType.CONTINUATION, last, stream_id, chunk))
    return b"".join(parts)


def unary_request_frames(stream_id: int, block: bytes, data: bytes) -> bytes:
    """HEADERS (END_HEADERS) and one DATA (END_STREAM): a request whose header
    block and message each fit in one frame, encoded in one step."""
    b, n = len(block), len(data)
    return (
        _HEADER_PACK(b >> 8, b & 0xFF, HEADERS_TYPE, END_HEADERS, stream_id)
        + block
        + _HEADER_PACK(n >> 8, n & 0xFF, DATA_TYPE, END_STREAM, stream_id)
        + data
    )


# --- payload parsers --------------------------------------------------------

_U32 = struct.Struct(">I")
_U16_U32 = struct.Struct(">HI")
_U32_U32 = struct.Struct(">II")


def strip_padding(frame_type: int, flags: int, payload: bytes) -> bytes:
    """Remove the Pad Length octet and the padding (RFC 9113 §6.1, §6.2)."""
    if not flags & PADDED:
        return payload
    if not payload:
        raise violation(frame_type, "PADDED flag set on an empty payload (§6.1)")
    pad = payload[0]
    if pad >= len(payload):
        raise violation(frame_type, f"padding of {pad} octets fills the frame (§6.1)")
    return payload[1 : len(payload) - pad]


def header_block_fragment(flags: int, payload: bytes) -> bytes:
    """The HPACK fragment of a HEADERS payload, without padding and priority."""
    body = strip_padding(FrameType.HEADERS, flags, payload)
    if flags & PRIORITY:
        if len(body) < 5:
            raise violation(
                FrameType.HEADERS,
                "PRIORITY flag set but fewer than 5 octets (§6.2)",
                ErrorCode.FRAME_SIZE_ERROR,
            )
        body = body[5:]
    return body


def parse_settings(flags: int, stream_id: int, payload: bytes) -> list[tuple[int, int]]:
    if stream_id:
        raise violation(FrameType.SETTINGS, "sent on a stream, not stream 0 (§6.5)")
    if flags & ACK:
        if payload:
            raise violation(
                FrameType.SETTINGS,
                "ACK with a non-empty payload (§6.5)",
                ErrorCode.FRAME_SIZE_ERROR,
            )
        return []
    if len(payload) % 6:
        raise violation(
            FrameType.SETTINGS,
            f"payload of {len(payload)} octets is not a multiple of 6 (§6.5)",
            ErrorCode.FRAME_SIZE_ERROR,
        )
    return [_U16_U32.unpack_from(payload, i) for i in range(0, len(payload), 6)]


def parse_window_update(stream_id: int, payload: bytes) -> int:
    if len(payload) != 4:
        raise violation(
            FrameType.WINDOW_UPDATE,
            f"payload of {len(payload)} octets, not 4 (§6.9)",
            ErrorCode.FRAME_SIZE_ERROR,
        )
    return int(_U32.unpack(payload)[0]) & MAX_WINDOW


def parse_ping(stream_id: int, payload: bytes) -> bytes:
    if stream_id:
        raise violation(FrameType.PING, "sent on a stream, not stream 0 (§6.7)")
    if len(payload) != 8:
        raise violation(
            FrameType.PING,
            f"payload of {len(payload)} octets, not 8 (§6.7)",
            ErrorCode.FRAME_SIZE_ERROR,
        )
    return bytes(payload)


def parse_rst_stream(stream_id: int, payload: bytes) -> int:
    if not stream_id:
        raise violation(FrameType.RST_STREAM, "sent on stream 0 (§6.4)")
    if len(payload) != 4:
        raise violation(
            FrameType.RST_STREAM,
            f"payload of {len(payload)} octets, not 4 (§6.4)",
            ErrorCode.FRAME_SIZE_ERROR,
        )
    return int(_U32.unpack(payload)[0])


def parse_goaway(stream_id: int, payload: bytes) -> tuple[int, int, bytes]:
    """Returns (last_stream_id, error_code, debug_data)."""
    if stream_id:
        raise violation(FrameType.GOAWAY, "sent on a stream, not stream 0 (§6.8)")
    if len(payload) < 8:
        raise violation(
            FrameType.GOAWAY,
            f"payload of {len(payload)} octets, fewer than 8 (§6.8)",
            ErrorCode.FRAME_SIZE_ERROR,
        )
    last, code = _U32_U32.unpack_from(payload)
    return last & MAX_STREAM_ID, code, bytes(payload[8:])
