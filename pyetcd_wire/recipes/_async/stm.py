"""`async_stm`: software transactional memory over etcd (Go's
`concurrency.NewSTM`).

Theory of operation (Go client/v3/concurrency/stm.go):

* The caller's function `fn` runs against an `AsyncSTM`: `get` reads keys
  from etcd and records what it saw (the *read set*: each key's mod
  revision, 0 for a key that does not exist), `put` and `delete` only
  buffer (the *write set*).  When `fn` returns, the writes are committed as
  one Txn whose compares guard what `fn` saw.  If a guard fails, someone
  else wrote in between: the sets are dropped and `fn` runs again, until a
  commit succeeds.  An exception from `fn` (or from etcd) aborts: nothing
  is written and it propagates.
* What is guarded is the isolation level (`Isolation`, `_RULES`):

  - SERIALIZABLE_SNAPSHOT (the default): the first read is linearizable and
    pins its revision R; every later read is a serializable read at R, so
    `fn` sees one snapshot.  The commit requires each read key's mod
    revision to be unchanged and each written key to be unmodified since R
    (``ModRevision < R + 1``): no lost update, no write skew.
  - SERIALIZABLE: the same reads; only the read set is guarded.
  - REPEATABLE_READS: serializable reads of the latest data (no snapshot),
    cached per attempt; the read set is guarded.
  - READ_COMMITTED: serializable reads, nothing guarded: the commit always
    succeeds, and a concurrent write between a read and the commit is lost.

* Prefetch: a failed commit at the snapshot levels reads every key of the
  read set in its failure branch, so the next attempt starts from those
  values (pinned at that Txn's revision) without another round trip.
* One difference from Go: a pinned serializable read that reaches a member
  which has not applied revision R yet gets FutureRevisionError, which
  aborts Go's STM; here the read is repeated as a linearizable read at R,
  which waits for the member to catch up.
"""

from __future__ import annotations

from typing import Awaitable, Callable, Dict, Iterable, List, Optional, Tuple, Union

from ... import Compare, Op
from ..._api.util import bytesify
from ..._async.client import AsyncClient
from ..._proto import kv_pb2, rpc_pb2
from ...errors import FutureRevisionError
from .._isolation import Isolation

Key = Union[str, bytes]
#: A read: the revision of the store when it was read, and the key-value
#: then (None: the key did not exist).
_Read = Tuple[int, Optional[kv_pb2.KeyValue]]


#: Per level (Go's mkSTM): (reads pinned to the first read's revision, and
#: prefetched after a failed commit; read set guarded; write set guarded).
_RULES: Dict[Isolation, Tuple[bool, bool, bool]] = {
    Isolation.SERIALIZABLE_SNAPSHOT: (True, True, True),
    Isolation.SERIALIZABLE: (True, True, False),
    Isolation.REPEATABLE_READS: (False, True, False),
    Isolation.READ_COMMITTED: (False, False, False),
}


