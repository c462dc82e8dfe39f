"""`Watch`: what `Client.watch()` returns; the user's end of one watch.

The stream worker (streams.py) fills it from its background thread; any
thread may iterate it.  Each queued response may hold one message's worth of
HTTP/2 stream credit (`Stream`), given back when the response is taken: that
is how a consumer that stops reading stops the server (back-pressure, see
streams.py).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Deque, Iterator, Optional, Tuple

from .._core.watch import Watcher
from .._proto import rpc_pb2
from ..errors import DeadlineExceededError, EtcdError

if TYPE_CHECKING:
    from .channel import Stream
    from .streams import StreamWorker

_Item = Tuple[rpc_pb2.WatchResponse, Optional["Stream"]]


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
        self.watch_id = watcher.watch_id
        self.created_revision = 0
        self._cond = threading.Condition(threading.Lock())
        self._items: Deque[_Item] = deque()
        self._created = False
        self._ended = False
        self._error: Optional[EtcdError] = None
        self._cancelled = False

    def __repr__(self) -> str:
        state = "ended" if self._ended else "created" if self._created else "creating"
        return f"<Watch id={self.watch_id} {state} queued={len(self._items)}>"

    # --- the worker's side (called from the stream worker) ----------------------

    def _on_created(self, revision: int) -> None:
        with self._cond:
            self.created_revision = revision
            self._created = True
            self._cond.notify_all()

    def _on_response(
        self, response: rpc_pb2.WatchResponse, credit: Optional[Stream]
    ) -> None:
        with self._cond:
            if not self._cancelled:
                self._items.append((response, credit))
                self._cond.notify()
                return
        if credit is not None:
            credit.message_consumed()

    def _on_end(self, error: Optional[EtcdError]) -> None:
        with self._cond:
            if not self._ended:
                self._ended = True
                self._error = error
            self._cond.notify_all()

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

    def _wait_created(self, deadline: Optional[float]) -> None:
        """Block until the server confirmed the watch; raise if it refused."""
        with self._cond:
            while not self._created and not self._ended:
                timeout = None if deadline is None else deadline - time.monotonic()
                if timeout is not None and timeout <= 0:
                    break
                self._cond.wait(timeout)
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
        with self._cond:
            while not self._items and not self._ended and not self._cancelled:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            if self._cancelled:
                return None
            if not self._items:
                if self._error is not None:
                    raise self._error
                return None
            response, credit = self._items.popleft()
        if credit is not None:
            credit.message_consumed()
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
        with self._cond:
            if self._cancelled:
                return
            self._cancelled = True
            items, self._items = self._items, deque()
            self._cond.notify_all()
        for _, credit in items:
            if credit is not None:
                credit.message_consumed()
        self._worker.cancel_watch(self._watcher)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()


__all__ = ["Watch"]
