"""The stream worker: the client's one background thread, for watches and
lease keep-alive.

Theory of operation
===================

* One thread per client, named ``pyetcd-wire-streams <endpoint>``, daemon.
  It starts with the first `watch()` or `keep_alive()` and ends once none is
  left (after `LINGER` seconds, so that a watch made right after the last one
  ended reuses it), or at `Client.close()`, which joins it.
* It owns a connection of its own (a second `Channel` to the endpoint) with
  at most two streams on it: one Watch stream for every watch and one
  LeaseKeepAlive stream for every kept-alive lease.  A connection of its own
  because it is the only reader there: it waits with a selector on the socket
  and a wake-up socket, so timers and new work wake it at once, and the KV
  calls on the client's main connection keep their no-hand-off fast path and
  are never held up by an unread watch.
* The protocol state is sans-IO: `WatchStream` (_core/watch.py) and
  `KeepAliveState` (_core/lease.py).  User threads change it under `_lock`
  and wake the worker; only the worker sends and reads, so requests keep
  their order.
* Resume.  When a stream ends with a retryable error (Unavailable, except
  "no leader" for watches; Internal; connection lost or GOAWAY'd and closed)
  the worker opens a new one after a backoff (`BACKOFF_*`) and replays: every
  live watch re-creates itself from the revision after the last one it
  delivered (`WatchStream.reset`), every in-flight keep-alive is sent again
  (`KeepAliveState.stream_reset`).  Any other error ends every watch with it
  (Go's ``isHaltErr``), or halts keep-alive (`KeepAliveHaltedError`).
* Back-pressure.  A WatchResponse holds its message's HTTP/2 stream credit
  until the user takes it from its `Watch`; the core withholds the stream's
  WINDOW_UPDATEs while any message is untaken.  So however slowly watches are
  read, the worker holds at most one stream window (`DEFAULT_STREAM_WINDOW`,
  4 MiB of wire data) plus one message per Watch stream; other watches on the
  stream keep flowing until that much is waiting, then the server pauses the
  whole stream.  Keep-alive responses are tiny and credited at once; each
  subscription keeps at most `keepalive.MAX_QUEUED`.
* Iteration never busy-waits: users sleep on their watch's condition, the
  worker in `select()` until the next keep-alive is due, a lease deadline,
  a backoff, or a wake-up.
"""

from __future__ import annotations

import contextlib
import random
import selectors
import socket
import threading
import time
from typing import Dict, List, Optional, Set

from google.protobuf.message import DecodeError

from .._api.methods import LEASE_KEEP_ALIVE, WATCH_WATCH
from .._core.grpc.metadata import Metadata
from .._core.lease import KeepAliveState, LostReason
from .._core.watch import Created, Ended, Events, Progress, Watcher, WatchStream
from .._proto import rpc_pb2
from ..errors import (
    EtcdError,
    InternalError,
    KeepAliveHaltedError,
    LeaseExpiredError,
    NoLeaderError,
    RemoteProtocolError,
    TransportError,
    UnavailableError,
    WatchCanceledError,
)
from .channel import Channel, Stream
from .connection import Connection
from .keepalive import KeepAlive
from .watch import Watch

#: Seconds the worker stays up with nothing to do before it exits.
LINGER = 1.0
#: Reconnect backoff: first delay, growth factor, cap (seconds), +/- jitter.
BACKOFF_FIRST = 0.025
BACKOFF_FACTOR = 2.0
BACKOFF_MAX = 1.0
BACKOFF_JITTER = 0.2
#: Bound on one write of the worker (the server is not reading if it passes).
SEND_TIMEOUT = 5.0

_Selector = getattr(selectors, "PollSelector", selectors.SelectSelector)


def _retryable(error: EtcdError, *, watch: bool) -> bool:
    """Go's "resume" errors: the stream may be opened again."""
    if isinstance(error, NoLeaderError):
        return not watch  # a require-leader watch ends; keep-alive retries
    if isinstance(error, RemoteProtocolError):
        return False
    return isinstance(error, (TransportError, UnavailableError, InternalError))