class AsyncSTM:
    """The transaction `fn` works on inside `async_stm`: reads go to etcd
    and are remembered, writes are buffered until the commit.  One object
    serves every attempt; each attempt starts with empty sets.

    Attributes:
        client: the client the transaction runs on.
        isolation: its `Isolation` level.
    """

    def __init__(self, client: AsyncClient, isolation: Isolation) -> None:
        self.client = client
        self.isolation = isolation
        self._snapshot, self._guard_reads, self._guard_writes = _RULES[isolation]
        self._reads: Dict[bytes, _Read] = {}
        self._writes: Dict[bytes, Tuple[bytes, Op]] = {}  # value, the write
        self._prefetched: Dict[bytes, _Read] = {}
        self._revision = 0  # the snapshot's revision, once pinned

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.isolation.name} "
            f"reads={len(self._reads)} writes={len(self._writes)}>"
        )

    async def get(self, *keys: Key) -> bytes:
        """The value of the first key, b"" if it does not exist (Go's Get);
        the other keys are read in the same round trip, for later gets.

        A key this attempt wrote gives the written value (b"" once deleted)
        without a read; a key read before gives the same value again.  Use
        `rev` to tell a missing key from an empty value.

        Raises:
            TypeError: no key, or a key that is not str or bytes.
            EtcdError: the read failed; the transaction is aborted.
        """
        if not keys:
            raise TypeError("get() needs at least one key")
        names = [bytesify(key, "key") for key in keys]
        written = self._writes.get(names[0])
        if written is not None:
            return written[0]
        kv = await self._read(names)
        return kv.value if kv is not None else b""

    async def rev(self, key: Key) -> int:
        """The mod revision of `key` as this transaction read it, 0 if it
        does not exist (Go's Rev); reads it if it was not read yet."""
        kv = await self._read([bytesify(key, "key")])
        return kv.mod_revision if kv is not None else 0

    def put(self, key: Key, value: Key, *, lease: int = 0) -> None:
        """Buffer a write of `key` (Go's Put); `lease` attaches it to a lease.

        Raises:
            EmptyKeyError, TypeError, ValueError: as `Op.put`.
        """
        op = Op.put(key, value, lease=lease)
        self._writes[op.key] = (bytesify(value, "value"), op)

    def delete(self, key: Key) -> None:
        """Buffer a delete of `key` (Go's Del)."""
        op = Op.delete(key)
        self._writes[op.key] = (b"", op)

    async def _read(self, keys: List[bytes]) -> Optional[kv_pb2.KeyValue]:
        """The first key's key-value; reads whatever is not known yet."""
        if self._snapshot:
            for key in keys:  # what the failed commit read for this attempt
                if key in self._prefetched:
                    self._reads[key] = self._prefetched.pop(key)
        missing = [key for key in dict.fromkeys(keys) if key not in self._reads]
        if missing:
            await self._fetch(missing)
        read_revision, kv = self._reads[keys[0]]
        if self._snapshot and not self._revision:
            self._revision = read_revision  # the first read defines the snapshot
        return kv

    async def _fetch(self, keys: List[bytes]) -> None:
        """Read `keys` in one Txn: pinned to the snapshot once it is known,
        serializable except for a snapshot's first read (Go's fetch)."""
        serializable = bool(self._revision) or not self._snapshot
        ops = [
            Op.get(k, revision=self._revision, serializable=serializable) for k in keys
        ]
        try:
            response = await self.client.txn(success=ops)
        except FutureRevisionError:
            # This member is behind the snapshot: a linearizable read waits.
            ops = [Op.get(key, revision=self._revision) for key in keys]
            response = await self.client.txn(success=ops)
        _remember(self._reads, keys, response)

    def _reset(self) -> None:
        """Start an attempt: empty read and write sets, no snapshot yet."""
        self._reads = {}
        self._writes = {}
        self._revision = 0

    async def _commit(self) -> Optional[rpc_pb2.TxnResponse]:
        """Try to commit the write set under the level's guards (Go's
        commit): the Txn's response, or None after a conflict."""
        keys = list(self._reads)
        compare = self._read_guards() + self._write_guards()
        writes = [op for _, op in self._writes.values()]
        prefetch = [Op.get(key) for key in keys] if self._snapshot else []
        response = await self.client.txn(compare, writes, prefetch)
        if response.succeeded:
            return response
        if self._snapshot:
            self._prefetched = {}
            _remember(self._prefetched, keys, response)
        return None

    def _read_guards(self) -> List[Compare]:
        """Every key read is as it was read: same mod revision, or still
        missing (Go's isKeyCurrent)."""
        if not self._guard_reads:
            return []
        return [
            Compare.mod_revision(key) == (kv.mod_revision if kv is not None else 0)
            for key, (_, kv) in self._reads.items()
        ]

    def _write_guards(self) -> List[Compare]:
        """No key written was modified after the snapshot's revision (Go's
        writeSet.cmps(first read + 1)); nothing to guard without a read."""
        if not self._guard_writes or not self._reads:
            return []
        first = min(revision for revision, _ in self._reads.values())
        return [Compare.mod_revision(key) < first + 1 for key in self._writes]


def _remember(
    reads: Dict[bytes, _Read], keys: Iterable[bytes], response: rpc_pb2.TxnResponse
) -> None:
    """Record the reads of a Txn whose ops were `Op.get(key)` for `keys`."""
    revision = response.header.revision
    for key, op_response in zip(keys, response.responses):
        kvs = op_response.response_range.kvs
        reads[key] = (revision, kvs[0] if kvs else None)


async def async_stm(
    client: AsyncClient,
    fn: Callable[[AsyncSTM], Awaitable[object]],
    *,
    isolation: Isolation = Isolation.SERIALIZABLE_SNAPSHOT,
    prefetch: Iterable[Key] = (),
) -> rpc_pb2.TxnResponse:
    """Run `fn` as a transaction, again and again until its commit succeeds
    (Go's NewSTM).

    `fn(stm)` reads with ``await stm.get(key)`` / ``await stm.rev(key)`` and
    writes with ``stm.put(key, value)`` / ``stm.delete(key)``; the writes
    reach etcd only when `fn` returns, all in one Txn, and only if what
    `fn` read is still current (as `isolation` defines).  `fn` may run
    several times, so it should have no other effects, or only idempotent
    ones.  Its return value is ignored: keep results in a variable it
    closes over.

    Args:
        client: the client to run on.
        fn: the transaction body; ``async def fn(stm)``.
        isolation: what the commit guards (`Isolation`; Go's default
            SERIALIZABLE_SNAPSHOT).
        prefetch: keys read at the start of every attempt, in one round
            trip (Go's WithPrefetch).

    Returns:
        The TxnResponse of the commit that succeeded (Go returns it too):
        ``.header.revision`` is the revision of the writes.

    Raises:
        Exception: whatever `fn` raises aborts the transaction, unchanged.
        EtcdError: a read or the commit failed (CompactedError when the
            snapshot revision was compacted meanwhile, ...).
    """
    transaction = AsyncSTM(client, Isolation(isolation))
    keys = list(prefetch)
    while True:
        transaction._reset()
        if keys:
            await transaction.get(*keys)
        await fn(transaction)
        response = await transaction._commit()
        if response is not None:
            return response


__all__ = ["AsyncSTM", "Isolation", "async_stm"]
