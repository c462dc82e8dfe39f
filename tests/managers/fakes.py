"""In-memory ports for the stream managers (`pyetcd_wire/_managers`): no socket,
no thread, no clock.

* `FakeStream` is a `StreamPort`: the test scripts its inbox (`push`) and its
  end (`end`), and reads what the manager sent (`sent`), the credit it gave back
  (`consumed`) and whether it cancelled it (`cancelled`).
* `FakeConnection` is a `StreamConnection`; like a real one, `close_with`
  ends every stream on it with the error.
* `Opener` is an `OpenStream` that makes `FakeStream`s, or raises the errors
  the test queued (`fail_next`); `send` is a `Send` that records.
* `CheckedLock` is the driver's lock: entering it twice raises (the sync
  driver's `threading.Lock` would deadlock), and the ports record whether
  it was held when they were called.
* `MemWatch` and `MemKeepAlive` are the real boxes (`WatchBox`,
  `KeepAliveBox`, the `WatchSink` and `KeepAliveSink` both drivers use) with
  a no-op mutex; `Owner` is their stream worker, forwarding to the manager as
  the drivers do.
* `WatchRig` and `LeaseRig` wire a manager to all of the above, with a manual
  clock (`now`) and a fixed `rand`.
"""

from __future__ import annotations

import contextlib
from typing import Any, ContextManager, List, Optional, Tuple

from pyetcd_wire._api.methods import LEASE_KEEP_ALIVE, WATCH_WATCH
from pyetcd_wire._client.tokens import CallMetadata
from pyetcd_wire._core.grpc.metadata import Metadata
from pyetcd_wire._managers.boxes import KeepAliveBox, WatchBox
from pyetcd_wire._managers.leases import LeaseManager
from pyetcd_wire._managers.ports import StreamPort
from pyetcd_wire._managers.watches import WatchManager
from pyetcd_wire._proto import rpc_pb2
from pyetcd_wire.errors import EtcdError
from tests.messages import create, event, watch_response

BASE_METADATA: Metadata = (("base", "1"),)
LEASE_METADATA: Metadata = (("base", "1"), ("hasleader", "true"))
#: `rand()` of the rigs: 0.5 puts the backoff's jitter at zero.
NO_JITTER = 0.5


class CheckedLock:
    """A non-reentrant lock for one thread: re-entry is a bug (a deadlock
    with the sync driver's `threading.Lock`)."""

    def __init__(self) -> None:
        self.held = False

    def __enter__(self) -> CheckedLock:
        assert not self.held, "the lock is taken twice (a deadlock in the driver)"
        self.held = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.held = False


class FakeConnection:
    """A `StreamConnection`."""

    def __init__(self, endpoint: str = "http://a:2379") -> None:
        self.endpoint = endpoint
        self.closed_with: List[EtcdError] = []
        self.streams: List[FakeStream] = []

    def close_with(self, error: EtcdError) -> None:
        """Every call on the connection ends with `error`, as a real one does."""
        self.closed_with.append(error)
        for stream in self.streams:
            stream.end(error)


class FakeStream:
    """A `StreamPort` with a scripted inbox and end."""

    def __init__(self, connection: FakeConnection, path: str, metadata: Metadata):
        self.connection = connection
        self.path = path
        self.metadata = metadata
        self.inbox: List[bytes] = []
        self.sent: List[bytes] = []
        self.consumed = 0
        self.cancelled = False
        self._ended = False
        self._error: Optional[EtcdError] = None
        connection.streams.append(self)

    # --- the port ---------------------------------------------------------------

    def take_messages(self) -> List[bytes]:
        messages, self.inbox = self.inbox, []
        return messages

    def message_consumed(self, count: int = 1) -> None:
        assert count > 0
        self.consumed += count

    @property
    def ended(self) -> bool:
        return self._ended

    def end_error(self) -> Optional[EtcdError]:
        return self._error

    def cancel(self) -> None:
        self.cancelled = True

    # --- the test's side ----------------------------------------------------------

    def push(self, *messages: Any) -> None:
        """Messages the server sent (protobuf messages, or raw bytes)."""
        for message in messages:
            raw = message if isinstance(message, bytes) else message.SerializeToString()
            self.inbox.append(raw)

    def end(self, error: Optional[EtcdError] = None) -> None:
        """The stream ended (`error` None: the server ended it with OK)."""
        if not self._ended:
            self._ended = True
            self._error = error

    def watch_requests(self) -> List[rpc_pb2.WatchRequest]:
        return [rpc_pb2.WatchRequest.FromString(raw) for raw in self.sent]

    def lease_requests(self) -> List[int]:
        """The lease IDs of the LeaseKeepAliveRequests sent."""
        return [rpc_pb2.LeaseKeepAliveRequest.FromString(r).ID for r in self.sent]


