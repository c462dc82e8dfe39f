"""python-etcd3's transaction parts: the compares `Value`, `Version`,
`Create`, `Mod` (finished with ``==``, ``!=``, ``<``, ``>``, which set
``op`` and ``value`` and return the compare itself) and the operations
`Put`, `Get`, `Delete`, `Txn`.

They are what python-etcd3 had, and each becomes our `pyetcd_wire.Compare`
or `pyetcd_wire.Op` (`to_compare`, `to_op`) when a transaction is sent, so
the wire message is built in one place.  `build_message()` gives the
``etcdrpc.Compare`` as before.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import pyetcd_wire

from . import etcdrpc
from .utils import lease_to_id, to_bytes

BytesLike = Union[str, bytes]

_OPERATORS: Dict[int, str] = {
    etcdrpc.Compare.EQUAL: "==",
    etcdrpc.Compare.NOT_EQUAL: "!=",
    etcdrpc.Compare.LESS: "<",
    etcdrpc.Compare.GREATER: ">",
}


class BaseCompare:
    """A compare of one key (or of every key in ``[key, range_end)``)."""

    #: Our compare target (`pyetcd_wire.Compare`'s field names).
    target = ""

    # A compare defines == to build itself, so it cannot be hashed.
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, key: BytesLike, range_end: Optional[BytesLike] = None) -> None:
        self.key = key
        self.range_end = range_end
        self.value: Any = None
        self.op: Optional[int] = None

    def _set(self, op: int, other: Any) -> BaseCompare:
        self.value = other
        self.op = op
        return self

    def __eq__(self, other: object) -> BaseCompare:  # type: ignore[override]
        return self._set(etcdrpc.Compare.EQUAL, other)

    def __ne__(self, other: object) -> BaseCompare:  # type: ignore[override]
        return self._set(etcdrpc.Compare.NOT_EQUAL, other)

    def __lt__(self, other: object) -> BaseCompare:
        return self._set(etcdrpc.Compare.LESS, other)

    def __gt__(self, other: object) -> BaseCompare:
        return self._set(etcdrpc.Compare.GREATER, other)

    def __repr__(self) -> str:
        keys = (
            f"{self.key!s}"
            if self.range_end is None
            else f"[{self.key!s}, {self.range_end!s})"
        )
        operator = _OPERATORS.get(self.op) if self.op is not None else None
        return f"{self.__class__}: {keys} {operator} '{self.value!s}'"

    def _operand(self) -> Union[bytes, int]:
        return int(self.value)

    def to_compare(self) -> pyetcd_wire.Compare:
        """Our `pyetcd_wire.Compare` for this one.

        Raises:
            ValueError: no operator yet, or a bad operand.
            TypeError: an operand of the wrong type.
        """
        if self.op is None:
            raise ValueError("op must be one of =, !=, < or >")
        field = getattr(pyetcd_wire.Compare, self.target)(
            self.key, range_end=self.range_end
        )
        return pyetcd_wire.Compare(field, _OPERATORS[self.op], self._operand())

    def build_message(self) -> etcdrpc.Compare:
        """The ``etcdrpc.Compare`` message.

        Raises:
            ValueError: no operator yet (``op`` is None).
        """
        return self.to_compare().to_proto()


class Value(BaseCompare):
    """The value of the key; compare with str or bytes."""

    target = "value"

    def _operand(self) -> Union[bytes, int]:
        return to_bytes(self.value)


class Version(BaseCompare):
    """The key's version; compare with an int (or a string of one)."""

    target = "version"


class Create(BaseCompare):
    """The key's create revision (0: it does not exist); compare with an int
    (or a string of one)."""

    target = "create_revision"


class Mod(BaseCompare):
    """The key's mod revision; compare with an int (or a string of one)."""

    target = "mod_revision"


class Put:
    """Put `value` at `key` (with a `Lease` or lease ID)."""

    def __init__(
        self, key: BytesLike, value: BytesLike, lease: Any = None, prev_kv: bool = False
    ) -> None:
        self.key = key
        self.value = value
        self.lease = lease
        self.prev_kv = prev_kv


class Get:
    """Read `key`, or ``[key, range_end)``."""

    def __init__(self, key: BytesLike, range_end: Optional[BytesLike] = None) -> None:
        self.key = key
        self.range_end = range_end


class Delete:
    """Delete `key`, or ``[key, range_end)``."""

    def __init__(
        self,
        key: BytesLike,
        range_end: Optional[BytesLike] = None,
        prev_kv: bool = False,
    ) -> None:
        self.key = key
        self.range_end = range_end
        self.prev_kv = prev_kv


class Txn:
    """A nested transaction (etcd 3.3+)."""

    def __init__(
        self,
        compare: Iterable[BaseCompare],
        success: Optional[Iterable[Any]] = None,
        failure: Optional[Iterable[Any]] = None,
    ) -> None:
        self.compare = compare
        self.success = success
        self.failure = failure


def to_op(op: Any) -> pyetcd_wire.Op:
    """Our `pyetcd_wire.Op` for one of the operations above.

    Raises:
        TypeError: `op` is none of them.
    """
    if isinstance(op, Put):
        lease = lease_to_id(op.lease)
        return pyetcd_wire.Op.put(op.key, op.value, lease=lease, prev_kv=op.prev_kv)
    if isinstance(op, Get):
        return pyetcd_wire.Op.get(op.key, range_end=op.range_end)
    if isinstance(op, Delete):
        return pyetcd_wire.Op.delete(op.key, range_end=op.range_end, prev_kv=op.prev_kv)
    if isinstance(op, Txn):
        compare, success, failure = branches(op.compare, op.success, op.failure)
        return pyetcd_wire.Op.txn(compare, success, failure)
    raise TypeError(f"Unknown request class {op.__class__}")


def to_ops(ops: Optional[Iterable[Any]]) -> List[pyetcd_wire.Op]:
    """`to_op` of each (None: no operation; python-etcd3 raised TypeError)."""
    return [to_op(op) for op in (() if ops is None else ops)]


def branches(
    compare: Iterable[BaseCompare],
    success: Optional[Iterable[Any]],
    failure: Optional[Iterable[Any]],
) -> Tuple[List[pyetcd_wire.Compare], List[pyetcd_wire.Op], List[pyetcd_wire.Op]]:
    """A transaction's three parts, as ours."""
    return [c.to_compare() for c in compare], to_ops(success), to_ops(failure)


__all__ = [
    "BaseCompare",
    "Create",
    "Delete",
    "Get",
    "Mod",
    "Put",
    "Txn",
    "Value",
    "Version",
    "branches",
    "to_op",
    "to_ops",
]
