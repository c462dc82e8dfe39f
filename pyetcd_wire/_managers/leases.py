"""A stream worker's LeaseKeepAlive manager: every kept-alive lease of a
client, renewed on one stream (see `_sync/stream_worker.py` and
`_async/stream_worker.py` for the loops that drive it).

`KeepAliveState` (_core/lease.py) schedules the renewals and finds lost
leases; this module owns the stream, reopens it after retryable failures
(`resume.py`) and hands each response, or the loss, to the subscriptions.
The driver's lock guards everything here; one reader at a time calls
`tend` and `read`.
"""

from __future__ import annotations

from typing import Callable, ContextManager, Dict, List, Optional

from google.protobuf.message import DecodeError

from .. import _log
from .._api.methods import LEASE_KEEP_ALIVE
from .._client.tokens import CallMetadata
from .._core.lease import KeepAliveState, LostReason
from .._policy.resume import retryable
from .._proto import rpc_pb2
from ..errors import (
    EtcdError,
    KeepAliveHaltedError,
    LeaseError,
    LeaseExpiredError,
    RemoteProtocolError,
)
from .ports import KeepAliveSink, OpenStream, Send, StreamPort
from .stream_slot import StreamSlot


class LeaseManager(StreamSlot):
    """Kept-alive leases, their subscriptions and their stream.

    Args:
        lock: the driver's lock (held for every change of state here; a
            no-op one in asyncio).
        rand: uniform in [0, 1), for the backoff's jitter.
        metadata: sent when the stream opens (Go opens it require-leader).
        first_response_timeout: seconds a new lease may wait for its first
            response before it counts as lost.
        on_stream_failed: told of a failed stream (its endpoint may go to
            quarantine).
        refresh_token: gets a new token; True if one is in place.
    """

    NAME = "LeaseKeepAlive"
    USERS = "lease(s)"
    log = _log.lease_log

    def __init__(
        self,
        lock: ContextManager[object],
        rand: Callable[[], float],
        *,
        metadata: CallMetadata,
        first_response_timeout: float,
        on_stream_failed: Callable[[StreamPort, EtcdError], None],
        refresh_token: Callable[[], bool],
    ) -> None:
        super().__init__(
            lock, rand, on_stream_failed=on_stream_failed, refresh_token=refresh_token
        )
        self._metadata = metadata
        self._core = KeepAliveState(first_response_timeout)
        self._subscriptions: Dict[int, List[KeepAliveSink]] = {}

    def __len__(self) -> int:
        """Leases kept alive."""
        return len(self._core)

    # --- user threads (lock held) ----------------------------------------------

    def add(self, keep_alive: KeepAliveSink, now: float) -> None:
        self._core.add(keep_alive.lease_id, now)
        self._subscriptions.setdefault(keep_alive.lease_id, []).append(keep_alive)

    def remove(self, keep_alive: KeepAliveSink) -> bool:
        """False if the subscription had ended already (its lease lost)."""
        subscribers = self._subscriptions.get(keep_alive.lease_id)
        if not subscribers or keep_alive not in subscribers:
            return False
        subscribers.remove(keep_alive)
        if not subscribers:
            del self._subscriptions[keep_alive.lease_id]
        self._core.remove(keep_alive.lease_id)
        return True

    def stop(self) -> List[KeepAliveSink]:
        """Forget everything (the client closes); the subscriptions to tell."""
        self._core.halt()
        stopped = [k for ks in self._subscriptions.values() for k in ks]
        self._subscriptions.clear()
        return stopped

    def halt(self, reason: str) -> None:
        """End every subscription with KeepAliveHaltedError(reason)."""
        for lease_id in self._core.halt():
            for keep_alive in self._subscriptions.pop(lease_id, ()):
                keep_alive._on_lost(KeepAliveHaltedError(reason, lease_id=lease_id))

    # --- the reader-role holder ------------------------------------------------

    def next_wakeup(self, now: float) -> Optional[float]:
        """When `tend` must run next: a renewal due (while a stream is open
        to send it on), a deadline, a backoff."""
        backoff = super().next_wakeup(now)
        with self._lock:
            wakeup = self._core.next_wakeup(now, sending=self.stream is not None)
        if backoff is None or wakeup is None:
            return backoff if wakeup is None else wakeup
        return min(wakeup, backoff)

    def tend(self, now: float, open_stream: OpenStream, send: Send) -> None:
        """Report leases past their deadline, open the stream when leases need
        it (close it when none do), and send the renewals that are due."""
        with self._lock:
            lost = [
                self._lost(lease_id, LostReason.DEADLINE)
                for lease_id in self._core.expired(now)
            ]
        self._log_lost(lost)
        stream = self._stream_to_send_on(
            now, open_stream, LEASE_KEEP_ALIVE.path, self._metadata.lease
        )
        if stream is None:
            return
        with self._lock:
            due = self._core.due(now)
        if due:
            request = rpc_pb2.LeaseKeepAliveRequest
            send(stream, [request(ID=i).SerializeToString() for i in due])

    def read(self, now: float) -> bool:
        """Route the responses received; True if the timers changed (the
        worker must `tend` again) or the stream ended."""
        stream = self.stream
        if stream is None:
            return False
        messages = stream.take_messages()
        if messages:
            lost: List[LeaseError] = []
            with self._lock:
                for raw in messages:
                    gone = self._route(stream, raw, now)
                    if gone is not None:
                        lost.append(gone)
                self._backoff.succeeded()
            stream.message_consumed(len(messages))
            self._log_lost(lost)
        if stream.ended:
            error = self._end_error(stream)
            if self._failed(error, now) and len(self._core):
                self._resuming(stream, error, len(self._core))
        return bool(messages) or stream.ended

    def _route(
        self, stream: StreamPort, raw: bytes, now: float
    ) -> Optional[LeaseError]:
        """One response (lock held); the error of the lease it lost, if any."""
        try:
            response = rpc_pb2.LeaseKeepAliveResponse.FromString(raw)
        except DecodeError as exc:
            stream.connection.close_with(
                RemoteProtocolError(f"LeaseKeepAlive stream: {exc}")
            )
            return None
        delivery = self._core.received(response.ID, response.TTL, now)
        if delivery is None:
            return None  # no longer kept alive here
        if delivery.lost:
            return self._lost(response.ID, LostReason.NOT_FOUND)
        for keep_alive in self._subscriptions.get(response.ID, ()):
            keep_alive._on_response(response)
        return None

    def _live(self) -> int:
        return len(self._core)

    def _opened(self, now: float) -> None:
        self._core.stream_reset(now)

    def _open_failed(self, error: EtcdError, now: float) -> None:
        self._failed(error, now)

    def _failed(self, error: EtcdError, now: float) -> bool:
        """True if the stream is to open again (else keep-alive halts)."""
        refreshed = self._refresh_for(error)
        with self._lock:
            self.stream = None
            again = refreshed or retryable(error, watch=False)
            if again:
                self._backoff.failed(now)
            else:
                halted = len(self._core)
                self.halt(str(error))
        if not again and halted:
            self.log.warning(
                "keep-alive halted for %d lease(s): %s: %s",
                halted,
                type(error).__name__,
                error,
            )
        return again

    def _lost(self, lease_id: int, reason: LostReason) -> LeaseError:
        """Tell every subscription of a lost lease (lock held); the error,
        for `_log_lost` once the lock is released."""
        error: LeaseError = LeaseExpiredError(
            f"lease {lease_id:x} lost: {reason.value}", lease_id=lease_id
        )
        for keep_alive in self._subscriptions.pop(lease_id, ()):
            keep_alive._on_lost(error, reason)
        return error

    def _log_lost(self, lost: List[LeaseError]) -> None:
        """Log the leases `_lost` (no lock held)."""
        for error in lost:
            self.log.warning("%s; its keep-alive ends", error)


__all__ = ["LeaseManager"]
