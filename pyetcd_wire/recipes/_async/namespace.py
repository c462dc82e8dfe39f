"""`AsyncNamespace`: a view of the client in which every key lives under a
prefix (Go's client/v3/namespace: NewKV, NewWatcher, NewLease).

Theory of operation:

* Requests: every key, range end and compare key gets the prefix, after
  the range options were resolved as the client resolves them (an `Op` is
  built from the caller's arguments, so bad ones fail as they would on the
  client, before anything is sent).  A range end is translated as Go's
  prefixInterval does: the from-key end ``"\\0"`` (``from_key=True``, or
  ``prefix=True`` on the empty key) becomes the end of the namespace, so a
  range never leaves it; any other end gets the prefix.  The empty key is
  refused (EmptyKeyError) unless it starts a range: inside a namespace it
  would name the prefix itself.  A request is rebuilt from its `Op`'s wire
  form (`Op.to_request_op`: the request's fields are the keywords of the
  builder and of the client call alike), so every option passes through;
  a Txn's ops and nested Txns likewise.
* Responses: every key in a response (Range kvs, Put and DeleteRange prev
  kvs, nested Txn responses, watch events and their prev kvs, the keys of
  a lease) loses the prefix.  The messages are edited in place: each one
  was decoded for this call alone, so a copy would only cost time.
* Lease keys: `time_to_live(keys=True)` keeps only the namespace's keys.
* The end of the namespace is `prefix_range_end(prefix)` (all-0xFF
  prefix: ``"\\0"``, the end of the keyspace).  Go's own loop carries past
  a trailing 0xFF and keeps a 0x00 there (``a\\xff`` → ``b\\x00``), which
  also takes in the key ``b``, outside the namespace; this end does not.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    Dict,
    Generator,
    Iterable,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypedDict,
    TypeVar,
    Union,
)

from ... import Compare, Op, prefix_range_end
from ..._api.util import bytesify
from ..._async.client import AsyncClient
from ..._async.watch import AsyncWatch
from ..._proto import kv_pb2, rpc_pb2

if TYPE_CHECKING:
    from typing_extensions import Unpack

Key = Union[str, bytes]

#: The range end that means "every key >= key" (rpc.proto RangeRequest).
FROM_KEY_END = b"\x00"

#: The request inside a `RequestOp`, per `Op.kind`.
_REQUESTS = {
    "get": "request_range",
    "put": "request_put",
    "delete": "request_delete_range",
}
_BUILDERS: Dict[str, Callable[..., Op]] = {
    "get": Op.get,
    "put": Op.put,
    "delete": Op.delete,
}
#: The keywords that select a range (resolved by `Op.get`).
_RANGE_KEYWORDS = ("range_end", "prefix", "from_key")


class CallOptions(TypedDict, total=False):
    """What every call takes: `timeout`, as the client's calls do."""

    timeout: Optional[float]


class RangeOptions(CallOptions, total=False):
    """The range keywords, as the client's (`range_end`, `prefix`,
    `from_key`)."""

    range_end: Optional[Key]
    prefix: bool
    from_key: bool


class GetOptions(RangeOptions, total=False):
    """`get`'s keywords: as `AsyncClient.get`'s."""

    revision: int
    limit: int
    serializable: bool
    keys_only: bool
    count_only: bool
    sort_target: Literal["key", "version", "create", "mod", "value"]
    sort_order: Literal["none", "ascend", "descend"]
    min_mod_revision: int
    max_mod_revision: int
    min_create_revision: int
    max_create_revision: int


class PutOptions(CallOptions, total=False):
    """`put`'s keywords: as `AsyncClient.put`'s."""

    lease: int
    prev_kv: bool
    ignore_value: bool
    ignore_lease: bool


class DeleteOptions(RangeOptions, total=False):
    """`delete`'s keywords: as `AsyncClient.delete`'s."""

    prev_kv: bool


class WatchOptions(RangeOptions, total=False):
    """`watch`'s keywords: as `AsyncClient.watch`'s."""

    start_revision: int
    prev_kv: bool
    progress_notify: bool
    filter_put: bool
    filter_delete: bool
    fragment: bool


_AnyResponse = Union[
    rpc_pb2.RangeResponse,
    rpc_pb2.PutResponse,
    rpc_pb2.DeleteRangeResponse,
    rpc_pb2.TxnResponse,
    rpc_pb2.WatchResponse,
]
_Response = TypeVar("_Response", bound=_AnyResponse)


