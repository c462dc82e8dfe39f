"""python-etcd3's ``etcd3.utils``: 0.12.0's helpers and its master's
`prefix_range_end`."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Union

import pyetcd_wire

BytesLike = Union[str, bytes]


def increment_last_byte(byte_string: bytes) -> bytes:
    """`byte_string` with its last byte one higher (0.12.0's range end of a
    prefix; `prefix_range_end` is the right one).

    Raises:
        ValueError: the last byte is 0xff.
        IndexError: `byte_string` is empty.
    """
    s = bytearray(byte_string)
    s[-1] = s[-1] + 1
    return bytes(s)


def prefix_range_end(prefix: bytes) -> bytes:
    """The range end that covers every key starting with `prefix`.

    python-etcd3's master incremented the last byte below 0xff and kept the
    0xff bytes after it (b"a\\xff" gave b"b\\xff", which leaves out b"b");
    this is etcd's own rule (Go's GetPrefixRangeEnd): those bytes are
    dropped, and a prefix of only 0xff bytes (or none) means "to the end",
    b"\\0".
    """
    return pyetcd_wire.prefix_range_end(prefix)


def to_bytes(maybe_bytestring: BytesLike) -> bytes:
    """`maybe_bytestring` as bytes: str is encoded as UTF-8."""
    if isinstance(maybe_bytestring, bytes):
        return maybe_bytestring
    return maybe_bytestring.encode("utf-8")


def lease_to_id(lease: Any) -> int:
    """The lease ID of `lease`: a `Lease` (its ``id``), anything `int()`
    takes, or 0 (no lease) for None."""
    if hasattr(lease, "id"):
        return int(lease.id)
    try:
        return int(lease)
    except TypeError:
        return 0


def response_to_event_iterator(response_iterator: Iterable[Any]) -> Iterator[Any]:
    """The events of each watch response, in order."""
    for response in response_iterator:
        yield from response.events


__all__ = [
    "increment_last_byte",
    "lease_to_id",
    "prefix_range_end",
    "response_to_event_iterator",
    "to_bytes",
]
