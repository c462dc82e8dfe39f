"""`auto_sync_interval`: refresh the client's endpoints from the member list.

Go runs `Sync` every interval with a 5 s timeout and only logs failures
(client/v3/client.go, autoSync).  Here: one daemon thread, named
``pyetcd-wire-autosync``, started with the client and joined by `close()`;
a failed sync leaves the endpoints as they were, and the last error is kept
in `last_error` for whoever wants to look.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

from .._client.options import SYNC_TIMEOUT
from ..errors import EtcdError


class AutoSync:
    """Calls `sync(timeout)` every `interval` seconds until `stop()`."""

    def __init__(self, sync: Callable[[float], object], interval: float) -> None:
        self._sync = sync
        self._interval = interval
        self._stopped = threading.Event()
        self.last_error: Optional[EtcdError] = None
        self.syncs = 0  # successful ones
        self._thread = threading.Thread(
            target=self._run, name="pyetcd-wire-autosync", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._sync(SYNC_TIMEOUT)
            except EtcdError as exc:
                self.last_error = exc
            else:
                self.last_error = None
                self.syncs += 1

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join()


__all__ = ["AutoSync"]