class AsyncNamespace:
    """The KV, Watch and lease-keys API of `client`, confined to the keys
    under `prefix` (Go's namespace.NewKV, NewWatcher and NewLease).

    Keys given to it are relative to the prefix, and keys it returns have
    the prefix taken off; keys outside it cannot be read or written
    through it.  The methods take the client's arguments (the keywords are
    typed by `GetOptions`, `PutOptions`, ...).  Every other call (grant,
    revoke, member_list, ...) is the client's own: use `client`.

    Args:
        client: the client to send the requests on.
        prefix: the namespace, e.g. ``"app1/"`` (str is encoded as UTF-8);
            b"" is the whole keyspace.

    Attributes:
        client: as given.
        prefix: the prefix, as bytes.
    """

    def __init__(self, client: AsyncClient, prefix: Key) -> None:
        self.client = client
        self.prefix = bytesify(prefix, "prefix")
        self._end = prefix_range_end(self.prefix)  # of the whole namespace

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.prefix!r}>"

    async def put(
        self, key: Key, value: Key, **options: Unpack[PutOptions]
    ) -> rpc_pb2.PutResponse:
        """`AsyncClient.put` of the key in the namespace; ``.prev_kv`` has
        the prefix taken off.

        Raises:
            EmptyKeyError: `key` is empty.
            EtcdError, ValueError, TypeError: as `AsyncClient.put`.
        """
        arguments = self._arguments(Op.put, (key, value), options)
        return self._strip(await self.client.put(**arguments))

    async def get(
        self, key: Key, **options: Unpack[GetOptions]
    ) -> rpc_pb2.RangeResponse:
        """`AsyncClient.get` inside the namespace: `from_key` (and `prefix`
        on the empty key) reach only to the namespace's end; ``.kvs`` have
        the prefix taken off.

        Raises:
            EmptyKeyError: `key` is empty and no range is asked for.
            EtcdError, ValueError, TypeError: as `AsyncClient.get`.
        """
        arguments = self._arguments(Op.get, (key,), options)
        return self._strip(await self.client.get(**arguments))

    async def delete(
        self, key: Key, **options: Unpack[DeleteOptions]
    ) -> rpc_pb2.DeleteRangeResponse:
        """`AsyncClient.delete` inside the namespace, ranges and errors as
        `get`; ``.prev_kvs`` have the prefix taken off."""
        arguments = self._arguments(Op.delete, (key,), options)
        return self._strip(await self.client.delete(**arguments))

    async def txn(
        self,
        compare: Iterable[Compare] = (),
        success: Iterable[Op] = (),
        failure: Iterable[Op] = (),
        **options: Unpack[CallOptions],
    ) -> rpc_pb2.TxnResponse:
        """`AsyncClient.txn` inside the namespace: compares, ops and nested
        txns act on prefixed keys; the responses have the prefix taken off.

        Raises:
            TypeError: as `AsyncClient.txn` (checked by `Op.txn`).
            EtcdError: as `AsyncClient.txn`.
        """
        txn = self._prefixed(Op.txn(compare, success, failure))
        branches = txn.compare, txn.success, txn.failure
        return self._strip(await self.client.txn(*branches, **options))

    async def compact(
        self, revision: int, *, physical: bool = False, timeout: Optional[float] = None
    ) -> rpc_pb2.CompactionResponse:
        """`AsyncClient.compact`: revisions are the cluster's, not the
        namespace's (Go passes it through too)."""
        return await self.client.compact(revision, physical=physical, timeout=timeout)

    def watch(self, key: Key, **options: Unpack[WatchOptions]) -> NamespaceWatch:
        """`AsyncClient.watch` inside the namespace, ranges as `get`; the
        events' keys and prev kvs have the prefix taken off.

        As Go's, the watch starts at the key as given: with `prefix` on the
        empty key it also sees the key that is the prefix itself, which a
        `get` leaves out.

        Raises:
            EmptyKeyError: `key` is empty and no range is asked for.
            EtcdError, ValueError: as `AsyncClient.watch`.
        """
        arguments: Dict[str, Any] = dict(options)
        selected = {k: arguments.pop(k) for k in _RANGE_KEYWORDS if k in arguments}
        op = Op.get(key, **selected)  # the range, checked as the client does
        begin, arguments["range_end"] = self._interval(
            bytesify(key, "key"), op.range_end
        )
        watch = self.client.watch(begin or FROM_KEY_END, **arguments)
        return NamespaceWatch(watch, self)

    async def time_to_live(
        self, lease_id: int, *, keys: bool = False, timeout: Optional[float] = None
    ) -> rpc_pb2.LeaseTimeToLiveResponse:
        """`AsyncClient.time_to_live`; with `keys`, only the lease's keys in
        the namespace, the prefix taken off (Go's leasePrefix)."""
        response = await self.client.time_to_live(lease_id, keys=keys, timeout=timeout)
        cut = len(self.prefix)
        inside = [key[cut:] for key in response.keys if key.startswith(self.prefix)]
        del response.keys[:]
        response.keys.extend(inside)
        return response

    def _arguments(
        self,
        build: Callable[..., Op],
        args: Tuple[Key, ...],
        options: Mapping[str, Any],
    ) -> Dict[str, Any]:
        """The keyword arguments of the client call that does, in the
        namespace, what ``build(*args, **options)`` describes: checked as
        the client checks them, then with the key and range prefixed."""
        given = dict(options)
        timeout = given.pop("timeout", None)
        arguments = self._request(build(*args, **given))
        arguments["timeout"] = timeout
        return arguments

    def _request(self, op: Op) -> Dict[str, Any]:
        """The arguments that rebuild `op` (a get, put or delete) on the
        namespace's keys: its request's fields, which are the keywords of
        the `Op` builder and of the client call alike."""
        request = getattr(op.to_request_op(), _REQUESTS[op.kind])
        arguments = {field.name: value for field, value in request.ListFields()}
        arguments["key"], range_end = self._interval(op.key, op.range_end)
        if op.kind == "put":
            arguments["value"] = request.value  # also when b"" (not listed)
        else:
            arguments["range_end"] = range_end
        return arguments

    def _interval(self, key: bytes, range_end: bytes) -> Tuple[bytes, Optional[bytes]]:
        """The prefixed key and range end (None: one key) of a resolved
        range (Go's prefixInterval)."""
        if range_end == FROM_KEY_END:
            end: Optional[bytes] = self._end
        else:
            end = self.prefix + range_end if range_end else None
        return self.prefix + key, end

    def _prefixed(self, op: Op) -> Op:
        """`op` acting on the namespace's keys (Go's prefixOp)."""
        if op.kind != "txn":
            return _BUILDERS[op.kind](**self._request(op))
        return Op.txn(
            [self._prefixed_compare(guard) for guard in op.compare],
            [self._prefixed(branch_op) for branch_op in op.success],
            [self._prefixed(branch_op) for branch_op in op.failure],
        )

    def _prefixed_compare(self, guard: Compare) -> Compare:
        """`guard` on the namespace's keys (Go's prefixCmps)."""
        begin, end = self._interval(guard.key, guard.range_end)
        field = getattr(Compare, guard.target)(begin, range_end=end)
        return Compare(field, guard.operator, guard.operand)

    def _strip(self, response: _Response) -> _Response:
        """`response`, the prefix taken off its every key (Go's unprefix*)."""
        cut = len(self.prefix)
        for kv in _key_values(response):
            kv.key = kv.key[cut:]
        return response


