"""`KeepAlive`: what `Client.keep_alive()` returns; one subscription to the
background renewal of a lease.

The stream worker (stream_worker.py) renews the lease at TTL/3 on the client's one
LeaseKeepAlive stream and hands every response to each subscription.  The
queue and its rules are the `KeepAliveBox`'s (_managers/boxes.py, shared with
`AsyncKeepAlive`): unlike Go, nothing is dropped without a trace (`skipped`),
and the end of the lease is a state (`lost`, `lost_reason`) that iteration
turns into `LeaseExpiredError`.  This adds the waiting, on a condition.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator, Optional

from .._managers.boxes import MAX_QUEUED, KeepAliveBox, KeepAliveOwner
from .._proto import rpc_pb2


class KeepAlive(KeepAliveBox):
    """Background renewal of one lease, until `close()`.

    `Client.keep_alive()` returns it once etcd answered its first renewal
    (`response`; iteration still yields it).  Iterate it for the
    `LeaseKeepAliveResponse` of each renewal; once the lease is lost,
    iteration raises `LeaseExpiredError` (after `close()` or `Client.close()`
    it just ends).
    """

    def __init__(self, worker: KeepAliveOwner, lease_id: int) -> None:
        super().__init__(worker, lease_id)
        self._cond = threading.Condition(threading.Lock())
        self._mutex = self._cond

    def _notify(self) -> None:
        self._cond.notify_all()

    def _orphan(self) -> None:
        # Never the inherited condition (`_fork.py`).
        self._cond = threading.Condition(threading.Lock())
        self._mutex = self._cond
        super()._orphan()

    def _wait_first_renewal(self, deadline: Optional[float] = None) -> None:
        """Block until etcd answered the first renewal (bounded by `deadline`,
        monotonic, and by the lease's first-response deadline); raise as
        `_first_renewal_outcome` if there is none."""
        timeout = None if deadline is None else deadline - time.monotonic()
        try:
            with self._cond:
                self._cond.wait_for(self._answered_or_over, timeout)
        except BaseException:
            self.close()  # interrupted (KeyboardInterrupt): nothing stays behind
            raise
        self._first_renewal_outcome()

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
            while True:
                done, response = self._take_locked()
                if done:
                    return response
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def __iter__(self) -> Iterator[rpc_pb2.LeaseKeepAliveResponse]:
        while True:
            response = self.get()
            if response is None:
                return
            yield response

    def __enter__(self) -> KeepAlive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


__all__ = ["MAX_QUEUED", "KeepAlive"]
