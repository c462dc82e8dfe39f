"""`AsyncKVCalls`: the KV and Lease calls (etcd's KV and Lease services,
unary) of `AsyncClient`, as a mixin over the client's hook `_call` (Go's
kv.go: `Put` = `Do(OpPut(…))`).

Each method is a one-line facade over a request builder in `_api`.  The
Lease calls import their builder when called: importing pyetcd_wire loads
what every client needs, not what some do (bench_startup.py in benchmarks/
times it).  Txn's is imported here: a function-level import costs a call
about 1 µs, and Txn is as much a KV call as Range.
"""

# unasync: async only (begin)
# The source of _sync/kv_calls.py: change this module, then run
# python scripts/unasync.py.
# unasync: async only (end)

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence, Type, TypeVar, Union

from google.protobuf.message import Message

from .._api import kv as kv_api
from .._api import op as op_api
from .._api.compare import Compare
from .._api.methods import (
    KV_COMPACT,
    KV_DELETE_RANGE,
    KV_PUT,
    KV_RANGE,
    KV_TXN,
    KV_TXN_READ,
    LEASE_GRANT,
    LEASE_LEASES,
    LEASE_REVOKE,
    LEASE_TIME_TO_LIVE,
    Method,
)
from .._api.op import Op
from .._proto import rpc_pb2

Key = Union[str, bytes]
R = TypeVar("R", bound=Message)


