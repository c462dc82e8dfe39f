"""HPACK's Huffman code (RFC 7541 §5.2, Appendix B), decoding only.

The code is canonical: within one code length the codes are consecutive in
symbol order, and each length's first code follows the previous length's
last.  So the table is the symbols of each code length (Appendix B, read by
length), and a code of length L is recognised by the L next bits being below
that length's last code + 1: a longer code's first L bits never are.
"""

from __future__ import annotations

from typing import List, Tuple

EOS = 256

# (code length, its symbols in ascending order), from RFC 7541 Appendix B;
# the octets that are not printable ASCII in hex.
_SYMBOLS_BY_LENGTH: Tuple[Tuple[int, Tuple[int, ...]], ...] = (
    (5, tuple(b"012aceiost")),
    (6, tuple(b" %-./3456789=A_bdfghlmnpru")),
    (7, tuple(b":BCDEFGHIJKLMNOPQRSTUVWYjkqvwxyz")),
    (8, tuple(b"&*,;XZ")),
    (10, tuple(b'!"()?')),
    (11, tuple(b"'+|")),
    (12, tuple(b"#>")),
    (13, (0, *b"$@[]~")),
    (14, tuple(b"^}")),
    (15, tuple(b"<`{")),
    (19, tuple(bytes.fromhex("5c c3 d0"))),
    (20, tuple(bytes.fromhex("80 82 83 a2 b8 c2 e0 e2"))),
    (21, tuple(bytes.fromhex("99 a1 a7 ac b0 b1 b3 d1 d8 d9 e3 e5 e6"))),
    (
        22,
        tuple(
            bytes.fromhex(
                "81 84 85 86 88 92 9a 9c a0 a3 a4 a9 aa"
                " ad b2 b5 b9 ba bb bd be c4 c6 e4 e8 e9"
            )
        ),
    ),
    (
        23,
        tuple(
            bytes.fromhex(
                "01 87 89 8a 8b 8c 8d 8f 93 95 96 97 98 9b"
                " 9d 9e a5 a6 a8 ae af b4 b6 b7 bc bf c5 e7 ef"
            )
        ),
    ),
    (24, tuple(bytes.fromhex("09 8e 90 91 94 9f ab ce d7 e1 ec ed"))),
    (25, tuple(bytes.fromhex("c7 cf ea eb"))),
    (26, tuple(bytes.fromhex("c0 c1 c8 c9 ca cd d2 d5 da db ee f0 f2 f3 ff"))),
    (
        27,
        tuple(
            bytes.fromhex("cb cc d3 d4 d6 dd de df f1 f4 f5 f6 f7 f8 fa fb fc fd fe")
        ),
    ),
    (
        28,
        tuple(
            bytes.fromhex(
                "02 03 04 05 06 07 08 0b 0c 0e 0f 10 11 12"
                " 13 14 15 17 18 19 1a 1b 1c 1d 1e 1f 7f dc f9"
            )
        ),
    ),
    (30, (10, 13, 22, EOS)),
)


def _levels() -> Tuple[Tuple[int, int, int, Tuple[int, ...]], ...]:
    """(length, first code, last code + 1, symbols) per code length."""
    levels: List[Tuple[int, int, int, Tuple[int, ...]]] = []
    code = 0
    previous = _SYMBOLS_BY_LENGTH[0][0]
    for length, symbols in _SYMBOLS_BY_LENGTH:
        code <<= length - previous
        levels.append((length, code, code + len(symbols), symbols))
        code += len(symbols)
        previous = length
    return tuple(levels)


_LEVELS = _levels()
_SHORTEST = _LEVELS[0][0]


class HuffmanError(ValueError):
    """Not a valid Huffman-coded string (§5.2)."""


def decode(data: bytes) -> bytes:
    """The octets `data` encodes.

    Raises:
        HuffmanError: an EOS symbol, padding longer than 7 bits or not the
            EOS code's first bits (all ones).
    """
    out = bytearray()
    value = 0  # the bits not decoded yet, `bits` of them
    bits = 0
    for byte in data:
        value = (value << 8) | byte
        bits += 8
        while bits >= _SHORTEST:
            symbol = -1  # none yet: the code goes on in the next byte
            for length, first, end, symbols in _LEVELS:
                if length > bits:
                    break
                code = value >> (bits - length)
                if code < end:
                    symbol = symbols[code - first]
                    break
            if symbol < 0:
                break
            if symbol == EOS:
                raise HuffmanError("EOS symbol inside a string")
            out.append(symbol)
            bits -= length
            value &= (1 << bits) - 1
    if bits > 7 or value != (1 << bits) - 1:
        raise HuffmanError("padding is not the EOS code's first bits (at most 7)")
    return bytes(out)


__all__ = ["HuffmanError", "decode"]
