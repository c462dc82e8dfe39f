"""Operations as values, ``Op`` (client/v3/op.go), and the transactions
made of them (client/v3/txn.go), in one module: a transaction holds Ops,
and an Op may be a transaction.

One type serves get, put, delete and nested txn.  An Op is checked when it is
made (by the same builders as ``client.get`` and friends, so an Op and a
direct call send the same bytes), is immutable, compares and hashes by value,
and is usable alone or in a transaction branch.  ``to_request_op`` is the one
place an Op becomes the wire's ``RequestOp``.

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

from typing import Iterable, Optional, Tuple, TypeVar, Union

from .._proto import rpc_pb2
from .compare import Compare, KeyField
from .kv import delete_request, put_request, range_request
from .util import BytesLike, Immutable

_RequestOp = rpc_pb2.RequestOp

#: The kinds of Op, after Go's opType (tRange, tPut, tDeleteRange, tTxn).
KINDS = ("get", "put", "delete", "txn")

# repr: sort enums are shown as the strings range_request takes.
_ENUM_FIELDS = {
    "sort_target": rpc_pb2.RangeRequest.SortTarget.Name,
    "sort_order": rpc_pb2.RangeRequest.SortOrder.Name,
}


class Op(Immutable):
    """One etcd operation: get, put, delete or a nested txn.

    Make one with `Op.get`, `Op.put`, `Op.delete` or `Op.txn`; calling
    ``Op()`` raises TypeError.
    """

    __slots__ = ("_branches", "_key", "_kind", "_range_end", "_request_op")

    _branches: Tuple[Tuple[Compare, ...], Tuple[Op, ...], Tuple[Op, ...]]
    _key: bytes
    _kind: str
    _range_end: bytes
    _request_op: rpc_pb2.RequestOp

    def __init__(self) -> None:
        raise TypeError("make an Op with Op.get(), Op.put(), Op.delete() or Op.txn()")

    @classmethod
    def get(
        cls,
        key: BytesLike,
        *,
        range_end: Optional[BytesLike] = None,
        prefix: bool = False,
        from_key: bool = False,
        revision: int = 0,
        limit: int = 0,
        sort_target: Union[str, int] = "key",
        sort_order: Union[str, int] = "none",
        serializable: bool = False,
        keys_only: bool = False,
        count_only: bool = False,
        min_mod_revision: int = 0,
        max_mod_revision: int = 0,
        min_create_revision: int = 0,
        max_create_revision: int = 0,
    ) -> Op:
        """A read of a key or range (Go ``OpGet``).

        Args:
            key, range_end, prefix, from_key, revision, limit, sort_target,
            sort_order, serializable, keys_only, count_only,
            min_mod_revision, max_mod_revision, min_create_revision,
            max_create_revision: as `kv.range_request`.

        Raises:
            ValueError, TypeError: as `kv.range_request`.
        """
        request = range_request(
            key,
            range_end=range_end,
            prefix=prefix,
            from_key=from_key,
            revision=revision,
            limit=limit,
            sort_target=sort_target,
            sort_order=sort_order,
            serializable=serializable,
            keys_only=keys_only,
            count_only=count_only,
            min_mod_revision=min_mod_revision,
            max_mod_revision=max_mod_revision,
            min_create_revision=min_create_revision,
            max_create_revision=max_create_revision,
        )
        return _make(
            "get", _RequestOp(request_range=request), request.key, request.range_end
        )

    @classmethod
    def put(
        cls,
        key: BytesLike,
        value: BytesLike,
        *,
        lease: int = 0,
        prev_kv: bool = False,
        ignore_value: bool = False,
        ignore_lease: bool = False,
    ) -> Op:
        """A write of one key (Go ``OpPut``).

        Args:
            key, value, lease, prev_kv, ignore_value, ignore_lease: as
                `kv.put_request`.

        Raises:
            ValueError, TypeError: as `kv.put_request`.
        """
        request = put_request(
            key,
            value,
            lease=lease,
            prev_kv=prev_kv,
            ignore_value=ignore_value,
            ignore_lease=ignore_lease,
        )
        return _make("put", _RequestOp(request_put=request), request.key, b"")

    @classmethod
    def delete(
        cls,
        key: BytesLike,
        *,
        range_end: Optional[BytesLike] = None,
        prefix: bool = False,
        from_key: bool = False,
        prev_kv: bool = False,
    ) -> Op:
        """A delete of a key or range (Go ``OpDelete``).

        Args:
            key, range_end, prefix, from_key, prev_kv: as `kv.delete_request`.

        Raises:
            ValueError, TypeError: as `kv.delete_request`.
        """
        request = delete_request(
            key, range_end=range_end, prefix=prefix, from_key=from_key, prev_kv=prev_kv
        )
        return _make(
            "delete",
            _RequestOp(request_delete_range=request),
            request.key,
            request.range_end,
        )

    @classmethod
    def txn(
        cls,
        compare: Iterable[Compare] = (),
        success: Iterable[Op] = (),
        failure: Iterable[Op] = (),
    ) -> Op:
        """A nested transaction (Go ``OpTxn``, etcd 3.3+).

        Args:
            compare, success, failure: as `txn_request`.

        Raises:
            TypeError: as `txn_request`.
        """
        branches = txn_branches(compare, success, failure)
        request = txn_request(*branches)
        return _make("txn", _RequestOp(request_txn=request), b"", b"", branches)

    # --- accessors (Go KeyBytes, RangeBytes, IsGet/IsPut/..., Txn) -------------

    @property
    def kind(self) -> str:
        """ "get", "put", "delete" or "txn"."""
        return self._kind

    @property
    def key(self) -> bytes:
        """The key, or the first key of the range; b"" for a txn."""
        return self._key

    @property
    def range_end(self) -> bytes:
        """The exclusive end of the range; b"" for one key, a put or a txn."""
        return self._range_end

    @property
    def compare(self) -> Tuple[Compare, ...]:
        """A txn's compares; () for the other kinds."""
        return self._branches[0]

    @property
    def success(self) -> Tuple[Op, ...]:
        """A txn's ops run when every compare holds; () for the other kinds."""
        return self._branches[1]

    @property
    def failure(self) -> Tuple[Op, ...]:
        """A txn's ops run otherwise; () for the other kinds."""
        return self._branches[2]

    @property
    def is_write(self) -> bool:
        """True for put and delete, and for a txn with a write in a branch
        (Go ``isWrite``): a txn that only reads may be retried."""
        if self._kind == "txn":
            return any(op.is_write for op in self.success + self.failure)
        return self._kind != "get"

    def to_request_op(self) -> rpc_pb2.RequestOp:
        """The wire message for a transaction branch (a new copy each call)."""
        request_op = _RequestOp()
        request_op.CopyFrom(self._request_op)
        return request_op

    # --- value semantics ---------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Op):
            return NotImplemented
        return self._kind == other._kind and self._request_op == other._request_op

    def __hash__(self) -> int:
        return hash(
            (self._kind, self._request_op.SerializeToString(deterministic=True))
        )

    def __repr__(self) -> str:
        if self._kind == "txn":
            compare, success, failure = self._branches
            return f"Op.txn({list(compare)!r}, {list(success)!r}, {list(failure)!r})"
        request = getattr(self._request_op, self._request_op.WhichOneof("request"))
        args = [repr(request.key)]
        if self._kind == "put":
            args.append(repr(request.value))
        for field, value in request.ListFields():
            if field.name in ("key", "value"):
                continue
            if field.name in _ENUM_FIELDS:
                value = _ENUM_FIELDS[field.name](value).lower()
            args.append(f"{field.name}={value!r}")
        return f"Op.{self._kind}({', '.join(args)})"


_NO_BRANCHES: Tuple[Tuple[Compare, ...], Tuple[Op, ...], Tuple[Op, ...]] = ((), (), ())


def _make(
    kind: str,
    request_op: rpc_pb2.RequestOp,
    key: bytes,
    range_end: bytes,
    branches: Tuple[Tuple[Compare, ...], Tuple[Op, ...], Tuple[Op, ...]] = _NO_BRANCHES,
) -> Op:
    op = object.__new__(Op)
    setter = object.__setattr__
    setter(op, "_kind", kind)
    setter(op, "_request_op", request_op)
    setter(op, "_key", key)
    setter(op, "_range_end", range_end)
    setter(op, "_branches", branches)
    return op


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
