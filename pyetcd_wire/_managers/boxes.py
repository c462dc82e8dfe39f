"""The state of what `watch()` and `keep_alive()` return, shared by the sync
objects (`Watch`, `KeepAlive`: threads wait) and the asyncio ones
(`AsyncWatch`, `AsyncKeepAlive`: tasks wait).  A box holds the responses
queued for the user and how it ended; the driver's class adds the waiting:
a `_mutex` (a lock, or a no-op in asyncio) and `_notify()` (wake every
waiter; called with the mutex held).

The rules, in one place:
* a watch queues every response until it is read, cancelled or ended; its
  queued bytes count against the stream's backlog (watches.py) until
  taken; `cancel()` drops the queue at once;
* an error that ended a watch is raised after the responses queued before
  it; a watch ended by `cancel()` or the client's close just stops;
* a keep-alive subscription keeps only the newest `MAX_QUEUED` responses
  (most callers never iterate; the queue must not grow for them) and counts
  the ones it dropped in `skipped`; once the lease is lost, reading raises
  `LeaseExpiredError` (or `KeepAliveHaltedError`) after the queued ones;
* `keep_alive()` is confirmed, like a watch's creation, by the server's first
  answer (the sync call waits for it, the asyncio object is awaited): the
  first renewal, or why there is none (`_first_renewal_outcome`), which
  closes the subscription: `LeaseNotFoundError` when etcd says the lease
  does not exist (never did, was revoked, expired), else what ended it.
"""

from __future__ import annotations

import os
from collections import deque
from typing import ContextManager, Deque, Optional, Protocol, Tuple

from .._core.lease import LostReason
from .._core.watch import Watcher
from .._proto import rpc_pb2
from ..errors import (
    DeadlineExceededError,
    EtcdError,
    LeaseError,
    LeaseNotFoundError,
    ParentProcessError,
)

#: Responses a keep-alive subscription keeps (Go: LeaseResponseChSize).
MAX_QUEUED = 16

_Item = Tuple[rpc_pb2.WatchResponse, int]  # the response, its backlog bytes


class WatchOwner(Protocol):
    """The stream worker a watch belongs to."""

    def _taken(self, size: int) -> None: ...

    def cancel_watch(self, sink: WatchBox) -> None: ...


class KeepAliveOwner(Protocol):
    def remove_keep_alive(self, keep_alive: KeepAliveBox) -> None: ...


class _ParentsWorker:
    """The owner of a box inherited by a forked child: the parent's worker,
    which the child never touches (`_fork.py`)."""

    def _taken(self, size: int) -> None:
        pass

    def cancel_watch(self, sink: WatchBox) -> None:
        pass

    def remove_keep_alive(self, keep_alive: KeepAliveBox) -> None:
        pass


_PARENTS = _ParentsWorker()


def _parents(box: object) -> ParentProcessError:
    return ParentProcessError(type(box).__name__, owner_pid=os.getppid())


