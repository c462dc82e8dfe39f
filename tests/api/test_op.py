"""Op values: the same bytes as the builders, value semantics, nesting."""

from __future__ import annotations

import copy
from typing import Any, Dict

import pytest

from pyetcd_wire._api import kv
from pyetcd_wire._api.compare import Compare
from pyetcd_wire._api.op import KINDS, Op, txn_request
from pyetcd_wire._proto import rpc_pb2

GET_KWARGS: Dict[str, Any] = {
    "prefix": True,
    "revision": 4,
    "limit": 2,
    "sort_target": "version",
    "sort_order": "descend",
    "serializable": True,
    "keys_only": True,
    "count_only": True,
    "min_mod_revision": 1,
    "max_mod_revision": 9,
    "min_create_revision": 1,
    "max_create_revision": 8,
}


@pytest.mark.parametrize(
    "kwargs",
    [{}, GET_KWARGS, {"range_end": b"z"}, {"from_key": True}, {"sort_order": "ascend"}],
)
def test_get_is_range_request(kwargs: Dict[str, Any]) -> None:
    op = Op.get(b"k", **kwargs)
    assert op.kind == "get"
    assert op.to_request_op() == rpc_pb2.RequestOp(
        request_range=kv.range_request(b"k", **kwargs)
    )
    assert op.to_request_op().WhichOneof("request") == "request_range"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"lease": 5},
        {"prev_kv": True},
        {"ignore_lease": True},
        {"lease": 7, "prev_kv": True, "ignore_lease": False},
    ],
)
def test_put_is_put_request(kwargs: Dict[str, Any]) -> None:
    op = Op.put("k", "v", **kwargs)
    assert op.kind == "put"
    assert op.to_request_op() == rpc_pb2.RequestOp(
        request_put=kv.put_request("k", "v", **kwargs)
    )


def test_put_ignore_value() -> None:
    op = Op.put(b"k", b"", ignore_value=True)
    assert op.to_request_op().request_put == rpc_pb2.PutRequest(
        key=b"k", ignore_value=True
    )


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"prefix": True}, {"from_key": True}, {"range_end": "m"}, {"prev_kv": True}],
)
def test_delete_is_delete_range_request(kwargs: Dict[str, Any]) -> None:
    op = Op.delete(b"k", **kwargs)
    assert op.kind == "delete"
    assert op.to_request_op() == rpc_pb2.RequestOp(
        request_delete_range=kv.delete_request(b"k", **kwargs)
    )


def test_accessors() -> None:
    get = Op.get(b"a", prefix=True)
    assert (get.key, get.range_end) == (b"a", b"b")
    delete = Op.delete("", prefix=True)
    assert (delete.key, delete.range_end) == (b"\x00", b"\x00")
    put = Op.put("k", "v")
    assert (put.key, put.range_end) == (b"k", b"")
    for op in (get, delete, put):
        assert (op.compare, op.success, op.failure) == ((), (), ())
    assert {op.kind for op in (get, delete, put, Op.txn())} == set(KINDS)


def test_is_write() -> None:
    assert not Op.get(b"k").is_write
    assert Op.put(b"k", b"v").is_write
    assert Op.delete(b"k").is_write
    assert not Op.txn().is_write
    assert not Op.txn([], [Op.get(b"a")], [Op.get(b"b")]).is_write
    assert Op.txn([], [Op.get(b"a")], [Op.delete(b"b")]).is_write
    assert Op.txn([], [Op.txn([], [], [Op.put(b"a", b"")])]).is_write


# --- nested txn ----------------------------------------------------------------


def test_nested_txn_round_trip() -> None:
    guard = Compare.mod_revision(b"lock/", prefix=True) < 10
    inner = Op.txn(
        [Compare.value(b"a") == b"1"],
        [Op.put(b"a", b"2", prev_kv=True)],
        [Op.get(b"a")],
    )
    outer = Op.txn([guard], [inner, Op.delete(b"b")], [Op.get(b"c", count_only=True)])
    assert outer.kind == "txn"
    assert outer.compare == (guard,)
    assert outer.success == (inner, Op.delete(b"b"))
    assert outer.failure == (Op.get(b"c", count_only=True),)
    assert (outer.key, outer.range_end) == (b"", b"")

    expected_inner = rpc_pb2.TxnRequest(
        compare=[
            rpc_pb2.Compare(target=rpc_pb2.Compare.VALUE, key=b"a", value=b"1"),
        ],
        success=[
            rpc_pb2.RequestOp(
                request_put=rpc_pb2.PutRequest(key=b"a", value=b"2", prev_kv=True)
            )
        ],
        failure=[rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=b"a"))],
    )
    expected = rpc_pb2.RequestOp(
        request_txn=rpc_pb2.TxnRequest(
            compare=[
                rpc_pb2.Compare(
                    result=rpc_pb2.Compare.LESS,
                    target=rpc_pb2.Compare.MOD,
                    key=b"lock/",
                    range_end=b"lock0",
                    mod_revision=10,
                )
            ],
            success=[
                rpc_pb2.RequestOp(request_txn=expected_inner),
                rpc_pb2.RequestOp(
                    request_delete_range=rpc_pb2.DeleteRangeRequest(key=b"b")
                ),
            ],
            failure=[
                rpc_pb2.RequestOp(
                    request_range=rpc_pb2.RangeRequest(key=b"c", count_only=True)
                )
            ],
        )
    )
    request_op = outer.to_request_op()
    assert request_op == expected
    wire = request_op.SerializeToString()
    assert rpc_pb2.RequestOp.FromString(wire) == expected
    # The same transaction built for KV.Txn directly.
    assert request_op.request_txn == txn_request(
        outer.compare, outer.success, outer.failure
    )


