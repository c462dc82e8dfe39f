"""txn_request: compares and ops into a TxnRequest, with indexed type errors."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from pyetcd_wire._api.compare import Compare
from pyetcd_wire._api.op import Op, is_read_only, txn_branches, txn_request
from pyetcd_wire._proto import rpc_pb2


def test_empty_txn() -> None:
    assert txn_request() == rpc_pb2.TxnRequest()
    assert txn_request().SerializeToString() == b""


def test_lock_style_txn() -> None:
    # concurrency/mutex.go: put our key if it does not exist, else read it.
    key = b"lock/694d71dde4f3e3a2"
    request = txn_request(
        [Compare.create_revision(key) == 0],
        [Op.put(key, b"", lease=0x694D71DDE4F3E3A2), Op.get(b"lock/", prefix=True)],
        [Op.get(key)],
    )
    assert request == rpc_pb2.TxnRequest(
        compare=[
            rpc_pb2.Compare(
                result=rpc_pb2.Compare.EQUAL,
                target=rpc_pb2.Compare.CREATE,
                key=key,
                create_revision=0,
            )
        ],
        success=[
            rpc_pb2.RequestOp(
                request_put=rpc_pb2.PutRequest(key=key, lease=0x694D71DDE4F3E3A2)
            ),
            rpc_pb2.RequestOp(
                request_range=rpc_pb2.RangeRequest(key=b"lock/", range_end=b"lock0")
            ),
        ],
        failure=[rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=key))],
    )
    assert rpc_pb2.TxnRequest.FromString(request.SerializeToString()) == request


def test_order_is_kept() -> None:
    compares = [Compare.version(str(i)) > i for i in range(5)]
    ops = [Op.put(str(i), str(i)) for i in range(5)]
    request = txn_request(compares, ops, reversed(ops))
    assert [c.key for c in request.compare] == [b"0", b"1", b"2", b"3", b"4"]
    assert [o.request_put.key for o in request.success] == [
        b"0",
        b"1",
        b"2",
        b"3",
        b"4",
    ]
    assert [o.request_put.key for o in request.failure] == [
        b"4",
        b"3",
        b"2",
        b"1",
        b"0",
    ]


def test_range_compares_and_nested_txn() -> None:
    nested = Op.txn([Compare.lease(b"a", range_end=b"b") != 0], [Op.delete(b"a")])
    request = txn_request(
        [Compare.value(b"cfg/", prefix=True) == b"on"], [nested], [nested]
    )
    assert request.compare[0].range_end == b"cfg0"
    assert request.success[0].request_txn.compare[0].range_end == b"b"
    assert request.success[0].request_txn.compare[0].result == rpc_pb2.Compare.NOT_EQUAL
    assert request.success[0] == request.failure[0] == nested.to_request_op()


def test_txn_branches_returns_tuples() -> None:
    guard = Compare.version(b"k") > 0
    op = Op.get(b"k")
    assert txn_branches([guard], [op], (x for x in [op])) == ((guard,), (op,), (op,))


CMP = Compare.version(b"k") > 0
OP = Op.get(b"k")

ERRORS = [
    (
        lambda: txn_request([CMP, Compare.value(b"k")]),  # type: ignore[list-item]
        r"^txn compare\[1\] is Compare.value\(b'k'\) without an operator: "
        r"write e.g. Compare.value\(b'k'\) == b'...'$",
    ),
    (
        lambda: txn_request([Compare.mod_revision(b"k")]),  # type: ignore[list-item]
        r"^txn compare\[0\] is Compare.mod_revision\(b'k'\) without an operator: "
        r"write e.g. Compare.mod_revision\(b'k'\) == 0$",
    ),
    (
        lambda: txn_request([CMP, CMP, ("k", "=", "v")]),  # type: ignore[list-item]
        r"^txn compare\[2\] must be a Compare \(e.g. Compare.value\(key\) == b'v'\), "
        r"not tuple$",
    ),
    (
        lambda: txn_request([OP]),  # type: ignore[list-item]
        r"^txn compare\[0\] must be a Compare .* not Op$",
    ),
    (
        lambda: txn_request([], [OP, OP, CMP]),  # type: ignore[list-item]
        r"^txn success\[2\] must be an Op \(Op.get, Op.put, Op.delete or Op.txn\), "
        r"not Compare: Compare.version\(b'k'\) > 0$",
    ),
    (
        lambda: txn_request([], [], [None]),  # type: ignore[list-item]
        r"^txn failure\[0\] must be an Op .*, not NoneType: None$",
    ),
    (
        lambda: txn_request([], [], [rpc_pb2.RequestOp()]),  # type: ignore[list-item]
        r"^txn failure\[0\] must be an Op .*, not RequestOp",
    ),
    (
        lambda: txn_request(CMP),  # type: ignore[arg-type]
        r"^txn compare must be a list of Compare values, not a single Compare: "
        r"write compare=\[\.\.\.\]$",
    ),
    (
        lambda: txn_request(Compare.value(b"k")),  # type: ignore[arg-type]
        r"^txn compare must be a list of Compare values, not a single KeyField",
    ),
    (
        lambda: txn_request([], OP),  # type: ignore[arg-type]
        r"^txn success must be a list of Op values, not a single Op: "
        r"write success=\[\.\.\.\]$",
    ),
    (
        lambda: txn_request([], [], "get k"),  # type: ignore[arg-type]
        r"^txn failure must be a list of Op values, not a single str",
    ),
    (
        lambda: txn_request([], [], b"k"),  # type: ignore[arg-type]
        r"^txn failure must be a list of Op values, not a single bytes",
    ),
    (
        lambda: txn_request(None),  # type: ignore[arg-type]
        r"^txn compare must be a list of Compare values, not NoneType$",
    ),
    (
        lambda: txn_request([], 5),  # type: ignore[arg-type]
        r"^txn success must be a list of Op values, not int$",
    ),
]


@pytest.mark.parametrize(("call", "message"), ERRORS)
def test_type_errors(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        call()


def test_generator_errors_are_not_hidden() -> None:
    # A TypeError raised while iterating a part is the caller's, not ours.
    def broken() -> Any:
        yield OP
        raise TypeError("boom")

    with pytest.raises(TypeError, match=r"^boom$"):
        txn_request([], broken())


@pytest.mark.parametrize(
    ("success", "failure", "read_only"),
    [
        ([], [], True),
        ([Op.get("a")], [Op.get("b", prefix=True)], True),
        ([Op.txn([], [Op.get("a")], [Op.txn([], [Op.get("b")])])], [], True),
        ([Op.get("a"), Op.put("a", "v")], [], False),
        ([Op.get("a")], [Op.delete("a")], False),
        ([Op.txn([], [Op.get("a")], [Op.txn([], [Op.put("b", "v")])])], [], False),
    ],
)
def test_read_only_means_every_op_of_both_branches_reads(success, failure, read_only):
    # etcd's isTxnReadonly: such a Txn runs in the call's context (methods.py:
    # KV_TXN_READ, never cancelled on the server).
    request = txn_request([Compare.version("a") > 0], success, failure)
    assert is_read_only(request) is read_only