class _Backoff:
    __slots__ = ("failures", "until")

    def __init__(self) -> None:
        self.failures = 0
        self.until = 0.0

    def failed(self, now: float) -> None:
        delay = min(BACKOFF_MAX, BACKOFF_FIRST * BACKOFF_FACTOR**self.failures)
        delay *= 1.0 + random.uniform(-BACKOFF_JITTER, BACKOFF_JITTER)
        self.failures += 1
        self.until = now + delay

    def succeeded(self) -> None:
        self.failures = 0
        self.until = 0.0


class StreamWorker:
    """Watches and keep-alives of one client; see the module docstring.

    Args:
        make_channel: returns a new `Channel` to the endpoint (the worker's
            own connection).
        metadata: sent on the Watch stream (the client's metadata).
        lease_metadata: sent on the LeaseKeepAlive stream (Go sends it with
            require-leader, so a member without a leader refuses it).
        first_response_timeout: seconds a new keep-alive may wait for its
            first response before the lease counts as lost.
    """

    def __init__(
        self,
        channel: Channel,
        *,
        metadata: Metadata,
        lease_metadata: Metadata,
        first_response_timeout: float,
    ) -> None:
        self._channel = channel
        self._metadata = metadata
        self._lease_metadata = lease_metadata
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._woken = False
        # Watches
        self._watch_core = WatchStream()
        self._watches: Dict[Watcher, Watch] = {}
        self._watch_stream: Optional[Stream] = None
        self._watch_backoff = _Backoff()
        # Leases
        self._lease_core = KeepAliveState(first_response_timeout)
        self._keep_alives: Dict[int, List[KeepAlive]] = {}
        self._lease_stream: Optional[Stream] = None
        self._lease_backoff = _Backoff()

    @property
    def thread(self) -> Optional[threading.Thread]:
        """The background thread while it runs (for tests and diagnostics)."""
        return self._thread

    # --- user threads -------------------------------------------------------------

    def add_watch(self, create: rpc_pb2.WatchCreateRequest) -> Watch:
        with self._lock:
            self._check_open()
            watcher = self._watch_core.add(create)
            watch = Watch(self, watcher)
            self._watches[watcher] = watch
            self._start_locked()
        self._wake()
        return watch

    def cancel_watch(self, watcher: Watcher) -> None:
        with self._lock:
            if self._closed or watcher not in self._watches:
                return
            for delivery in self._watch_core.cancel(watcher):
                self._watches.pop(delivery.watcher, None)
        self._wake()

    def request_progress(self) -> None:
        with self._lock:
            if self._closed or not len(self._watch_core):
                return
            self._watch_core.request_progress()
        self._wake()

    def add_keep_alive(self, lease_id: int) -> KeepAlive:
        with self._lock:
            self._check_open()
            keep_alive = KeepAlive(self, lease_id)
            self._lease_core.add(lease_id, time.monotonic())
            self._keep_alives.setdefault(lease_id, []).append(keep_alive)
            self._start_locked()
        self._wake()
        return keep_alive

    def remove_keep_alive(self, keep_alive: KeepAlive) -> None:
        with self._lock:
            subscribers = self._keep_alives.get(keep_alive.lease_id)
            if self._closed or not subscribers or keep_alive not in subscribers:
                return  # lost already: the lease was forgotten
            subscribers.remove(keep_alive)
            if not subscribers:
                del self._keep_alives[keep_alive.lease_id]
            self._lease_core.remove(keep_alive.lease_id)
        self._wake()

    def close(self) -> None:
        """Stop the thread and end every watch and keep-alive; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        self._wake()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self._shutdown()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the client is closed")

    def _start_locked(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run,
                name=f"pyetcd-wire-streams {self._channel.endpoint.text}",
                daemon=True,
            )
            self._thread.start()

    def _wake(self) -> None:
        if self._woken:
            return
        self._woken = True
        with contextlib.suppress(OSError):  # full (already woken) or closed
            self._wake_w.send(b"\0")

    # --- the worker thread --------------------------------------------------------

    def _run(self) -> None:
        # poll(2) keeps no kernel state, so a closed socket whose number a
        # new one reuses cannot leave a stale registration behind (epoll can).
        selector = _Selector()
        selector.register(self._wake_r, selectors.EVENT_READ)
        watched: Dict[Connection, int] = {}
        idle_since: Optional[float] = None
        try:
            while True:
                now = time.monotonic()
                with self._lock:
                    if self._closed:
                        return
                    if self._idle():
                        idle_since = idle_since or now
                        if now - idle_since >= LINGER:
                            self._thread = None
                            self._close_streams()
                            return
                    else:
                        idle_since = None
                self._tend_watch_stream(now)
                self._tend_lease_stream(now)
                timeout = self._next_timeout(now, idle_since)
                watched = self._watch_sockets(selector, watched)
                ready = selector.select(timeout)
                pump = False
                for key, _ in ready:
                    if key.fileobj is self._wake_r:
                        self._drain_wakeups()
                    else:
                        pump = True
                if pump:
                    self._pump()
                now = time.monotonic()
                self._read_watch_stream()
                self._read_lease_stream(now)
                self._expire_leases(now)
        finally:
            selector.close()

    def _idle(self) -> bool:
        return not len(self._watch_core) and not len(self._lease_core)

    def _next_timeout(self, now: float, idle_since: Optional[float]) -> Optional[float]:
        wakeups: List[float] = []
        with self._lock:
            lease_wakeup = self._lease_core.next_wakeup(now)
            if lease_wakeup is not None:
                wakeups.append(lease_wakeup)
            if len(self._watch_core) and self._watch_stream is None:
                wakeups.append(self._watch_backoff.until)
            if len(self._lease_core) and self._lease_stream is None:
                wakeups.append(self._lease_backoff.until)
        if idle_since is not None:
            wakeups.append(idle_since + LINGER)
        if not wakeups:
            return None
        return max(0.0, min(wakeups) - now)

    def _drain_wakeups(self) -> None:
        # Drain, then clear: a waker that still sees True changed its state
        # before the loop's next `_tend_*`, which will see it.
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        self._woken = False

    def _live_streams(self) -> List[Stream]:
        return [
            s for s in (self._watch_stream, self._lease_stream) if s and not s.ended
        ]

    def _watch_sockets(
        self, selector: selectors.BaseSelector, watched: Dict[Connection, int]
    ) -> Dict[Connection, int]:
        """Make `selector` wait on the sockets of the live streams' connections."""
        now = {s.connection: s.connection.fileno() for s in self._live_streams()}
        for conn, fd in watched.items():
            if now.get(conn) != fd:
                selector.unregister(fd)
        for conn, fd in now.items():
            if watched.get(conn) != fd:
                selector.register(fd, selectors.EVENT_READ)
        return now

    def _pump(self) -> None:
        pumped: Set[int] = set()
        for stream in self._live_streams():
            conn = stream.connection
            if id(conn) not in pumped:
                pumped.add(id(conn))
                conn.pump()

    def _open(self, path: str, metadata: Metadata) -> Stream:
        return self._channel.bidi_stream(path, metadata=metadata)

    def _send(self, stream: Stream, messages: List[bytes]) -> None:
        try:
            stream.send_many(messages, SEND_TIMEOUT)
        except EtcdError as exc:
            # The stream is failing; it ends (and resumes) through its slot.
            stream.connection.close_with(exc)

    # Watch stream -------------------------------------------------------------

    def _tend_watch_stream(self, now: float) -> None:
        """Open the Watch stream when watches need it, close it when none do,
        and send what the core has queued."""
        with self._lock:
            live = len(self._watch_core)
            stream = self._watch_stream
            if stream is not None and not live:
                self._watch_stream = None
            elif stream is None and (not live or now < self._watch_backoff.until):
                return
        if stream is not None and not live:
            stream.cancel()  # Go closes the stream with its last watch
            return
        if stream is None:
            try:
                stream = self._open(WATCH_WATCH.path, self._metadata)
            except EtcdError as exc:
                self._watch_open_failed(exc, now)
                return
            with self._lock:
                self._watch_stream = stream
        with self._lock:
            requests = self._watch_core.requests_to_send()
        if requests:
            self._send(stream, [r.SerializeToString() for r in requests])

    def _watch_open_failed(self, error: EtcdError, now: float) -> None:
        """Watches that were never created fail with the error (as a unary
        call would); created ones wait for the next attempt."""
        with self._lock:
            self._watch_backoff.failed(now)
            if not _retryable(error, watch=True):
                self._end_watches(error, only_uncreated=False)
            else:
                self._end_watches(error, only_uncreated=True)

    def _end_watches(self, error: EtcdError, *, only_uncreated: bool) -> None:
        """End watches with `error` (lock held; no stream: all are PENDING)."""
        core = self._watch_core
        for watcher in core.watchers:
            watch = self._watches.get(watcher)
            if watch is None or (only_uncreated and watch.created_revision):
                continue
            for delivery in core.cancel(watcher):
                self._watches.pop(delivery.watcher, None)
            watch._on_end(error)

    def _read_watch_stream(self) -> None:
        stream = self._watch_stream
        if stream is None:
            return
        messages = stream.take_messages()
        if messages:
            self._watch_messages(stream, messages)
        if stream.ended:
            self._watch_stream_ended(stream)

    def _watch_messages(self, stream: Stream, messages: List[bytes]) -> None:
        credited = 0
        with self._lock:
            core = self._watch_core
            for raw in messages:
                try:
                    response = rpc_pb2.WatchResponse.FromString(raw)
                    deliveries = core.receive(response)
                except (DecodeError, RemoteProtocolError) as exc:
                    error = RemoteProtocolError(f"Watch stream: {exc}")
                    stream.connection.close_with(error)
                    credited += 1
                    continue
                held = False
                for delivery in deliveries:
                    watch = self._watches.get(delivery.watcher)
                    if watch is None:
                        continue
                    if type(delivery) is Events:
                        if isinstance(delivery.events, list):  # filtered or joined
                            response = rpc_pb2.WatchResponse(
                                header=delivery.header,
                                watch_id=watch.watch_id,
                                events=delivery.events,
                            )
                        watch._on_response(response, stream)
                        held = True
                    elif type(delivery) is Progress:
                        watch._on_response(_progress(response, watch.watch_id), None)
                    elif type(delivery) is Created:
                        watch._on_created(delivery.revision)
                    elif type(delivery) is Ended:
                        del self._watches[delivery.watcher]
                        watch._on_end(delivery.error)
                if not held:
                    credited += 1
            self._watch_backoff.succeeded()
        if credited:
            stream.message_consumed(credited)

    def _watch_stream_ended(self, stream: Stream) -> None:
        error = stream.end_error() or InternalError(
            None, "the server ended the Watch stream"
        )
        now = time.monotonic()
        with self._lock:
            self._watch_stream = None
            for delivery in self._watch_core.reset():
                watch = self._watches.pop(delivery.watcher, None)
                if watch is not None:
                    watch._on_end(None)
            if _retryable(error, watch=True):
                self._watch_backoff.failed(now)
            else:
                self._end_watches(error, only_uncreated=False)

    # LeaseKeepAlive stream ----------------------------------------------------

    def _tend_lease_stream(self, now: float) -> None:
        with self._lock:
            live = len(self._lease_core)
            stream = self._lease_stream
            if stream is not None and not live:
                self._lease_stream = None
            elif stream is None and (not live or now < self._lease_backoff.until):
                return
        if stream is not None and not live:
            stream.cancel()
            return
        if stream is None:
            try:
                stream = self._open(LEASE_KEEP_ALIVE.path, self._lease_metadata)
            except EtcdError as exc:
                self._lease_stream_failed(exc, now)
                return
            with self._lock:
                self._lease_stream = stream
                self._lease_core.stream_reset(now)
        with self._lock:
            due = self._lease_core.due(now)
        if due:
            self._send(
                stream,
                [rpc_pb2.LeaseKeepAliveRequest(ID=i).SerializeToString() for i in due],
            )

    def _lease_stream_failed(self, error: EtcdError, now: float) -> None:
        with self._lock:
            self._lease_stream = None
            if _retryable(error, watch=False):
                self._lease_backoff.failed(now)
                return
            for lease_id in self._lease_core.halt():
                for keep_alive in self._keep_alives.pop(lease_id, ()):
                    keep_alive._on_lost(
                        KeepAliveHaltedError(str(error), lease_id=lease_id)
                    )

    def _read_lease_stream(self, now: float) -> None:
        stream = self._lease_stream
        if stream is None:
            return
        messages = stream.take_messages()
        if messages:
            with self._lock:
                for raw in messages:
                    try:
                        response = rpc_pb2.LeaseKeepAliveResponse.FromString(raw)
                    except DecodeError as exc:
                        bad = RemoteProtocolError(f"LeaseKeepAlive stream: {exc}")
                        stream.connection.close_with(bad)
                        continue
                    delivery = self._lease_core.received(response.ID, response.TTL, now)
                    if delivery is None:
                        continue
                    if delivery.lost:
                        self._lease_lost(response.ID, LostReason.NOT_FOUND)
                    else:
                        for keep_alive in self._keep_alives.get(response.ID, ()):
                            keep_alive._on_response(response)
                self._lease_backoff.succeeded()
            stream.message_consumed(len(messages))
        if stream.ended:
            error = stream.end_error() or InternalError(
                None, "the server ended the LeaseKeepAlive stream"
            )
            self._lease_stream_failed(error, now)

    def _expire_leases(self, now: float) -> None:
        with self._lock:
            for lease_id in self._lease_core.expired(now):
                self._lease_lost(lease_id, LostReason.DEADLINE)

    def _lease_lost(self, lease_id: int, reason: LostReason) -> None:
        """Tell every subscription (lock held)."""
        for keep_alive in self._keep_alives.pop(lease_id, ()):
            keep_alive._on_lost(
                LeaseExpiredError(
                    f"lease {lease_id:x} lost: {reason.value}", lease_id=lease_id
                )
            )

    # Shutdown -----------------------------------------------------------------

    def _close_streams(self) -> None:
        """Cancel both streams (lock held; the worker is exiting)."""
        for stream in (self._watch_stream, self._lease_stream):
            if stream is not None:
                stream.cancel()
        self._watch_stream = self._lease_stream = None

    def _shutdown(self) -> None:
        """After the thread is gone: end every handle, close the connection."""
        with self._lock:
            self._close_streams()
            watches = list(self._watches.values())
            self._watches.clear()
            self._lease_core.halt()
            keep_alives = [k for ks in self._keep_alives.values() for k in ks]
            self._keep_alives.clear()
        for watch in watches:
            watch._on_end(None)
        for keep_alive in keep_alives:
            keep_alive._on_stopped()
        self._channel.close()
        self._wake_r.close()
        self._wake_w.close()


def _progress(response: rpc_pb2.WatchResponse, watch_id: int) -> rpc_pb2.WatchResponse:
    """The progress notification one watch sees (a broadcast names -1)."""
    if response.watch_id == watch_id:
        return response
    return rpc_pb2.WatchResponse(header=response.header, watch_id=watch_id)


__all__ = ["StreamWorker", "WatchCanceledError"]
