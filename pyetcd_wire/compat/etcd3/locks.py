"""python-etcd3's `Lock`: one key, ``/locks/<name>``, created with
``create_revision == 0`` in a transaction and attached to a lease, so that
it disappears when the holder stops refreshing it.  The same key and value
layout as python-etcd3's, so both can share a lock during a migration.
(For a fair lock, interoperable with ``etcdctl lock``, use our
`pyetcd_wire.recipes.Lock`.)

What python-etcd3 got wrong, and this does not:

* ``acquire(timeout)`` under contention: python-etcd3 0.12.0 waited through
  tenacity, and a contended acquire failed with tenacity 7 and later
  (python-etcd3 #2149); its watch for the release started "now", so a
  release just before it was missed and the wait ran to its timeout (or
  forever).  Here the wait is
  a watch for the key's deletion from the revision right after the one at
  which the key was seen held, bounded by what is left of `timeout`; a
  compacted or broken watch only means "look again".
* ``with lock:`` ignored what ``acquire()`` returned, and ``acquire()``
  gives up after 10 s by default: a contended lock ran the block without
  the lock.  Here ``__enter__`` waits until it holds the lock, and keeps its
  lease alive until the block ends, so the TTL cannot run out under it.
* A failed attempt left its lease to expire, and cleared the lease of a
  lock already held (``refresh()`` then failed); here a failed attempt
  revokes its own lease and leaves the held one alone, and ``release()``
  revokes the lease it no longer needs.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any, Optional, Union

from ... import errors as ours
from .exceptions import translated, translating


class Lock:
    """A distributed lock named `name` (python-etcd3's).

    Args:
        name: the lock's name (str or bytes); its key is ``/locks/<name>``.
        ttl: seconds the lock lives without `refresh` after `acquire` (inside
            ``with`` it is kept alive).
        etcd_client: the compat client (``client.lock(name)`` passes it).
    """

    lock_prefix = "/locks/"

    def __init__(
        self, name: Union[str, bytes], ttl: int = 60, etcd_client: Any = None
    ) -> None:
        self.name = name
        self.ttl = ttl
        if etcd_client is not None:
            self.etcd_client = etcd_client
        self.key: Union[str, bytes] = (
            self.lock_prefix.encode() + name
            if isinstance(name, bytes)
            else self.lock_prefix + name
        )
        self.lease: Any = None
        self.revision = 0
        # bytes, compared with the key's value as it is
        self.uuid = uuid.uuid1().bytes
        self._keep_alive: Any = None

    def acquire(self, timeout: Optional[float] = 10) -> bool:
        """Take the lock, waiting at most `timeout` seconds for its holder
        to let go (None: as long as it takes; 0: one try).

        Returns:
            True once held; False if `timeout` passed first (a try already
            under way when it passes still finishes).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            seen = self._try_acquire()
            if seen is None:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self._wait_for_delete(seen, left)

    def _try_acquire(self) -> Optional[int]:
        """One try: None if it took the lock, else the revision at which
        the key was seen held."""
        client = self.etcd_client
        tx = client.transactions
        lease = client.lease(self.ttl)
        try:
            success, responses = client.transaction(
                compare=[tx.create(self.key) == 0],
                success=[tx.put(self.key, self.uuid, lease=lease)],
                failure=[tx.get(self.key)],
            )
        except BaseException:
            self._revoke(lease)
            raise
        if success:
            self.lease = lease
            self.revision = responses[0].response_put.header.revision
            return None
        self._revoke(lease)
        held = responses[0]
        if not held:  # not in one txn; were it so, look again
            return 0
        _, meta = held[0]
        self.revision = meta.mod_revision
        return int(meta.response_header.revision)

    def _wait_for_delete(self, seen: int, timeout: Optional[float]) -> None:
        """Wait, at most `timeout` seconds, for the key to be deleted after
        revision `seen` (released, or its lease ended)."""
        if not seen:
            return
        ours_client = self.etcd_client._client
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            watch = ours_client.watch(
                self.key, start_revision=seen + 1, filter_put=True, timeout=timeout
            )
        except (ours.DeadlineExceededError, ours.CompactedError):
            return  # not watched in time, or history gone: look again
        except ours.EtcdError as exc:
            raise translated(exc) from None
        with watch:
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return
                try:
                    response = watch.get(timeout=left)
                except ours.EtcdError:
                    return  # the watch broke: look again
                if response is None or response.events:
                    return

    def _revoke(self, lease: Any) -> None:
        """Revoke a lease of ours no longer needed; if that fails, it ends
        by itself within `ttl`."""
        with contextlib.suppress(ours.EtcdError):
            lease.revoke()

    def release(self) -> bool:
        """Let go of the lock; True if this lock held it."""
        self._stop_keep_alive()
        client = self.etcd_client
        tx = client.transactions
        success, _ = client.transaction(
            compare=[tx.value(self.key) == self.uuid],
            success=[tx.delete(self.key)],
            failure=[],
        )
        lease, self.lease = self.lease, None
        if lease is not None:
            self._revoke(lease)
        return bool(success)

    def refresh(self) -> Any:
        """Renew the lock's lease once; etcd's answers.

        Raises:
            ValueError: the lock is not held.
        """
        if self.lease is None:
            raise ValueError(
                "No lease associated with this lock - have you acquired the lock yet?"
            )
        return self.lease.refresh()

    def is_acquired(self) -> bool:
        """True if this lock holds the lock now (its key holds our value)."""
        value, _ = self.etcd_client.get(self.key)
        return value is not None and value == self.uuid

    def _stop_keep_alive(self) -> None:
        keep_alive, self._keep_alive = self._keep_alive, None
        if keep_alive is not None:
            keep_alive.close()

    def __enter__(self) -> Lock:
        self.acquire(timeout=None)
        try:
            with translating():
                self._keep_alive = self.etcd_client._client.keep_alive(self.lease.id)
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


__all__ = ["Lock"]
