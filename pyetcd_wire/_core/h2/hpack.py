"""Header compression (RFC 7541) for a client that only needs two things.

Requests: a stateless encoder.  Every field is a "literal without indexing"
(§6.2.2), naming static-table entries by index where one exists, so we never
touch the dynamic table and no table-size interaction exists on the send side.
Request blocks are built once per (method, metadata) and reused.

Responses: the `hpack` package's Decoder, which owns Huffman decoding, the
dynamic table and size updates.  Every block goes through it, in order, even
for streams we no longer care about, or its table would desynchronise.

The decode cache.  Decoding costs 12-30 µs per block on CPython, a dict lookup
0.1 µs.  A block's decoding may be cached,
keyed by its bytes, only while decoding cannot depend on or change decoder
state: that is true once the dynamic table's size is 0 *and* the peer may not
raise it (we advertised SETTINGS_HEADER_TABLE_SIZE=0 and the peer ACKed it).
Both are checked before every lookup.  The cache is bounded; grpc-message
strings vary, so it is cleared when full.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple, cast

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


class HeaderDecoder:
    """`hpack.Decoder` behind a cache that is valid only while stateless."""

    __slots__ = ("_cache", "_decoder", "_stateless", "max_header_list_size")

    def __init__(self, max_header_list_size: int) -> None:
        # `hpack` is imported by the first connection, not with the package
        # (start-up time); once loaded, a local import is a dict lookup.
        import hpack

        self._decoder = hpack.Decoder(max_header_list_size=max_header_list_size)
        self._cache: Dict[bytes, HeaderList] = {}
        # Once true, stays true: we never raise our advertised table size again.
        self._stateless = False
        self.max_header_list_size = max_header_list_size

    def limit_table_size(self, size: int) -> None:
        """Apply our SETTINGS_HEADER_TABLE_SIZE once the peer has ACKed it."""
        self._decoder.max_allowed_table_size = size

    def decode(self, block: bytes) -> HeaderList:
        """Decode a complete header block into (name, value) byte pairs.

        Raises:
            LocalProtocolError: the block is not valid HPACK (COMPRESSION_ERROR)
                or decodes to more than max_header_list_size.
        """
        decoder = self._decoder
        stateless = self._stateless
        if not stateless:
            stateless = self._stateless = (
                decoder.max_allowed_table_size == 0
                and decoder.header_table.maxsize == 0
            )
        if stateless:
            cached = self._cache.get(block)
            if cached is not None:
                return cached
        # Loaded by __init__ already: for its errors.  (The comment is not on
        # the import's line: the bundle relocates lone `import hpack` lines.)
        import hpack

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
        result = tuple(fields)
        if stateless:
            if len(self._cache) >= DECODE_CACHE_SIZE:
                self._cache.clear()
            self._cache[block] = result
        return result
