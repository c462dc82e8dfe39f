"""Generated server byte streams: HTTP/2 frame sequences a server might send,
and many it must not.

`generated(src)` builds a `Scenario` from the choices a `Source` makes: the
client's limits and calls, then frames of every type (unknown ones too), with
their flags, padding, lengths (sometimes wrong), HEADERS split into
CONTINUATION, HPACK blocks valid and invalid (dynamic table size updates,
huge integers, Huffman), gRPC length prefixes (the compressed flag, lengths
past the limit) and protobuf payloads, cut at random points.

A `Source` is where the choices come from: Hypothesis' `data.draw` in the
tests, atheris' FuzzedDataProvider in the long run, so both explore the same
space.
"""

from __future__ import annotations

import random
import struct
from typing import List, Protocol, Sequence, Tuple, TypeVar

import hpack

from pyetcd_wire._core.h2 import frames as fr
from pyetcd_wire._core.h2.hpack import _integer as _hpack_integer
from pyetcd_wire._proto import kv_pb2, rpc_pb2

from .harness import Action, Config, Scenario

T = TypeVar("T")
FT = fr.FrameType


class Source(Protocol):
    def integer(self, lo: int, hi: int) -> int: ...

    def raw(self, max_size: int) -> bytes: ...


class RandomSource:
    """A `Source` over a Random, e.g. one Hypothesis drew (st.randoms()):
    its choices are uniform (Hypothesis' own integers prefer the small end,
    and the generator's odd cases sit everywhere), yet replayed and shrunk
    by it."""

    def __init__(self, rnd: random.Random) -> None:
        self._rnd = rnd

    def integer(self, lo: int, hi: int) -> int:
        return self._rnd.randint(lo, hi)

    def raw(self, max_size: int) -> bytes:
        n = self._rnd.randint(0, max_size)
        return bytes(self._rnd.getrandbits(8) for _ in range(n))


def pick(src: Source, options: Sequence[T]) -> T:
    return options[src.integer(0, len(options) - 1)]


def chance(src: Source, one_in: int) -> bool:
    return src.integer(0, one_in - 1) == 0


class _Calm:
    """A `Source` for a scenario that breaks the rules rarely: `odd(n)`,
    one in n for a wild scenario, is one in 30 n for a calm one, so that
    most calm scenarios reach the calls' ends instead of a protocol error."""

    def __init__(self, src: Source, calm: bool) -> None:
        self.integer = src.integer
        self.raw = src.raw
        self.factor = 30 if calm else 1

    def odd(self, one_in: int) -> bool:
        return self.integer(0, one_in * self.factor - 1) == 0


# --- the client's side ------------------------------------------------------------


def _config(g: _Calm) -> Config:
    return Config(
        stream_window=pick(g, (65_535, 1_000, 16_384, 4 << 20)),
        connection_window=pick(g, (1 << 20, 65_535, 16 << 20)),
        max_header_list_size=pick(g, (16 * 1024, 200, 64 * 1024)),
        max_recv_message_size=pick(g, (256 * 1024, 100, 4 << 20)),
        drain=not chance(g, 6),
    )


def _action(g: _Calm, ncalls: int) -> Action:
    kind = g.integer(0, 5)
    index = g.integer(0, max(ncalls - 1, 0))
    if kind == 0:
        return ("cancel", index)
    if kind == 1:
        return ("send", index, g.integer(0, 1))
    if kind == 2:
        return ("end", index)
    if kind == 3:
        return ("ping",)
    if kind == 4:
        return ("start", pick(g, ("unary", "server_streaming", "stream")), 1)
    return ("consume", index)


# --- HPACK blocks -------------------------------------------------------------------


_ODD_STATUS = ("100", "404", "503", "x", "")
_ODD_CONTENT_TYPE = ("application/grpc+proto", "application/grpc;x", "text/html", None)
_GRPC_STATUS = ("0", "0", "0", "1", "5", "8", "13", "14", "16")
_ODD_GRPC_STATUS = ("99", "-1", "x", "", None)

HeaderList = List[Tuple[bytes, bytes]]


def _response_fields(g: _Calm) -> HeaderList:
    status = pick(g, _ODD_STATUS) if g.odd(8) else "200"
    content_type = pick(g, _ODD_CONTENT_TYPE) if g.odd(8) else "application/grpc"
    fields = [(b":status", status.encode())]
    if content_type is not None:
        fields.append((b"content-type", content_type.encode()))
    return fields


