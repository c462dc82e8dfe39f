"""`AsyncElection`: leader election over a session (Go's
`concurrency.Election`), interoperable with `etcdctl elect` and every Go
program using that package.

Theory of operation
-------------------
Every candidate puts one key, ``<name>/<lease ID in hex>``, bound to its
session's lease, holding its proposal.  The leader is the candidate whose
key has the lowest create revision: etcd revisions order the candidates, a
FIFO queue.  `campaign()` creates the key (or finds it, when the session
campaigns again) and waits until every key created before it is gone
(deleted by `resign()`, or expired with its session's lease).  Only the
immediate predecessor is watched, so a resignation wakes one candidate,
not all of them.

Invariants:

* a key's create revision never changes while the key lives, and a new key
  always gets a higher one; so once every older key is gone, the candidate
  stays leader exactly as long as its key exists.  ``create_revision(key)
  == revision`` is therefore the leadership test that `proclaim()` and
  `resign()` guard themselves with, and that `is_leader()` hands out for
  fencing writes in the caller's own transactions;
* the waiting re-checks, in the same transaction as each read of the
  predecessors, that our own key still exists: a session that expired
  while waiting gets `SessionExpiredError`, never a false leadership.
  (Go's Election does not check; its Mutex does, and so do we.)

A campaign that fails (deadline, cancellation, a lost connection) deletes
its key, so that no abandoned candidate is later promoted to a leader
nobody knows about.  Go resigns only on a cancelled context.

`observe()` follows Go's Observe: read the oldest key; watch it and report
every value it is given until it is deleted; read again.  It reports the
latest leader value each time the leader changes or proclaims, but may skip
values that were replaced before it looked.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from typing import Deque, Optional, Union

from ..._api.check import wait_seconds
from ..._api.compare import Compare
from ..._api.op import Op
from ..._api.util import bytesify
from ..._async.client import AsyncClient
from ..._async.watch import AsyncWatch
from ..._proto import kv_pb2, rpc_pb2
from ...errors import (
    CompactedError,
    DeadlineExceededError,
    ElectionNoLeaderError,
    EtcdError,
    LeaseNotFoundError,
    NotLeaderError,
    SessionExpiredError,
)
from .queue import remaining, settled, wait_predecessors
from .session import AsyncSession

Value = Union[str, bytes]

_DELETE = kv_pb2.Event.DELETE
_PUT = kv_pb2.Event.PUT


class AsyncElection:
    """One session's part in the election `name` (Go's NewElection).

    Args:
        session: the session whose lease the candidate's key is bound to;
            if it is lost, so is the leadership.
        name: the election: candidates' keys live under ``name + "/"``,
            as with Go and ``etcdctl elect name``.

    Attributes:
        prefix: ``name + "/"``, as bytes.
        key: our candidate key once `campaign()` has written it (Go's
            ``Key()``); ``b""`` before, and after `resign()`.
        revision: that key's create revision (Go's ``Rev()``): the term.
        header: the response header of the last successful campaign,
            proclamation or resignation (Go's ``Header()``).
    """

    def __init__(self, session: AsyncSession, name: Value) -> None:
        self.session = session
        self.client: AsyncClient = session.client
        self.prefix = bytesify(name, "election name") + b"/"
        self.key = b""
        self.revision = 0
        self.header: Optional[rpc_pb2.ResponseHeader] = None

    def __repr__(self) -> str:
        state = f"key={self.key!r} rev={self.revision}" if self.key else "idle"
        return f"<{type(self).__name__} {self.prefix!r} {state}>"

    async def campaign(self, value: Value, *, timeout: Optional[float] = None) -> None:
        """Become a candidate with `value` and wait until elected leader.

        A session that campaigns again keeps its place in the queue (its
        key), proclaiming the new value if it differs.

        Args:
            value: the proposal, what `leader()` and observers see.
            timeout: give up after this many seconds (None: wait as long
                as it takes, not the client's default timeout, which bounds
                each call to etcd); the candidacy is withdrawn.

        Raises:
            DeadlineExceededError: not elected within `timeout`.
            SessionExpiredError: the session's lease is gone.
            EtcdError: a server or connection error (the candidacy is
                withdrawn as far as the server can still be reached).
        """
        timeout = wait_seconds(timeout, "timeout")
        deadline = None if timeout is None else time.monotonic() + timeout
        if timeout is not None and timeout <= 0:
            raise DeadlineExceededError("timed out before campaigning")
        data = bytesify(value, "value")
        lease_id = self.session.lease_id
        self.key = key = self.prefix + b"%x" % lease_id
        try:
            response = await settled(  # see `settled`: why not within `deadline`
                self.client.txn(
                    compare=[Compare.create_revision(key) == 0],
                    success=[Op.put(key, data, lease=lease_id)],
                    failure=[Op.get(key)],
                )
            )
            self.revision = response.header.revision
            if not response.succeeded:
                mine = response.responses[0].response_range.kvs[0]
                self.revision = mine.create_revision
                if mine.value != data:
                    await self.proclaim(data, timeout=remaining(deadline))
            await wait_predecessors(
                self.client, self.prefix, key, self.revision, deadline
            )
        except BaseException as exc:
            await self._withdraw()
            if isinstance(exc, LeaseNotFoundError):  # the put with our lease
                raise SessionExpiredError() from exc
            raise
        self.header = response.header

    async def _withdraw(self) -> None:
        """After a failed campaign, delete our key: whatever failed (even the
        first Txn, whose put may have been applied), it is ours alone (the
        name holds our lease ID).  Best effort, within the session's TTL,
        after which an unrenewed key is gone anyway."""
        key, self.key = self.key, b""
        if key:  # else a failed proclaim found it gone
            with contextlib.suppress(EtcdError):
                await self.client.delete(key, timeout=self.session.ttl)

    def is_leader(self) -> Compare:
        """The compare that holds while we are leader: ``create_revision(key)
        == revision``.  Put it in a transaction to fence its writes, so a
        leader that lost its session (and may not know yet) writes nothing.

        Raises:
            NotLeaderError: no campaign of ours holds a key.
        """
        if not self.key:
            raise NotLeaderError()
        return Compare.create_revision(self.key) == self.revision

    async def proclaim(self, value: Value, *, timeout: Optional[float] = None) -> None:
        """Announce a new value as leader, without another election.

        Raises:
            NotLeaderError: we are not the leader (never campaigned,
                resigned, or the session expired).
        """
        if not self.key:
            raise NotLeaderError()
        response = await self.client.txn(
            compare=[self.is_leader()],
            success=[Op.put(self.key, value, lease=self.session.lease_id)],
            timeout=timeout,
        )
        if not response.succeeded:
            self.key = b""
            raise NotLeaderError()
        self.header = response.header

    async def resign(self, *, timeout: Optional[float] = None) -> None:
        """Give up leadership (or candidacy), so the next candidate can win.
        A no-op if we hold no key; a key already gone (expired session) is
        fine too."""
        if not self.key:
            return
        try:
            response = await self.client.txn(
                compare=[self.is_leader()],
                success=[Op.delete(self.key)],
                timeout=timeout,
            )
            self.header = response.header
        finally:
            self.key = b""

    async def leader(self, *, timeout: Optional[float] = None) -> rpc_pb2.RangeResponse:
        """The leader's key, as a RangeResponse (``.kvs[0].value`` is its
        proposal; ``.kvs[0].key`` its key) - Go's Leader.

        Raises:
            ElectionNoLeaderError: there is no candidate at all.
        """
        response = await _read_oldest(self.client, self.prefix, timeout)
        if not response.kvs:
            raise ElectionNoLeaderError()
        return response

    def observe(self) -> LeaderObserver:
        """An iterator of the leader's key (RangeResponse, as `leader()`),
        each time the leader changes or proclaims; see `LeaderObserver`."""
        return LeaderObserver(self.client, self.prefix)


async def _read_oldest(
    client: AsyncClient, prefix: bytes, timeout: Optional[float] = None
) -> rpc_pb2.RangeResponse:
    """The first-created key under `prefix`: the leader (Go's WithFirstCreate)."""
    return await client.get(
        prefix,
        prefix=True,
        sort_target="create",
        sort_order="ascend",
        limit=1,
        timeout=timeout,
    )


class LeaderObserver:
    """The leader of an election, reported each time it changes (Go's
    Observe), as RangeResponse messages with one key-value: the leader's
    key and value, and the header of the read or watch response that
    carried it.  It waits while there is no leader.

    Use it as a context manager (``with``; ``async with`` in asyncio), or
    call `aclose()`: it holds a watch on
    etcd.  Closing it (from another task too) ends the iteration.

    Raises:
        EtcdError: from iteration, a server or connection error.
    """

    def __init__(self, client: AsyncClient, prefix: bytes) -> None:
        self._client = client
        self._prefix = prefix
        self._watch: Optional[AsyncWatch] = None
        self._leader_key: Optional[bytes] = None  # None: waiting for a leader
        self._ready: Deque[rpc_pb2.RangeResponse] = deque()
        self._closed = False

    def __aiter__(self) -> LeaderObserver:
        return self

    async def __anext__(self) -> rpc_pb2.RangeResponse:
        while not self._closed:
            if self._ready:
                return self._ready.popleft()
            try:
                if self._watch is None:
                    await self._read_leader()
                else:
                    await self._read_events(self._watch)
            except CompactedError:  # the latest value is what counts: read it
                self._drop_watch()
        await self.aclose()
        raise StopAsyncIteration

    async def _read_leader(self) -> None:
        """Report the oldest key and follow it, or wait for a first one."""
        response = await _read_oldest(self._client, self._prefix)
        start = response.header.revision + 1
        if response.kvs:
            self._ready.append(response)
            await self._open_watch(response.kvs[0].key, start)
        else:
            await self._open_watch(None, start)

    async def _read_events(self, watch: AsyncWatch) -> None:
        response = await watch.get()
        if response is None:  # aclose(), or the client closed
            self._closed = True
            return
        for event in response.events:
            kv = event.kv
            if self._leader_key is None:  # a first candidate's put elects it
                if event.type == _PUT:
                    header = rpc_pb2.ResponseHeader()
                    header.CopyFrom(response.header)
                    header.revision = kv.mod_revision  # not a later one of the batch
                    self._ready.append(_one_kv(header, kv))
                    self._drop_watch()
                    await self._open_watch(kv.key, kv.mod_revision + 1)
                    return
            elif event.type == _DELETE:
                self._drop_watch()
                return
            else:
                self._ready.append(_one_kv(response.header, kv))

    async def _open_watch(self, leader_key: Optional[bytes], start: int) -> None:
        """Watch the leader's key, or with None the whole election for its
        first candidate, from revision `start`.  Published before checking
        `_closed`, so that a concurrent `aclose()` cannot miss it."""
        self._leader_key = leader_key
        if leader_key is None:
            watch = self._client.watch(self._prefix, prefix=True, start_revision=start)
        else:
            watch = self._client.watch(leader_key, start_revision=start)
        self._watch = await watch
        if self._closed:
            self._drop_watch()

    def _drop_watch(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()

    async def aclose(self) -> None:
        """Stop observing (idempotent); iteration ends, in every task."""
        self._closed = True
        self._drop_watch()

    async def __aenter__(self) -> LeaderObserver:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _one_kv(
    header: rpc_pb2.ResponseHeader, kv: kv_pb2.KeyValue
) -> rpc_pb2.RangeResponse:
    return rpc_pb2.RangeResponse(header=header, kvs=[kv], count=1)


__all__ = ["AsyncElection", "LeaderObserver"]