def _key_values(response: _AnyResponse) -> Iterable[kv_pb2.KeyValue]:
    """Every key-value with a key in `response`, nested Txns included."""
    if isinstance(response, rpc_pb2.RangeResponse):
        return response.kvs
    if isinstance(response, rpc_pb2.DeleteRangeResponse):
        return response.prev_kvs
    if isinstance(response, rpc_pb2.PutResponse):
        return [response.prev_kv] if response.HasField("prev_kv") else []
    if isinstance(response, rpc_pb2.WatchResponse):
        return _event_key_values(response.events)
    found: List[kv_pb2.KeyValue] = []
    for op_response in response.responses:
        kind = op_response.WhichOneof("response")
        if kind is not None:
            found.extend(_key_values(getattr(op_response, kind)))
    return found


def _event_key_values(events: Sequence[kv_pb2.Event]) -> Iterable[kv_pb2.KeyValue]:
    for event in events:
        yield event.kv
        if event.HasField("prev_kv"):
            yield event.prev_kv


class NamespaceWatch:
    """A watch in a namespace: the client's watch, whose responses have the
    prefix taken off their keys.  Used as the client's watch is: iterate it
    for WatchResponse messages, `get` one, `cancel` it or leave its
    context.  An asyncio one is created once awaited or entered (or at the
    first step of iterating it), a sync one before `watch` returns.

    Attributes:
        watch: the client's watch underneath (``watch_id``, ``ended``, ...).
    """

    def __init__(self, watch: AsyncWatch, namespace: AsyncNamespace) -> None:
        self.watch = watch
        self._namespace = namespace
        self._responses: AsyncIterator[rpc_pb2.WatchResponse] = watch.__aiter__()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._namespace.prefix!r} {self.watch!r}>"

    def cancel(self) -> None:
        """End the watch (as the client's watch's `cancel`)."""
        self.watch.cancel()

    async def get(
        self, timeout: Optional[float] = None
    ) -> Optional[rpc_pb2.WatchResponse]:
        """The next response, stripped; None if `timeout` passed first or
        the watch ended (as the client's watch's `get`)."""
        response = await self.watch.get(timeout)
        if response is not None:
            self._namespace._strip(response)
        return response

    # unasync: async only (begin)
    def __await__(self) -> Generator[Any, None, NamespaceWatch]:
        return self._created().__await__()

    async def _created(self) -> NamespaceWatch:
        await self.watch
        return self

    # unasync: async only (end)

    def __aiter__(self) -> NamespaceWatch:
        return self

    async def __anext__(self) -> rpc_pb2.WatchResponse:
        response = await self._responses.__anext__()
        self._namespace._strip(response)
        return response

    async def __aenter__(self) -> NamespaceWatch:
        await self.watch.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.cancel()


def namespace(client: AsyncClient, prefix: Key) -> AsyncNamespace:
    """The view of `client` confined to the keys under `prefix` (Go's
    namespace.NewKV + NewWatcher + NewLease): see `AsyncNamespace`."""
    return AsyncNamespace(client, prefix)


__all__ = ["AsyncNamespace", "NamespaceWatch", "namespace"]
