"""The stream worker's LeaseKeepAlive half: every kept-alive lease of a
client, renewed on one stream (see streams.py for the loop that drives it).

`KeepAliveState` (_core/lease.py) schedules the renewals and finds lost
leases; this module owns the stream, reopens it after retryable failures
(`retry.py`) and hands each response, or the loss, to the subscriptions.
The worker's lock guards everything here; the worker's reader-role holder
is the only caller of `tend` and `read`.
"""

from __future__ import annotations

import threading
from typing import Callable, Dict, List, Optional

from google.protobuf.message import DecodeError

from .._api.methods import LEASE_KEEP_ALIVE
from .._core.grpc.metadata import Metadata
from .._core.lease import KeepAliveState, LostReason
from .._proto import rpc_pb2
from ..errors import (
    EtcdError,
    InternalError,
    KeepAliveHaltedError,
    LeaseError,
    LeaseExpiredError,
    RemoteProtocolError,
)
from .auth import CallMetadata
from .channel import Stream
from .keepalive import KeepAlive
from .retry import Backoff, retryable

OpenStream = Callable[[str, Metadata], Stream]
Send = Callable[[Stream, List[bytes]], None]


class LeaseStream:
    """Kept-alive leases, their subscriptions and their stream.

    Args:
        lock: the worker's lock (held for every change of state here).
        metadata: sent when the stream opens (Go opens it require-leader).
        first_response_timeout: seconds a new lease may wait for its first
            response before it counts as lost.
    """

    def __init__(
        self,
        lock: threading.Lock,
        *,
        metadata: CallMetadata,
        first_response_timeout: float,
        on_stream_failed: Callable[[Stream, EtcdError], None],
        refresh_auth: Callable[[EtcdError], bool],
    ) -> None:
        self._lock = lock
        self._on_stream_failed = on_stream_failed
        self._refresh_auth = refresh_auth
        self._metadata = metadata
        self._core = KeepAliveState(first_response_timeout)
        self._subscriptions: Dict[int, List[KeepAlive]] = {}
        self.stream: Optional[Stream] = None
        self._backoff = Backoff()

    def __len__(self) -> int:
        """Leases kept alive."""
        return len(self._core)

    # --- user threads (lock held) ----------------------------------------------

    def add(self, keep_alive: KeepAlive, now: float) -> None:
        self._core.add(keep_alive.lease_id, now)
        self._subscriptions.setdefault(keep_alive.lease_id, []).append(keep_alive)

    def remove(self, keep_alive: KeepAlive) -> bool:
        """False if the subscription had ended already (its lease lost)."""
        subscribers = self._subscriptions.get(keep_alive.lease_id)
        if not subscribers or keep_alive not in subscribers:
            return False
        subscribers.remove(keep_alive)
        if not subscribers:
            del self._subscriptions[keep_alive.lease_id]
        self._core.remove(keep_alive.lease_id)
        return True

    def stop(self) -> List[KeepAlive]:
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
        """When `tend` must run next: a renewal due, a deadline, a backoff."""
        with self._lock:
            wakeup = self._core.next_wakeup(now)
            if len(self._core) and self.stream is None:
                until = self._backoff.until
                wakeup = until if wakeup is None else min(wakeup, until)
            return wakeup

    def tend(self, now: float, open_stream: OpenStream, send: Send) -> None:
        """Report leases past their deadline, open the stream when leases need
        it (close it when none do), and send the renewals that are due."""
        with self._lock:
            for lease_id in self._core.expired(now):
                self._lost(lease_id, LostReason.DEADLINE)
            live = len(self._core)
            stream = self.stream
            if stream is not None and not live:
                self.stream = None
            elif stream is None and (not live or now < self._backoff.until):
                return
        if stream is not None and not live:
            stream.cancel()
            return
        if stream is None:
            try:
                stream = open_stream(LEASE_KEEP_ALIVE.path, self._metadata.lease)
            except EtcdError as exc:
                self._failed(exc, now)
                return
            with self._lock:
                self.stream = stream
                self._core.stream_reset(now)
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
            with self._lock:
                for raw in messages:
                    self._route(stream, raw, now)
                self._backoff.succeeded()
            stream.message_consumed(len(messages))
        if stream.ended:
            error = stream.end_error() or InternalError(
                None, "the server ended the LeaseKeepAlive stream"
            )
            self._on_stream_failed(stream, error)
            self._failed(error, now)
        return bool(messages) or stream.ended

    def _route(self, stream: Stream, raw: bytes, now: float) -> None:
        """One response (lock held)."""
        try:
            response = rpc_pb2.LeaseKeepAliveResponse.FromString(raw)
        except DecodeError as exc:
            stream.connection.close_with(
                RemoteProtocolError(f"LeaseKeepAlive stream: {exc}")
            )
            return
        delivery = self._core.received(response.ID, response.TTL, now)
        if delivery is None:
            return  # no longer kept alive here
        if delivery.lost:
            self._lost(response.ID, LostReason.NOT_FOUND)
        else:
            for keep_alive in self._subscriptions.get(response.ID, ()):
                keep_alive._on_response(response)

    def _failed(self, error: EtcdError, now: float) -> None:
        refreshed = self._refresh_auth(error)
        with self._lock:
            self.stream = None
            if refreshed or retryable(error, watch=False):
                self._backoff.failed(now)
            else:
                self.halt(str(error))

    def _lost(self, lease_id: int, reason: LostReason) -> None:
        """Tell every subscription of a lost lease (lock held)."""
        error: LeaseError = LeaseExpiredError(
            f"lease {lease_id:x} lost: {reason.value}", lease_id=lease_id
        )
        for keep_alive in self._subscriptions.pop(lease_id, ()):
            keep_alive._on_lost(error)


__all__ = ["LeaseStream"]
