"""KV requests: Range, Put, DeleteRange and Compact (client/v3/kv.go, op.go).

Each builder takes Go's ``WithX()`` options as keyword-only arguments, checks
them, and returns the protobuf request that Go's ``Op`` would have sent, byte
for byte.  Go panics on some invalid option mixes (``WithPrefix`` with
``WithFromKey``); here every invalid mix raises ``ValueError`` before a message
is built.  Other client-side checks:

* options that Go applies "last one wins" (``WithRange`` after
  ``WithPrefix``) cannot be ordered as keywords, so ``range_end=`` with
  ``prefix=`` or ``from_key=`` is refused;
* requests etcd would refuse anyway (empty key: ErrEmptyKey; ``ignore_value``
  with a value: ErrValueProvided; ``ignore_lease`` with a lease:
  ErrLeaseProvided; an unknown sort enum: ErrInvalidSortOption) fail here
  without a round trip;
* negative ``limit``, ``revision`` and revision filters, which etcd takes as
  "no limit", "newest", or a filter that keeps every key or none, are
  refused as bugs.

``count_only`` with ``keys_only`` is allowed, as in Go (the count wins).

The keys are the wire's ``bytes``; ``str`` is encoded as UTF-8.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional, Tuple, TypeVar, Union

from .._proto import rpc_pb2
from .check import flags
from .util import (
    FROM_KEY_END,
    BytesLike,
    bytesify,
    check_key,
    non_negative_int64,
    prefix_range_end,
)

_E = TypeVar("_E")

_RangeRequest = rpc_pb2.RangeRequest
_PutRequest = rpc_pb2.PutRequest
_DeleteRangeRequest = rpc_pb2.DeleteRangeRequest

#: sort_target values (client/v3/sort.go SortByKey ... SortByValue).
SORT_TARGETS: Dict[str, rpc_pb2.RangeRequest.SortTarget] = {
    "key": rpc_pb2.RangeRequest.KEY,
    "version": rpc_pb2.RangeRequest.VERSION,
    "create": rpc_pb2.RangeRequest.CREATE,
    "mod": rpc_pb2.RangeRequest.MOD,
    "value": rpc_pb2.RangeRequest.VALUE,
}
#: sort_order values (client/v3/sort.go SortNone, SortAscend, SortDescend).
SORT_ORDERS: Dict[str, rpc_pb2.RangeRequest.SortOrder] = {
    "none": rpc_pb2.RangeRequest.NONE,
    "ascend": rpc_pb2.RangeRequest.ASCEND,
    "descend": rpc_pb2.RangeRequest.DESCEND,
}
_SORT_TARGET_NUMBERS = {int(v): v for v in SORT_TARGETS.values()}
_SORT_ORDER_NUMBERS = {int(v): v for v in SORT_ORDERS.values()}

# range_request's int64 keywords, in the order it checks them.
_NUMBER_NAMES = (
    "revision",
    "limit",
    "min_mod_revision",
    "max_mod_revision",
    "min_create_revision",
    "max_create_revision",
)
_ZEROS = (0,) * len(_NUMBER_NAMES)
# The bool keywords of range_request, put_request and delete_request.
_RANGE_FLAGS = ("prefix", "from_key", "serializable", "keys_only", "count_only")
_PUT_FLAGS = ("prev_kv", "ignore_value", "ignore_lease")
_DELETE_FLAGS = ("prefix", "from_key", "prev_kv")

# Protobuf's wire format (protobuf.dev/programming-guides/encoding), for
# range_data and put_data: a field is its tag (number << 3 | wire type: 0
# varint, 2 length-delimited), then a varint or a length and the bytes.
_ONE_BYTE = tuple(bytes((n,)) for n in range(0x80))
# RangeRequest fields 10-13: min/max_mod_revision, min/max_create_revision.
_FILTER_TAGS = (b"\x50", b"\x58", b"\x60", b"\x68")


def _varint(number: int) -> bytes:
    """A non-negative int as a base-128 varint, low groups first."""
    if number < 0x80:
        return _ONE_BYTE[number]
    out = bytearray()
    while number >= 0x80:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def resolve_range(
    key: BytesLike,
    range_end: Optional[BytesLike],
    prefix: bool,
    from_key: bool,
) -> Tuple[bytes, bytes]:
    """The (key, range_end) pair that Go's range options put on the wire.

    * ``range_end=end`` (Go ``WithRange``): ``[key, end)``.
    * ``prefix=True`` (``WithPrefix``): ``[key, prefix_range_end(key))``; an
      empty key becomes ``"\\0"`` with end ``"\\0"``: the whole keyspace.
    * ``from_key=True`` (``WithFromKey``): end ``"\\0"``, every key >= key; an
      empty key becomes ``"\\0"``.
    * none of them: the single key, range end empty.

    Args:
        key: the key, or the first key of the range.
        range_end: exclusive end of the range, or None.
        prefix: select every key that starts with `key`.
        from_key: select every key >= `key`.

    Returns:
        The key and range end, as bytes (range end b"" for a single key).

    Raises:
        ValueError: two of range_end, prefix, from_key given; or the
            resulting key is empty (etcd: key is not provided).
        TypeError: key or range_end is not str or bytes.
    """
    if range_end is None and not prefix and not from_key:
        key_bytes = bytesify(key, "key")
        check_key(key_bytes)
        return key_bytes, b""
    if prefix and from_key:
        raise ValueError(
            "prefix=True and from_key=True cannot be combined (Go panics): "
            "prefix selects keys starting with key, from_key every key >= key"
        )
    if range_end is not None and (prefix or from_key):
        option = "prefix=True" if prefix else "from_key=True"
        raise ValueError(
            f"range_end= and {option} cannot be combined: each sets the range end"
        )
    key_bytes = bytesify(key, "key")
    if range_end is not None:
        end = bytesify(range_end, "range_end")
    elif prefix:
        if key_bytes:
            end = prefix_range_end(key_bytes)
        else:
            key_bytes = end = FROM_KEY_END
    else:
        key_bytes = key_bytes or FROM_KEY_END
        end = FROM_KEY_END
    check_key(key_bytes)
    return key_bytes, end


def sort_target_enum(
    sort_target: Union[str, int],
) -> rpc_pb2.RangeRequest.SortTarget:
    """Parses a sort target: "key", "version", "create", "mod" or "value".

    Strings are case-insensitive; the protobuf enum numbers 0-4 are accepted.

    Raises:
        ValueError: anything else (Go: ErrInvalidSortOption).
    """
    return _parse_enum(sort_target, "sort_target", SORT_TARGETS, _SORT_TARGET_NUMBERS)


def sort_order_enum(sort_order: Union[str, int]) -> rpc_pb2.RangeRequest.SortOrder:
    """Parses a sort order: "none", "ascend" or "descend".

    Strings are case-insensitive; the protobuf enum numbers 0-2 are accepted.

    Raises:
        ValueError: anything else (Go: ErrInvalidSortOption).
    """
    return _parse_enum(sort_order, "sort_order", SORT_ORDERS, _SORT_ORDER_NUMBERS)


def range_request(
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
) -> rpc_pb2.RangeRequest:
    """Builds a KV.Range request (Go ``OpGet(key, opts...)``).

    Args:
        key: the key to read, or the first key of a range.
        range_end: read the half-open range ``[key, range_end)``; ``"\\0"``
            means every key >= key (``WithRange``).
        prefix: read every key that starts with `key`; an empty key reads the
            whole keyspace (``WithPrefix``).
        from_key: read every key >= `key` (``WithFromKey``).
        revision: read the keyspace as of this revision; 0 reads the newest.
            A compacted revision fails with ErrCompacted, a future one with
            ErrFutureRev (``WithRev``).
        limit: return at most this many keys; 0 means no limit.  The response
            says ``more`` when keys were left out (``WithLimit``).
        sort_target: what to sort by: "key", "version", "create" (creation
            revision), "mod" (modification revision) or "value"
            (``WithSort``).
        sort_order: "none", "ascend" or "descend".  ("key", "ascend") is sent
            as "none", as Go does: etcd returns keys in ascending order anyway,
            and an explicit order makes it fetch the whole range before
            applying `limit`.  Another target with "none" is sent as
            "ascend", the order etcd gives it: sent as "none" with a
            `limit`, etcd (3.4, 3.5) sorts only the first `limit` + 1 keys
            by name, so the "oldest key" was the oldest of those.
        serializable: answer from the local state of the member asked, without
            a quorum read: faster, may be stale (``WithSerializable``).
        keys_only: leave values out of the response (``WithKeysOnly``).
        count_only: return only the number of keys, no key-values
            (``WithCountOnly``).
        min_mod_revision: keep only keys last modified at or after this
            revision; 0 means no bound (``WithMinModRev``, etcd 3.1+).
        max_mod_revision: keep only keys last modified at or before this
            revision; 0 means no bound (``WithMaxModRev``).
        min_create_revision: keep only keys created at or after this revision;
            0 means no bound (``WithMinCreateRev``).
        max_create_revision: keep only keys created at or before this
            revision; 0 means no bound (``WithMaxCreateRev``).

    Returns:
        The RangeRequest.

    Raises:
        ValueError: an invalid option mix (see `resolve_range`), an empty
            key, a negative revision, limit or revision filter, or an unknown
            sort target or order.
        TypeError: a key that is not str/bytes, a number that is not an
            int, or a flag that is not a bool.
    """
    return range_message(
        range_fields(
            key,
            range_end,
            prefix,
            from_key,
            revision,
            limit,
            sort_target,
            sort_order,
            serializable,
            keys_only,
            count_only,
            min_mod_revision,
            max_mod_revision,
            min_create_revision,
            max_create_revision,
        )
    )


if TYPE_CHECKING:  # enum wrappers are not types on the pure-Python runtime
    _Sort = Tuple[rpc_pb2.RangeRequest.SortTarget, rpc_pb2.RangeRequest.SortOrder]
#: range_fields' result: key, range end, the numbers (revision, limit, then
#: the revision filters), (sort target, order) or None, and the three flags.
RangeFields = Tuple[bytes, bytes, Tuple[int, ...], Optional["_Sort"], bool, bool, bool]


def range_fields(
    key: BytesLike,
    range_end: Optional[BytesLike],
    prefix: bool,
    from_key: bool,
    revision: int,
    limit: int,
    sort_target: Union[str, int],
    sort_order: Union[str, int],
    serializable: bool,
    keys_only: bool,
    count_only: bool,
    min_mod_revision: int,
    max_mod_revision: int,
    min_create_revision: int,
    max_create_revision: int,
) -> RangeFields:
    """`range_request`'s arguments (all of them, in its order), checked and
    resolved into what goes on the wire, for `range_message` or `range_data`.

    Raises:
        ValueError, TypeError: as `range_request`.
    """
    if not (
        (prefix is False or prefix is True)
        and (from_key is False or from_key is True)
        and (serializable is False or serializable is True)
        and (keys_only is False or keys_only is True)
        and (count_only is False or count_only is True)
    ):
        flags(_RANGE_FLAGS, (prefix, from_key, serializable, keys_only, count_only))
    key_bytes, end = resolve_range(key, range_end, prefix, from_key)
    numbers: Tuple[int, ...] = (
        revision,
        limit,
        min_mod_revision,
        max_mod_revision,
        min_create_revision,
        max_create_revision,
    )
    # Fast path: every number an int 0 (not a bool, not a float).
    if numbers != _ZEROS or not (
        type(revision)
        is type(limit)
        is type(min_mod_revision)
        is type(max_mod_revision)
        is type(min_create_revision)
        is type(max_create_revision)
        is int
    ):
        numbers = tuple(
            non_negative_int64(n, what) for n, what in zip(numbers, _NUMBER_NAMES)
        )
    sort = None
    if sort_target != "key" or sort_order != "none":
        target = sort_target_enum(sort_target)
        order = sort_order_enum(sort_order)
        if target == _RangeRequest.KEY and order == _RangeRequest.ASCEND:
            order = _RangeRequest.NONE  # Go WithSort: server order already
        elif target != _RangeRequest.KEY and order == _RangeRequest.NONE:
            order = _RangeRequest.ASCEND  # see the docstring: limit first
        sort = (target, order)
    return key_bytes, end, numbers, sort, serializable, keys_only, count_only


def range_message(fields: RangeFields) -> rpc_pb2.RangeRequest:
    """The RangeRequest of `range_fields`' result."""
    key, end, numbers, sort, serializable, keys_only, count_only = fields
    request = _RangeRequest(key=key, range_end=end)
    if numbers != _ZEROS:
        (
            request.revision,
            request.limit,
            request.min_mod_revision,
            request.max_mod_revision,
            request.min_create_revision,
            request.max_create_revision,
        ) = numbers
    if sort is not None:
        request.sort_target, request.sort_order = sort
    if serializable:
        request.serializable = True
    if keys_only:
        request.keys_only = True
    if count_only:
        request.count_only = True
    return request


