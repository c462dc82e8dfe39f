"""gRPC status codes and how a call's status is derived from what the server sent.

Sources: grpc/grpc `doc/statuscodes.md`, `doc/PROTOCOL-HTTP2.md` ("Responses"),
`doc/http-grpc-status-mapping.md`.  The catalogues below are data: the HTTP
status table and the RST_STREAM table are copied from those documents.
"""

from __future__ import annotations

import enum
from typing import Dict, Optional, Sequence, Tuple


class StatusCode(enum.IntEnum):
    """gRPC status codes (doc/statuscodes.md)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


# doc/http-grpc-status-mapping.md: the code to use when a response has no
# grpc-status.  Anything not listed maps to UNKNOWN.
HTTP_TO_GRPC_STATUS = {
    400: StatusCode.INTERNAL,
    401: StatusCode.UNAUTHENTICATED,
    403: StatusCode.PERMISSION_DENIED,
    404: StatusCode.UNIMPLEMENTED,
    429: StatusCode.UNAVAILABLE,
    502: StatusCode.UNAVAILABLE,
    503: StatusCode.UNAVAILABLE,
    504: StatusCode.UNAVAILABLE,
}

# doc/PROTOCOL-HTTP2.md "Errors": RST_STREAM error code -> status.  Codes not
# listed (STREAM_CLOSED, unknown codes) map to INTERNAL.
RST_STREAM_TO_GRPC_STATUS = {
    0x0: StatusCode.INTERNAL,  # NO_ERROR
    0x1: StatusCode.INTERNAL,  # PROTOCOL_ERROR
    0x2: StatusCode.INTERNAL,  # INTERNAL_ERROR
    0x3: StatusCode.INTERNAL,  # FLOW_CONTROL_ERROR
    0x4: StatusCode.INTERNAL,  # SETTINGS_TIMEOUT
    0x6: StatusCode.INTERNAL,  # FRAME_SIZE_ERROR
    0x7: StatusCode.UNAVAILABLE,  # REFUSED_STREAM: not processed, safe to retry
    0x8: StatusCode.CANCELLED,  # CANCEL
    0x9: StatusCode.INTERNAL,  # COMPRESSION_ERROR
    0xA: StatusCode.INTERNAL,  # CONNECT_ERROR
    0xB: StatusCode.RESOURCE_EXHAUSTED,  # ENHANCE_YOUR_CALM
    0xC: StatusCode.PERMISSION_DENIED,  # INADEQUATE_SECURITY
}

Headers = Sequence[Tuple[bytes, bytes]]


class Status:
    """The outcome of one call: code, message and the raw trailers.

    `not_processed` is True only when the server provably never saw the call
    (GOAWAY above last_stream_id, REFUSED_STREAM, or never sent), so even a
    write may be retried.
    """

    __slots__ = ("code", "details", "message", "not_processed", "trailers")

    def __init__(
        self,
        code: StatusCode,
        message: str = "",
        *,
        details: Optional[bytes] = None,
        trailers: Headers = (),
        not_processed: bool = False,
    ) -> None:
        self.code = code
        self.message = message
        self.details = details
        self.trailers = trailers
        self.not_processed = not_processed

    def __repr__(self) -> str:
        return f"Status({self.code.name}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Status):
            return NotImplemented
        return (self.code, self.message, self.details, self.not_processed) == (
            other.code,
            other.message,
            other.details,
            other.not_processed,
        )

    __hash__ = None  # type: ignore[assignment]


OK_STATUS = Status(StatusCode.OK)


def decode_grpc_message(raw: bytes) -> str:
    """Percent-decode grpc-message; bad escapes are kept as they are (never fail)."""
    if b"%" not in raw:
        return raw.decode("utf-8", "replace")
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == 0x25 and i + 2 < n and _is_hex(raw[i + 1 : i + 3]):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return out.decode("utf-8", "replace")


def encode_grpc_message(message: str) -> bytes:
    """Percent-encode a status message (bytes outside 0x20-0x7E and '%')."""
    out = bytearray()
    for b in message.encode("utf-8"):
        if 0x20 <= b <= 0x7E and b != 0x25:
            out.append(b)
        else:
            out += b"%%%02X" % b
    return bytes(out)


def _is_hex(two: bytes) -> bool:
    return len(two) == 2 and all(c in b"0123456789abcdefABCDEF" for c in two)


def _b64decode_lenient(value: bytes) -> bytes:
    """Binary metadata is base64, padded or not (PROTOCOL-HTTP2.md)."""
    import base64  # here: only a status with details needs it

    try:
        return base64.b64decode(value + b"=" * (-len(value) % 4))
    except ValueError:
        return b""


# Trailers usually repeat (the HPACK decode cache even returns the same tuple),
# so their status is cached too.  Bounded: grpc-message strings vary.
_STATUS_CACHE: Dict[Tuple[int, Headers], Status] = {}
_STATUS_CACHE_MAX = 256


def status_from_trailers(trailers: Headers, http_status: int = 200) -> Status:
    """`parse_trailers`, cached for hashable (tuple) trailers."""
    if type(trailers) is not tuple:
        return parse_trailers(trailers, http_status)
    key = (http_status, trailers)
    status = _STATUS_CACHE.get(key)
    if status is None:
        if len(_STATUS_CACHE) >= _STATUS_CACHE_MAX:
            _STATUS_CACHE.clear()
        status = _STATUS_CACHE[key] = parse_trailers(trailers, http_status)
    return status


def parse_trailers(trailers: Headers, http_status: int = 200) -> Status:
    """Derive the call's status from trailers (or a trailers-only response).

    A missing or malformed grpc-status falls back to the HTTP status mapping,
    and a 200 without grpc-status is UNKNOWN (http-grpc-status-mapping.md).
    """
    code_raw: Optional[bytes] = None
    message = b""
    details: Optional[bytes] = None
    for name, value in trailers:
        if name == b"grpc-status":
            code_raw = value
        elif name == b"grpc-message":
            message = value
        elif name == b"grpc-status-details-bin":
            details = _b64decode_lenient(value)
    if code_raw is None:
        return status_from_http(http_status, "response had no grpc-status", trailers)
    try:
        code = StatusCode(int(code_raw))
    except ValueError:
        return Status(
            StatusCode.UNKNOWN,
            f"server sent grpc-status {code_raw!r}, which is not a gRPC status code",
            trailers=trailers,
        )
    text = decode_grpc_message(message) if message else ""
    return Status(code, text, details=details, trailers=trailers)


def status_from_http(http_status: int, why: str, trailers: Headers = ()) -> Status:
    code = HTTP_TO_GRPC_STATUS.get(http_status, StatusCode.UNKNOWN)
    return Status(code, f"HTTP status {http_status}: {why}", trailers=trailers)


def status_from_rst_stream(error_code: int, error_name: str) -> Status:
    code = RST_STREAM_TO_GRPC_STATUS.get(error_code, StatusCode.INTERNAL)
    return Status(
        code,
        f"stream reset by the server with {error_name}",
        not_processed=error_code == 0x7,
    )
