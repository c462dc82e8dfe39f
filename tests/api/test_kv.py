"""KV request builders: every keyword onto its protobuf field, and every check.

Expected messages are written out field by field (rpc.proto numbers in
shared/reference/clientv3.md §8.3); a few are also pinned as wire bytes.
"""

from __future__ import annotations

from typing import Any, Dict

import pytest

from pyetcd_wire._api import kv
from pyetcd_wire._proto import rpc_pb2

R = rpc_pb2.RangeRequest

# --- range_request: keyword -> field --------------------------------------------

RANGE_CASES = [
    ({}, R(key=b"k")),
    ({"range_end": b"z"}, R(key=b"k", range_end=b"z")),
    ({"range_end": "z"}, R(key=b"k", range_end=b"z")),
    ({"range_end": b""}, R(key=b"k")),
    ({"range_end": b"\x00"}, R(key=b"k", range_end=b"\x00")),
    ({"prefix": True}, R(key=b"k", range_end=b"l")),
    ({"from_key": True}, R(key=b"k", range_end=b"\x00")),
    ({"revision": 7}, R(key=b"k", revision=7)),
    ({"limit": 3}, R(key=b"k", limit=3)),
    ({"serializable": True}, R(key=b"k", serializable=True)),
    ({"keys_only": True}, R(key=b"k", keys_only=True)),
    ({"count_only": True}, R(key=b"k", count_only=True)),
    (
        {"keys_only": True, "count_only": True},
        R(key=b"k", keys_only=True, count_only=True),
    ),
    ({"min_mod_revision": 2}, R(key=b"k", min_mod_revision=2)),
    ({"max_mod_revision": 3}, R(key=b"k", max_mod_revision=3)),
    ({"min_create_revision": 4}, R(key=b"k", min_create_revision=4)),
    ({"max_create_revision": 5}, R(key=b"k", max_create_revision=5)),
    # Another target with no order is sent ascending, the order etcd gives it:
    # sent as NONE with a limit, etcd sorts only the first keys by name.
    ({"sort_target": "mod"}, R(key=b"k", sort_target=R.MOD, sort_order=R.ASCEND)),
    (
        {"sort_target": "create", "limit": 1},
        R(key=b"k", sort_target=R.CREATE, sort_order=R.ASCEND, limit=1),
    ),
    ({"sort_order": "descend"}, R(key=b"k", sort_order=R.DESCEND)),
    (
        {"sort_target": "value", "sort_order": "ascend"},
        R(key=b"k", sort_target=R.VALUE, sort_order=R.ASCEND),
    ),
    # Go WithSort: (KEY, ASCEND) is sent as NONE.
    ({"sort_target": "key", "sort_order": "ascend"}, R(key=b"k")),
    ({"sort_target": 0, "sort_order": 1}, R(key=b"k")),
    ({"sort_target": "KEY", "sort_order": "Ascend"}, R(key=b"k")),
    (
        {"sort_target": "key", "sort_order": "descend"},
        R(key=b"k", sort_order=R.DESCEND),
    ),
    (
        {"sort_target": "version", "sort_order": "none"},
        R(key=b"k", sort_target=R.VERSION, sort_order=R.ASCEND),
    ),
    (
        {"sort_target": R.CREATE, "sort_order": R.DESCEND},
        R(key=b"k", sort_target=R.CREATE, sort_order=R.DESCEND),
    ),
    (
        {
            "prefix": True,
            "revision": 9,
            "limit": 1,
            "sort_target": "create",
            "sort_order": "DESCEND",
            "serializable": True,
            "keys_only": True,
            "min_mod_revision": 1,
            "max_mod_revision": 8,
            "min_create_revision": 2,
            "max_create_revision": 7,
        },
        R(
            key=b"k",
            range_end=b"l",
            revision=9,
            limit=1,
            sort_target=R.CREATE,
            sort_order=R.DESCEND,
            serializable=True,
            keys_only=True,
            min_mod_revision=1,
            max_mod_revision=8,
            min_create_revision=2,
            max_create_revision=7,
        ),
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), RANGE_CASES)
def test_range_request_fields(kwargs: Dict[str, Any], expected: R) -> None:
    request = kv.range_request(b"k", **kwargs)
    assert request == expected
    assert request.SerializeToString() == expected.SerializeToString()