def range_data(fields: RangeFields) -> bytes:
    """`range_message(fields).SerializeToString()`, encoded here: the calls'
    hot path builds no message (protobuf's pure-Python runtime, PyPy's,
    spends some 20 µs and 13 KB on building and serializing one)."""
    key, end, numbers, sort, serializable, keys_only, count_only = fields
    parts = [b"\x0a", _varint(len(key)), key]  # field 1, length-delimited
    if end:
        parts += (b"\x12", _varint(len(end)), end)
    numbered = numbers != _ZEROS  # usually not: one tuple compare
    if numbered:
        revision, limit = numbers[:2]
        if limit:
            parts += (b"\x18", _varint(limit))
        if revision:
            parts += (b"\x20", _varint(revision))
    if sort is not None:
        target, order = sort
        if order:
            parts += (b"\x28", _varint(order))
        if target:
            parts += (b"\x30", _varint(target))
    if serializable:
        parts.append(b"\x38\x01")
    if keys_only:
        parts.append(b"\x40\x01")
    if count_only:
        parts.append(b"\x48\x01")
    if numbered:  # fields 10-13 come after the flags
        for tag, number in zip(_FILTER_TAGS, numbers[2:]):
            if number:
                parts += (tag, _varint(number))
    return b"".join(parts)