def _trailer_fields(g: _Calm) -> HeaderList:
    grpc_status = pick(g, _ODD_GRPC_STATUS) if g.odd(8) else pick(g, _GRPC_STATUS)
    fields = []
    if grpc_status is not None:
        fields.append((b"grpc-status", grpc_status.encode()))
    if chance(g, 2):
        fields.append((b"grpc-message", g.raw(40)))
    if chance(g, 6):
        fields.append((b"grpc-status-details-bin", g.raw(20)))
    return fields


def _fields(g: _Calm) -> HeaderList:
    """Response headers, trailers or both (Trailers-Only), sometimes odd."""
    shape = g.integer(0, 2)
    fields = _response_fields(g) if shape != 1 else []
    if shape != 0:
        fields += _trailer_fields(g)
    if g.odd(4):
        fields.append((g.raw(12).lower() or b"x", g.raw(30)))
    return fields


def _header_block(g: _Calm, encoder: hpack.Encoder, fields: HeaderList) -> bytes:
    huffman = bool(g.integer(0, 1))
    if not g.odd(3):
        return bytes(encoder.encode(fields, huffman=huffman))
    kind = g.integer(0, 3)
    if kind == 0:  # a dynamic table size update, perhaps larger than allowed
        size = pick(g, (0, 4096, 65_536, 2**32 - 1, 2**70))
        return _hpack_integer(size, 5, 0x20) + bytes(
            encoder.encode(fields, huffman=huffman)
        )
    if kind == 1:  # an index past the tables, or an integer without end
        return pick(
            g,
            (
                _hpack_integer(62 + g.integer(0, 5000), 7, 0x80),
                _hpack_integer(2**64, 7, 0x80),
                b"\xff" + b"\xff" * g.integer(1, 40),
                b"\x80",
            ),
        )
    if kind == 2:  # a literal whose string length runs past the block
        return b"\0" + _hpack_integer(g.integer(1, 2**20), 7, 0x80) + g.raw(8)
    return g.raw(64)  # Huffman or not, anything


# --- frames -------------------------------------------------------------------------


def _frame(g: _Calm, frame_type: int, flags: int, sid: int, payload: bytes) -> bytes:
    """One frame, its declared length usually right."""
    length = len(payload)
    if g.odd(40):
        length = pick(
            g, (0, max(length - 1, 0), length + 1, fr.MIN_MAX_FRAME_SIZE + 1, 2**24 - 1)
        )
    return fr.frame_header(frame_type, flags, sid, length) + payload


def _padded(g: _Calm, flags: int, body: bytes) -> Tuple[int, bytes]:
    if not chance(g, 5):
        return flags, body
    pad = g.integer(0, 255)
    padding = b"\0" * (pad if not g.odd(5) else g.integer(0, 300))
    return flags | fr.PADDED, bytes([pad]) + body + padding


def _stream_id(g: _Calm, ids: Sequence[int]) -> int:
    if ids and not g.odd(8):
        sid = pick(g, ids)
        return sid | (1 << 31) if chance(g, 20) else sid
    return pick(g, (0, 2, 1, 101, fr.MAX_STREAM_ID, g.integer(0, 2**32 - 1)))


def _headers(
    g: _Calm, encoder: hpack.Encoder, sid: int, fields: HeaderList, end: bool
) -> bytes:
    block = _header_block(g, encoder, fields)
    end_stream = fr.END_STREAM if end else 0
    extra = fr.PRIORITY if chance(g, 8) else 0
    cuts = sorted(g.integer(0, len(block)) for _ in range(g.integer(0, 3)))
    if g.odd(30):  # a CONTINUATION flood
        cuts += [len(block)] * g.integer(10, 300)
    parts = [block[a:b] for a, b in zip([0, *cuts], [*cuts, len(block)])]
    first = (b"\0\0\0\0\x10" if extra else b"") + parts[0]
    flags, first = _padded(g, end_stream | extra, first)
    if len(parts) == 1:
        flags |= fr.END_HEADERS
    out = [_frame(g, FT.HEADERS, flags, sid, first)]
    for i, part in enumerate(parts[1:], 2):
        if g.odd(40):  # something else in the middle of the block
            out.append(_frame(g, FT.PING, 0, 0, b"\0" * 8))
        last = fr.END_HEADERS if i == len(parts) else 0
        out.append(_frame(g, FT.CONTINUATION, last, sid, part))
    return b"".join(out)


