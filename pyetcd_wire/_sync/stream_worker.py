"""The stream worker: the client's one background thread, for watches and
lease keep-alive.

Theory of operation
===================

* One thread per client, named ``pyetcd-wire-streams <endpoint>``, daemon.
  It starts with the first `watch()` or `keep_alive()` and ends once none is
  left (after `LINGER` seconds, so that a watch made right after the last one
  ended reuses it), or at `Client.close()`, which joins it.
* It owns connections of its own (a second `ChannelPool` over the client's
  endpoints and balancer) with at most two streams: one Watch stream for
  every watch and one LeaseKeepAlive stream for every kept-alive lease, so
  the KV calls on the client's connections keep their no-hand-off fast path
  and are never held up by an unread watch.  Each stream is opened on the
  balancer's pick; a stream that fails puts its endpoint in quarantine, so
  it resumes on another endpoint (failover).
* One thread reads that connection at a time: whoever holds the reader role
  (reader_role.py).  A user thread waiting in `Watch.get()` takes it when it
  is free and runs the loop's turns itself (`await_watch`), so an event it
  waits for costs one wake-up; the worker runs turns only while nobody else
  does, and hands the role to a waiting user after its turn.  A turn waits
  in poll(2) on the socket and a wake-up socket, looks after the streams
  when something changed or a timer is due, and routes what arrived.
* What to do with the streams is the driver-neutral managers' (`_managers/`:
  `WatchManager`, `LeaseManager`, shared with the asyncio client) over the
  sans-IO `WatchStream` (_core/watch.py) and `KeepAliveState`
  (_core/lease.py).  User threads change them under `_lock` and wake the
  reader; only the role holder sends and reads, so requests keep their
  order.
* Resume.  When a stream ends with a retryable error (Unavailable, except
  "no leader" for watches; Internal; connection lost or GOAWAY'd and closed)
  the worker opens a new one after a backoff (`BACKOFF_*`) and replays: every
  live watch re-creates itself from the revision after the last one it
  delivered (`WatchStream.reset`), every in-flight keep-alive is sent again
  (`KeepAliveState.stream_reset`).  Any other error ends every watch with it
  (Go's ``isHaltErr``), or halts keep-alive (`KeepAliveHaltedError`).
* Back-pressure (watches.py): at `BACKLOG_LIMIT` bytes queued and not
  taken, the Watch stream's credit is held back, so the server pauses it;
  the reader that brings the backlog down wakes the worker, which gives the
  credit back.  Keep-alive responses are tiny and credited at once; each
  subscription keeps at most `boxes.MAX_QUEUED`.
* Iteration never busy-waits: users sleep on a one-shot `Sleeper` or in
  poll(2), the worker in poll(2) until data, the next keep-alive due, a lease
  deadline, a backoff or a wake-up; while a user thread has the role, the
  worker sleeps and looks again after `STEAL_AFTER`, then less and less
  often (up to `STEAL_MAX`) while user threads keep reading.
"""

from __future__ import annotations

import contextlib
import math
import random
import select
import socket
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Set

from .._client.pool import ChannelPool
from .._client.tokens import CallMetadata
from .._core.grpc.metadata import Metadata
from .._managers.boxes import KeepAliveBox
from .._managers.leases import LeaseManager
from .._managers.ports import StreamNotReadyError, StreamPort, WatchSink
from .._managers.watches import WatchManager
from .._policy.auth import first_token
from .._policy.endpoints import Endpoint, parse_endpoint
from .._proto import rpc_pb2
from ..errors import ClientClosedError, EtcdError
from .auth import TokenSource
from .channel import Channel, Stream
from .connection import Connection
from .lease_keepalive import KeepAlive
from .reader_role import WORKER, ReaderRole, Sleeper
from .watch import Watch

#: Seconds the worker stays up with nothing to do before it exits.
LINGER = 1.0
#: Bound on one write of the worker (the server is not reading if it passes).
SEND_TIMEOUT = 5.0

#: While user threads read (hold the reader role, or took it since the last
#: look), the worker still wakes to take it if they stopped: first after
#: STEAL_AFTER seconds, then twice as long each time it finds them reading,
#: up to STEAL_MAX.  What arrives while nobody waits (a reset to resume from,
#: a PING) is read that late at most; lease timers wake it on time anyway.
#: Waking on every release instead would cost each event two thread switches,
#: and every wake-up costs the most to a consumer that reads in bursts (a
#: cold thread: the replay benchmark measured 100 µs each at a fixed 0.1 s).
STEAL_AFTER = 0.1
STEAL_MAX = 1.0

