"""Transaction guards: ``Compare`` values (client/v3/compare.go).

A compare is built in two steps, as in Go: first the field of a key
(``Compare.value(key)``, Go ``Value(key)``), then an operator and an operand::

    Compare.value(b"k") == b"v"          # Go: Compare(Value("k"), "=", "v")
    Compare.version(b"k") > 0
    Compare.create_revision(b"dir/", prefix=True) == 0
    Compare(Compare.mod_revision(b"k"), "<", 42)   # Go's spelling also works

The first step gives a `KeyField`, which is not a compare: a transaction
refuses it, and so do ``bool()`` and the operators etcd lacks (``<=``,
``>=``).  The operand's type follows the target, as Go's ``mustInt64`` and
``bad compare value`` panics do: bytes or str for ``value``, int for the
others.  Wrong types raise ``TypeError``.

etcd semantics (server/etcdserver/txn/txn.go): a compare over a range holds
only if it holds for every key in the range; when no key exists, a ``value``
compare is false and the other targets compare against 0 (so
``create_revision == 0`` means "the key does not exist").
"""

from __future__ import annotations

from typing import Any, Dict, NoReturn, Optional, Tuple, Union

from .._proto import rpc_pb2
from .kv import resolve_range
from .util import BytesLike, Immutable, bytesify, int64

_CompareResult = rpc_pb2.Compare.CompareResult
_CompareTarget = rpc_pb2.Compare.CompareTarget

#: target name -> (Compare.target enum, Compare.target_union field);
#: client/v3/compare.go Value, Version, CreateRevision, ModRevision, LeaseValue.
TARGETS: Dict[str, Tuple[_CompareTarget, str]] = {
    "value": (rpc_pb2.Compare.VALUE, "value"),
    "version": (rpc_pb2.Compare.VERSION, "version"),
    "create_revision": (rpc_pb2.Compare.CREATE, "create_revision"),
    "mod_revision": (rpc_pb2.Compare.MOD, "mod_revision"),
    "lease": (rpc_pb2.Compare.LEASE, "lease"),
}
#: operator -> Compare.result; Go's "=", "!=", "<", ">" (and Python's "==").
OPERATORS: Dict[str, _CompareResult] = {
    "=": rpc_pb2.Compare.EQUAL,
    "==": rpc_pb2.Compare.EQUAL,
    "!=": rpc_pb2.Compare.NOT_EQUAL,
    "<": rpc_pb2.Compare.LESS,
    ">": rpc_pb2.Compare.GREATER,
}
_OPERATOR_NAMES = {
    rpc_pb2.Compare.EQUAL: "==",
    rpc_pb2.Compare.NOT_EQUAL: "!=",
    rpc_pb2.Compare.LESS: "<",
    rpc_pb2.Compare.GREATER: ">",
}

Operand = Union[BytesLike, int]


class _Field:
    """The left side that `KeyField` and `Compare` share: a target and a key
    or range, read-only properties and the ``Compare.value(b"k")`` repr."""

    __slots__ = ("_key", "_range_end", "_target")

    _key: bytes
    _range_end: bytes
    _target: str

    @property
    def target(self) -> str:
        """The field compared: "value", "version", "create_revision",
        "mod_revision" or "lease"."""
        return self._target

    @property
    def key(self) -> bytes:
        """The key, or the first key of the range."""
        return self._key

    @property
    def range_end(self) -> bytes:
        """The exclusive end of the range; b"" for a single key."""
        return self._range_end

    def _field_repr(self) -> str:
        end = f", range_end={self._range_end!r}" if self._range_end else ""
        return f"Compare.{self._target}({self._key!r}{end})"


class KeyField(_Field):
    """One field of a key, or of every key in a range: the left side of a
    `Compare`.  Made by ``Compare.value(key)`` and its siblings; compare it
    with ``==``, ``!=``, ``<`` or ``>`` to get a `Compare`.

    Args:
        target: "value", "version", "create_revision", "mod_revision" or
            "lease".
        key: the key (str is encoded as UTF-8).
        range_end: compare every key in ``[key, range_end)`` (Go
            ``Cmp.WithRange``, etcd 3.3+).
        prefix: compare every key that starts with `key` (Go
            ``Cmp.WithPrefix``, etcd 3.3+).  An empty key then means every
            key; Go would send the empty key and get ErrEmptyKey.

    Raises:
        ValueError: unknown target, range_end with prefix, or empty key.
        TypeError: key or range_end is not str or bytes.
    """

    __slots__ = ()

    # A KeyField defines == to build a Compare, so it cannot be hashed.
    __hash__ = None  # type: ignore[assignment]

    def __init__(
        self,
        target: str,
        key: BytesLike,
        *,
        range_end: Optional[BytesLike] = None,
        prefix: bool = False,
    ) -> None:
        if target not in TARGETS:
            allowed = ", ".join(map(repr, TARGETS))
            raise ValueError(f"compare target must be one of {allowed}: {target!r}")
        self._target = target
        self._key, self._range_end = resolve_range(key, range_end, prefix, False)

    def __eq__(self, operand: object) -> Compare:  # type: ignore[override]
        return Compare(self, "=", operand)

    def __ne__(self, operand: object) -> Compare:  # type: ignore[override]
        return Compare(self, "!=", operand)

    def __lt__(self, operand: object) -> Compare:
        return Compare(self, "<", operand)

    def __gt__(self, operand: object) -> Compare:
        return Compare(self, ">", operand)

    def __le__(self, operand: object) -> NoReturn:
        self._no_operator("<=")

    def __ge__(self, operand: object) -> NoReturn:
        self._no_operator(">=")

    def __bool__(self) -> NoReturn:
        raise TypeError(
            f"{self!r} is not a condition: compare it, e.g. {self._usage()}"
        )

    def __repr__(self) -> str:
        return self._field_repr()

    def _no_operator(self, operator: str) -> NoReturn:
        hint = "" if self._target == "value" else " (x <= n is x < n + 1)"
        raise TypeError(
            f"etcd compares with ==, !=, < and > only, not {operator}: "
            f"{self!r} {operator} ...{hint}"
        )

    def _usage(self) -> str:
        """A finished compare to suggest, for error messages."""
        example = "b'...'" if self._target == "value" else "0"
        return f"{self!r} == {example}"