def put_request(
    key: BytesLike,
    value: BytesLike,
    *,
    lease: int = 0,
    prev_kv: bool = False,
    ignore_value: bool = False,
    ignore_lease: bool = False,
) -> rpc_pb2.PutRequest:
    """Builds a KV.Put request (Go ``OpPut(key, val, opts...)``).

    Args:
        key: the key to write; must not be empty.
        value: the value to store.
        lease: attach the key to this lease (from ``grant``), so it is deleted
            when the lease expires or is revoked; 0 means no lease, and a
            put without a lease detaches the key from its old one
            (``WithLease``).
        prev_kv: return the key-value as it was before this put, in
            ``PutResponse.prev_kv`` (``WithPrevKV``, etcd 3.1+).
        ignore_value: keep the key's current value and only update its lease;
            `value` must then be empty.  Fails with ErrKeyNotFound if the key
            does not exist (``WithIgnoreValue``, etcd 3.2+).
        ignore_lease: keep the key's current lease and only update its value;
            `lease` must then be 0.  Fails with ErrKeyNotFound if the key does
            not exist (``WithIgnoreLease``, etcd 3.2+).

    Returns:
        The PutRequest.

    Raises:
        ValueError: empty key; a negative lease; ignore_value with a
            non-empty value (etcd: ErrValueProvided); ignore_lease with a
            lease (etcd: ErrLeaseProvided).
        TypeError: key or value not str/bytes, lease not an int, or a flag
            that is not a bool.
    """
    return put_message(
        put_fields(key, value, lease, prev_kv, ignore_value, ignore_lease)
    )


