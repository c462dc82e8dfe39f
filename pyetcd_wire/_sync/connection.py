"""One HTTP/2 connection shared by many threads, with no thread of its own.

Theory of operation.

* All protocol decisions live in the sans-IO `GrpcConnection`; this module
  only moves bytes and wakes threads.  A lock guards the core.  Decisions are
  made under it; socket I/O is done outside it.
* Reading uses a leader/follower scheme: a thread waiting for its call's
  result takes the *reader role* if no one holds it, reads the socket, feeds
  the core and hands every event to the call it belongs to.  Other waiting
  threads sleep on a private lock until their call progresses or the role is
  handed to them.  So a sequential unary call is done entirely on the calling
  thread (no hand-off), and N threads share one socket with one reader.
* Writing uses a *writer role* the same way: the core's outbound buffer is the
  queue; whoever finds no writer active drains it.  Bytes a timed-out writer
  could not send stay first in line, so frames are never torn.
* Control-frame replies (PING ACK, WINDOW_UPDATE) produced while reading are
  sent on the reader's next turn, or with the next request when the reader's
  own call just ended: grpc-go sends a BDP PING per unary call, and answering
  it with the next request halves those pings (grpc-go sends one BDP PING per
  response while its previous one is unanswered).
* A connection that has sat unread for a while is drained before reuse, so a
  GOAWAY or EOF that arrived meanwhile is seen before a request is sent.
* Closing never pulls the socket from under a thread using it.  Any thread
  may close a connection (the client, a channel replacing it, keepalive, a
  reader meeting EOF) while another holds the reader or writer role, or
  polls the descriptor (`hold_fd`).  Close shuts the socket down, which
  wakes them: a recv returns EOF, a send fails, a poll reports it, so each
  ends its call with the connection's ConnectionLostError.  The descriptor
  itself is closed by whoever lets go of the socket last
  (`_close_if_unused`): closed earlier, a thread about to call the socket
  (recv, send, setsockopt) would get EBADF, an untyped OSError (issue 14),
  and the descriptor's number could go to a new socket while a poll still
  watches it by number.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from collections import deque
from typing import Deque, List, Optional, Tuple, Union

from .. import _log
from .._client import dial_errors
from .._client.loaded import instance_of_loaded
from .._core.grpc import events as ge
from .._core.grpc.call import Call
from .._core.grpc.connection import (
    ABANDONED_GRACE,
    CallsNotAcceptedError,
    GrpcConnection,
    GrpcEvent,
)
from .._core.grpc.metadata import Metadata
from .._core.grpc.outcome import raise_for, unary_outcome
from .._core.grpc.status import Status, StatusCode
from .._core.state import CallState
from .._policy.ping import Due, PingKeepalive
from ..errors import (
    ConnectionLostError,
    DeadlineExceededError,
    EtcdError,
)
from . import transport

# Read size: four of etcd's 16 KiB DATA frames per recv.  Not more: the
# buffer of each recv is allocated for this size, then shrunk to what came,
# and 256 KiB cost a sequential call some 40 µs of CPU on CPython (glibc maps
# and unmaps so large a block each time) and 10-120 µs on PyPy (measured:
# sequential serializable gets, 32, 64 and 256 KiB, both interpreters).  Not
# less than two TLS records (tls_socket.RECORD_MAX): a raw read of TLS then
# leaves nothing decrypted behind (tls_socket.py, rule 1).
READ_SIZE = 64 * 1024
# A connection unread for this long is drained before it carries a request.
IDLE_CHECK_SECONDS = 1.0
# Control replies held for the next request, at most (octets): a normal
# exchange holds one PING ACK (17).  The core counts the replies it queues
# against its flood limit only until they are taken from it, so held ones
# must have a bound of their own: past it they are sent at once, and a
# server flooding PINGs between a call's message and its trailers is
# answered as it floods, not with a backlog that grows with the flood.
DEFERRED_MAX = 1024
# How long a cancel (RST_STREAM) or a control reply may hold a caller whose
# deadline has passed, waiting for room in the socket: what is not sent by
# then waits in line for the next writer, the frames whole.
PAST_DEADLINE_SEND_SECONDS = 0.01


class ConnectionRetiredError(ConnectionLostError):
    """This connection takes no new calls; the call was not sent.  The
    channel then starts it on a new connection."""


class _Slot:
    """What a waiting thread needs to know about its call."""

    __slots__ = ("asleep", "error", "headers", "messages", "status", "wakeup")

    def __init__(self) -> None:
        self.messages: Deque[bytes] = deque()
        self.headers: Optional[Tuple[Tuple[bytes, bytes], ...]] = None
        self.status: Optional[Status] = None
        self.error: Optional[EtcdError] = None
        self.wakeup: Optional[threading.Lock] = None
        self.asleep = False


class Connection:
    """A socket plus its `GrpcConnection`, shared by threads."""

    def __init__(
        self,
        sock: transport.SocketLike,
        core: GrpcConnection,
        endpoint: str,
        keepalive: Optional[PingKeepalive] = None,
    ) -> None:
        self.endpoint = endpoint
        self._keepalive = keepalive
        self._sock = sock
        # Not `TLSSocket` itself: plaintext connections do not import it (ssl).
        self._plaintext = not instance_of_loaded(
            sock, f"{__package__}.tls_socket", "TLSSocket"
        )
        self._core = core
        self._lock = threading.Lock()
        self._reading = False
        self._writing = False
        self._unsent = b""  # bytes a timed-out writer left: first in line
        self._deferred = b""  # control replies held for the next request
        self._sleepers: List[_Slot] = []
        self._dead: Optional[EtcdError] = None
        self._shut = False  # shut down: closed once nobody uses it
        self._fd_holds = 0  # threads polling the descriptor (`hold_fd`)
        # When bytes last came from the server, and when a reader last looked.
        self.last_read = self._last_look = time.monotonic()
        self._timeouts = transport.KernelTimeouts(sock)
        self._fd = sock.fileno()
        # For `probe`: is anything waiting?  poll(2), not a recv: no
        # exception to raise and catch when nothing is (the usual case).
        self._readable = select.poll()
        self._readable.register(self._fd, select.POLLIN)
        core.initiate()  # the preface goes out with the first request

    # --- public -----------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """True while new calls may start here."""
        return self._dead is None and self._core.accepts_calls

    @property
    def idle(self) -> bool:
        return self._core.active_calls == 0

    @property
    def closed(self) -> bool:
        return self._dead is not None

    def unary(
        self,
        path: str,
        request: bytes,
        *,
        deadline: Optional[float],
        metadata: Metadata = (),
        probe: bool = False,
        cancellable: bool = True,
    ) -> Tuple[bytes, Call, _Slot]:
        """One request, one response message; also the call and its slot, for
        callers that want the response metadata.  `probe`: look for news from
        the server first (see `_start`).  `cancellable=False`: a call given
        up is abandoned, not cancelled on the server
        (`GrpcConnection.cancel_call`).

        Raises:
            EtcdError: see `Channel.unary`.
        """
        slot = _Slot()
        call, reader = self._start(
            slot,
            deadline,
            path,
            metadata,
            request,
            probe=probe,
            cancellable=cancellable,
        )
        self._wait(call, slot, deadline, False, reader)
        messages = slot.messages
        if slot.error is None and len(messages) == 1:
            status = slot.status
            if status is not None and status.code is StatusCode.OK:
                return messages[0], call, slot
        return self._unary_result(call, slot), call, slot

    def start_stream(
        self,
        path: str,
        *,
        deadline: Optional[float],
        metadata: Metadata = (),
        request: Optional[bytes] = None,
    ) -> Tuple[Call, _Slot]:
        """Start a server-streaming (`request` given) or bidi call."""
        slot = _Slot()
        call, reader = self._start(slot, deadline, path, metadata, request, True)
        if reader:
            self._release_reader()  # streams read when iterated
        return call, slot

    def end_stream(self, call: Call, deadline: Optional[float]) -> None:
        with self._lock:
            if call.state is CallState.CLOSED:
                return
            self._core.end_call(call)
            data = self._write_locked_start()
        if data:
            self._write(data, deadline)

    def next_message(
        self, call: Call, slot: _Slot, deadline: Optional[float]
    ) -> Optional[bytes]:
        """The stream's next message, or None when it ended OK.

        Raises:
            EtcdError: the stream ended with an error, or the deadline passed.
        """
        if not slot.messages and slot.status is None:
            self._wait(call, slot, deadline, need_message=True)
        with self._lock:
            if slot.messages:
                message = slot.messages.popleft()
                self._core.message_consumed(call)
                data = self._write_locked_start()
            else:
                message, data = None, b""
        if data:
            self._write(data, deadline)
        if message is not None:
            return message
        self._raise_for(slot)
        return None

    def send_messages(
        self,
        call: Call,
        messages: List[bytes],
        deadline: Optional[float],
        *,
        end: bool = False,
    ) -> None:
        """Queue messages on a stream (`end`: the last ends the request
        side) and write them in one batch."""
        with self._lock:
            if self._dead is not None:
                raise self._dead
            last = len(messages) - 1
            for i, message in enumerate(messages):
                self._core.send_message(call, message, end=end and i == last)
            data = self._write_locked_start()
        if data:
            self._write(data, deadline)

    def message_consumed(self, call: Call, count: int = 1) -> None:
        """`count` messages a caller took straight from the slot (with
        `take_messages`) are done with: stream credit may go back."""
        with self._lock:
            if self._dead is not None or call.state is CallState.CLOSED:
                return
            for _ in range(count):
                self._core.message_consumed(call)
            data = self._write_locked_start()
        if data:
            with contextlib.suppress(EtcdError):  # reaches the calls via _lost
                self._write(data, time.monotonic() + 5.0)

    def hold_fd(self) -> Optional[int]:
        """The socket's descriptor, for a thread that waits for it with
        poll(2) and then calls `pump()`; None if the connection is closed.
        The descriptor stays open (its number is not reused) until
        `release_fd()`."""
        with self._lock:
            if self._shut:
                return None
            self._fd_holds += 1
            return self._fd

    def release_fd(self) -> None:
        """The caller of `hold_fd` no longer polls the descriptor."""
        with self._lock:
            self._fd_holds -= 1
            self._close_if_unused()

    def pump(self) -> bool:
        """Read what the socket has now, without blocking, and route it to
        the slots.  For a connection with one reading thread (the stream
        worker).  Returns False once the connection is lost."""
        with self._lock:
            if self._dead is not None:
                return False
            if self._reading:  # someone else reads; they will route it
                return True
            self._reading = True
        try:
            self._read_nowait(drain=False)
        finally:
            self._release_reader()
        return self._dead is None

    def cancel(self, call: Call, send_for: float = 1.0) -> None:
        """Cancel a call (RST_STREAM CANCEL); idempotent.  A draining
        connection (GOAWAY) whose last call this was closes, as it does when
        its last call is answered (`_received`).  `send_for`: how long the
        RST_STREAM may wait for the socket."""
        with self._lock:
            core = self._core
            if self._dead is None:
                core.cancel_call(call)
            data = self._write_locked_start()
            retired = (
                self._dead is None and not core.accepts_calls and not core.active_calls
            )
        if data:
            # Best effort: if this fails, the connection is failing anyway.
            with contextlib.suppress(EtcdError):
                self._write(data, time.monotonic() + send_for)
        if retired:
            self.close()

    def close(self) -> None:
        """Close the socket; calls still waiting fail with ConnectionLostError.
        Abandoned calls are let end first, for ABANDONED_GRACE seconds at
        most: closing the socket under one (a read-only Txn, which must never
        be cancelled on the server: `GrpcConnection`) crashes etcd
        3.5.0-3.5.4 as a reset does."""
        self._let_abandoned_end(time.monotonic() + ABANDONED_GRACE)
        self.close_with(None)

    def _let_abandoned_end(self, until: float) -> None:
        """Read until no abandoned call is left, or until `until`, if no
        other thread reads (one that does routes their ends itself)."""
        with self._lock:
            if self._dead is not None or self._reading:
                return
            if not self._core.abandoned_calls:
                return
            self._reading = True
        try:
            while self._core.abandoned_calls and self._dead is None:
                remaining = until - time.monotonic()
                if remaining <= 0:
                    return
                try:
                    self._timeouts.for_receive(remaining)
                except OSError as exc:
                    self._lost(dial_errors.describe(exc))
                    return
                if not self._recv_routed(0):
                    return  # the grace is over, or the connection
        finally:
            self._release_reader()

    def close_with(self, error: Optional[EtcdError]) -> None:
        """Close the socket; every call still open ends with `error` (None:
        the ConnectionLostError of a connection the client closed)."""
        with self._lock:
            alive = self._dead is None
            if alive:
                events = self._core.close()
                self._dead = error or ConnectionLostError(
                    "connection closed by the client", endpoint=self.endpoint
                )
                self._dispatch(events)
                if error is not None:
                    # After `_dispatch`, which sets each slot's error from its
                    # event (a generic ConnectionLostError): the calls must
                    # end with `error`, e.g. the RemoteProtocolError of a
                    # malformed message, which is not retried.
                    for event in events:
                        if type(event) is ge.CallEnded:
                            event.call.context.error = error
            sleepers, self._sleepers = self._sleepers, []
        for slot in sleepers:
            self._wake(slot)
        self._close_socket()
        if alive and error is not None:
            _log.connection_lost(self.endpoint, error)

    def forget(self) -> None:
        """In a forked child: close this process's copy of the descriptor and
        nothing more (`_fork.py`).  No shutdown(), which would end the
        parent's connection too, and no TLS close_notify or GOAWAY: the
        parent's copy stays open and its connection goes on.  Whatever still
        refers to this connection fails with ConnectionLostError, without
        taking an inherited lock."""
        self._lock = threading.Lock()
        self._dead = ConnectionLostError(
            "connection inherited from the parent process", endpoint=self.endpoint
        )
        self._reading = self._writing = False
        self._sleepers = []
        self._shut = True
        self._fd_holds = 0
        self._fd = -1
        with contextlib.suppress(OSError):
            self._sock.close()  # TLSSocket.close() closes its raw socket only

    # --- starting calls -----------------------------------------------------------

    def _start(
        self,
        slot: _Slot,
        deadline: Optional[float],
        path: str,
        metadata: Metadata,
        request: Optional[bytes],
        streaming: bool = False,
        probe: bool = False,
        cancellable: bool = True,
    ) -> Tuple[Call, bool]:
        """Start a call: one request (`request`), or a bidi stream (None).

        Also takes the reader role if it is free (saving the waiter a lock
        round trip); returns whether it did.  A connection unread for a while,
        or any with `probe` (a write, which is retried only if it provably
        never reached the server), first has what arrived read: a server that
        died or said GOAWAY since then retires the connection here, so the
        call goes to a new one instead of being lost on this one."""
        now = time.monotonic()
        timeout = None
        if deadline is not None:
            timeout = deadline - now
            if timeout <= 0:
                raise DeadlineExceededError(
                    "deadline exceeded before the call started", endpoint=self.endpoint
                )
        if not self._reading and (
            now - self._last_look > IDLE_CHECK_SECONDS or (probe and self._has_news())
        ):
            self._drain_idle()
        with self._lock:
            if self._dead is not None:
                raise dial_errors.still_closed(self._dead) or (
                    ConnectionRetiredError(
                        f"connection to {self.endpoint} is closed: {self._dead}",
                        endpoint=self.endpoint,
                        not_processed=True,
                    )
                )
            core = self._core
            try:
                if request is None:
                    call = core.start_call(path, metadata=metadata, timeout=timeout)
                else:
                    call = core.unary(
                        path,
                        request,
                        metadata=metadata,
                        timeout=timeout,
                        server_streaming=streaming,
                        cancellable=cancellable,
                    )
            except CallsNotAcceptedError as exc:
                raise ConnectionRetiredError(
                    str(exc), endpoint=self.endpoint, not_processed=True
                ) from None
            call.context = slot
            data = self._write_locked_start()
            reader = not self._reading
            if reader:
                self._reading = True
        if data:
            try:
                self._write(data, deadline, call)
            except BaseException:
                if reader:
                    self._release_reader()
                raise
        return call, reader

    def _has_news(self) -> bool:
        """Is anything waiting in the socket (or is it closed)?  Under the
        lock: a poll object refuses concurrent use, and the descriptor is
        open while the socket is not shut down (see `_close_if_unused`)."""
        with self._lock:
            return self._shut or bool(self._readable.poll(0))

    def _drain_idle(self) -> None:
        """Process what arrived while nobody read (GOAWAY, PING, EOF)."""
        with self._lock:
            if self._reading or self._dead is not None:
                return
            self._reading = True
        try:
            self._read_nowait(drain=True)
        finally:
            self._release_reader()
        self._last_look = time.monotonic()

    def _read_nowait(self, *, drain: bool) -> None:
        """Route what the socket holds now, without blocking: one read, or
        with `drain` every read until it is empty (reader role held)."""
        while self._recv_routed(socket.MSG_DONTWAIT) and drain:
            pass

    def _recv_routed(self, flags: int) -> bool:
        """One recv, its bytes routed (reader role held): False if nothing
        came (it would block, or the kernel timeout fired) or the connection
        is lost (`_lost` ended its calls)."""
        try:
            data = self._sock.recv(READ_SIZE, flags)
        except BlockingIOError:
            return False
        except OSError as exc:
            self._lost_by_peer(dial_errors.describe(exc))
            return False
        if not data:
            self._lost_by_peer("the server closed the connection")
            return False
        self._received(data)
        return True

    # --- waiting and reading ------------------------------------------------------

    def _wait(
        self,
        call: Call,
        slot: _Slot,
        deadline: Optional[float],
        need_message: bool,
        reader: bool = False,
    ) -> None:
        """Return once the call ended (or, if `need_message`, has a message).

        `reader`: the caller already holds the reader role (`_start` took it).
        """
        while True:
            if not reader:
                with self._lock:
                    if slot.status is not None or (need_message and slot.messages):
                        return
                    if self._dead is not None:
                        raise self._dead
                    if not self._reading:
                        self._reading = reader = True
                    else:
                        slot.asleep = True
                        if slot.wakeup is None:
                            slot.wakeup = threading.Lock()
                            slot.wakeup.acquire()
                        self._sleepers.append(slot)
                if not reader:
                    try:
                        self._sleep(slot, deadline, call)
                    except BaseException:
                        self._leave_sleepers(slot)
                        raise
                    continue
            satisfied = False
            try:
                satisfied = self._read_until(call, slot, deadline, need_message)
            finally:
                if not satisfied:
                    self._release_reader()
            if satisfied:
                return
            reader = False

    def _leave_sleepers(self, slot: _Slot) -> None:
        """A sleeping caller leaves for good (its deadline, or an exception
        such as the KeyboardInterrupt of Ctrl-C): its slot must not stay in
        line, where `_release_reader` would wake it instead of a caller that
        is still waiting; and a wake-up it got but will not act on goes to
        the next in line."""
        with self._lock:
            if slot.asleep:
                slot.asleep = False
                self._sleepers.remove(slot)
            elif not self._reading and self._sleepers:
                self._wake(self._sleepers[0])

    def _sleep(self, slot: _Slot, deadline: Optional[float], call: Call) -> None:
        assert slot.wakeup is not None
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        woken = slot.wakeup.acquire(timeout=-1 if timeout is None else timeout)
        with self._lock:
            if slot.asleep:  # timed out, nobody woke us
                slot.asleep = False
                self._sleepers.remove(slot)
            elif not woken:  # woken just after the timeout: consume it
                slot.wakeup.acquire()
        if not woken and slot.status is None and not slot.messages:
            self._deadline_passed(call)

    def _read_until(
        self, call: Call, slot: _Slot, deadline: Optional[float], need_message: bool
    ) -> bool:
        """Read until `slot` is satisfied (True; `_received` has given up the
        reader role) or the connection is lost (False; the caller gives it up)."""
        recv = self._sock.recv
        timeouts = self._timeouts
        keepalive = self._keepalive
        while True:
            remaining = None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._deadline_passed(call)
            if keepalive is not None:
                check = keepalive.next_check(self.last_read) - time.monotonic()
                remaining = check if remaining is None else min(remaining, check)
                remaining = max(remaining, 0.001)
            try:
                timeouts.for_receive(remaining)
                data = recv(READ_SIZE)
            except BlockingIOError:
                # The kernel timeout fired: the deadline, or keepalive's turn.
                if keepalive is not None and not self.keepalive_check(deadline):
                    return False
                continue
            except OSError as exc:
                self._lost_by_peer(dial_errors.describe(exc))
                return False
            if not data:
                self._lost_by_peer("the server closed the connection")
                return False
            if self._received(data, slot, need_message, deadline):
                return True

    def _received(
        self,
        data: bytes,
        own: Optional[_Slot] = None,
        need_message: bool = False,
        deadline: Optional[float] = None,
    ) -> bool:
        """Feed the core and route its events.  When `own` (the reader's slot)
        is satisfied, gives up the reader role and returns True.  Control
        replies are sent within `deadline` (the reader's), if any."""
        self.last_read = self._last_look = time.monotonic()
        if self._keepalive is not None:
            self._keepalive.heard()
        with self._lock:
            core = self._core
            self._dispatch(core.receive_data(data))
            done = own is not None and (
                own.status is not None or (need_message and bool(own.messages))
            )
            idle = not core.active_calls
            # Draining (GOAWAY, ids exhausted) and now idle: nothing more will
            # happen on this connection, so it closes (waking any sleeper).
            retired = idle and self._dead is None and not core.accepts_calls
            # Replies may be held for the next request (below) while nobody
            # writes and the held ones stay under their bound.
            may_hold = not self._writing and len(self._deferred) < DEFERRED_MAX
            if done:
                self._reading = False
                if self._shut:
                    self._close_if_unused()
                if self._sleepers:
                    self._wake(self._sleepers[0])
                elif idle and may_hold and not retired:
                    # No call needs this connection's control replies now:
                    # they ride *behind* the next request instead of costing
                    # a send.  Behind, because grpc-go then still has its BDP
                    # PING outstanding when the request arrives and sends
                    # no new one: half the PINGs.
                    self._deferred += core.data_to_send()
                    return True
            elif (
                may_hold and own is not None and own.messages and core.active_calls == 1
            ):
                # The reader's unary call has its message and waits only for
                # its trailers, which etcd writes right behind it: what came
                # ahead of them (grpc-go's BDP PING) is answered as if it had
                # come with them, behind the next request, not with a send
                # of its own.
                self._deferred += core.data_to_send()
                return False
            out = self._write_locked_start()
        if out:
            # A failure reaches the calls through _lost.
            with contextlib.suppress(EtcdError):
                self._write(out, _send_until(deadline, 5.0))
        if retired:
            self.close()
        return done

    def _dispatch(self, events: List[GrpcEvent]) -> None:
        """Route events to slots (lock held)."""
        for event in events:
            slot: _Slot
            if type(event) is ge.MessageReceived:
                slot = event.call.context
                slot.messages.append(event.message)
            elif type(event) is ge.CallEnded:
                slot = event.call.context
                slot.status = event.status
                slot.error = event.error
            elif type(event) is ge.ResponseHeadersReceived:
                slot = event.call.context
                slot.headers = event.headers
            elif type(event) is ge.ConnectionClosed:
                if event.error is not None and self._dead is None:
                    _log.connection_lost(self.endpoint, event.error)
                self._dead = event.error or ConnectionLostError(
                    "connection closed", endpoint=self.endpoint
                )
                continue
            else:
                if type(event) is ge.GoAway:  # `usable` turns False
                    _log.went_away(self.endpoint, event.error_code, event.debug_data)
                continue  # PingAnswered: unused yet
            if slot.asleep:
                self._wake(slot)

    def _wake(self, slot: _Slot) -> None:
        """Wake a sleeping thread (lock held, or slot already unlisted)."""
        if not slot.asleep:
            return
        slot.asleep = False
        if slot in self._sleepers:
            self._sleepers.remove(slot)
        assert slot.wakeup is not None
        slot.wakeup.release()

    def _release_reader(self) -> None:
        """Give up the reader role, waking a sleeper to take it."""
        with self._lock:
            self._reading = False
            self._close_if_unused()
            if self._sleepers:
                self._wake(self._sleepers[0])

    def keepalive_next(self) -> Optional[float]:
        """When `keepalive_check` has something to do (None: never, for now:
        no keepalive, or no call open)."""
        keepalive = self._keepalive
        if keepalive is None or self._dead is not None or not self._core.active_calls:
            return None
        return keepalive.next_check(self.last_read)

    def keepalive_check(self, deadline: Optional[float] = None) -> bool:
        """PING a silent server, or give the connection up if a PING went
        unanswered (`_policy/ping.py`).  False once it is lost.  The PING is
        sent within `deadline` (the calling reader's), if any."""
        keepalive = self._keepalive
        if keepalive is None:
            return self._dead is None
        now = time.monotonic()
        with self._lock:
            if self._dead is not None:
                return False
            if not self._core.active_calls:
                return True  # idle connections are never pinged
            due = keepalive.due(now, self.last_read)
            if due is Due.PING:
                keepalive.pinged(now)
                self._core.ping(os.urandom(8))
                data = self._write_locked_start()
            else:
                data = b""
        if due is Due.DEAD:
            self._lost(
                f"keepalive: no answer to a PING within {keepalive.timeout:g} s"
                f" (silent for {now - self.last_read:.1f} s)"
            )
            return False
        if data:
            with contextlib.suppress(EtcdError):  # reaches the calls via _lost
                self._write(data, _send_until(deadline, keepalive.timeout))
        return self._dead is None

    def _lost(self, reason: str, error: Optional[EtcdError] = None) -> None:
        with self._lock:
            alive = self._dead is None
            if alive:
                events = self._core.connection_lost(reason, error)
                self._dead = error or ConnectionLostError(
                    f"{self.endpoint}: {reason}", endpoint=self.endpoint
                )
                self._dispatch(events)
        self._close_socket()
        if alive:
            _log.connection_lost(self.endpoint, reason if error is None else error)

    def _lost_by_peer(self, reason: str) -> Optional[EtcdError]:
        """The socket failed or ended (EOF, reset, broken pipe).  Returns the
        error of a server that ended it before answering HTTP/2
        (`dial_errors.closed_before_answer`), if it did."""
        error = dial_errors.closed_before_answer(
            self.endpoint,
            plaintext=self._plaintext,
            answered=self._core.server_preface_received,
        )
        self._lost(reason, error)
        return error

    def _close_socket(self) -> None:
        """Shut the socket down, waking every thread blocked on it (close()
        alone wakes none), and close it if nobody uses it (see the module
        docstring)."""
        with self._lock:
            if self._shut:
                return
            self._shut = True
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._close_if_unused()

    def _close_if_unused(self) -> None:
        """Close a shut-down socket once no thread holds the reader or writer
        role or polls the descriptor (lock held; close(2) does not block)."""
        if (
            self._shut
            and not self._reading
            and not self._writing
            and not self._fd_holds
            and self._fd >= 0
        ):
            self._readable.unregister(self._fd)
            self._fd = -1
            with contextlib.suppress(OSError):
                self._sock.close()

    def _deadline_passed(self, call: Call) -> None:
        self.cancel(call, send_for=PAST_DEADLINE_SEND_SECONDS)
        raise DeadlineExceededError(
            f"deadline exceeded waiting for {call.path} from {self.endpoint}",
            endpoint=self.endpoint,
        )

    # --- writing ----------------------------------------------------------------

    def _write_locked_start(self) -> bytes:
        """Take the writer role and the bytes to write, if no one has it (lock
        held); nothing once the socket is shut down."""
        if self._writing or self._shut:
            return b""
        data = self._core.data_to_send()
        if self._unsent or self._deferred:
            data = self._unsent + data + self._deferred
            self._unsent = self._deferred = b""
        if data:
            self._writing = True
        return data

    def _write(
        self, data: bytes, deadline: Optional[float], call: Optional[Call] = None
    ) -> None:
        """Send `data` (the caller's batch) and whatever is queued behind it,
        then drop the writer role.

        Only a failure to send the caller's own batch is raised; once it is
        out, later failures reach the calls they belong to through `_lost`,
        and bytes a deadline left unsent wait for the next writer.
        """
        send = self._sock.send
        timeouts = self._timeouts
        own = True  # still sending the caller's batch
        rest: Union[bytes, memoryview] = data
        try:
            while rest:
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise DeadlineExceededError(
                            f"deadline exceeded sending to {self.endpoint} (the"
                            " server is not reading)",
                            endpoint=self.endpoint,
                        )
                    timeouts.for_send(remaining)
                else:
                    timeouts.for_send(None)
                try:
                    sent = send(rest)
                except BlockingIOError:
                    sent = 0  # the kernel timeout fired with nothing sent
                if sent < len(rest):
                    # A view: a large batch sent piecemeal is not copied anew
                    # for every piece.
                    rest = memoryview(rest)[sent:]
                    continue
                own = False
                with self._lock:
                    rest = b"" if self._dead is not None else self._core.data_to_send()
                    if not rest:
                        self._writing = False
                        if self._shut:
                            self._close_if_unused()
        except DeadlineExceededError:
            with self._lock:
                self._unsent = bytes(rest) + self._unsent
                self._writing = False
                self._close_if_unused()
            if own:
                raise
        except OSError as exc:
            with self._lock:
                self._writing = False
                self._close_if_unused()
            error = self._lost_by_peer(dial_errors.describe(exc))
            if own:
                raise error or ConnectionLostError(
                    f"{self.endpoint}: {dial_errors.describe(exc)}",
                    endpoint=self.endpoint,
                ) from None

    # --- results ----------------------------------------------------------------

    def _raise_for(self, slot: _Slot) -> None:
        assert slot.status is not None
        raise_for(slot.status, slot.error, self.endpoint)

    def _unary_result(self, call: Call, slot: _Slot) -> bytes:
        assert slot.status is not None
        return unary_outcome(
            call.path, slot.messages, slot.status, slot.error, self.endpoint
        )


def _send_until(deadline: Optional[float], at_most: float) -> float:
    """Until when a reader may wait to send control frames: `at_most`
    seconds, and not past its own call's `deadline` (by more than a grain)."""
    until = time.monotonic() + at_most
    if deadline is None:
        return until
    return min(until, max(deadline, time.monotonic() + PAST_DEADLINE_SEND_SECONDS))


__all__ = ["Connection", "ConnectionRetiredError"]
