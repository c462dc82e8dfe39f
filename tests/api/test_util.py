"""bytesify, the int64 checks, check_key and prefix_range_end (Go getPrefix)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyetcd_wire._api.util import (
    INT64_MAX,
    INT64_MIN,
    bytesify,
    check_key,
    int64,
    non_negative_int64,
    prefix_range_end,
)

# --- bytesify -----------------------------------------------------------------

BYTESIFY_CASES = [
    (b"abc", b"abc"),
    ("abc", b"abc"),
    ("é", b"\xc3\xa9"),
    ("", b""),
    (bytearray(b"\x00\xff"), b"\x00\xff"),
    (memoryview(b"mv"), b"mv"),
]


@pytest.mark.parametrize(("value", "expected"), BYTESIFY_CASES)
def test_bytesify(value: Any, expected: bytes) -> None:
    result = bytesify(value, "key")
    assert result == expected
    assert type(result) is bytes


def test_bytesify_copies_mutable_buffers() -> None:
    buffer = bytearray(b"ab")
    result = bytesify(buffer, "key")
    buffer[0] = ord("x")
    assert result == b"ab"


@pytest.mark.parametrize(
    ("value", "type_name"),
    [(None, "NoneType"), (1, "int"), (1.5, "float"), (["a"], "list"), (True, "bool")],
)
def test_bytesify_rejects_other_types(value: Any, type_name: str) -> None:
    with pytest.raises(
        TypeError, match=rf"^range_end must be str or bytes, not {type_name}$"
    ):
        bytesify(value, "range_end")


# --- integers -----------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, -1, INT64_MIN, INT64_MAX])
def test_int64_accepts_ints(value: int) -> None:
    assert int64(value, "lease") == value


def test_int64_accepts_int_subclasses() -> None:
    import enum

    class Number(enum.IntEnum):
        SEVEN = 7

    result = int64(Number.SEVEN, "lease")
    assert result == 7
    assert type(result) is int


@pytest.mark.parametrize(
    ("value", "type_name"),
    [(True, "bool"), (False, "bool"), (1.0, "float"), ("1", "str"), (None, "NoneType")],
)
def test_int64_rejects_bool_and_non_ints(value: Any, type_name: str) -> None:
    with pytest.raises(TypeError, match=rf"^lease must be an int, not {type_name}$"):
        int64(value, "lease")


@pytest.mark.parametrize("value", [INT64_MAX + 1, INT64_MIN - 1, 2**70])
def test_int64_rejects_out_of_range(value: int) -> None:
    with pytest.raises(ValueError, match=r"^lease must fit in int64, got -?\d+$"):
        int64(value, "lease")


def test_non_negative_int64() -> None:
    assert non_negative_int64(0, "limit") == 0
    assert non_negative_int64(INT64_MAX, "limit") == INT64_MAX
    with pytest.raises(ValueError, match=r"^limit must be >= 0, got -1$"):
        non_negative_int64(-1, "limit")
    with pytest.raises(TypeError, match=r"^limit must be an int, not bool$"):
        non_negative_int64(True, "limit")


def test_check_key() -> None:
    check_key(b"a")
    check_key(b"\x00")
    with pytest.raises(ValueError, match=r"key must not be empty \(etcd: key is"):
        check_key(b"")


# --- prefix_range_end ---------------------------------------------------------

PREFIX_CASES = [
    (b"a", b"b"),
    (b"a\xff", b"b"),
    (b"\xff\xff", b"\x00"),
    (b"", b"\x00"),
    (b"ab\xff\xff", b"ac"),
    (b"\x00", b"\x01"),
    (b"\xfe", b"\xff"),
    (b"foo/", b"foo0"),
    (b"a\xfe\xff", b"a\xff"),
    (b"\xff", b"\x00"),
    (b"\xffa", b"\xffb"),
]


@pytest.mark.parametrize(("prefix", "end"), PREFIX_CASES)
def test_prefix_range_end(prefix: bytes, end: bytes) -> None:
    assert prefix_range_end(prefix) == end


def test_prefix_range_end_takes_str() -> None:
    assert prefix_range_end("foo/") == b"foo0"
    assert prefix_range_end("é") == b"\xc3\xaa"


def test_prefix_range_end_rejects_non_bytes() -> None:
    with pytest.raises(TypeError, match=r"^prefix must be str or bytes, not int$"):
        prefix_range_end(1)  # type: ignore[arg-type]


def _go_get_prefix(key: bytes) -> bytes:
    """A line-by-line port of Go's getPrefix (client/v3/op.go)."""
    end = bytearray(key)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\x00"


# Keys made mostly of the interesting bytes, so 0xFF runs are common.
KEYS = st.binary(max_size=8) | st.lists(
    st.sampled_from([0x00, 0x01, 0x61, 0xFE, 0xFF]), max_size=6
).map(bytes)


@given(KEYS)
def test_prefix_range_end_matches_go(key: bytes) -> None:
    assert prefix_range_end(key) == _go_get_prefix(key)


@given(KEYS, st.binary(max_size=2))
def test_prefix_range_end_bounds_every_extension(key: bytes, suffix: bytes) -> None:
    # Every key with the prefix (here up to len(key) + 2 long) is below the end.
    end = prefix_range_end(key)
    if end == b"\x00":
        # No finite bound exists: the prefix is empty or all 0xFF, and "\0"
        # means "every key >= key".
        assert key.strip(b"\xff") == b""
    else:
        assert key + suffix < end


@given(KEYS, st.binary(max_size=10))
def test_prefix_range_end_is_the_smallest_bound(key: bytes, other: bytes) -> None:
    # Anything below the end is either an extension of the key or below it,
    # so no smaller byte string bounds every extension.
    end = prefix_range_end(key)
    if end != b"\x00" and other < end:
        assert other.startswith(key) or other <= key


@given(KEYS, st.data())
def test_prefix_range_end_is_the_smallest_bound_near_the_end(
    key: bytes, data: st.DataObject
) -> None:
    # The strings just below `end` share a prefix with it: draw them there.
    end = prefix_range_end(key)
    if end == b"\x00":
        return
    cut = data.draw(st.integers(0, len(end) - 1))
    below = end[:cut] + bytes([data.draw(st.integers(0, end[cut]))])
    other = below + data.draw(st.binary(max_size=3))
    if other < end:
        assert other.startswith(key) or other <= key