#: put_fields' result: key, value, lease, and the three flags.
PutFields = Tuple[bytes, bytes, int, bool, bool, bool]


def put_fields(
    key: BytesLike,
    value: BytesLike,
    lease: int,
    prev_kv: bool,
    ignore_value: bool,
    ignore_lease: bool,
) -> PutFields:
    """`put_request`'s arguments (all of them, in its order), checked, for
    `put_message` or `put_data`.

    Raises:
        ValueError, TypeError: as `put_request`.
    """
    if type(lease) is not int or lease:
        lease = non_negative_int64(lease, "lease")
    if not (
        (prev_kv is False or prev_kv is True)
        and (ignore_value is False or ignore_value is True)
        and (ignore_lease is False or ignore_lease is True)
    ):
        flags(_PUT_FLAGS, (prev_kv, ignore_value, ignore_lease))
    key_bytes = bytesify(key, "key")
    value_bytes = bytesify(value, "value")
    if ignore_value and value_bytes:
        raise ValueError(
            "ignore_value=True keeps the current value: value must be empty "
            "(etcd: value is provided)"
        )
    if ignore_lease and lease:
        raise ValueError(
            "ignore_lease=True keeps the current lease: lease must be 0 "
            "(etcd: lease is provided)"
        )
    check_key(key_bytes)
    return key_bytes, value_bytes, lease, prev_kv, ignore_value, ignore_lease