class Opener:
    """An `OpenStream`: opens `FakeStream`s on `connection`, or raises what
    `fail_next` queued."""

    def __init__(self, lock: CheckedLock) -> None:
        self._lock = lock
        self.connection = FakeConnection()
        self.opened: List[FakeStream] = []
        self.failures: List[Exception] = []

    def fail_next(self, *errors: Exception) -> None:
        self.failures.extend(errors)

    def __call__(self, path: str, metadata: Metadata) -> StreamPort:
        assert not self._lock.held, "a stream is opened with the lock held"
        if self.failures:
            raise self.failures.pop(0)
        stream = FakeStream(self.connection, path, metadata)
        self.opened.append(stream)
        return stream

    @property
    def last(self) -> FakeStream:
        return self.opened[-1]


class Owner:
    """The stream worker the boxes call back (`WatchOwner`, `KeepAliveOwner`),
    forwarding to the managers as the drivers do (`_sync/stream_worker.py`)."""

    def __init__(self, lock: CheckedLock) -> None:
        self._lock = lock
        self.watches: Optional[WatchManager] = None
        self.leases: Optional[LeaseManager] = None
        self.taken: List[int] = []
        self.cancelled: List[WatchBox] = []
        self.removed: List[KeepAliveBox] = []

    def _taken(self, size: int) -> None:
        self.taken.append(size)
        if self.watches is not None:
            self.watches.taken(size)

    def cancel_watch(self, sink: WatchBox) -> None:
        self.cancelled.append(sink)
        if self.watches is not None:
            with self._lock:
                self.watches.cancel(sink)

    def remove_keep_alive(self, keep_alive: KeepAliveBox) -> None:
        self.removed.append(keep_alive)
        if self.leases is not None:
            with self._lock:
                self.leases.remove(keep_alive)


class _NoWaiting:
    """What a driver adds to a box, without the waiting: a no-op mutex (as
    asyncio's), and wake-ups counted."""

    _mutex: ContextManager[object] = contextlib.nullcontext()
    notified = 0

    def _notify(self) -> None:
        self.notified += 1


class MemWatch(_NoWaiting, WatchBox):
    """A `WatchBox` that counts its wake-ups instead of waking anyone."""

    def take(self) -> Optional[rpc_pb2.WatchResponse]:
        """The next response (None: nothing queued, or the watch is over).

        Raises:
            EtcdError: what ended the watch, after the queued responses.
        """
        return self._take()[1]

    def take_all(self) -> List[rpc_pb2.WatchResponse]:
        out: List[rpc_pb2.WatchResponse] = []
        while True:
            response = self.take()
            if response is None:
                return out
            out.append(response)


class MemKeepAlive(_NoWaiting, KeepAliveBox):
    """A `KeepAliveBox` that counts its wake-ups instead of waking anyone."""

    def take(self) -> Optional[rpc_pb2.LeaseKeepAliveResponse]:
        return self._take_locked()[1]


# --- messages -------------------------------------------------------------------


def created(watch_id: int, revision: int = 10) -> rpc_pb2.WatchResponse:
    return watch_response(watch_id, revision, created=True)


def events_at(
    watch_id: int, *revisions: int, key: bytes = b"k"
) -> rpc_pb2.WatchResponse:
    return watch_response(
        watch_id,
        max(revisions),
        events=[event(r, key) for r in revisions],
    )


def revisions(response: Optional[rpc_pb2.WatchResponse]) -> List[int]:
    assert response is not None
    return [e.kv.mod_revision for e in response.events]


def renewal(lease_id: int, ttl: int) -> rpc_pb2.LeaseKeepAliveResponse:
    return rpc_pb2.LeaseKeepAliveResponse(
        header=rpc_pb2.ResponseHeader(revision=1), ID=lease_id, TTL=ttl
    )


# --- rigs -----------------------------------------------------------------------


