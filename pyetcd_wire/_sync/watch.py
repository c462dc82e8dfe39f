"""`Watch`: what `Client.watch()` returns; the user's end of one watch.

The stream worker (stream_worker.py) fills it from whichever thread reads the
stream; any thread may iterate it.  The queue and its rules are the
`WatchBox`'s (_managers/boxes.py, shared with `AsyncWatch`); this adds the
waiting.  A thread waiting for a response reads the stream itself when
nobody else does (`StreamWorker.await_watch`, reader_role.py); otherwise it
sleeps on a one-shot `Sleeper` (not a `threading.Condition`, which is
written in Python and costs several microseconds per event on CPython).
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterator, List, Optional, Protocol

from .._core.watch import Watcher
from .._managers.boxes import WatchBox, WatchOwner
from .._proto import rpc_pb2
from .reader_role import Sleeper


class WatchReader(WatchOwner, Protocol):
    """The stream worker, as a watch sees it: it also waits for news, reading
    the stream itself when nobody else does (`StreamWorker.await_watch`)."""

    def await_watch(
        self, watch: Watch, ready: Callable[[], bool], deadline: Optional[float]
    ) -> None: ...


class Watch(WatchBox):
    """One watch.  Iterate it for `WatchResponse` messages (events, and
    progress notifications with no events); iteration ends after `cancel()`
    or `Client.close()`, and raises the error that ended the watch otherwise
    (`CompactedError`, `WatchCanceledError`, `NoLeaderError`, ...).

    A context manager: leaving the ``with`` block cancels the watch.
    """

    def __init__(self, worker: WatchReader, watcher: Watcher) -> None:
        super().__init__(worker, watcher)
        self._stream_worker = worker
        self._mutex = threading.Lock()
        self._sleepers: List[Sleeper] = []

    def _notify(self) -> None:
        for sleeper in self._sleepers:
            sleeper.wake()
        self._sleepers.clear()

    def _orphan(self) -> None:
        self._mutex = threading.Lock()  # never the inherited one (`_fork.py`)
        self._sleepers = []
        super()._orphan()

    def _wait_created(self, deadline: Optional[float]) -> None:
        """Block until the server confirmed the watch; raise if it refused."""
        self._stream_worker.await_watch(self, self._created_or_ended, deadline)
        self._creation_outcome()

    def get(self, timeout: Optional[float] = None) -> Optional[rpc_pb2.WatchResponse]:
        """The next response; None if `timeout` seconds passed first, or the
        watch ended normally (see `ended`).

        Raises:
            EtcdError: the error that ended the watch, once every response
                queued before it has been read.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            done, response = self._take()
            if done:
                return response
            if deadline is not None and time.monotonic() >= deadline:
                return None
            self._stream_worker.await_watch(self, self._has_news, deadline)

    def __iter__(self) -> Iterator[rpc_pb2.WatchResponse]:
        while True:
            response = self.get()
            if response is None:
                return
            yield response

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()


__all__ = ["Watch"]