def put_message(fields: PutFields) -> rpc_pb2.PutRequest:
    """The PutRequest of `put_fields`' result."""
    key, value, lease, prev_kv, ignore_value, ignore_lease = fields
    request = _PutRequest(key=key, value=value)
    if lease:
        request.lease = lease
    if prev_kv:
        request.prev_kv = True
    if ignore_value:
        request.ignore_value = True
    if ignore_lease:
        request.ignore_lease = True
    return request


def put_data(fields: PutFields) -> bytes:
    """`put_message(fields).SerializeToString()`, encoded here (`range_data`)."""
    key, value, lease, prev_kv, ignore_value, ignore_lease = fields
    parts = [b"\x0a", _varint(len(key)), key]
    if value:
        parts += (b"\x12", _varint(len(value)), value)
    if lease:
        parts += (b"\x18", _varint(lease))
    if prev_kv:
        parts.append(b"\x20\x01")
    if ignore_value:
        parts.append(b"\x28\x01")
    if ignore_lease:
        parts.append(b"\x30\x01")
    return b"".join(parts)


def delete_request(
    key: BytesLike,
    *,
    range_end: Optional[BytesLike] = None,
    prefix: bool = False,
    from_key: bool = False,
    prev_kv: bool = False,
) -> rpc_pb2.DeleteRangeRequest:
    """Builds a KV.DeleteRange request (Go ``OpDelete(key, opts...)``).

    Args:
        key: the key to delete, or the first key of a range.
        range_end: delete the half-open range ``[key, range_end)``; ``"\\0"``
            means every key >= key (``WithRange``).
        prefix: delete every key that starts with `key`; an empty key deletes
            the whole keyspace (``WithPrefix``).
        from_key: delete every key >= `key` (``WithFromKey``).
        prev_kv: return the deleted key-values in
            ``DeleteRangeResponse.prev_kvs`` (``WithPrevKV``, etcd 3.1+).

    Returns:
        The DeleteRangeRequest.

    Raises:
        ValueError: an invalid option mix (see `resolve_range`) or an empty
            key.
        TypeError: key or range_end is not str or bytes, or a flag that is
            not a bool.
    """
    if not (
        (prefix is False or prefix is True)
        and (from_key is False or from_key is True)
        and (prev_kv is False or prev_kv is True)
    ):
        flags(_DELETE_FLAGS, (prefix, from_key, prev_kv))
    key_bytes, end = resolve_range(key, range_end, prefix, from_key)
    request = _DeleteRangeRequest(key=key_bytes, range_end=end)
    if prev_kv:
        request.prev_kv = True
    return request


def compaction_request(
    revision: int, *, physical: bool = False
) -> rpc_pb2.CompactionRequest:
    """Builds a KV.Compact request (Go ``KV.Compact(ctx, rev, opts...)``).

    Args:
        revision: discard the history of every key before this revision;
            reads and watches at older revisions then fail with
            ErrCompacted.  A revision at or below the last compaction fails
            with ErrCompacted, one above the current revision with
            ErrFutureRev.
        physical: answer only once the compaction has been applied to the
            backend database, not just scheduled (``WithCompactPhysical``).

    Returns:
        The CompactionRequest.

    Raises:
        ValueError: `revision` is negative.
        TypeError: `revision` is not an int.
    """
    revision = non_negative_int64(revision, "revision")
    return rpc_pb2.CompactionRequest(revision=revision, physical=bool(physical))


def _parse_enum(
    value: Union[str, int],
    what: str,
    by_name: Dict[str, _E],
    by_number: Dict[int, _E],
) -> _E:
    if isinstance(value, str):
        found = by_name.get(value.lower())
    elif isinstance(value, int) and not isinstance(value, bool):
        found = by_number.get(value)
    else:
        found = None
    if found is None:
        allowed = ", ".join(repr(name) for name in by_name)
        raise ValueError(
            f"{what} must be one of {allowed} (or the enum number), got {value!r}"
        )
    return found