class _Rig:
    def __init__(self) -> None:
        self.now = 100.0
        self.lock = CheckedLock()
        self.metadata = CallMetadata(BASE_METADATA, LEASE_METADATA)
        self.open = Opener(self.lock)
        self.owner = Owner(self.lock)
        #: (stream, error, lock held) for each `on_stream_failed`.
        self.failed: List[Tuple[StreamPort, EtcdError, bool]] = []
        #: What the next `refresh_token` calls answer (then False); with True
        #: they install the token "t<n>".
        self.refresh_answers: List[bool] = []
        #: Whether the lock was held at each `refresh_token` call.
        self.refreshed_locked: List[bool] = []

    def _stream_failed(self, stream: StreamPort, error: EtcdError) -> None:
        self.failed.append((stream, error, self.lock.held))

    @property
    def refreshes(self) -> int:
        """How many times `refresh_token` was called."""
        return len(self.refreshed_locked)

    def _refresh_token(self) -> bool:
        self.refreshed_locked.append(self.lock.held)
        ok = self.refresh_answers.pop(0) if self.refresh_answers else False
        if ok:
            self.metadata.set_token(f"t{self.refreshes}")
        return ok

    def send(self, stream: StreamPort, messages: List[bytes]) -> None:
        assert not self.lock.held, "sent with the lock held"
        assert isinstance(stream, FakeStream)
        assert not stream.cancelled, "sent on a cancelled stream"
        stream.sent.extend(messages)

    @property
    def stream(self) -> FakeStream:
        """The last stream opened."""
        return self.open.last


class WatchRig(_Rig):
    """A `WatchManager` wired to fakes; `watch()` adds one as `add_watch` does."""

    def __init__(self, *, anonymous: bool = False, rand: float = NO_JITTER) -> None:
        super().__init__()
        self.backlog_lock = CheckedLock()
        self.wakes = 0
        self.quarantined = False
        self.manager = WatchManager(
            self.lock,
            self.backlog_lock,
            lambda: rand,
            metadata=self.metadata,
            wake=self._wake,
            on_stream_failed=self._stream_failed,
            refresh_token=self._refresh_token,
            all_quarantined=self._all_quarantined,
            anonymous=anonymous,
        )
        self.owner.watches = self.manager

    def _wake(self) -> None:
        self.wakes += 1

    def _all_quarantined(self, now: float) -> bool:
        assert now == self.now
        return self.quarantined

    def watch(self, key: str = "k", **options: Any) -> MemWatch:
        owner = self.owner
        with self.lock:
            sink = self.manager.add(
                create(key, **options), lambda w: MemWatch(owner, w)
            )
        assert isinstance(sink, MemWatch)
        return sink

    def tend(self) -> None:
        self.manager.tend(self.now, self.open, self.send)

    def read(self) -> bool:
        return self.manager.read(self.now)

    def turn(self) -> bool:
        """One turn of a driver's loop: read, then tend; what read said."""
        again = self.read()
        self.tend()
        return again

    def created_watches(self, *boxes: MemWatch, revision: int = 10) -> None:
        """Send the creates and answer each, at `revision`."""
        self.tend()
        self.stream.push(*(created(b.watch_id, revision) for b in boxes))
        self.read()

    def wake_time(self) -> Optional[float]:
        return self.manager.next_wakeup(self.now)


class LeaseRig(_Rig):
    """A `LeaseManager` wired to fakes; `keep_alive()` subscribes as the driver's
    `add_keep_alive` does."""

    FIRST_RESPONSE_TIMEOUT = 5.0

    def __init__(self) -> None:
        super().__init__()
        self.manager = LeaseManager(
            self.lock,
            lambda: NO_JITTER,
            metadata=self.metadata,
            first_response_timeout=self.FIRST_RESPONSE_TIMEOUT,
            on_stream_failed=self._stream_failed,
            refresh_token=self._refresh_token,
        )
        self.owner.leases = self.manager

    def keep_alive(self, lease_id: int) -> MemKeepAlive:
        box = MemKeepAlive(self.owner, lease_id)
        with self.lock:
            self.manager.add(box, self.now)
        return box

    def tend(self) -> None:
        self.manager.tend(self.now, self.open, self.send)

    def read(self) -> bool:
        return self.manager.read(self.now)

    def wake_time(self) -> Optional[float]:
        return self.manager.next_wakeup(self.now)


WATCH_PATH = WATCH_WATCH.path
LEASE_PATH = LEASE_KEEP_ALIVE.path
