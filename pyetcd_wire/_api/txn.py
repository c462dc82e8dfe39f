"""Transactions: KV.Txn requests (client/v3/txn.go).

Go builds a transaction with ``Txn(ctx).If(cmps...).Then(ops...).Else(ops...)``
and panics when the calls come out of order.  Here the three parts are
arguments, ``txn_request(compare, success, failure)``, so there is no order to
get wrong; each element is type-checked and a bad one is named by its index.

etcd semantics (server/etcdserver/txn/txn.go, api/v3rpc/key.go): the txn runs
atomically at one revision; ``success`` runs when every compare holds (an
empty compare list holds), otherwise ``failure``; the response's
``succeeded`` says which, and ``responses[i]`` answers the i-th op of that
branch.  The server refuses more than ``--max-txn-ops`` (default 128)
compares or ops per branch (ErrTooManyOps) and a key written twice in one
branch (ErrDuplicateKey); those limits are the server's to check.
"""

from __future__ import annotations

from typing import Iterable, Tuple, TypeVar

from .._proto import rpc_pb2
from .compare import Compare, KeyField
from .op import Op

_T = TypeVar("_T")


def txn_branches(
    compare: Iterable[Compare] = (),
    success: Iterable[Op] = (),
    failure: Iterable[Op] = (),
) -> Tuple[Tuple[Compare, ...], Tuple[Op, ...], Tuple[Op, ...]]:
    """Checks the three parts of a transaction and returns them as tuples.

    Raises:
        TypeError: a part is not an iterable (or is a single Compare or Op,
            str or bytes), or an element has the wrong type; the message
            names the part and the index.
    """
    compares = _elements(compare, "compare", Compare)
    for index, guard in enumerate(compares):
        if not isinstance(guard, Compare):
            raise TypeError(_bad_compare(index, guard))
    then_ops = _elements(success, "success", Op)
    else_ops = _elements(failure, "failure", Op)
    for part, ops in (("success", then_ops), ("failure", else_ops)):
        for index, item in enumerate(ops):
            if not isinstance(item, Op):
                raise TypeError(
                    f"txn {part}[{index}] must be an Op (Op.get, Op.put, "
                    f"Op.delete or Op.txn), not {type(item).__name__}: {item!r}"
                )
    return compares, then_ops, else_ops


def txn_request(
    compare: Iterable[Compare] = (),
    success: Iterable[Op] = (),
    failure: Iterable[Op] = (),
) -> rpc_pb2.TxnRequest:
    """Builds a KV.Txn request: if every compare holds, run `success`,
    else `failure`.

    Args:
        compare: the guards, ``Compare`` values such as
            ``Compare.value(k) == b"v"``; all must hold.  A range compare
            holds when it holds for every key in the range.
        success: the ops (``Op.get/put/delete/txn``) run when every compare
            holds, in order, at one revision.
        failure: the ops run when a compare fails.

    Returns:
        The TxnRequest.

    Raises:
        TypeError: an element that is not a Compare (for example
            ``Compare.value(k)`` without an operator) or not an Op; the
            message names the part and its index.
    """
    compares, then_ops, else_ops = txn_branches(compare, success, failure)
    return rpc_pb2.TxnRequest(
        compare=[c.to_proto() for c in compares],
        success=[op.to_request_op() for op in then_ops],
        failure=[op.to_request_op() for op in else_ops],
    )


def is_read_only(request: rpc_pb2.TxnRequest) -> bool:
    """True if the Txn writes nothing: every op of both branches is a Range,
    or a nested Txn that is itself read-only (etcd's isTxnReadonly).  etcd
    serves such a Txn without raft, in the call's context."""
    for ops in (request.success, request.failure):
        for op in ops:
            kind = op.WhichOneof("request")
            if kind == "request_txn":
                if not is_read_only(op.request_txn):
                    return False
            elif kind != "request_range":
                return False
    return True


def _elements(items: Iterable[_T], part: str, kind: type) -> Tuple[_T, ...]:
    if isinstance(items, (kind, KeyField, str, bytes, bytearray, memoryview)):
        raise TypeError(
            f"txn {part} must be a list of {kind.__name__} values, not a single "
            f"{type(items).__name__}: write {part}=[...]"
        )
    try:
        iterator = iter(items)
    except TypeError:
        raise TypeError(
            f"txn {part} must be a list of {kind.__name__} values, "
            f"not {type(items).__name__}"
        ) from None
    return tuple(iterator)


def _bad_compare(index: int, item: object) -> str:
    if isinstance(item, KeyField):
        return (
            f"txn compare[{index}] is {item!r} without an operator: "
            f"write e.g. {item._usage()}"
        )
    return (
        f"txn compare[{index}] must be a Compare (e.g. Compare.value(key) == b'v'), "
        f"not {type(item).__name__}"
    )
