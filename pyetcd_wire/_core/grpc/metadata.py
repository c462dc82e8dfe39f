"""Request headers: the constant part of each call's header block, grpc-timeout,
and the validation of custom metadata (PROTOCOL-HTTP2.md "Requests").

The block for a (path, metadata) pair never changes, so it is encoded once and
cached; only grpc-timeout is encoded per call.  It sits right after the
pseudo-headers, as the spec orders it.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

from ..h2.hpack import encode_field, encode_headers

Metadata = Tuple[Tuple[str, str], ...]

USER_AGENT = "pyetcd-wire"

# PROTOCOL-HTTP2.md: Header-Name → 1*( %x30-39 / %x61-7A / "_" / "-" / ".").
# Checked with str methods, not a regex: compiling one cost every process
# some 0.1 ms at import, and `$` let a trailing newline through.
_NAME_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz_-."

# grpc-timeout: at most 8 digits; pick the finest unit that fits (grpc-go
# `encodeTimeout`).  (unit, nanoseconds per unit)
_TIMEOUT_UNITS = (
    (b"n", 1),
    (b"u", 1_000),
    (b"m", 1_000_000),
    (b"S", 1_000_000_000),
    (b"M", 60_000_000_000),
    (b"H", 3_600_000_000_000),
)
_MAX_TIMEOUT_VALUE = 99_999_999


def encode_timeout(seconds: float) -> bytes:
    """The grpc-timeout value for a deadline `seconds` away (rounded up)."""
    nanos = max(1, round(seconds * 1e9))  # integers: 0.1 s must not become 100001u
    for unit, scale in _TIMEOUT_UNITS:
        value = -(-nanos // scale)  # rounded up: never ask for less than we wait
        if value <= _MAX_TIMEOUT_VALUE:
            return b"%d%s" % (value, unit)
    return b"%dH" % _MAX_TIMEOUT_VALUE


def validate_metadata(
    metadata: Sequence[Tuple[str, str]],
) -> Tuple[Tuple[bytes, bytes], ...]:
    """Check custom metadata and turn it into header bytes.

    Names are lowercase `[0-9a-z_.-]` and must not start with `grpc-`
    (reserved).  Values of `-bin` names are base64-encoded here; others must be
    printable ASCII.

    Raises:
        ValueError: naming the offending key and rule.
    """
    out = []
    for name, value in metadata:
        if not name or name.lstrip(_NAME_CHARS):
            raise ValueError(
                f"metadata name {name!r}: only lowercase letters, digits, '_', '-'"
                " and '.' are allowed"
            )
        if name.startswith("grpc-") or name.startswith(":"):
            raise ValueError(f"metadata name {name!r} is reserved by gRPC")
        if name.endswith("-bin"):
            import base64  # here: only binary metadata needs it

            raw = value.encode("latin-1") if isinstance(value, str) else bytes(value)
            out.append((name.encode(), base64.b64encode(raw).rstrip(b"=")))
            continue
        # ASCII-Value → 1*( %x20-%x7E ): space and printable ASCII.
        if not (value.isascii() and value.isprintable()):
            raise ValueError(
                f"metadata {name!r}: value must be printable ASCII (or use a"
                " name ending in '-bin' for binary values)"
            )
        out.append((name.encode(), value.encode("ascii")))
    return tuple(out)


# Deadlines of a second or more are sent in whole milliseconds (rounded up):
# finer precision means nothing to the server, and few distinct values let the
# encoded field be cached.
_TIMEOUT_FIELDS: Dict[int, bytes] = {}
_TIMEOUT_FIELDS_MAX = 4096


def timeout_field(seconds: float) -> bytes:
    """The encoded grpc-timeout header field for a deadline `seconds` away."""
    if seconds < 1.0:
        return encode_field(b"grpc-timeout", encode_timeout(seconds))
    millis = -int(-seconds * 1000 // 1)  # ceil
    field = _TIMEOUT_FIELDS.get(millis)
    if field is None:
        if len(_TIMEOUT_FIELDS) >= _TIMEOUT_FIELDS_MAX:
            _TIMEOUT_FIELDS.clear()
        field = encode_field(b"grpc-timeout", encode_timeout(millis / 1000))
        _TIMEOUT_FIELDS[millis] = field
    return field


class RequestHeaders:
    """Encoded request header blocks for one connection (one authority)."""

    __slots__ = ("_cache", "authority", "scheme")

    def __init__(self, *, authority: str, scheme: str = "http") -> None:
        self.authority = authority
        self.scheme = scheme
        self._cache: Dict[Tuple[str, Metadata], Tuple[bytes, bytes]] = {}

    def block(self, path: str, metadata: Metadata, timeout: Optional[float]) -> bytes:
        """The complete header block for one call."""
        parts = self._cache.get((path, metadata))
        if parts is None:
            parts = self._build(path, metadata)
        if timeout is None:
            return parts[0] + parts[1]
        return parts[0] + timeout_field(timeout) + parts[1]

    def _build(self, path: str, metadata: Metadata) -> Tuple[bytes, bytes]:
        if not path.startswith("/"):
            raise ValueError(f"gRPC path {path!r} must start with '/'")
        pseudo = encode_headers(
            [
                (b":method", b"POST"),
                (b":scheme", self.scheme.encode()),
                (b":path", path.encode("ascii")),
                (b":authority", self.authority.encode("ascii")),
            ]
        )
        rest = encode_headers(
            [
                (b"content-type", b"application/grpc"),
                (b"user-agent", USER_AGENT.encode()),
                (b"te", b"trailers"),
                *validate_metadata(metadata),
            ]
        )
        if len(self._cache) > 1024:  # bounded: metadata carries tokens that change
            self._cache.clear()
        self._cache[(path, metadata)] = (pseudo, rest)
        return pseudo, rest
