"""`KeepAlive`: what `Client.keep_alive()` returns; one subscription to the
background renewal of a lease.

The stream worker (streams.py) renews the lease at TTL/3 on the client's one
LeaseKeepAlive stream and hands every response to each subscription.  Unlike
Go, nothing is dropped without a trace: a subscription keeps the newest
`MAX_QUEUED` responses for iteration and counts the older ones it had no room
for in `skipped` (most callers never iterate; the queue must not grow for
them), and the end of the lease is a state (`lost`, `lost_reason`) that
iteration turns into `LeaseExpiredError`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Deque, Iterator, Optional

from .._proto import rpc_pb2
from ..errors import LeaseError

if TYPE_CHECKING:
    from .streams import StreamWorker

#: Responses a subscription keeps for iteration (Go: LeaseResponseChSize).
MAX_QUEUED = 16


class KeepAlive:
    """Background renewal of one lease, until `close()`.

    Iterate it for the `LeaseKeepAliveResponse` of each renewal; once the
    lease is lost, iteration raises `LeaseExpiredError` (after `close()` or
    `Client.close()` it just ends).

    Attributes:
        lease_id: the lease kept alive.
        response: the newest response (None before the first).
        skipped: responses dropped from the queue because nobody iterated.
    """

    def __init__(self, worker: StreamWorker, lease_id: int) -> None:
        self._worker = worker
        self.lease_id = lease_id
        self.response: Optional[rpc_pb2.LeaseKeepAliveResponse] = None
        self.skipped = 0
        self._cond = threading.Condition(threading.Lock())
        self._items: Deque[rpc_pb2.LeaseKeepAliveResponse] = deque()
        self._error: Optional[LeaseError] = None
        self._closed = False

    def __repr__(self) -> str:
        state = "lost" if self.lost else "closed" if self._closed else "alive"
        return f"<KeepAlive lease={self.lease_id} {state}>"

    # --- the worker's side --------------------------------------------------------

    def _on_response(self, response: rpc_pb2.LeaseKeepAliveResponse) -> None:
        with self._cond:
            self.response = response
            if len(self._items) >= MAX_QUEUED:
                self._items.popleft()
                self.skipped += 1
            self._items.append(response)
            self._cond.notify_all()

    def _on_lost(self, error: LeaseError) -> None:
        with self._cond:
            if self._error is None:
                self._error = error
            self._cond.notify_all()

    def _on_stopped(self) -> None:
        """The client closed: renewal stopped without the lease being lost."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

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

    def get(
        self, timeout: Optional[float] = None
    ) -> Optional[rpc_pb2.LeaseKeepAliveResponse]:
        """The next renewal's response; None if `timeout` passed first or the
        subscription was closed.

        Raises:
            LeaseExpiredError: the lease is lost (after the queued responses).
            KeepAliveHaltedError: renewal stopped on a non-retryable error.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._items and self._error is None and not self._closed:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            if self._closed:
                return None
            if self._items:
                return self._items.popleft()
            assert self._error is not None
            raise self._error

    def __iter__(self) -> Iterator[rpc_pb2.LeaseKeepAliveResponse]:
        while True:
            response = self.get()
            if response is None:
                return
            yield response

    def close(self) -> None:
        """Stop renewing for this subscription (idempotent); the lease is
        renewed while other subscriptions to it remain."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._worker.remove_keep_alive(self)

    def __enter__(self) -> KeepAlive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


__all__ = ["MAX_QUEUED", "KeepAlive"]
