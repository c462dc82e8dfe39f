"""Our stateless request encoder against hpack's decoder, and the decode cache."""

from __future__ import annotations

import hpack
import hpack.huffman
import hpack.huffman_constants
import hpack.table
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyetcd_wire._core.h2 import huffman
from pyetcd_wire._core.h2.hpack import (
    DECODE_CACHE_SIZE,
    STATIC_TABLE,
    HeaderDecoder,
    encode_headers,
)
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


# --- our decoder of blocks without a dynamic table, and Huffman strings ----------

HUFFMAN_ENCODER = hpack.huffman.HuffmanEncoder(
    hpack.huffman_constants.REQUEST_CODES, hpack.huffman_constants.REQUEST_CODES_LENGTH
)


@given(st.binary(max_size=200))
def test_huffman_decodes_what_hpack_encodes(raw):
    assert huffman.decode(HUFFMAN_ENCODER.encode(raw)) == raw


def test_huffman_decodes_every_octet():
    every = bytes(range(256))
    assert huffman.decode(HUFFMAN_ENCODER.encode(every)) == every


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\xff\xff\xff\xff", "EOS symbol"),  # EOS is 30 ones
        (b"\x1f\xff", "padding"),  # '0' (00000), then 11 bits of padding
        (b"\x00", "padding"),  # '0', then 3 zero bits: not EOS's prefix
        (b"\xff", "padding"),  # 8 ones: no code, too long for padding
    ],
)
def test_huffman_rejects_bad_strings(data, why):
    with pytest.raises(huffman.HuffmanError, match=why):
        huffman.decode(data)


def test_static_table_is_rfc_7541s():
    assert tuple(hpack.table.HeaderTable.STATIC_TABLE) == STATIC_TABLE


header_names = st.one_of(
    st.sampled_from([name for name, _ in STATIC_TABLE] + [b"grpc-status", b"x"]),
    names,
)
header_fields = st.lists(st.tuples(header_names, values), max_size=8)


def etcd_like_encoder() -> hpack.Encoder:
    """A server encoder that has applied our SETTINGS_HEADER_TABLE_SIZE=0:
    its next block opens with a size update to 0."""
    return server_encoder(0)


@given(st.lists(header_fields, min_size=1, max_size=4), st.booleans(), st.data())
def test_blocks_without_dynamic_table_decode_without_hpack(blocks, huffman_coded, data):
    ours, reference = HeaderDecoder(1 << 20), hpack.Decoder()
    encoder = etcd_like_encoder()
    for fields in blocks:
        sensitive = [
            (n, v, data.draw(st.booleans(), label="never indexed")) for n, v in fields
        ]
        block = encoder.encode(sensitive, huffman=huffman_coded)
        assert ours.decode(block) == tuple(reference.decode(block, raw=True))
    assert ours._decoder is None  # hpack's Decoder never needed


@given(st.lists(header_fields, min_size=1, max_size=4), st.booleans())
def test_blocks_with_a_dynamic_table_go_to_hpack_in_sync(blocks, huffman_coded):
    ours, reference = HeaderDecoder(1 << 20), hpack.Decoder()
    encoder = hpack.Encoder()  # the default table: 4096 octets, entries indexed
    for fields in blocks:
        block = encoder.encode(fields, huffman=huffman_coded)
        assert ours.decode(block) == tuple(reference.decode(block, raw=True))


def test_hpack_takes_over_with_the_state_plain_blocks_left():
    ours = HeaderDecoder(1 << 20)
    encoder = etcd_like_encoder()
    first = encoder.encode([(":status", "200"), ("content-type", "application/grpc")])
    assert ours.decode(first) == (
        (b":status", b"200"),
        (b"content-type", b"application/grpc"),
    )
    assert ours._decoder is None
    # Before our SETTINGS are ACKed the server may grow its table again, and
    # then index: hpack decodes from then on, with the table we left (size 0).
    encoder.header_table_size = 100
    grown = encoder.encode([("grpc-status", "0")])
    assert ours.decode(grown) == ((b"grpc-status", b"0"),)
    assert ours._decoder is not None
    indexed = encoder.encode([("grpc-status", "0")])
    assert len(indexed) == 1  # a reference to the entry the block before added
    assert ours.decode(indexed) == ((b"grpc-status", b"0"),)


def test_a_literal_to_index_while_the_table_has_room_goes_to_hpack():
    ours = HeaderDecoder(1 << 20)
    block = hpack.Encoder().encode([("grpc-status", "0")])  # no size update
    assert ours.decode(block) == ((b"grpc-status", b"0"),)
    assert ours._decoder is not None


@pytest.mark.parametrize(
    "block",
    [
        b"\x20\x40",  # size update 0, then a literal cut before its name
        b"\x20\x00\x05abc",  # a name shorter than its length says
        b"\x20\xbe",  # index 62: a dynamic entry, in an empty table
        b"\x20\x88\x20",  # a size update after a field
        b"\x20\x00\x81\xff\x00",  # a Huffman name that is EOS's prefix
        b"\x20\x8f\xff\xff\xff\xff\xff\x7f",  # an index beyond any bound
    ],
)
def test_malformed_blocks_are_compression_errors(block):
    with pytest.raises(LocalProtocolError, match="not valid HPACK") as info:
        HeaderDecoder(1000).decode(block)
    assert info.value.error_code == 0x9  # COMPRESSION_ERROR


def test_oversized_plain_block():
    block = etcd_like_encoder().encode([("x", "y" * 200)])
    with pytest.raises(LocalProtocolError, match="larger than the 100 octets"):
        HeaderDecoder(100).decode(block)
