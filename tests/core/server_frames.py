"""Server-side frame builders for core tests (hpack's encoder, our framer)."""

from __future__ import annotations

import struct

import hpack

from pyetcd_wire._core.grpc.framing import encode_message
from pyetcd_wire._core.h2 import frames as fr


class Server:
    def __init__(self) -> None:
        self.encoder = hpack.Encoder()

    def settings(self, **values: int) -> bytes:
        ids = {name: fr.Setting[name.upper()] for name in values}
        return fr.settings_frame({ids[k]: v for k, v in values.items()})

    def headers(self, sid: int, fields, *, end: bool = False, flags: int = 0) -> bytes:
        block = self.encoder.encode(fields)
        flag = fr.END_HEADERS | (fr.END_STREAM if end else 0) | flags
        return fr.frame(fr.FrameType.HEADERS, flag, sid, block)

    def response_headers(self, sid: int) -> bytes:
        return self.headers(
            sid, [(":status", "200"), ("content-type", "application/grpc")]
        )

    def trailers(self, sid: int, status: int = 0, message: str | None = None) -> bytes:
        fields = [("grpc-status", str(status))]
        if message is not None:
            fields.append(("grpc-message", message))
        return self.headers(sid, fields, end=True)

    def data(
        self, sid: int, payload: bytes, *, end: bool = False, pad: int | None = None
    ) -> bytes:
        flags = fr.END_STREAM if end else 0
        if pad is not None:
            flags |= fr.PADDED
            payload = bytes([pad]) + payload + b"\0" * pad
        return fr.frame(fr.FrameType.DATA, flags, sid, payload)

    def rst_stream(self, sid: int, code: int) -> bytes:
        return fr.frame(fr.FrameType.RST_STREAM, 0, sid, struct.pack(">I", code))

    def reply(self, sid: int, *messages: bytes, status: int = 0) -> bytes:
        body = b"".join(encode_message(m) for m in messages)
        return (
            self.response_headers(sid)
            + self.data(sid, body)
            + self.trailers(sid, status)
        )


def window_update(sid: int, n: int) -> bytes:
    return fr.frame(fr.FrameType.WINDOW_UPDATE, 0, sid, struct.pack(">I", n))


def parse_frames(data: bytes):
    """(type, flags, stream_id, payload) for every frame in `data` (no preface)."""
    if data.startswith(fr.PREFACE):
        data = data[len(fr.PREFACE) :]
    out, pos = [], 0
    while pos < len(data):
        lt, flags, sid = fr.FRAME_HEADER.unpack_from(data, pos)
        length = lt >> 8
        out.append((lt & 0xFF, flags, sid, data[pos + 9 : pos + 9 + length]))
        pos += 9 + length
    assert pos == len(data)
    return out