@pytest.mark.parametrize(
    ("key", "kwargs", "expected_key", "expected_end"),
    [
        # Go WithPrefix: an empty key is the whole keyspace.
        (b"", {"prefix": True}, b"\x00", b"\x00"),
        ("", {"prefix": True}, b"\x00", b"\x00"),
        # Go WithFromKey: an empty key becomes "\0".
        (b"", {"from_key": True}, b"\x00", b"\x00"),
        (b"a", {"from_key": True}, b"a", b"\x00"),
        (b"\xff\xff", {"prefix": True}, b"\xff\xff", b"\x00"),
        (b"ab\xff", {"prefix": True}, b"ab\xff", b"ac"),
        ("é", {}, b"\xc3\xa9", b""),
        (bytearray(b"ba"), {"range_end": memoryview(b"bz")}, b"ba", b"bz"),
    ],
)
def test_range_request_key_and_end(
    key: Any, kwargs: Dict[str, Any], expected_key: bytes, expected_end: bytes
) -> None:
    request = kv.range_request(key, **kwargs)
    assert (request.key, request.range_end) == (expected_key, expected_end)


def test_range_request_wire_bytes() -> None:
    # key=1 (bytes), range_end=2 (bytes), limit=3 (varint).
    request = kv.range_request(b"a", prefix=True, limit=2)
    assert request.SerializeToString() == b"\x0a\x01a\x12\x01b\x18\x02"
    # sort_order=5, sort_target=6.
    request = kv.range_request(b"a", sort_target="mod", sort_order="descend")
    assert request.SerializeToString() == b"\x0a\x01a\x28\x02\x30\x03"


@pytest.mark.parametrize(
    ("name", "enum"),
    [
        ("key", R.KEY),
        ("version", R.VERSION),
        ("create", R.CREATE),
        ("mod", R.MOD),
        ("value", R.VALUE),
        ("Mod", R.MOD),
        (3, R.MOD),
        (R.VALUE, R.VALUE),
    ],
)
def test_sort_target_enum(name: Any, enum: int) -> None:
    assert kv.sort_target_enum(name) == enum


@pytest.mark.parametrize(
    ("name", "enum"),
    [
        ("none", R.NONE),
        ("ascend", R.ASCEND),
        ("descend", R.DESCEND),
        ("NONE", 0),
        (2, 2),
    ],
)
def test_sort_order_enum(name: Any, enum: int) -> None:
    assert kv.sort_order_enum(name) == enum


# --- range_request: checks ---------------------------------------------------------

SORT_TARGETS = "'key', 'version', 'create', 'mod', 'value'"
SORT_ORDERS = "'none', 'ascend', 'descend'"