class AsyncKVCalls:
    """KV and Lease calls; the class using it provides `_call`."""

    if TYPE_CHECKING:

        async def _call(
            self,
            method: Method,
            request: Union[Message, bytes],
            response_type: Type[R],
            timeout: Optional[float],
        ) -> R: ...

    # --- KV ---------------------------------------------------------------------

    async def put(
        self,
        key: Key,
        value: Key,
        *,
        lease: int = 0,
        prev_kv: bool = False,
        ignore_value: bool = False,
        ignore_lease: bool = False,
        timeout: Optional[float] = None,
    ) -> rpc_pb2.PutResponse:
        """Set `key` to `value` (etcd Put).

        Args:
            lease: attach the key to this lease (0: none).
            prev_kv: return the key-value pair as it was before.
            ignore_value: keep the current value (the key must exist).
            ignore_lease: keep the current lease (the key must exist).
            timeout: deadline in seconds (None: the client default).

        Raises:
            EmptyKeyError, KeyNotFoundError (ignore_* on a missing key),
            LeaseNotFoundError, RequestTooLargeError, NoSpaceError, ...: see
            `pyetcd_wire.errors`.
        """
        fields = kv_api.put_fields(
            key, value, lease, prev_kv, ignore_value, ignore_lease
        )
        data = kv_api.put_data(fields)  # put_request's bytes, no message built
        return await self._call(KV_PUT, data, rpc_pb2.PutResponse, timeout)

    async def get(
        self,
        key: Key,
        *,
        range_end: Optional[Key] = None,
        prefix: bool = False,
        from_key: bool = False,
        revision: int = 0,
        limit: int = 0,
        sort_target: str = "key",
        sort_order: str = "none",
        serializable: bool = False,
        keys_only: bool = False,
        count_only: bool = False,
        min_mod_revision: int = 0,
        max_mod_revision: int = 0,
        min_create_revision: int = 0,
        max_create_revision: int = 0,
        timeout: Optional[float] = None,
    ) -> rpc_pb2.RangeResponse:
        """Read a key or a range (etcd Range).

        Args:
            range_end: read `[key, range_end)`.
            prefix: read every key starting with `key`.
            from_key: read every key `>= key`.
            revision: read at this revision (0: the latest); a compacted one
                raises CompactedError, a future one FutureRevisionError.
            limit: at most this many keys (0: no limit); `.more` says if
                there were more.
            sort_target, sort_order: "key"/"version"/"create"/"mod"/"value",
                "none"/"ascend"/"descend".
            serializable: answer from the member's local data (fast, may be
                stale) instead of a linearizable read.
            keys_only, count_only: return keys without values, or only `.count`.
            min/max_mod/create_revision: filter keys by revisions.
            timeout: deadline in seconds (None: the client default).
        """
        fields = kv_api.range_fields(
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
        data = kv_api.range_data(fields)  # range_request's bytes, no message built
        return await self._call(KV_RANGE, data, rpc_pb2.RangeResponse, timeout)

    async def delete(
        self,
        key: Key,
        *,
        range_end: Optional[Key] = None,
        prefix: bool = False,
        from_key: bool = False,
        prev_kv: bool = False,
        timeout: Optional[float] = None,
    ) -> rpc_pb2.DeleteRangeResponse:
        """Delete a key or a range (etcd DeleteRange); `.deleted` counts them.

        Args: as `get` for the range; `prev_kv` returns the deleted pairs.
        """
        request = kv_api.delete_request(
            key, range_end=range_end, prefix=prefix, from_key=from_key, prev_kv=prev_kv
        )
        return await self._call(
            KV_DELETE_RANGE, request, rpc_pb2.DeleteRangeResponse, timeout
        )

    async def compact(
        self, revision: int, *, physical: bool = False, timeout: Optional[float] = None
    ) -> rpc_pb2.CompactionResponse:
        """Discard history before `revision` (etcd Compact).

        Args:
            physical: return only once the compaction is physically applied.
        """
        request = kv_api.compaction_request(revision, physical=physical)
        return await self._call(
            KV_COMPACT, request, rpc_pb2.CompactionResponse, timeout
        )

    async def txn(
        self,
        compare: Sequence[Compare] = (),
        success: Sequence[Op] = (),
        failure: Sequence[Op] = (),
        *,
        timeout: Optional[float] = None,
    ) -> rpc_pb2.TxnResponse:
        """An atomic transaction: if every `compare` holds, run `success`,
        else `failure` (etcd Txn).  `.succeeded` says which branch ran."""
        request = op_api.txn_request(compare, success, failure)
        # A read-only Txn is a read: repeatable, and never cancelled on the
        # server (`_api/methods.py`: KV_TXN_READ).
        method = KV_TXN_READ if op_api.is_read_only(request) else KV_TXN
        return await self._call(method, request, rpc_pb2.TxnResponse, timeout)

    # --- Lease ------------------------------------------------------------------

    async def grant(
        self, ttl: int, *, id: int = 0, timeout: Optional[float] = None
    ) -> rpc_pb2.LeaseGrantResponse:
        """Create a lease of `ttl` seconds (etcd LeaseGrant); `.ID`, `.TTL`.

        Args:
            ttl: seconds; the server may raise it to its minimum.
            id: the lease ID to use (0: the server picks).  Choosing it makes a
                retried grant safe: a lost response then gives LeaseExistError
                instead of a second lease.
        """
        from .._api import lease as lease_api

        request = lease_api.lease_grant_request(ttl, id=id)
        return await self._call(
            LEASE_GRANT, request, rpc_pb2.LeaseGrantResponse, timeout
        )

    async def revoke(
        self, lease_id: int, *, timeout: Optional[float] = None
    ) -> rpc_pb2.LeaseRevokeResponse:
        """End a lease now and delete its keys (etcd LeaseRevoke).

        Raises:
            LeaseNotFoundError: no such lease (expired or revoked already).
        """
        from .._api import lease as lease_api

        request = lease_api.lease_revoke_request(lease_id)
        return await self._call(
            LEASE_REVOKE, request, rpc_pb2.LeaseRevokeResponse, timeout
        )

    async def time_to_live(
        self, lease_id: int, *, keys: bool = False, timeout: Optional[float] = None
    ) -> rpc_pb2.LeaseTimeToLiveResponse:
        """A lease's remaining `.TTL` (-1 once expired), `.grantedTTL`, and with
        `keys=True` the keys attached to it (etcd LeaseTimeToLive)."""
        from .._api import lease as lease_api

        request = lease_api.lease_time_to_live_request(lease_id, keys=keys)
        response_type = rpc_pb2.LeaseTimeToLiveResponse
        return await self._call(LEASE_TIME_TO_LIVE, request, response_type, timeout)

    async def leases(
        self, *, timeout: Optional[float] = None
    ) -> rpc_pb2.LeaseLeasesResponse:
        """The IDs of every live lease (etcd LeaseLeases): `.leases[i].ID`."""
        from .._api import lease as lease_api

        request = lease_api.lease_leases_request()
        return await self._call(
            LEASE_LEASES, request, rpc_pb2.LeaseLeasesResponse, timeout
        )


__all__ = ["AsyncKVCalls"]
