"""Our stateless request encoder against hpack's decoder, and the decode cache."""

from __future__ import annotations

import hpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyetcd_wire._core.h2.hpack import DECODE_CACHE_SIZE, HeaderDecoder, encode_headers
from pyetcd_wire.errors import LocalProtocolError

names = st.binary(min_size=1, max_size=40).filter(lambda b: b.lower() == b)
values = st.binary(max_size=300)


@given(st.lists(st.tuples(names, values), max_size=12))
def test_encoder_round_trips_through_hpack(fields):
    block = encode_headers(fields)
    assert hpack.Decoder().decode(block, raw=True) == fields


def test_encoder_uses_static_table_and_never_indexes():
    fields = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", b"/a"),
        (b":authority", b"h:1"),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
    ]
    block = encode_headers(fields)
    assert block.startswith(
        b"\x83\x86\x04\x02/a\x01\x03h:1\x0f\x10\x10application/grpc"
    )
    decoder = hpack.Decoder()
    assert decoder.decode(block, raw=True) == fields
    assert not decoder.header_table.dynamic_entries  # nothing was indexed


def test_long_integer_encoding():
    fields = [(b"x-long", b"v" * 5000)]
    assert hpack.Decoder().decode(encode_headers(fields), raw=True) == fields


def server_encoder(table_size: int) -> hpack.Encoder:
    enc = hpack.Encoder()
    enc.header_table_size = table_size
    return enc


def test_cache_only_while_table_is_zero():
    dec = HeaderDecoder(65536)
    enc = hpack.Encoder()
    block = enc.encode([(":status", "200"), ("content-type", "application/grpc")])
    first = dec.decode(block)
    assert first == ((b":status", b"200"), (b"content-type", b"application/grpc"))
    assert not dec._cache  # dynamic table in use: no caching
    # The server's next block references its dynamic table: must decode right.
    again = enc.encode([(":status", "200"), ("content-type", "application/grpc")])
    assert dec.decode(again) == first
    # We limit the table to 0 (SETTINGS ACKed); the server shrinks its table.
    dec.limit_table_size(0)
    enc.header_table_size = 0
    shrink = enc.encode([(":status", "200")])
    assert shrink[0] & 0xE0 == 0x20  # starts with a dynamic table size update
    assert dec.decode(shrink) == ((b":status", b"200"),)
    stateless = enc.encode([(":status", "200"), ("grpc-status", "0")])
    assert dec.decode(stateless) == ((b":status", b"200"), (b"grpc-status", b"0"))
    assert stateless in dec._cache
    assert dec.decode(stateless) is dec.decode(stateless)


def test_cache_is_bounded():
    dec = HeaderDecoder(65536)
    dec.limit_table_size(0)
    enc = server_encoder(0)
    dec.decode(enc.encode([("a", "b")]))
    for i in range(DECODE_CACHE_SIZE * 2):
        dec.decode(enc.encode([("grpc-message", f"error {i}")]))
        assert len(dec._cache) <= DECODE_CACHE_SIZE


def test_table_size_increase_beyond_advertised_is_rejected():
    dec = HeaderDecoder(65536)
    dec.limit_table_size(0)
    with pytest.raises(LocalProtocolError, match="not valid HPACK") as info:
        dec.decode(b"\x3f\xe1\x1f\x88")  # size update to 4096, then :status 200
    assert info.value.error_code == 0x9  # COMPRESSION_ERROR


def test_oversized_header_list():
    dec = HeaderDecoder(100)
    block = encode_headers([(b"x", b"y" * 200)])
    with pytest.raises(LocalProtocolError, match="larger than the 100 octets"):
        dec.decode(block)


def test_garbage_is_compression_error():
    with pytest.raises(LocalProtocolError, match="not valid HPACK"):
        HeaderDecoder(1000).decode(b"\xff\xff\xff\xff\xff\xff")