class Compare(_Field, Immutable):
    """A transaction guard: a field of a key compared with an operand.

    Usually made with an operator, ``Compare.version(b"k") > 0``; the
    constructor is Go's ``Compare(cmp, result, v)``.  Frozen, hashable and
    comparable by value; ``to_proto`` gives the wire message.

    Args:
        field: the left side, from ``Compare.value(key)`` and siblings.
        operator: "=" (or "=="), "!=", "<" or ">".
        operand: bytes or str for a ``value`` field; int for the others.

    Raises:
        TypeError: `field` is not a KeyField, or the operand's type does not
            fit the target (``Compare.value(k) == 5``).
        ValueError: unknown operator, or an int operand outside int64.
    """

    __slots__ = ("_operand", "_result")

    _operand: Union[bytes, int]
    _result: _CompareResult

    def __init__(self, field: KeyField, operator: str, operand: object) -> None:
        if not isinstance(field, KeyField):
            raise TypeError(
                "Compare() takes Compare.value(key), Compare.version(key), ... "
                f"as its first argument, not {type(field).__name__}"
            )
        result = OPERATORS.get(operator)
        if result is None:
            allowed = ", ".join(map(repr, OPERATORS))
            raise ValueError(f"compare operator must be one of {allowed}: {operator!r}")
        value: Union[bytes, int]
        if field.target == "value":
            if not isinstance(operand, (str, bytes, bytearray, memoryview)):
                raise TypeError(
                    f"{field!r} compares with str or bytes, "
                    f"not {type(operand).__name__}"
                )
            value = bytesify(operand, "compare operand")
        else:
            if isinstance(operand, bool) or not isinstance(operand, int):
                raise TypeError(
                    f"{field!r} compares with an int, not {type(operand).__name__}"
                )
            value = int64(operand, f"{field!r} operand")
        setter = object.__setattr__
        setter(self, "_target", field.target)
        setter(self, "_key", field.key)
        setter(self, "_range_end", field.range_end)
        setter(self, "_result", result)
        setter(self, "_operand", value)

    # --- the first step: a field of a key ------------------------------------

    @staticmethod
    def value(
        key: BytesLike, *, range_end: Optional[BytesLike] = None, prefix: bool = False
    ) -> KeyField:
        """The value of `key` (Go ``Value``); compare with bytes or str.

        Args:
            key: the key.
            range_end: compare every key in ``[key, range_end)``.
            prefix: compare every key that starts with `key`.
        """
        return KeyField("value", key, range_end=range_end, prefix=prefix)

    @staticmethod
    def version(
        key: BytesLike, *, range_end: Optional[BytesLike] = None, prefix: bool = False
    ) -> KeyField:
        """The version of `key`: the number of puts since it was created,
        0 if it does not exist (Go ``Version``); compare with an int.

        Args: as `value`.
        """
        return KeyField("version", key, range_end=range_end, prefix=prefix)

    @staticmethod
    def create_revision(
        key: BytesLike, *, range_end: Optional[BytesLike] = None, prefix: bool = False
    ) -> KeyField:
        """The revision that created `key`, 0 if it does not exist (Go
        ``CreateRevision``); compare with an int.

        Args: as `value`.
        """
        return KeyField("create_revision", key, range_end=range_end, prefix=prefix)

    @staticmethod
    def mod_revision(
        key: BytesLike, *, range_end: Optional[BytesLike] = None, prefix: bool = False
    ) -> KeyField:
        """The revision of the last write to `key`, 0 if it does not exist
        (Go ``ModRevision``); compare with an int.

        Args: as `value`.
        """
        return KeyField("mod_revision", key, range_end=range_end, prefix=prefix)

    @staticmethod
    def lease(
        key: BytesLike, *, range_end: Optional[BytesLike] = None, prefix: bool = False
    ) -> KeyField:
        """The ID of the lease `key` is attached to, 0 for none (Go
        ``LeaseValue``, etcd 3.3+); compare with an int.

        Args: as `value`.
        """
        return KeyField("lease", key, range_end=range_end, prefix=prefix)

    # --- the finished compare (target, key, range_end: see _Field) ---------------

    @property
    def operator(self) -> str:
        """ "==", "!=", "<" or ">"."""
        return _OPERATOR_NAMES[self._result]

    @property
    def operand(self) -> Union[bytes, int]:
        """The right side: bytes for a value compare, else an int."""
        return self._operand

    def to_proto(self) -> rpc_pb2.Compare:
        """The wire message (a new one on every call)."""
        enum, field = TARGETS[self._target]
        message = rpc_pb2.Compare(
            result=self._result, target=enum, key=self._key, range_end=self._range_end
        )
        setattr(message, field, self._operand)
        return message

    def _fields(self) -> Tuple[Any, ...]:
        return (self._target, self._key, self._range_end, self._result, self._operand)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Compare):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __bool__(self) -> NoReturn:
        raise TypeError(
            f"{self!r} has no truth value: give compares as a list, "
            "compare=[c1, c2], and all of them must hold"
        )

    def __repr__(self) -> str:
        return f"{self._field_repr()} {self.operator} {self._operand!r}"
