"""Header compression (RFC 7541) for a client that only needs two things.

Requests: a stateless encoder.  Every field is a "literal without indexing"
(§6.2.2), naming static-table entries by index where one exists, so we never
touch the dynamic table and no table-size interaction exists on the send side.
Request blocks are built once per (method, metadata) and reused.

Responses: blocks that need no dynamic table are decoded here (static
entries, literals, Huffman strings: huffman.py); any other goes to the `hpack`
package's Decoder, which owns the dynamic table (`HeaderDecoder`).  Every
block is decoded, in order, even for streams we no longer care about, or the
table would desynchronise.

The decode cache.  Decoding costs 12-30 µs per block on CPython, a dict lookup
0.1 µs.  A block's decoding may be cached,
keyed by its bytes, only while decoding cannot depend on or change decoder
state: that is true once the dynamic table's size is 0 *and* the peer may not
raise it (we advertised SETTINGS_HEADER_TABLE_SIZE=0 and the peer ACKed it).
Both are checked before every lookup.  The cache is bounded; grpc-message
strings vary, so it is cleared when full.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple, cast

from ...errors import LocalProtocolError
from .frames import ErrorCode

HeaderList = Tuple[Tuple[bytes, bytes], ...]

# Bounds the cache; distinct response blocks on one connection are few
# (one per status/message combination).
DECODE_CACHE_SIZE = 256

# RFC 7541 Appendix A: the static-table entries a gRPC request uses by name.
_STATIC_NAME_INDEX = {
    b":authority": 1,
    b":method": 2,
    b":path": 4,
    b":scheme": 6,
    b"content-type": 31,
    b"user-agent": 58,
}
# Fully indexed static entries (§6.1): ":method: POST" is 3, ":scheme" http/https 6/7.
_STATIC_FULL_INDEX = {
    (b":method", b"POST"): 3,
    (b":scheme", b"http"): 6,
    (b":scheme", b"https"): 7,
}


def _integer(value: int, prefix_bits: int, first_byte_flags: int) -> bytes:
    """RFC 7541 §5.1 integer with an N-bit prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = bytearray([first_byte_flags | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(raw: bytes) -> bytes:
    """RFC 7541 §5.2 string literal, not Huffman coded."""
    return _integer(len(raw), 7, 0) + raw


def encode_field(name: bytes, value: bytes) -> bytes:
    """One field as a stateless representation (never added to any table)."""
    full = _STATIC_FULL_INDEX.get((name, value))
    if full is not None:
        return _integer(full, 7, 0x80)
    index = _STATIC_NAME_INDEX.get(name)
    if index is not None:
        return _integer(index, 4, 0x00) + _string(value)
    return b"\x00" + _string(name) + _string(value)


def encode_headers(headers: Sequence[Tuple[bytes, bytes]]) -> bytes:
    """A header block made only of stateless representations."""
    return b"".join([encode_field(n, v) for n, v in headers])


# RFC 7541 Appendix A: the static table, index 1 first.
STATIC_TABLE: Tuple[Tuple[bytes, bytes], ...] = (
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    *(
        (name, b"")
        for name in (
            b"accept-language accept-ranges accept access-control-allow-origin"
            b" age allow authorization cache-control content-disposition"
            b" content-encoding content-language content-length"
            b" content-location content-range content-type cookie date etag"
            b" expect expires from host if-match if-modified-since"
            b" if-none-match if-range if-unmodified-since last-modified link"
            b" location max-forwards proxy-authenticate proxy-authorization"
            b" range referer refresh retry-after server set-cookie"
            b" strict-transport-security transfer-encoding user-agent vary via"
            b" www-authenticate"
        ).split()
    ),
)
_STATIC_SIZE = len(STATIC_TABLE)
# RFC 7541 §4.1: an entry's size is its name and value plus 32 octets.
_ENTRY_OVERHEAD = 32
# The dynamic table's size until the peer says otherwise (RFC 9113 §6.5.2).
_DEFAULT_TABLE_SIZE = 4096


class _NotPlainError(Exception):
    """The block is beyond `_decode_plain`: the `hpack` package decodes it."""


def _integer_at(block: bytes, pos: int, prefix_bits: int) -> Tuple[int, int]:
    """RFC 7541 §5.1: (the integer at `pos`, the position after it)."""
    limit = (1 << prefix_bits) - 1
    value = block[pos] & limit
    pos += 1
    if value < limit:
        return value, pos
    shift = 0
    while True:
        if pos >= len(block) or shift > 28:
            raise _NotPlainError  # truncated or absurd: hpack says which
        byte = block[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _string_at(block: bytes, pos: int) -> Tuple[bytes, int]:
    """RFC 7541 §5.2: (the string at `pos`, the position after it)."""
    if pos >= len(block):
        raise _NotPlainError
    huffman_coded = block[pos] & 0x80
    length, pos = _integer_at(block, pos, 7)
    end = pos + length
    if end > len(block):
        raise _NotPlainError
    raw = block[pos:end]
    if huffman_coded:
        from . import huffman

        try:
            raw = huffman.decode(raw)
        except huffman.HuffmanError:
            raise _NotPlainError from None
    return raw, end


class HeaderDecoder:
    """Response header blocks, decoded.

    A block that needs no dynamic table (the table is empty, and stays so:
    its size is 0, or the block sets it to 0 first) is decoded here, which is
    every block etcd sends: its first sets the size we advertise, 0.  Any
    other block, and every block after one, goes to the `hpack` package's
    Decoder, which owns the dynamic table and the error messages; so a
    client that only talks to etcd never imports `hpack` (start-up time).
    Our decoder hands it what the blocks before left: an empty table, its
    size and the size allowed.  A block that is malformed goes to `hpack` as
    well, which raises.  The decode cache is in front of both.
    """

    __slots__ = (
        "_allowed",
        "_cache",
        "_decoder",
        "_size",
        "_stateless",
        "max_header_list_size",
    )

    def __init__(self, max_header_list_size: int) -> None:
        self._decoder: Any = None  # hpack.Decoder, once a block needs it
        self._size = _DEFAULT_TABLE_SIZE  # the dynamic table's, while ours
        self._allowed = _DEFAULT_TABLE_SIZE  # the most the peer may set
        self._cache: Dict[bytes, HeaderList] = {}
        # Once true, stays true: we never raise our advertised table size again.
        self._stateless = False
        self.max_header_list_size = max_header_list_size

    def limit_table_size(self, size: int) -> None:
        """Apply our SETTINGS_HEADER_TABLE_SIZE once the peer has ACKed it."""
        self._allowed = size
        if self._decoder is not None:
            self._decoder.max_allowed_table_size = size

    def decode(self, block: bytes) -> HeaderList:
        """Decode a complete header block into (name, value) byte pairs.

        Raises:
            LocalProtocolError: the block is not valid HPACK (COMPRESSION_ERROR)
                or decodes to more than max_header_list_size.
        """
        stateless = self._stateless
        if not stateless:
            decoder = self._decoder
            size = self._size if decoder is None else decoder.header_table.maxsize
            stateless = self._stateless = self._allowed == 0 and size == 0
        if stateless:
            cached = self._cache.get(block)
            if cached is not None:
                return cached
        if self._decoder is None:
            try:
                result = self._decode_plain(block)
            except _NotPlainError:
                result = self._decode_with_hpack(block)
        else:
            result = self._decode_with_hpack(block)
        if stateless:
            if len(self._cache) >= DECODE_CACHE_SIZE:
                self._cache.clear()
            self._cache[block] = result
        return result

    def _decode_plain(self, block: bytes) -> HeaderList:
        """`block`, if it needs no dynamic table: static entries and literals
        only, any literal to be indexed coming while the table's size is 0.
        Commits the size it sets only once the whole block is decoded.

        Raises:
            _NotPlainError: it does need one, or is malformed.
        """
        size = self._size
        fields: List[Tuple[bytes, bytes]] = []
        total = 0
        pos, end = 0, len(block)
        while pos < end:
            first = block[pos]
            if first & 0x80:  # §6.1 indexed field
                index, pos = _integer_at(block, pos, 7)
                if not 0 < index <= _STATIC_SIZE:
                    raise _NotPlainError
                name, value = STATIC_TABLE[index - 1]
            elif first & 0xE0 == 0x20:  # §6.3 table size update, first only
                if fields:
                    raise _NotPlainError
                size, pos = _integer_at(block, pos, 5)
                if size > self._allowed:
                    raise _NotPlainError
                continue
            else:  # §6.2 literal: 01 incremental indexing, 0000/0001 not
                indexed = first & 0xC0 == 0x40
                if indexed and size:
                    raise _NotPlainError  # it would enter the table
                index, pos = _integer_at(block, pos, 6 if indexed else 4)
                if index == 0:
                    name, pos = _string_at(block, pos)
                elif index <= _STATIC_SIZE:
                    name = STATIC_TABLE[index - 1][0]
                else:
                    raise _NotPlainError
                value, pos = _string_at(block, pos)
            total += len(name) + len(value) + _ENTRY_OVERHEAD
            if total > self.max_header_list_size:
                raise _NotPlainError
            fields.append((name, value))
        self._size = size
        return tuple(fields)

    def _decode_with_hpack(self, block: bytes) -> HeaderList:
        """`block` by the `hpack` package's Decoder, made on first use with the
        state the blocks before left."""
        # `hpack` is imported by the first block that needs it, not with the
        # package (start-up time); once loaded, a local import is a dict lookup.
        import hpack

        decoder = self._decoder
        if decoder is None:
            decoder = hpack.Decoder(max_header_list_size=self.max_header_list_size)
            decoder.max_allowed_table_size = self._allowed
            decoder.header_table_size = self._size
            self._decoder = decoder
        try:
            fields = cast(List[Tuple[bytes, bytes]], decoder.decode(block, raw=True))
        except hpack.OversizedHeaderListError as exc:
            raise LocalProtocolError(
                "HEADERS frame: header list larger than the"
                f" {self.max_header_list_size}"
                f" octets we advertised in SETTINGS_MAX_HEADER_LIST_SIZE ({exc})",
                error_code=ErrorCode.PROTOCOL_ERROR,
                frame="HEADERS",
            ) from None
        except hpack.HPACKError as exc:
            raise LocalProtocolError(
                f"HEADERS frame: header block is not valid HPACK ({exc}) (RFC 7541)",
                error_code=ErrorCode.COMPRESSION_ERROR,
                frame="HEADERS",
            ) from None
        return tuple(fields)
