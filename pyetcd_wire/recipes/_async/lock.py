"""`AsyncLock`: a distributed mutex on a session's lease (Go's
`concurrency.Mutex`), so that it and an ``etcdctl lock`` exclude each other.

Theory of operation (Go client/v3/concurrency/mutex.go, key.go):

* Every contender for the lock `name` owns one key, ``<name>/<lease id in
  hex>``, attached to its session's lease.  The contender whose key has the
  lowest create revision holds the lock: the queue is FIFO by create
  revision, and a contender that dies leaves it when its lease expires.
* Entering the queue is one Txn: if my key does not exist, put it (empty
  value, my lease) and read the oldest key under ``<name>/``; else read my
  key and the oldest.  My *revision* is my key's create revision (the Txn's
  revision for a new key), so a session that locks again keeps its key and
  its place.  If the oldest key is mine, the lock is held after one round
  trip.
* Otherwise wait for every key created before mine to be deleted: read the
  newest of them, watch it from that read's revision until it is deleted,
  repeat.  Each waiter watches only its predecessor, so a release wakes one
  waiter, not the herd.  Then read my key: if my lease expired while I
  waited, it is gone and so is my place (`SessionExpiredError`).
* An acquire that fails (deadline, error, cancellation) deletes my key, so
  the contenders after me are not held up by a waiter that left.
* `is_owner()` is the compare ``CreateRevision(my key) == my revision``: a
  Txn guarded by it writes only while this acquisition still holds the lock
  (fencing), and fails once the key is released, expired or re-created.
"""

from __future__ import annotations

import contextlib
import time
from typing import Optional, Union

from ... import Compare, Op
from ..._api.check import wait_seconds
from ..._api.util import bytesify
from ..._proto import rpc_pb2
from ...errors import (
    EtcdError,
    LeaseNotFoundError,
    LockedError,
    LockReleasedError,
    SessionExpiredError,
)
from .queue import remaining, settled, wait_predecessors
from .session import AsyncSession

#: `revision` of a lock that is neither held nor queued (Go's myRev after
#: Unlock): no key has this create revision, so `is_owner()` is false.
NOT_QUEUED = -1


