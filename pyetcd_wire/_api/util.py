"""Keys, values and integers as etcd wants them, and prefix range ends.

Keys and values are ``bytes`` on the wire; callers may pass ``str`` (encoded
as UTF-8) or any bytes-like object, and always get ``bytes`` back
(``bytesify``, after h11's ``bytesify``).  Revisions, lease IDs and counts are
protobuf ``int64``: a ``bool`` is refused although it is an ``int``, because
``revision=True`` is a bug, never a revision.

``prefix_range_end`` is Go's ``GetPrefixRangeEnd`` (client/v3/op.go
``getPrefix``), the one place a prefix becomes a range end.  ``Immutable`` is
the frozen-value behaviour that ``Op`` and ``Compare`` share.
"""

from __future__ import annotations

from typing import NoReturn, TypeVar, Union

from ..errors import EmptyKeyError

_Self = TypeVar("_Self", bound="Immutable")

#: What keys, values and range ends may be given as.
BytesLike = Union[str, bytes, bytearray, memoryview]

# protobuf int64 bounds (RangeRequest.revision, PutRequest.lease, ...).
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# A range end of "\0" means "every key >= key" (rpc.proto RangeRequest).
FROM_KEY_END = b"\x00"


def bytesify(value: BytesLike, what: str) -> bytes:
    """Returns `value` as bytes: str is encoded as UTF-8, bytes-likes copied.

    Args:
        value: a str, bytes, bytearray or memoryview.
        what: the argument's name, for the error message.

    Raises:
        TypeError: `value` is of any other type (None, int, ...).
    """
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")


def check_key(key: bytes) -> None:
    """Refuses an empty key, which etcd rejects with ErrEmptyKey.

    etcd answers a Range, Put, DeleteRange or Compare whose key is empty with
    InvalidArgument "etcdserver: key is not provided"; this check saves the
    round trip.  It runs after prefix/from_key handling, which turns an empty
    key into "\\0".

    Raises:
        EmptyKeyError: `key` is empty (also a ValueError).
    """
    if not key:
        raise EmptyKeyError(details="key must not be empty (etcd: key is not provided)")


def int64(value: int, what: str) -> int:
    """Returns `value` if it is an int that fits protobuf int64.

    Raises:
        TypeError: `value` is a bool or not an int.
        ValueError: `value` is outside [-2**63, 2**63 - 1].
    """
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{what} must be an int, not {type(value).__name__}")
        value = int(value)  # an int subclass such as IntEnum
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{what} must fit in int64, got {value}")
    return value


def non_negative_int64(value: int, what: str) -> int:
    """Like `int64`, and refuses negative numbers.

    Raises:
        TypeError: `value` is a bool or not an int.
        ValueError: `value` is negative or above 2**63 - 1.
    """
    value = int64(value, what)
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}")
    return value


def prefix_range_end(prefix: BytesLike) -> bytes:
    """The range end that selects every key starting with `prefix`.

    Go's ``GetPrefixRangeEnd``: the last byte below 0xFF is incremented and
    everything after it dropped, so ``[prefix, end)`` holds exactly the keys
    with that prefix.  A prefix with no such byte (empty or all 0xFF) has no
    upper bound and gets "\\0", etcd's "every key >= key".

    Examples: b"a" -> b"b", b"a\\xff" -> b"b", b"ab\\xff\\xff" -> b"ac",
    b"\\xff\\xff" -> b"\\x00", b"" -> b"\\x00".

    Args:
        prefix: the key prefix (str is encoded as UTF-8).

    Returns:
        The exclusive range end.

    Raises:
        TypeError: `prefix` is not str or bytes.
    """
    head = bytesify(prefix, "prefix").rstrip(b"\xff")
    if not head:
        return FROM_KEY_END
    return head[:-1] + bytes((head[-1] + 1,))


class Immutable:
    """Mixin for the frozen value types (``Op``, ``Compare``): attributes are
    set once with ``object.__setattr__`` when made, and never again; a copy is
    the object itself."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable; cannot set {name}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(
            f"{type(self).__name__} is immutable; cannot delete {name}"
        )

    def __copy__(self: _Self) -> _Self:
        return self

    def __deepcopy__(self: _Self, memo: object) -> _Self:
        return self
