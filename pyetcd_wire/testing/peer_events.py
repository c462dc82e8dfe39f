"""Values of the fake peer: its events, request records and frame helpers.

See fake_peer.py for the theory of operation.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Optional, Union

from h2.settings import SettingCodes
from hyperframe.frame import (
    Frame,
)

__all__ = [
    "CLIENT_PREFACE",
    "ETCD_SERVER_SETTINGS",
    "ConnectionClosed",
    "ConnectionLost",
    "PeerEvent",
    "PingAcked",
    "PingReceived",
    "ProtocolViolation",
    "RequestEnded",
    "RequestMessage",
    "RequestReceived",
    "RequestRecord",
    "SettingsAcked",
    "SettingsReceived",
    "StreamReset",
    "WindowUpdated",
    "encode_grpc_message",
    "parse_frames",
    "percent_encode",
    "raw_frame",
]

#: RFC 9113 §3.4: the client connection preface.
CLIENT_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

#: The SETTINGS an etcd 3.5.1 server was observed sending.
ETCD_SERVER_SETTINGS: dict[int, int] = {
    SettingCodes.MAX_FRAME_SIZE: 16384,
    SettingCodes.MAX_CONCURRENT_STREAMS: 2**32 - 1,
}

#: h2's own inbound header-list cap; kept (unadvertised, as grpc-go's 16 MiB is).
_H2_MAX_HEADER_LIST_SIZE = 2**16

HeaderValue = Union[str, bytes]
HeaderPairs = Iterable[tuple[HeaderValue, HeaderValue]]


# --------------------------------------------------------------------------
# Events (values; past tense or nouns)
# --------------------------------------------------------------------------


class PeerEvent:
    """Base class of everything :meth:`FakeEtcdPeer.receive_data` returns."""

    __slots__ = ()


@dataclass(frozen=True)
class RequestReceived(PeerEvent):
    """The client opened a stream: its request header block, in wire order."""

    __slots__ = ("headers", "path", "stream_id")
    stream_id: int
    path: str
    headers: list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class RequestMessage(PeerEvent):
    """One whole gRPC length-prefixed message, payload only (prefix removed)."""

    __slots__ = ("message", "stream_id")
    stream_id: int
    message: bytes


@dataclass(frozen=True)
class RequestEnded(PeerEvent):
    """The client half-closed the stream (END_STREAM)."""

    __slots__ = ("stream_id",)
    stream_id: int


@dataclass(frozen=True)
class StreamReset(PeerEvent):
    """The client sent RST_STREAM."""

    __slots__ = ("error_code", "stream_id")
    stream_id: int
    error_code: int


@dataclass(frozen=True)
class PingReceived(PeerEvent):
    """The client sent a PING (the ACK is already queued)."""

    __slots__ = ("data",)
    data: bytes


@dataclass(frozen=True)
class PingAcked(PeerEvent):
    """The client acknowledged one of our PINGs."""

    __slots__ = ("data",)
    data: bytes


@dataclass(frozen=True)
class SettingsReceived(PeerEvent):
    """The client sent SETTINGS (the ACK is already queued): code -> new value."""

    __slots__ = ("changes",)
    changes: dict[int, int]


@dataclass(frozen=True)
class SettingsAcked(PeerEvent):
    """The client acknowledged our SETTINGS."""

    __slots__ = ()


@dataclass(frozen=True)
class WindowUpdated(PeerEvent):
    """The client sent WINDOW_UPDATE (stream_id 0: the connection window)."""

    __slots__ = ("delta", "stream_id")
    stream_id: int
    delta: int


@dataclass(frozen=True)
class ConnectionClosed(PeerEvent):
    """The client sent GOAWAY."""

    __slots__ = ("additional_data", "error_code", "last_stream_id")
    error_code: int
    last_stream_id: int
    additional_data: bytes


@dataclass(frozen=True)
class ProtocolViolation(PeerEvent):
    """h2 rejected the client's bytes; a GOAWAY(error_code) is queued.

    The peer ignores any further input (``FakeEtcdPeer.terminated``).
    """

    __slots__ = ("description", "error_code")
    error_code: int
    description: str


@dataclass(frozen=True)
class ConnectionLost(PeerEvent):
    """The transport reached EOF (:meth:`FakeEtcdPeer.receive_eof`)."""

    __slots__ = ()


@dataclass
class RequestRecord:
    """Everything the client sent on one stream (``FakeEtcdPeer.requests``)."""

    stream_id: int
    path: str
    header_list: list[tuple[bytes, bytes]]
    headers: dict[bytes, bytes]
    messages: list[bytes] = field(default_factory=list)
    #: the compressed-flag byte of each entry of ``messages``
    compressed_flags: list[int] = field(default_factory=list)
    #: payload sizes of the DATA frames received, padding excluded
    data_frames: list[int] = field(default_factory=list)
    #: bytes counted against flow control (padding included)
    flow_controlled_bytes: int = 0
    ended: bool = False
    reset_code: Optional[int] = None
    trailers: Optional[list[tuple[bytes, bytes]]] = None
    response_started: bool = False
    #: bytes after the last whole message (a truncated message, if ``ended``)
    partial: bytes = b""


# --------------------------------------------------------------------------
# Byte-level helpers
# --------------------------------------------------------------------------


def encode_grpc_message(
    payload: bytes, *, compressed_flag: int = 0, declared_length: int | None = None
) -> bytes:
    """Return a gRPC Length-Prefixed-Message.

    Args:
        payload: the message bytes.
        compressed_flag: the first byte (0 or 1 in valid gRPC; anything 0-255).
        declared_length: the length to write in the prefix; defaults to the
            real one, so tests can lie about it.
    """
    length = len(payload) if declared_length is None else declared_length
    return struct.pack(">BI", compressed_flag, length) + payload


def percent_encode(text: str) -> bytes:
    """Percent-encode a ``grpc-message`` value as gRPC requires.

    UTF-8 bytes outside 0x20-0x7E, and ``%`` itself, become ``%XX``.
    """
    out = bytearray()
    for byte in text.encode("utf-8"):
        if 0x20 <= byte <= 0x7E and byte != 0x25:
            out.append(byte)
        else:
            out += b"%%%02X" % byte
    return bytes(out)


def raw_frame(
    frame_type: int, flags: int, stream_id: int, payload: bytes = b""
) -> bytes:
    """Return one HTTP/2 frame with nothing checked (RFC 9113 §4.1).

    Use it for frames no library will build: DATA on stream 0, a padding length
    beyond the payload, a payload over MAX_FRAME_SIZE, a reserved bit set...
    """
    header = struct.pack(">I", len(payload) & 0xFFFFFF)[1:]
    return header + struct.pack(">BBI", frame_type, flags, stream_id) + payload


def parse_frames(data: bytes) -> list[Frame]:
    """Split bytes into ``hyperframe`` frames (a leading client preface is skipped).

    Raises:
        ValueError: if the bytes end in the middle of a frame.
    """
    view = memoryview(data)
    if data.startswith(CLIENT_PREFACE):
        view = view[len(CLIENT_PREFACE) :]
    frames: list[Frame] = []
    while view:
        if len(view) < 9:
            raise ValueError(f"{len(view)} trailing bytes are not a frame header")
        frame, length = Frame.parse_frame_header(view[:9])
        if len(view) < 9 + length:
            raise ValueError(f"frame body truncated: {len(view) - 9} of {length}")
        frame.parse_body(view[9 : 9 + length])
        frames.append(frame)
        view = view[9 + length :]
    return frames


def _to_bytes(value: HeaderValue) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _header_list(pairs: HeaderPairs) -> list[tuple[bytes, bytes]]:
    return [(_to_bytes(name), _to_bytes(value)) for name, value in pairs]


# --------------------------------------------------------------------------
# The sans-IO peer
# --------------------------------------------------------------------------