class AsyncLock:
    """A mutex named `name`, held by at most one session at a time.

    Use it as a context manager (``with``; ``async with`` in asyncio), or
    call `acquire` and `release`.  The lock excludes sessions, not tasks or
    threads: locking again through the same session (even through another
    AsyncLock) reuses the session's key and does not wait for itself, as in
    Go.  Contenders
    within one program that must exclude each other need a session each.

    Args:
        session: the session whose lease the lock key lives on; if the
            session is lost, the lock is released with it.
        name: the lock's name, the prefix of its keys (Go's ``pfx``; the
            keys are ``<name>/<lease id hex>``).

    Attributes:
        key: this session's key, ``<name>/<lease id hex>`` (b"" until the
            first acquire).
        revision: the key's create revision while held or queued, else -1.
        header: the response header of the last acquisition (None before).
    """

    def __init__(self, session: AsyncSession, name: Union[str, bytes]) -> None:
        prefix = bytesify(name, "name")
        if not prefix:
            raise ValueError("a lock needs a non-empty name")
        self._session = session
        self._prefix = prefix + b"/"
        # The holder: the oldest key under the prefix (Go's WithFirstCreate).
        self._get_owner = Op.get(
            self._prefix,
            prefix=True,
            sort_target="create",
            sort_order="ascend",
            limit=1,
        )
        self.key = b""
        self.revision = NOT_QUEUED
        self.header: Optional[rpc_pb2.ResponseHeader] = None

    def __repr__(self) -> str:
        state = f"revision={self.revision}" if self.revision > 0 else "released"
        return f"<{type(self).__name__} {self._prefix!r} {state}>"

    async def acquire(self, timeout: Optional[float] = None) -> None:
        """Wait until this session holds the lock (Go's Lock).

        Args:
            timeout: give up after this many seconds (None: wait for ever;
                each call to etcd still has the client's deadline).  The
                one Txn that enters the queue is let finish even past it
                (within the client's timeout), so that a waiter that gives
                up never leaves its key behind; a cancelled task likewise.

        Raises:
            DeadlineExceededError: `timeout` passed first; the key was
                deleted, leaving the queue.
            SessionExpiredError: the session's lease expired or was revoked
                before the lock was held.
            EtcdError: a call failed; the key was deleted, as for a timeout.
        """
        timeout = wait_seconds(timeout, "timeout")
        deadline = None if timeout is None else time.monotonic() + timeout
        await self._lock(deadline, wait=True)

    async def try_acquire(self) -> None:
        """Take the lock if nobody else holds it, without waiting (Go's
        TryLock).

        Raises:
            LockedError: another session holds it (the key was deleted).
            SessionExpiredError: the session's lease is gone.
            EtcdError: a call failed; the key was deleted.
        """
        await self._lock(None, wait=False)

    async def release(self) -> None:
        """Delete the key, handing the lock to the next waiter (Go's Unlock).

        Raises:
            LockReleasedError: the lock is not held (or was released already).
        """
        if self.revision <= 0:
            raise LockReleasedError()
        await self._session.client.delete(self.key)
        self.revision = NOT_QUEUED

    def is_owner(self) -> Compare:
        """The compare that holds while this acquisition holds the lock (Go's
        IsOwner): guard a Txn's writes with it so that a holder that lost
        the lock, say to an expired session, cannot write.

        A Txn with writes is decided by the leader.  One without operations
        is answered from the contacted member's own state (etcd counts it as
        serializable), which may lag: it is no linearizable "do I still hold
        it?" probe.
        """
        key = self.key or self._prefix  # before the first acquire: never true
        return Compare.create_revision(key) == self.revision

    async def _lock(self, deadline: Optional[float], *, wait: bool) -> None:
        """Acquire, or leave the queue on any failure (Go unlocks in the same
        place), so that the contenders after me are not held up by a
        contender that went away.  A lock that was held already keeps its
        key: it is still held."""
        holding = self.revision > 0
        try:
            header = await self._queue_and_wait(deadline, wait)
        except LeaseNotFoundError as exc:  # the put found no lease: no key
            self.revision = NOT_QUEUED
            raise SessionExpiredError() from exc
        except BaseException:
            if not holding:
                await self._leave_queue()
            raise
        if header is None:  # my key vanished with my lease while I waited
            self.revision = NOT_QUEUED
            raise SessionExpiredError()
        self.header = header

    async def _queue_and_wait(
        self, deadline: Optional[float], wait: bool
    ) -> Optional[rpc_pb2.ResponseHeader]:
        """Enter the queue and wait for my turn: the header that saw the lock
        held, or None if my key vanished meanwhile.

        Raises:
            LockedError: not first, and not `wait`.
        """
        response = await self._queue(deadline)
        if self._is_first(response):
            return response.header
        if not wait:
            raise LockedError()
        try:
            return await wait_predecessors(
                self._session.client, self._prefix, self.key, self.revision, deadline
            )
        except SessionExpiredError:
            return None  # my key vanished meanwhile

    async def _queue(self, deadline: Optional[float]) -> rpc_pb2.TxnResponse:
        """The one Txn that puts my key (or finds it) and reads the holder;
        sets `key` and `revision`."""
        session = await self._session  # starts an asyncio session, if need be
        remaining(deadline, "timed out waiting for the lock")  # raises if it passed
        self.key = self._prefix + f"{session.lease_id:x}".encode()
        response = await settled(  # see `settled`: why not within `deadline`
            session.client.txn(
                compare=[Compare.create_revision(self.key) == 0],
                success=[
                    Op.put(self.key, b"", lease=session.lease_id),
                    self._get_owner,
                ],
                failure=[Op.get(self.key), self._get_owner],
            )
        )
        if response.succeeded:
            self.revision = response.header.revision
        else:  # my key existed already: this session locked before
            mine = response.responses[0].response_range.kvs[0]
            self.revision = mine.create_revision
        return response

    def _is_first(self, response: rpc_pb2.TxnResponse) -> bool:
        owner = response.responses[1].response_range.kvs
        return not owner or owner[0].create_revision == self.revision

    async def _leave_queue(self) -> None:
        """Delete my key, best effort: the error that brought us here matters
        more, and the key goes with the session's lease at the latest.  Also
        after a Txn that failed, since its put may have been applied."""
        self.revision = NOT_QUEUED
        if self.key:
            with contextlib.suppress(EtcdError):
                await self._session.client.delete(self.key)

    async def __aenter__(self) -> AsyncLock:
        await self.acquire()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.release()


__all__ = ["AsyncLock"]