RANGE_ERRORS = [
    (
        b"k",
        {"prefix": True, "from_key": True},
        ValueError,
        r"^prefix=True and from_key=True cannot be combined",
    ),
    (
        b"k",
        {"prefix": True, "range_end": b"z"},
        ValueError,
        r"^range_end= and prefix=True cannot be combined",
    ),
    (
        b"k",
        {"from_key": True, "range_end": b"z"},
        ValueError,
        r"^range_end= and from_key=True cannot be combined",
    ),
    (
        b"k",
        {"prefix": True, "range_end": b""},
        ValueError,
        r"^range_end= and prefix=True cannot be combined",
    ),
    (b"", {}, ValueError, r"key must not be empty"),
    ("", {"range_end": b"z"}, ValueError, r"key must not be empty"),
    (b"k", {"revision": -1}, ValueError, r"^revision must be >= 0, got -1$"),
    (b"k", {"limit": -5}, ValueError, r"^limit must be >= 0, got -5$"),
    (b"k", {"min_mod_revision": -1}, ValueError, r"^min_mod_revision must be >= 0"),
    (b"k", {"max_mod_revision": -1}, ValueError, r"^max_mod_revision must be >= 0"),
    (b"k", {"min_create_revision": -1}, ValueError, r"^min_create_revision must be"),
    (b"k", {"max_create_revision": -1}, ValueError, r"^max_create_revision must be"),
    (b"k", {"revision": 2**63}, ValueError, r"^revision must fit in int64"),
    (b"k", {"revision": True}, TypeError, r"^revision must be an int, not bool$"),
    (b"k", {"limit": False}, TypeError, r"^limit must be an int, not bool$"),
    (b"k", {"limit": 0.0}, TypeError, r"^limit must be an int, not float$"),
    (b"k", {"limit": "1"}, TypeError, r"^limit must be an int, not str$"),
    (b"k", {"max_mod_revision": None}, TypeError, r"^max_mod_revision must be an int"),
    (
        b"k",
        {"sort_target": "created"},
        ValueError,
        rf"^sort_target must be one of {SORT_TARGETS} \(or the enum number\), "
        r"got 'created'$",
    ),
    (b"k", {"sort_target": 5}, ValueError, r"^sort_target must be one of .* got 5$"),
    (b"k", {"sort_target": -1}, ValueError, r"^sort_target must be one of"),
    (b"k", {"sort_target": True}, ValueError, r"^sort_target must be one of .*True$"),
    (b"k", {"sort_target": None}, ValueError, r"^sort_target must be one of"),
    (
        b"k",
        {"sort_order": "asc"},
        ValueError,
        rf"^sort_order must be one of {SORT_ORDERS} \(or the enum number\), got 'asc'$",
    ),
    (b"k", {"sort_order": 3}, ValueError, r"^sort_order must be one of .* got 3$"),
    (None, {}, TypeError, r"^key must be str or bytes, not NoneType$"),
    (1, {"prefix": True}, TypeError, r"^key must be str or bytes, not int$"),
    (b"k", {"range_end": 5}, TypeError, r"^range_end must be str or bytes, not int$"),
]