def test_txn_takes_any_iterables() -> None:
    ops = [Op.put(b"a", b"1"), Op.put(b"b", b"2")]
    a = Op.txn((c for c in [Compare.version(b"a") == 0]), iter(ops), ())
    b = Op.txn(compare=[Compare.version(b"a") == 0], success=tuple(ops))
    assert a == b


def test_txn_type_errors() -> None:
    with pytest.raises(TypeError, match=r"^txn success\[1\] must be an Op"):
        Op.txn([], [Op.get(b"a"), "put a"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"^txn compare\[0\] is Compare.value"):
        Op.txn([Compare.value(b"a")])  # type: ignore[list-item]


# --- value semantics -------------------------------------------------------------


def test_equality_and_hash() -> None:
    a = Op.get("k", prefix=True)
    b = Op.get(b"k", range_end=b"l")  # the same request on the wire
    assert a == b
    assert hash(a) == hash(b)
    assert a != Op.get(b"k")
    assert a != Op.delete(b"k", prefix=True)
    assert Op.put(b"k", b"v") != Op.put(b"k", b"w")
    assert Op.put(b"k", b"v", lease=1) != Op.put(b"k", b"v")
    assert a != "get k"
    assert len({a, b, Op.get(b"k")}) == 2
    t1 = Op.txn([Compare.version(b"k") == 0], [a])
    t2 = Op.txn([Compare.version(b"k") == 0], [b])
    assert t1 == t2
    assert hash(t1) == hash(t2)
    assert t1 != Op.txn([Compare.version(b"k") == 0], [], [a])


def test_immutable() -> None:
    op = Op.get(b"k")
    with pytest.raises(AttributeError, match=r"^Op is immutable; cannot set _key$"):
        op._key = b"x"  # type: ignore[misc]
    with pytest.raises(AttributeError, match=r"^Op is immutable; cannot delete _kind$"):
        del op._kind
    with pytest.raises(AttributeError):
        op.key = b"x"  # type: ignore[misc]
    assert copy.copy(op) is op
    assert copy.deepcopy(op) is op


def test_to_request_op_returns_a_copy() -> None:
    op = Op.put(b"k", b"v")
    request_op = op.to_request_op()
    request_op.request_put.key = b"changed"
    assert op.to_request_op().request_put.key == b"k"


def test_op_cannot_be_constructed_directly() -> None:
    with pytest.raises(TypeError, match=r"^make an Op with Op.get\(\), Op.put\(\)"):
        Op()


@pytest.mark.parametrize(
    ("op", "text"),
    [
        (Op.get(b"k"), "Op.get(b'k')"),
        (
            Op.get("k", prefix=True, limit=2, sort_target="mod", sort_order="descend"),
            "Op.get(b'k', range_end=b'l', limit=2, sort_order='descend', "
            "sort_target='mod')",
        ),
        (Op.get(b"k", count_only=True), "Op.get(b'k', count_only=True)"),
        (Op.put(b"k", b""), "Op.put(b'k', b'')"),
        (
            Op.put(b"k", b"v", lease=3, prev_kv=True),
            "Op.put(b'k', b'v', lease=3, prev_kv=True)",
        ),
        (Op.delete(b"k", from_key=True), "Op.delete(b'k', range_end=b'\\x00')"),
        (Op.txn(), "Op.txn([], [], [])"),
        (
            Op.txn([Compare.version(b"k") == 0], [Op.put(b"k", b"v")], [Op.get(b"k")]),
            "Op.txn([Compare.version(b'k') == 0], [Op.put(b'k', b'v')], "
            "[Op.get(b'k')])",
        ),
    ],
)
def test_repr(op: Op, text: str) -> None:
    assert repr(op) == text


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: Op.get(b"k", prefix=True, from_key=True),
            r"^prefix=True and from_key",
        ),
        (lambda: Op.get(b""), r"key must not be empty"),
        (lambda: Op.get(b"k", limit=-1), r"^limit must be >= 0"),
        (lambda: Op.get(b"k", sort_target="size"), r"^sort_target must be one of"),
        (lambda: Op.put(b"", b"v"), r"key must not be empty"),
        (lambda: Op.put(b"k", b"v", ignore_value=True), r"^ignore_value=True keeps"),
        (lambda: Op.put(b"k", b"", lease=1, ignore_lease=True), r"^ignore_lease=True"),
        (
            lambda: Op.delete(b"k", range_end=b"z", from_key=True),
            r"^range_end= and from",
        ),
        (lambda: Op.delete(b""), r"key must not be empty"),
    ],
)
def test_checked_when_made(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
