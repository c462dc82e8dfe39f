"""`Watch`: what `Client.watch()` returns; the user's end of one watch.

The stream worker (streams.py) fills it from its background thread; any
thread may iterate it.  Each queued response counts its wire size against the
worker's backlog (`StreamWorker._taken`), which is how a consumer that stops
reading stops the server (back-pressure, see streams.py).

A thread waiting for a response reads the stream itself when nobody else
does (`StreamWorker.await_watch`, reader_role.py); otherwise it sleeps on a
one-shot `Sleeper` (not a `threading.Condition`, which is written in Python
and costs several microseconds per event on CPython).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Deque, Iterator, List, Optional, Tuple

from .._core.watch import Watcher
from .._proto import rpc_pb2
from ..errors import DeadlineExceededError, EtcdError
from .reader_role import Sleeper

if TYPE_CHECKING:
    from .streams import StreamWorker

_Item = Tuple[rpc_pb2.WatchResponse, int]  # the response, its backlog bytes


class Watch:
    """One watch.  Iterate it for `WatchResponse` messages (events, and
    progress notifications with no events); iteration ends after `cancel()`
    or `Client.close()`, and raises the error that ended the watch otherwise
    (`CompactedError`, `WatchCanceledError`, `NoLeaderError`, ...).

    A context manager: leaving the ``with`` block cancels the watch.

    Attributes:
        watch_id: the ID on the Watch stream (assigned by the client).
        created_revision: the store revision when the server created the
            watch; every change after it is delivered.
    """

    def __init__(self, worker: StreamWorker, watcher: Watcher) -> None:
        self._worker = worker
        self._watcher = watcher
        self._recreated = False  # once, after a stale token (see streams.py)
        self.watch_id = watcher.watch_id
        self.created_revision = 0
        self._mutex = threading.Lock()
        self._items: Deque[_Item] = deque()
        self._sleepers: List[Sleeper] = []
        self._created = False
        self._ended = False
        self._error: Optional[EtcdError] = None
        self._cancelled = False

    def __repr__(self) -> str:
        state = "ended" if self._ended else "created" if self._created else "creating"
        return f"<Watch id={self.watch_id} {state} queued={len(self._items)}>"

    # --- the worker's side (called from the stream worker) ----------------------

    def _wake_all(self) -> None:
        """Wake every sleeping reader (mutex held)."""
        for sleeper in self._sleepers:
            sleeper.wake()
        self._sleepers.clear()

    def _on_created(self, revision: int) -> None:
        with self._mutex:
            self.created_revision = revision
            self._created = True
            self._wake_all()

    def _on_response(self, response: rpc_pb2.WatchResponse, size: int) -> bool:
        """Queue a response; False (not queued) once the watch is cancelled."""
        with self._mutex:
            if self._cancelled:
                return False
            self._items.append((response, size))
            if self._sleepers:
                self._wake_all()
            return True

    def _on_end(self, error: Optional[EtcdError]) -> None:
        with self._mutex:
            if not self._ended:
                self._ended = True
                self._error = error
            self._wake_all()

    # --- the user's side --------------------------------------------------------

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

    def _wait_created(self, deadline: Optional[float]) -> None:
        """Block until the server confirmed the watch; raise if it refused."""
        self._worker.await_watch(self, self._created_or_ended, deadline)
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

    def get(self, timeout: Optional[float] = None) -> Optional[rpc_pb2.WatchResponse]:
        """The next response; None if `timeout` seconds passed first, or the
        watch ended normally (see `ended`).

        Raises:
            EtcdError: the error that ended the watch, once every response
                queued before it has been read.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._mutex:
                if self._cancelled:
                    return None
                if self._items:
                    response, size = self._items.popleft()
                    break
                if self._ended:
                    if self._error is not None:
                        raise self._error
                    return None
            if deadline is not None and time.monotonic() >= deadline:
                return None
            self._worker.await_watch(self, self._has_news, deadline)
        if size:
            self._worker._taken(size)
        return response

    def __iter__(self) -> Iterator[rpc_pb2.WatchResponse]:
        while True:
            response = self.get()
            if response is None:
                return
            yield response

    def cancel(self) -> None:
        """End the watch (idempotent).  Iteration stops at once, in every
        thread; responses still queued are discarded."""
        with self._mutex:
            if self._cancelled:
                return
            self._cancelled = True
            items, self._items = self._items, deque()
            self._wake_all()
        dropped = sum(size for _, size in items)
        if dropped:
            self._worker._taken(dropped)
        self._worker.cancel_watch(self._watcher)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()


__all__ = ["Watch"]
