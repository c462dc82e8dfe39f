"""Status derivation, message framing and request metadata."""

from __future__ import annotations

import base64

import hpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyetcd_wire._core.grpc.framing import MessageDecoder, MessageError, encode_message
from pyetcd_wire._core.grpc.metadata import (
    RequestHeaders,
    encode_timeout,
    validate_metadata,
)
from pyetcd_wire._core.grpc.status import (
    StatusCode,
    decode_grpc_message,
    encode_grpc_message,
    status_from_http,
    status_from_rst_stream,
    status_from_trailers,
)

# --- status -------------------------------------------------------------------

HTTP_CASES = [
    (400, "INTERNAL"),
    (401, "UNAUTHENTICATED"),
    (403, "PERMISSION_DENIED"),
    (404, "UNIMPLEMENTED"),
    (429, "UNAVAILABLE"),
    (502, "UNAVAILABLE"),
    (503, "UNAVAILABLE"),
    (504, "UNAVAILABLE"),
    (500, "UNKNOWN"),
    (200, "UNKNOWN"),
]


@pytest.mark.parametrize(("http", "code"), HTTP_CASES)
def test_http_status_mapping(http, code):
    assert status_from_http(http, "x").code.name == code
    assert (
        status_from_trailers([(b":status", str(http).encode())], http).code.name == code
    )


RST_CASES = [
    (0, "INTERNAL"),
    (1, "INTERNAL"),
    (2, "INTERNAL"),
    (3, "INTERNAL"),
    (5, "INTERNAL"),
    (7, "UNAVAILABLE"),
    (8, "CANCELLED"),
    (0xB, "RESOURCE_EXHAUSTED"),
    (0xC, "PERMISSION_DENIED"),
    (0x77, "INTERNAL"),
]


@pytest.mark.parametrize(("rst", "code"), RST_CASES)
def test_rst_stream_mapping(rst, code):
    status = status_from_rst_stream(rst, "NAME")
    assert status.code.name == code
    assert status.not_processed == (rst == 7)
    assert "NAME" in status.message


def test_trailers_give_status_message_and_details():
    details = b"\x08\x05\x12\x03abc"
    trailers = [
        (b"grpc-status", b"5"),
        (b"grpc-message", b"etcdserver: key not found %E2%9C%93"),
        (b"grpc-status-details-bin", base64.b64encode(details).rstrip(b"=")),
    ]
    status = status_from_trailers(trailers)
    assert status.code is StatusCode.NOT_FOUND
    assert status.message == "etcdserver: key not found \u2713"
    assert status.details == details
    assert status.trailers == trailers


def test_bad_grpc_status_values():
    assert status_from_trailers([(b"grpc-status", b"99")]).code is StatusCode.UNKNOWN
    assert status_from_trailers([(b"grpc-status", b"x")]).code is StatusCode.UNKNOWN
    assert status_from_trailers([(b"grpc-status", b"0")]).code is StatusCode.OK


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"plain", "plain"),
        (b"100%25", "100%"),
        (b"%", "%"),
        (b"%zz", "%zz"),
        (b"a%4", "a%4"),
        (b"%E2%9C", "\ufffd"),
        (b"caf%C3%A9", "caf\u00e9"),
    ],
)
def test_grpc_message_decoding_never_fails(raw, text):
    assert decode_grpc_message(raw) == text


@given(st.text())
def test_grpc_message_round_trip(text):
    encoded = encode_grpc_message(text)
    assert all(0x20 <= b <= 0x7E for b in encoded)
    assert decode_grpc_message(encoded) == text.encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace"
    )


# --- framing ------------------------------------------------------------------


def test_message_framing():
    assert encode_message(b"abc") == b"\0\0\0\0\x03abc"
    assert MessageDecoder(100).feed(encode_message(b"") + encode_message(b"xy")) == [
        b"",
        b"xy",
    ]