_NEVER = float("inf")


class StreamWorker:
    """Watches and keep-alives of one client; see the module docstring.

    Args:
        pool: the worker's own channels to the client's endpoints (second
            connections, see above).
        metadata: the client's metadata: `.calls` is sent on the Watch
            stream, `.lease` on the LeaseKeepAlive stream (Go sends that one
            with require-leader, so a member without a leader refuses it);
            read at each open, so a new token is used.
        first_response_timeout: seconds a new keep-alive may wait for its
            first response before the lease counts as lost.
        auth: the client's token source (password auth), or None: a stream
            opens with a token (`_policy/auth.py`), and one refused for its
            stale token is opened again with a new one.
        keepalive: the connections have PING keepalive (the loop then wakes
            for their checks).
    """

    def __init__(
        self,
        pool: ChannelPool[Channel],
        *,
        metadata: CallMetadata,
        first_response_timeout: float,
        auth: Optional[TokenSource] = None,
        keepalive: bool = False,
    ) -> None:
        self._pool = pool
        self._keepalive_on = keepalive
        self._metadata = metadata
        self._auth = auth
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._woken = False
        # The loop's state, shared by whoever holds the reader role.
        self._role = ReaderRole()
        self._poll = select.poll()
        self._wake_fd = self._wake_r.fileno()
        self._poll.register(self._wake_fd, select.POLLIN)
        self._polled: Dict[int, Connection] = {}
        self._dirty = True  # something changed: look after streams now
        self._ready_again = False  # an open waited for what is ready now
        self._tend_at = 0.0  # when streams and timers next need it anyway
        self._idle_since: Optional[float] = None
        self._watches = WatchManager(
            self._lock,
            threading.Lock(),
            random.random,
            metadata=metadata,
            wake=self._wake,
            on_stream_failed=self._stream_failed,
            refresh_token=self._refresh_token,
            all_quarantined=pool.balancer.all_quarantined,
            anonymous=auth is None,
        )
        self._leases = LeaseManager(
            self._lock,
            random.random,
            metadata=metadata,
            first_response_timeout=first_response_timeout,
            on_stream_failed=self._stream_failed,
            refresh_token=self._refresh_token,
        )

    @property
    def thread(self) -> Optional[threading.Thread]:
        """The background thread while it runs (for tests and diagnostics)."""
        return self._thread

    # --- user threads -------------------------------------------------------------

    def add_watch(self, create: rpc_pb2.WatchCreateRequest) -> Watch:
        with self._lock:
            self._check_open()
            watch = self._watches.add(create, lambda w: Watch(self, w))
            self._start_locked()
        self._wake()
        assert isinstance(watch, Watch)
        return watch

    def cancel_watch(self, sink: WatchSink) -> None:
        with self._lock:
            if self._closed or not self._watches.cancel(sink):
                return
        self._wake()

    def request_progress(self) -> None:
        with self._lock:
            if self._closed or not self._watches.request_progress():
                return
        self._wake()

    def _taken(self, size: int) -> None:
        """Readers took `size` bytes of responses (from any thread)."""
        self._watches.taken(size)

    def add_keep_alive(self, lease_id: int) -> KeepAlive:
        with self._lock:
            self._check_open()
            keep_alive = KeepAlive(self, lease_id)
            self._leases.add(keep_alive, time.monotonic())
            self._start_locked()
        self._wake()
        return keep_alive

    def remove_keep_alive(self, keep_alive: KeepAliveBox) -> None:
        with self._lock:
            if self._closed or not self._leases.remove(keep_alive):
                return  # lost already: the lease was forgotten
        self._wake()

    def close(self) -> None:
        """End every watch and keep-alive, stop the thread, close the
        connection; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            watches = self._watches.stop()
            keep_alives = self._leases.stop()
        for watch in watches:  # readers see it after their current turn
            watch._on_end(None)
        for keep_alive in keep_alives:
            keep_alive._on_stopped()
        self._wake()
        # `_wake` rouses a parked worker only if nobody holds the role; it
        # must see `_closed` now, not after STEAL_AFTER (join() waits for it).
        self._role.wake_parked()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        # A user thread may still be in a turn: wait until it hands the role
        # over (its turn ends at the wake-up above), so nothing polls or
        # reads the sockets we close; within bounds, as close() must return.
        own = Sleeper()
        if thread is not threading.current_thread() and not self._role.claim(
            own, follow=True
        ):
            own.wait(time.monotonic() + SEND_TIMEOUT)
            self._role.unfollow(own)
        self._close_streams()
        self._pool.close()
        for fd in list(self._polled):
            self._unpoll(fd)
        self._wake_r.close()
        self._wake_w.close()
        self._role.release(own)  # to a thread that came late: it sees `_closed`

    def forget(self) -> None:
        """In a forked child (`_fork.py`): the watches and keep-alives are
        the parent's, and so are the connections, which are let go without
        a word to the server; the thread does not exist here.  Takes no
        inherited lock; the worker stays closed."""
        self._lock = threading.Lock()
        self._closed = True
        self._thread = None
        self._role = ReaderRole()
        self._polled = {}
        for watch in self._watches.stop():
            watch._orphan()
        for keep_alive in self._leases.stop():
            keep_alive._orphan()
        self._pool.forget()
        self._wake_r.close()  # the child's copies of the wake-up pair
        self._wake_w.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError()

    def _start_locked(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run,
                name=f"pyetcd-wire-streams {self._pool.balancer.endpoints[0].text}",
                daemon=True,
            )
            self._thread.start()

    def _wake(self) -> None:
        """Make the loop look after its streams soon: wake the reader's poll,
        or the worker if nobody reads."""
        if not self._woken:
            self._woken = True
            with contextlib.suppress(OSError):  # full (already woken) or closed
                self._wake_w.send(b"\0")
        if self._role.holder is None:
            self._role.wake_parked()

    # --- reading: the background thread, or a user thread waiting ----------------

    def await_watch(
        self, watch: Watch, ready: Callable[[], bool], deadline: Optional[float]
    ) -> None:
        """Return once `ready()` (called with the watch's mutex held) or at
        `deadline`.  Reads the stream itself while nobody else does (see
        reader_role.py)."""
        role = self._role
        while True:
            with watch._mutex:
                if ready():
                    return
            if deadline is not None and time.monotonic() >= deadline:
                return
            me = Sleeper()
            # `unsure`: `me` may be queued for the role, or hold it, and an
            # exception (KeyboardInterrupt in the wait) must not leave it so:
            # a role handed to a thread that left is never released, and
            # nothing would read the streams again.
            holding, unsure = False, True
            try:
                holding = role.claim(me, follow=True)
                if not holding:
                    self._follow(watch, me, ready, deadline)
                    holding = role.unfollow(me)
                unsure = False
                if not holding:
                    continue
                self._read_until(watch, ready, deadline)
            finally:
                if unsure:
                    holding = role.unfollow(me)
                if holding and role.release(me) and (self._woken or self._dirty):
                    # Left a wake-up, or the work one asked for, unhandled.
                    role.wake_parked()

    def _follow(
        self,
        watch: Watch,
        me: Sleeper,
        ready: Callable[[], bool],
        deadline: Optional[float],
    ) -> None:
        """Wait (as a follower of the reader role) until `ready()`, the role
        is handed over, or `deadline`."""
        if self._role.holder is WORKER:
            self._wake()  # the worker hands over after its turn
        with watch._mutex:
            if ready():
                return
            watch._sleepers.append(me)
        try:
            me.wait(deadline)
        finally:
            with watch._mutex:
                if me in watch._sleepers:
                    watch._sleepers.remove(me)

    def _read_until(
        self, watch: Watch, ready: Callable[[], bool], deadline: Optional[float]
    ) -> None:
        while not self._closed:
            # First: the role may come with the news already routed (by the
            # turn of whoever handed it over); a turn would then wait in
            # poll() for something else, up to `deadline`.
            with watch._mutex:
                if ready():
                    return
            max_wait = None
            if deadline is not None:
                max_wait = deadline - time.monotonic()
                if max_wait <= 0:
                    return
            self._guarded_turn(max_wait, worker=False)

    def _guarded_turn(self, max_wait: Optional[float], *, worker: bool) -> bool:
        """`_turn`, but a bug in it ends every watch and keep-alive with an
        error that says so, instead of leaving them waiting on a reader that
        died (the silent keep-alive death users of other clients report)."""
        try:
            return self._turn(max_wait, worker=worker)
        except Exception as exc:
            self._fail_everything(exc)
            raise

    def _fail_everything(self, exc: Exception) -> None:
        error = EtcdError(f"pyetcd-wire's stream worker failed: {exc!r}")
        error.__cause__ = exc
        with self._lock:
            self._watches.fail_all(error)
            self._leases.halt(str(error))
        self._dirty = True  # the streams close on the next turn: nothing is live

    def _run(self) -> None:
        role = self._role
        steal_after = STEAL_AFTER
        while not self._closed:
            park = Sleeper()
            eager = self._woken or self._dirty or time.monotonic() >= self._tend_at
            if not role.park(park, eager=eager):
                if self._closed:  # close() may have looked before we parked
                    return
                # A user thread reads, and holds the role only while it
                # waits.  Wake for timers (which the loop must serve even if
                # that thread is busy elsewhere), and to take the role if the
                # users stopped reading (see STEAL_AFTER).
                park.wait(min(self._tend_at, time.monotonic() + steal_after))
                steal_after = min(steal_after * 2, STEAL_MAX)
                continue
            steal_after = STEAL_AFTER
            try:
                done = self._guarded_turn(None, worker=True)
            except Exception:
                done = True  # everything was told why; a new watch starts anew
                with self._lock:
                    self._thread = None
            finally:
                role.release(WORKER)
            if done:
                return

    def _turn(self, max_wait: Optional[float], *, worker: bool) -> bool:
        """One turn of the loop (reader role held): look after the streams if
        needed, wait for the socket, a wake-up or a timer (at most `max_wait`
        seconds), route what came.  True when the worker should exit (idle
        for LINGER, or closed)."""
        now = time.monotonic()
        if self._dirty or now >= self._tend_at:
            # The slow part of a turn; an event arriving on a quiet loop skips
            # it (one poll, one recv, the routing).
            if self._look(now, worker=worker):
                return True
            if self._read_since(now):
                # This look read a socket (the pump, or a stream opened on a
                # connection that first drained what had come): what it
                # routed may be what the caller waits for, and the socket may
                # be empty now.  End the turn instead of waiting in poll().
                max_wait = 0.0
        timeout = self._tend_at - now
        if max_wait is not None and max_wait < timeout:
            timeout = max_wait
        keepalive_at = self._keepalive_next() if self._keepalive_on else None
        if keepalive_at is not None and keepalive_at - now < timeout:
            timeout = max(0.0, keepalive_at - now)
        if timeout == _NEVER:
            ready = self._poll.poll()
        else:  # in whole ms, rounded up: never wake early and spin
            ready = self._poll.poll(max(0, math.ceil(timeout * 1000.0)))
        for fd, _ in ready:
            if fd == self._wake_fd:
                self._drain_wakeups()
                self._watches.release_backlog()
                self._dirty = True
            else:
                conn = self._polled.get(fd)
                if conn is not None and not conn.pump():
                    self._dirty = True  # lost: stop polling it
        if keepalive_at is not None and time.monotonic() >= keepalive_at:
            for conn in list(self._polled.values()):
                conn.keepalive_check()  # a lost one ends its streams
        if self._watches.read(time.monotonic()):
            self._dirty = True
        if self._leases.read(time.monotonic()):
            self._dirty = True
        if worker and self._role.followed:
            self._role.release(WORKER)  # hand over; the caller's release is a no-op
        return False

    def _look(self, now: float, *, worker: bool) -> bool:
        """Look after the streams and timers (reader role held): open, send,
        resume, close, and find when to look next.  True when the worker
        should exit (idle for LINGER, or closed)."""
        with self._lock:
            if self._closed:
                return True
            if not self._idle():
                self._idle_since = None
            elif self._idle_since is None:
                self._idle_since = now
            elif worker and now - self._idle_since >= LINGER:
                self._thread = None
                self._idle_since = None
                return True
        if len(self._leases):
            # A renewal may wait unread in the socket (nobody had the role):
            # read it before a deadline declares the lease lost.
            self._pump()
            self._watches.read(now)
            self._leases.read(now)
        self._watches.tend(now, self._open, self._send)
        self._leases.tend(now, self._open, self._send)
        self._tend_at = self._next_wakeup(now, self._idle_since)
        if self._ready_again:  # a stream waits to open: no timer says so
            self._ready_again = False
            self._tend_at = now
        self._poll_sockets()
        self._dirty = False
        return False

    def _keepalive_next(self) -> Optional[float]:
        """When a polled connection next needs a keepalive check."""
        times = [t for t in (c.keepalive_next() for c in self._polled.values()) if t]
        return min(times) if times else None

    def _idle(self) -> bool:
        return not len(self._watches) and not len(self._leases)

    def _next_wakeup(self, now: float, idle_since: Optional[float]) -> float:
        """When the worker must next look after streams and timers."""
        wakeups = [
            t
            for t in (self._leases.next_wakeup(now), self._watches.next_wakeup(now))
            if t is not None
        ]
        if idle_since is not None:
            wakeups.append(idle_since + LINGER)
        return min(wakeups) if wakeups else _NEVER

    def _drain_wakeups(self) -> None:
        # Drain, then clear: a waker that still sees True changed its state
        # before the loop's next `_tend_*`, which will see it.
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        self._woken = False

    def _open_streams(self) -> List[Stream]:
        streams = (self._watches.stream, self._leases.stream)
        return [s for s in streams if isinstance(s, Stream)]

    def _poll_sockets(self) -> None:
        """Make the poll wait on the sockets of the live streams' connections.
        The poll knows them by number, so each is held open while polled
        (`Connection.hold_fd`): a closed socket's number may come back on a
        new one, which the poll would then watch instead.  A stream that
        ended since the managers looked (its connection closed by another
        thread, which does not wake this loop) is seen to at once."""
        streams = self._open_streams()
        live = {id(s.connection): s.connection for s in streams if not s.ended}
        for fd, conn in list(self._polled.items()):
            if live.pop(id(conn), None) is not conn or conn.closed:
                self._unpoll(fd)
        for conn in live.values():
            held = conn.hold_fd()
            if held is not None:
                self._poll.register(held, select.POLLIN)
                self._polled[held] = conn
        # Checked after the holds: a stream ending from now on either brings
        # data or shuts a polled socket down, and both wake the poll.
        if any(s.ended for s in streams):
            self._tend_at = 0.0

    def _unpoll(self, fd: int) -> None:
        self._poll.unregister(fd)
        self._polled.pop(fd).release_fd()

    def _read_since(self, when: float) -> bool:
        """Did a stream's connection read anything at or after `when`?"""
        return any(s.connection.last_read >= when for s in self._open_streams())

    def _pump(self) -> None:
        pumped: Set[int] = set()
        for stream in self._open_streams():
            conn = stream.connection
            if id(conn) not in pumped:
                pumped.add(id(conn))
                conn.pump()

    def _open(self, path: str, metadata: Metadata) -> Stream:
        fetch = first_token(self._auth)
        if fetch is not None and self._auth is not None:
            # The first token (an Authenticate that fails fails this open),
            # then the open again at once, on the next turn, with the
            # metadata carrying it.
            self._auth.refresh(fetch)
            self._ready_again = True
            raise StreamNotReadyError
        channel = self._pool.pick()
        try:
            return channel.bidi_stream(path, metadata=metadata)
        except EtcdError as exc:
            self._pool.stream_failed(channel.endpoint, exc)
            raise

    def _stream_failed(self, stream: StreamPort, error: EtcdError) -> None:
        self._pool.stream_failed(parse_endpoint(stream.connection.endpoint), error)

    def _refresh_token(self) -> bool:
        """For the managers: a new token (a stream was refused for its stale
        one); True if one is in place (False without password auth, or if
        Authenticate failed: the stream's error stands)."""
        auth = self._auth
        if auth is None:
            return False
        try:
            auth.refresh(auth.generation)
        except EtcdError:
            return False
        return True

    def set_endpoints(self, endpoints: Sequence[Endpoint]) -> None:
        """Streams on endpoints no longer listed end and resume elsewhere."""
        self._pool.set_endpoints(endpoints)
        self._dirty = True
        self._wake()  # the reader may be in poll() on a socket just closed

    def _send(self, stream: StreamPort, messages: List[bytes]) -> None:
        assert isinstance(stream, Stream)
        try:
            stream.send_many(messages, SEND_TIMEOUT)
        except EtcdError as exc:
            # The stream is failing; it ends (and resumes) through its slot.
            stream.connection.close_with(exc)

    # Shutdown -----------------------------------------------------------------

    def _close_streams(self) -> None:
        """Cancel both streams (the client is closing)."""
        self._watches.close_stream()
        self._leases.close_stream()


__all__ = ["StreamWorker"]