def _message(g: _Calm) -> bytes:
    kind = g.integer(0, 3)
    if kind == 0:
        response = rpc_pb2.RangeResponse(
            count=g.integer(0, 3),
            kvs=[
                kv_pb2.KeyValue(key=g.raw(8), value=g.raw(40), mod_revision=7)
                for _ in range(g.integer(0, 3))
            ],
        )
        response.header.revision = g.integer(0, 2**40)
        return bytes(response.SerializeToString())
    if kind == 1:
        return bytes(
            rpc_pb2.WatchResponse(
                watch_id=g.integer(0, 5),
                created=bool(g.integer(0, 1)),
                fragment=bool(g.integer(0, 1)),
                events=[kv_pb2.Event(kv=kv_pb2.KeyValue(key=g.raw(4)))],
            ).SerializeToString()
        )
    if kind == 2:
        return b"\0" * g.integer(0, 20_000)  # large enough to span frames
    return g.raw(100)


def _grpc_body(g: _Calm) -> bytes:
    parts = []
    for _ in range(g.integer(0, 3)):
        message = _message(g)
        flag = pick(g, (1, 2, 255)) if g.odd(12) else 0
        length = len(message)
        if g.odd(12):
            length = pick(g, (length + 1, max(length - 1, 0), 2**31 - 1, 2**32 - 1))
        parts.append(struct.pack(">BI", flag, length) + message)
    return b"".join(parts)