@given(
    st.lists(st.binary(max_size=200), max_size=8),
    st.data(),
    st.sampled_from([bytes, memoryview]),
)
def test_decoder_is_split_invariant(messages, data, piece_type):
    stream = b"".join(encode_message(m) for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder, out, prev = MessageDecoder(1000), [], 0
    for cut in [*cuts, len(stream)]:
        out += decoder.feed(piece_type(stream[prev:cut]))
        prev = cut
    assert out == messages
    assert all(type(message) is bytes for message in out)
    assert decoder.buffered == 0


def test_decoder_joins_a_split_message_once_whole():
    message = bytes(range(256)) * 400
    framed = encode_message(message)
    decoder = MessageDecoder(len(message))
    assert decoder.feed(memoryview(framed)[:16384]) == []
    assert decoder.buffered == 16384
    assert decoder.feed(memoryview(framed)[16384:50000]) == []
    assert decoder.buffered == 50000
    [whole] = decoder.feed(memoryview(framed)[50000:])
    assert type(whole) is bytes  # protobuf 4.21 parses nothing else
    assert whole == message
    assert decoder.buffered == 0


def test_decoder_copies_out_what_it_returns():
    """A message is copied out of its pieces: the caller's buffers may be
    reused once the message is returned."""
    piece = bytearray(encode_message(b"abc"))
    [message] = MessageDecoder(10).feed(piece)
    piece[:] = bytes(len(piece))
    assert message == b"abc"


def test_size_cap_checked_on_prefix_before_body():
    decoder = MessageDecoder(10)
    with pytest.raises(MessageError, match=r"larger than max \(11 vs\. 10\)") as info:
        decoder.feed(b"\0\0\0\0\x0b")  # only the prefix: nothing of the body buffered
    assert info.value.code is StatusCode.RESOURCE_EXHAUSTED
    assert MessageDecoder(10).feed(encode_message(b"x" * 10)) == [b"x" * 10]


def test_compressed_and_bad_flags_are_refused():
    with pytest.raises(MessageError, match="compressed message") as info:
        MessageDecoder(10).feed(b"\x01\0\0\0\x01a")
    assert info.value.code is StatusCode.INTERNAL
    with pytest.raises(MessageError, match="compressed-flag 7"):
        MessageDecoder(10).feed(b"\x07\0\0\0\x01a")


# --- metadata -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "value"),
    [
        (0.0000001, b"100n"),
        (0.05, b"50000000n"),
        (0.1, b"100000u"),
        (1.0, b"1000000u"),
        (5.0, b"5000000u"),
        (100.0, b"100000m"),
        (100000.0, b"100000S"),
        (1e9, b"16666667M"),
        (1e12, b"99999999H"),
        (0, b"1n"),
        (-3, b"1n"),
    ],
)
def test_grpc_timeout_encoding(seconds, value):
    assert encode_timeout(seconds) == value
    assert len(value) <= 9


def test_metadata_validation():
    assert validate_metadata([("token", "abc.DEF"), ("hasleader", "true")]) == (
        (b"token", b"abc.DEF"),
        (b"hasleader", b"true"),
    )
    assert validate_metadata([("x-bin", b"\x00\xff")]) == ((b"x-bin", b"AP8"),)
    for bad, why in [
        ("Token", "lowercase"),
        ("a b", "lowercase"),
        ("grpc-x", "reserved"),
        (":path", "lowercase"),
    ]:
        with pytest.raises(ValueError, match=why):
            validate_metadata([(bad, "v")])
    with pytest.raises(ValueError, match="printable ASCII"):
        validate_metadata([("token", "caf\u00e9")])
    # A trailing newline is no printable character (a regex's `$` let it by).
    with pytest.raises(ValueError, match="lowercase"):
        validate_metadata([("token\n", "v")])
    with pytest.raises(ValueError, match="lowercase"):
        validate_metadata([("", "v")])
    for bad_value in ("t\n", "t\x7f", "\tt"):
        with pytest.raises(ValueError, match="printable ASCII"):
            validate_metadata([("token", bad_value)])
    assert validate_metadata([("a-b_c.9", " ~")]) == ((b"a-b_c.9", b" ~"),)
    assert validate_metadata([("token", "")]) == ((b"token", b""),)


def test_request_block():
    headers = RequestHeaders(authority="127.0.0.1:2379")
    block = headers.block("/etcdserverpb.KV/Range", (("token", "t"),), 1.5)
    fields = hpack.Decoder().decode(block, raw=True)
    assert fields == [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", b"/etcdserverpb.KV/Range"),
        (b":authority", b"127.0.0.1:2379"),
        (b"grpc-timeout", b"1500000u"),
        (b"content-type", b"application/grpc"),
        (b"user-agent", b"pyetcd-wire"),
        (b"te", b"trailers"),
        (b"token", b"t"),
    ]
    no_timeout = hpack.Decoder().decode(headers.block("/a/b", (), None), raw=True)
    assert b"grpc-timeout" not in dict(no_timeout)
    with pytest.raises(ValueError, match="must start with '/'"):
        headers.block("a/b", (), None)