class WatchBox:
    """One watch's responses and end (a `WatchSink`).

    Attributes:
        watch_id: the ID on the Watch stream (assigned by the client).
        created_revision: the store revision when the server created the
            watch; every change after it is delivered.
    """

    _mutex: ContextManager[object]

    def __init__(self, worker: WatchOwner, watcher: Watcher) -> None:
        self._worker = worker
        self.watch_id = watcher.watch_id
        self.created_revision = 0
        self._items: Deque[_Item] = deque()
        self._created = False
        self._ended = False
        self._error: Optional[EtcdError] = None
        self._cancelled = False

    def _notify(self) -> None:
        """Wake every waiter (mutex held)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        state = "ended" if self._ended else "created" if self._created else "creating"
        return (
            f"<{type(self).__name__} id={self.watch_id} {state}"
            f" queued={len(self._items)}>"
        )

    # --- the worker's side ----------------------------------------------------

    def _on_created(self, revision: int) -> None:
        """Created, or created again after a refusal (the first revision
        stays)."""
        with self._mutex:
            if not self._created:
                self.created_revision = revision
                self._created = True
                self._notify()

    def _on_response(self, response: rpc_pb2.WatchResponse, size: int) -> bool:
        """Queue a response; False (not queued) once the watch is cancelled."""
        with self._mutex:
            if self._cancelled:
                return False
            self._items.append((response, size))
            self._notify()
            return True

    def _on_end(self, error: Optional[EtcdError]) -> None:
        with self._mutex:
            if not self._ended:
                self._ended = True
                self._error = error
            self._notify()

    # --- the user's side ----------------------------------------------------------

    @property
    def ended(self) -> bool:
        """True once the watch is over (cancelled, or ended by an error); the
        responses still queued can be read."""
        return self._ended or self._cancelled

    @property
    def error(self) -> Optional[EtcdError]:
        """Why the server ended the watch, once it has; else None."""
        return self._error

    def _created_or_ended(self) -> bool:
        return self._created or self._ended or self._cancelled

    def _has_news(self) -> bool:
        return bool(self._items) or self._ended or self._cancelled

    def _creation_outcome(self) -> None:
        """After waiting for creation: return if the server created the
        watch, else cancel it and raise why (its refusal, or the deadline)."""
        with self._mutex:
            created, error = self._created, self._error
        if created:
            return
        self.cancel()
        if error is not None:
            raise error
        raise DeadlineExceededError(
            f"deadline exceeded waiting for watch {self.watch_id} to be created"
        )

    def _take(self) -> Tuple[bool, Optional[rpc_pb2.WatchResponse]]:
        """(True, the next response, or None once the watch is over) or
        (False, None): nothing yet, wait for news.

        Raises:
            EtcdError: the error that ended the watch, once every response
                queued before it has been read.
        """
        with self._mutex:
            if self._cancelled:
                return True, None
            if self._items:
                response, size = self._items.popleft()
            elif self._ended:
                if self._error is not None:
                    raise self._error
                return True, None
            else:
                return False, None
        if size:
            self._worker._taken(size)
        return True, response

    def cancel(self) -> None:
        """End the watch (idempotent).  Iteration stops at once, in every
        thread or task; responses still queued are discarded."""
        with self._mutex:
            if self._cancelled:
                return
            self._cancelled = True
            items, self._items = self._items, deque()
            self._notify()
        dropped = sum(size for _, size in items)
        if dropped:
            self._worker._taken(dropped)
        self._worker.cancel_watch(self)

    def _orphan(self) -> None:
        """In a forked child (the driver made the mutex new): the watch is
        the parent's; reading it raises `ParentProcessError`, cancelling it
        does nothing here (`_fork.py`)."""
        self._worker = _PARENTS
        self._items = deque()
        self._ended = True
        self._error = _parents(self)


class KeepAliveBox:
    """One subscription's responses and end (a `KeepAliveSink`).

    Attributes:
        lease_id: the lease kept alive.
        response: the newest response (None before the first).
        skipped: responses dropped from the queue because nobody read them.
    """

    _mutex: ContextManager[object]

    def __init__(self, worker: KeepAliveOwner, lease_id: int) -> None:
        self._worker = worker
        self.lease_id = lease_id
        self.response: Optional[rpc_pb2.LeaseKeepAliveResponse] = None
        self.skipped = 0
        self._items: Deque[rpc_pb2.LeaseKeepAliveResponse] = deque()
        self._error: Optional[EtcdError] = None
        self._gone = False  # etcd answered TTL <= 0: no such lease (any more)
        self._closed = False

    def _notify(self) -> None:
        """Wake every waiter (mutex held)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        state = "lost" if self.lost else "closed" if self._closed else "alive"
        return f"<{type(self).__name__} lease={self.lease_id} {state}>"

    # --- the worker's side --------------------------------------------------------

    def _on_response(self, response: rpc_pb2.LeaseKeepAliveResponse) -> None:
        with self._mutex:
            self.response = response
            if len(self._items) >= MAX_QUEUED:
                self._items.popleft()
                self.skipped += 1
            self._items.append(response)
            self._notify()

    def _on_lost(self, error: LeaseError, reason: Optional[LostReason] = None) -> None:
        with self._mutex:
            if self._error is None:
                self._error = error
                self._gone = reason is LostReason.NOT_FOUND
            self._notify()

    def _on_stopped(self) -> None:
        """The client closed: renewal stopped without the lease being lost."""
        with self._mutex:
            self._closed = True
            self._notify()

    # --- the user's side ----------------------------------------------------------

    @property
    def lost(self) -> bool:
        """True once the lease expired, was revoked, or could not be renewed in
        time (or renewal halted on an error); it will not come back."""
        return self._error is not None

    @property
    def lost_reason(self) -> str:
        """Why the lease was lost ("" while it is not)."""
        return str(self._error) if self._error is not None else ""

    @property
    def closed(self) -> bool:
        return self._closed

    def _has_news(self) -> bool:
        return bool(self._items) or self._error is not None or self._closed

    def _answered_or_over(self) -> bool:
        """The first renewal came, or the subscription ended (mutex held)."""
        return self.response is not None or self._error is not None or self._closed

    def _first_renewal_outcome(self) -> None:
        """After waiting for the first renewal: return if it came (or the
        subscription was closed meanwhile), else close it and raise why.

        Raises:
            LeaseNotFoundError: etcd answered that the lease does not exist.
            LeaseExpiredError: no answer before the first-response deadline
                (the client's dial_timeout + 1 s).
            KeepAliveHaltedError: renewal stopped on a non-retryable error.
            DeadlineExceededError: the caller's wait ended first.
        """
        with self._mutex:
            answered, error, gone = self.response is not None, self._error, self._gone
            closed = self._closed
        if answered or (error is None and closed):
            return
        self.close()
        if error is None:
            raise DeadlineExceededError(
                f"deadline exceeded waiting for the first renewal of lease"
                f" {self.lease_id:x}"
            )
        if gone:
            raise LeaseNotFoundError() from error
        raise error

    def _take_locked(
        self,
    ) -> Tuple[bool, Optional[rpc_pb2.LeaseKeepAliveResponse]]:
        """As `WatchBox._take`, with the mutex held by the caller.

        Raises:
            LeaseExpiredError: the lease is lost (after the queued responses).
            KeepAliveHaltedError: renewal stopped on a non-retryable error.
        """
        if self._closed:
            return True, None
        if self._items:
            return True, self._items.popleft()
        if self._error is not None:
            raise self._error
        return False, None

    def close(self) -> None:
        """Stop renewing for this subscription (idempotent); the lease is
        renewed while other subscriptions to it remain."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            self._notify()
        self._worker.remove_keep_alive(self)

    def _orphan(self) -> None:
        """In a forked child (the driver made the mutex new): the
        subscription is the parent's (which keeps the lease alive); reading
        it raises `ParentProcessError` and `lost` is True, closing it does
        nothing here (`_fork.py`)."""
        self._worker = _PARENTS
        self._items = deque()
        self._error = _parents(self)


__all__ = ["MAX_QUEUED", "KeepAliveBox", "WatchBox"]