@pytest.mark.parametrize(("key", "kwargs", "error", "message"), RANGE_ERRORS)
def test_range_request_errors(
    key: Any, kwargs: Dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        kv.range_request(key, **kwargs)


def test_option_mix_is_checked_before_the_key() -> None:
    # Invalid combinations are reported before anything else is looked at.
    with pytest.raises(ValueError, match=r"^prefix=True and from_key=True"):
        kv.range_request(None, prefix=True, from_key=True)  # type: ignore[arg-type]


# --- put_request -------------------------------------------------------------------

P = rpc_pb2.PutRequest

PUT_CASES = [
    ({}, P(key=b"k", value=b"v")),
    ({"lease": 0x1234}, P(key=b"k", value=b"v", lease=0x1234)),
    ({"prev_kv": True}, P(key=b"k", value=b"v", prev_kv=True)),
    ({"ignore_lease": True}, P(key=b"k", value=b"v", ignore_lease=True)),
    (
        {"lease": 9, "prev_kv": True},
        P(key=b"k", value=b"v", lease=9, prev_kv=True),
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), PUT_CASES)
def test_put_request_fields(kwargs: Dict[str, Any], expected: P) -> None:
    request = kv.put_request("k", "v", **kwargs)
    assert request == expected
    assert request.SerializeToString() == expected.SerializeToString()


def test_put_request_ignore_value() -> None:
    request = kv.put_request(b"k", b"", ignore_value=True, lease=5)
    assert request == P(key=b"k", ignore_value=True, lease=5)
    request = kv.put_request(b"k", "", ignore_value=True, ignore_lease=True)
    assert request == P(key=b"k", ignore_value=True, ignore_lease=True)


def test_put_request_wire_bytes() -> None:
    # key=1, value=2, lease=3, prev_kv=4.
    request = kv.put_request(b"a", b"b", lease=1, prev_kv=True)
    assert request.SerializeToString() == b"\x0a\x01a\x12\x01b\x18\x01\x20\x01"


def test_put_request_keeps_binary_and_unicode() -> None:
    request = kv.put_request("ключ", b"\x00\xff")
    assert request.key == "ключ".encode()
    assert request.value == b"\x00\xff"


PUT_ERRORS = [
    (b"", b"v", {}, ValueError, r"key must not be empty"),
    (
        b"k",
        b"v",
        {"ignore_value": True},
        ValueError,
        r"^ignore_value=True keeps the current value: value must be empty",
    ),
    (
        b"k",
        b"v",
        {"ignore_lease": True, "lease": 5},
        ValueError,
        r"^ignore_lease=True keeps the current lease: lease must be 0",
    ),
    (b"k", b"v", {"lease": True}, TypeError, r"^lease must be an int, not bool$"),
    (b"k", b"v", {"lease": "5"}, TypeError, r"^lease must be an int, not str$"),
    (b"k", b"v", {"lease": 2**64}, ValueError, r"^lease must fit in int64"),
    # etcd never grants a negative lease ID (lease_grant_request refuses one).
    (b"k", b"v", {"lease": -3}, ValueError, r"^lease must be >= 0, got -3$"),
    (b"k", b"v", {"prev_kv": 1}, TypeError, r"^prev_kv must be a bool, not int$"),
    (b"k", None, {}, TypeError, r"^value must be str or bytes, not NoneType$"),
    (b"k", 5, {}, TypeError, r"^value must be str or bytes, not int$"),
    (5, b"v", {}, TypeError, r"^key must be str or bytes, not int$"),
]


@pytest.mark.parametrize(("key", "value", "kwargs", "error", "message"), PUT_ERRORS)
def test_put_request_errors(
    key: Any, value: Any, kwargs: Dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        kv.put_request(key, value, **kwargs)


# --- delete_request ----------------------------------------------------------------

D = rpc_pb2.DeleteRangeRequest

DELETE_CASES = [
    (b"k", {}, D(key=b"k")),
    (b"k", {"range_end": b"m"}, D(key=b"k", range_end=b"m")),
    (b"k", {"prefix": True}, D(key=b"k", range_end=b"l")),
    (b"k", {"from_key": True}, D(key=b"k", range_end=b"\x00")),
    (b"k", {"prev_kv": True}, D(key=b"k", prev_kv=True)),
    (b"", {"prefix": True}, D(key=b"\x00", range_end=b"\x00")),
    (b"", {"from_key": True}, D(key=b"\x00", range_end=b"\x00")),
    (
        "a\xff",
        {"prefix": True, "prev_kv": True},
        D(key=b"a\xc3\xbf", range_end=b"a\xc3\xc0", prev_kv=True),
    ),
]


@pytest.mark.parametrize(("key", "kwargs", "expected"), DELETE_CASES)
def test_delete_request_fields(key: Any, kwargs: Dict[str, Any], expected: D) -> None:
    request = kv.delete_request(key, **kwargs)
    assert request == expected
    assert request.SerializeToString() == expected.SerializeToString()


DELETE_ERRORS = [
    (b"", {}, ValueError, r"key must not be empty"),
    (
        b"k",
        {"prefix": True, "from_key": True},
        ValueError,
        r"^prefix=True and from_key",
    ),
    (b"k", {"prefix": True, "range_end": b"z"}, ValueError, r"^range_end= and prefix"),
    (b"k", {"from_key": True, "range_end": b"z"}, ValueError, r"^range_end= and from_"),
    (b"k", {"range_end": 1}, TypeError, r"^range_end must be str or bytes, not int$"),
]


@pytest.mark.parametrize(("key", "kwargs", "error", "message"), DELETE_ERRORS)
def test_delete_request_errors(
    key: Any, kwargs: Dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        kv.delete_request(key, **kwargs)


# --- compaction_request ---------------------------------------------------------------


def test_compaction_request() -> None:
    request = rpc_pb2.CompactionRequest
    assert kv.compaction_request(5) == request(revision=5)
    assert kv.compaction_request(5, physical=True) == request(revision=5, physical=True)
    assert kv.compaction_request(0) == request()
    assert (
        kv.compaction_request(3, physical=True).SerializeToString()
        == b"\x08\x03\x10\x01"
    )


@pytest.mark.parametrize(
    ("revision", "error", "message"),
    [
        (-1, ValueError, r"^revision must be >= 0, got -1$"),
        (True, TypeError, r"^revision must be an int, not bool$"),
        ("5", TypeError, r"^revision must be an int, not str$"),
        (2**63, ValueError, r"^revision must fit in int64"),
    ],
)
def test_compaction_request_errors(revision: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        kv.compaction_request(revision)


# --- resolve_range --------------------------------------------------


def test_resolve_range_single_key() -> None:
    assert kv.resolve_range("k", None, False, False) == (b"k", b"")