def _data(g: _Calm, sid: int, end: bool) -> bytes:
    body = _grpc_body(g)
    # At most 64 frames: tiny frames over a large message would spend the
    # run generating instead of parsing.
    size = max(pick(g, (fr.MIN_MAX_FRAME_SIZE, 1, 7, 1000)), len(body) // 64)
    chunks = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    if chance(g, 20):  # a flood of empty DATA frames
        chunks += [b""] * g.integer(10, 200)
    out = []
    for i, chunk in enumerate(chunks):
        flags = fr.END_STREAM if end and i == len(chunks) - 1 else 0
        flags, payload = _padded(g, flags, chunk)
        out.append(_frame(g, FT.DATA, flags, sid, payload))
    return b"".join(out)


def _response(g: _Calm, encoder: hpack.Encoder, ids: Sequence[int]) -> bytes:
    """One call's response, in pieces: headers, messages, trailers."""
    sid = _stream_id(g, ids)
    out = []
    shape = g.integer(0, 5)
    if shape == 0:  # Trailers-Only
        fields = _response_fields(g) + _trailer_fields(g)
        return _headers(g, encoder, sid, fields, True)
    if shape <= 3:
        out.append(_headers(g, encoder, sid, _response_fields(g), g.odd(10)))
    if shape != 5:
        out.append(_data(g, sid, g.odd(10)))
    if shape != 4:
        out.append(_headers(g, encoder, sid, _trailer_fields(g), not g.odd(10)))
    return b"".join(out)


_SETTING_VALUES = (
    0,
    1,
    100,
    16_384,
    65_535,
    2**24 - 1,
    2**24,
    2**31 - 1,
    2**31,
    2**32 - 1,
)
# Values a server may send (RFC 9113 §6.5.2), huge ones included.
_LEGAL_SETTINGS = (
    (fr.Setting.HEADER_TABLE_SIZE, (0, 4096, 2**32 - 1)),
    (fr.Setting.ENABLE_PUSH, (0,)),
    (fr.Setting.MAX_CONCURRENT_STREAMS, (0, 1, 2, 100, 2**32 - 1)),
    (fr.Setting.INITIAL_WINDOW_SIZE, (0, 1, 65_535, 2**31 - 1)),
    (fr.Setting.MAX_FRAME_SIZE, (16_384, 2**24 - 1)),
    (fr.Setting.MAX_HEADER_LIST_SIZE, (0, 100, 2**32 - 1)),
)


def _settings(g: _Calm) -> bytes:
    if chance(g, 5):
        return _frame(g, FT.SETTINGS, fr.ACK, 0, b"\0" * 6 if g.odd(4) else b"")
    pairs = []
    for _ in range(g.integer(0, 6)):
        if g.odd(4):
            pairs.append(struct.pack(">HI", g.integer(0, 9), pick(g, _SETTING_VALUES)))
        else:
            ident, values = pick(g, _LEGAL_SETTINGS)
            pairs.append(struct.pack(">HI", ident, pick(g, values)))
    payload = b"".join(pairs) + (b"\0\0" if g.odd(20) else b"")
    return _frame(g, FT.SETTINGS, 0, 1 if g.odd(20) else 0, payload)


def _control(g: _Calm, ids: Sequence[int]) -> bytes:
    kind = g.integer(0, 8)
    if kind == 0:
        return _settings(g)
    if kind == 1:
        ack = fr.ACK if chance(g, 3) else 0
        data = b"fuzzping" if ack and chance(g, 2) else g.raw(8).ljust(8, b"\0")
        if g.odd(10):
            data = g.raw(12)
        repeat = g.integer(2, 2000) if chance(g, 10) else 1
        return _frame(g, FT.PING, ack, 1 if g.odd(20) else 0, data) * repeat
    if kind == 2:
        last = pick(g, (*ids, 0, fr.MAX_STREAM_ID))
        if g.odd(5):
            last = pick(g, (2, g.integer(0, 2**32 - 1)))
        payload = struct.pack(">II", last, g.integer(0, 20)) + g.raw(30)
        return _frame(g, FT.GOAWAY, 0, 1 if g.odd(20) else 0, payload)
    if kind == 3:
        sid = 0 if chance(g, 2) else _stream_id(g, ids)
        increment = pick(g, (1, 65_535, 2**31 - 1, g.integer(1, 2**20)))
        if g.odd(10):
            increment = pick(g, (0, 2**32 - 1))
        repeat = g.integer(2, 50) if chance(g, 10) else 1
        return (
            _frame(g, FT.WINDOW_UPDATE, 0, sid, struct.pack(">I", increment)) * repeat
        )
    if kind == 4:
        payload = struct.pack(">I", g.integer(0, 20))
        repeat = g.integer(2, 50) if chance(g, 10) else 1
        return _frame(g, FT.RST_STREAM, 0, _stream_id(g, ids), payload) * repeat
    if kind == 5:
        payload = g.raw(8) if g.odd(5) else b"\0\0\0\x03\x10"
        return _frame(g, FT.PRIORITY, 0, _stream_id(g, ids), payload)
    if kind == 6 and g.odd(4):
        payload = b"\0\0\0\x02" + g.raw(10)
        return _frame(g, FT.PUSH_PROMISE, fr.END_HEADERS, _stream_id(g, ids), payload)
    if kind == 7 and g.odd(4):
        flags = g.integer(0, 255)
        return _frame(g, FT.CONTINUATION, flags, _stream_id(g, ids), g.raw(10))
    frame_type, flags = g.integer(10, 255), g.integer(0, 255)
    return _frame(g, frame_type, flags, g.integer(0, 9), g.raw(30))


def generated(src: Source) -> Scenario:
    """A whole scenario: the client's limits and calls, the server's bytes."""
    g = _Calm(src, calm=not chance(src, 3))
    config = _config(g)
    ncalls = g.integer(0, 4) if g.odd(8) else g.integer(1, 4)
    kinds = ("unary", "server_streaming", "stream")
    actions: List[Tuple[int, Action]] = [
        (0, ("start", pick(g, kinds), g.integer(0, 1))) for _ in range(ncalls)
    ]
    ids = [1 + 2 * i for i in range(ncalls)]
    encoder = hpack.Encoder()
    if chance(g, 2):
        encoder.header_table_size = 0  # what a server does once it ACKs ours
    out = []
    if not g.odd(15):
        out.append(_settings(g) if chance(g, 4) else fr.settings_frame())
    for _ in range(g.integer(0, 12)):
        kind = g.integer(0, 4)
        if kind <= 1:
            out.append(_response(g, encoder, ids))
        elif kind == 2:
            out.append(
                _headers(g, encoder, _stream_id(g, ids), _fields(g), chance(g, 2))
            )
        elif kind == 3:
            out.append(_data(g, _stream_id(g, ids), chance(g, 4)))
        else:
            out.append(_control(g, ids))
    if g.odd(8):
        out.append(g.raw(40))  # trailing garbage, perhaps a partial frame
    data = b"".join(out)
    splits = [g.integer(0, len(data)) for _ in range(g.integer(0, 6))]
    for _ in range(g.integer(0, 3)):
        actions.append((g.integer(0, len(data)), _action(g, ncalls)))
    return Scenario(data=data, splits=splits, actions=actions, config=config)
