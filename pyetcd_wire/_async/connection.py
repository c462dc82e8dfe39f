"""One HTTP/2 connection for asyncio: an `asyncio.BufferedProtocol` around
the sans-IO `GrpcConnection`.

The event loop reads into the connection's own buffer (`get_buffer`), and
hands each read to `buffer_updated`, which feeds the core and routes its
events to the calls waiting on futures.  A buffer of our own, not
`data_received`: for that the loop allocates 256 KiB per read (its
`max_size`), which costs more than the rest of a sequential call's read
(see READ_SIZE in _sync/connection.py).  No task per call, no
thread: a unary call is one future.  Two things are batched per connection,
because per call they cost more than the rest of the call together
(measured: 64 tasks, one send(2) each, 10.8 µs per call):

* writes: what the core has to send goes out once per event-loop turn
  (`call_soon`), so the requests the tasks made in one turn share a send;
* deadlines: one timer for the earliest, over a heap of (deadline, call)
  tuples compared in C, not a `TimerHandle` per call compared in Python.

Cancelling the task that awaits a call cancels the call on the wire
(RST_STREAM CANCEL) and leaves the connection usable.

Streaming calls (`open_stream`, `AsyncStream` in call_stream.py) get their
messages pushed as they arrive: each stream touched by one read is told
once, after the read is routed.  With `keepalive` (a `PingKeepalive` policy), a
timer PINGs a connection that has calls open and has heard nothing for
`keepalive.time`, and gives it up if nothing answers within
`keepalive.timeout` (_policy/ping.py).

Closing.  A connection we give up (the client closes, a dial is replaced, a
GOAWAY'd connection's last call ended, keepalive) is aborted, not closed:
`transport.close()` waits for the write buffer to drain and, with TLS, for
the server's close_notify, so a server that stopped reading kept the socket
open for good (and a loop that stopped meanwhile never closed it).  Nothing
then unsent matters: the server ends the calls of a closed connection.
`socket_closed` is done once the socket is.  One exception: a connection
with abandoned calls (read-only Txns, which must never be cancelled on the
server: `GrpcConnection`) lets them end first, for ABANDONED_GRACE seconds at
most, since closing the socket under one crashes etcd 3.5.0-3.5.4 as a reset
does.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import os
import time
from typing import Any, Callable, List, Optional, Tuple

from .. import _log
from .._client.dial_errors import closed_before_answer, still_closed
from .._core.grpc import events as ge
from .._core.grpc.call import Call
from .._core.grpc.connection import (
    ABANDONED_GRACE,
    CallsNotAcceptedError,
    GrpcConnection,
    GrpcEvent,
)
from .._core.grpc.metadata import Metadata
from .._core.grpc.outcome import unary_outcome
from .._core.grpc.status import Status, StatusCode
from .._core.state import CallState
from .._policy.ping import Due, PingKeepalive
from ..errors import (
    ConnectionLostError,
    DeadlineExceededError,
    EtcdError,
)
from .call_stream import AsyncStream

_OK = StatusCode.OK
#: Deadline heap entries kept before finished calls are pruned (see
#: `_add_deadline`).
_PRUNE_MIN = 1024
# The most one read takes (as the sync driver's: _sync/connection.py).
READ_SIZE = 64 * 1024


class _Waiter:
    """What one call's caller waits on."""

    __slots__ = ("error", "future", "messages", "status")
    streaming = False  # an `AsyncStream` is told of each read instead

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future
        self.messages: List[bytes] = []
        self.status: Optional[Status] = None
        self.error: Optional[EtcdError] = None


class AsyncConnection(asyncio.BufferedProtocol):
    """A connection's protocol; made by `AsyncChannel` with the loop's
    `create_connection`."""

    def __init__(
        self,
        core: GrpcConnection,
        endpoint: str,
        keepalive: Optional[PingKeepalive] = None,
    ) -> None:
        self.endpoint = endpoint
        self._core = core
        self._keepalive = keepalive
        self._keepalive_timer: Optional[asyncio.TimerHandle] = None
        self._transport: Optional[asyncio.Transport] = None
        self._plaintext = True  # no TLS (see `connection_lost`)
        self.dead: Optional[EtcdError] = None
        self._loop = asyncio.get_running_loop()
        self.last_read = time.monotonic()  # when the server last sent bytes
        self._read_view = memoryview(bytearray(READ_SIZE))  # what the loop reads into
        self._flush_pending = False
        # (loop time, sequence, waiter): deadlines, the earliest first; a
        # waiter done meanwhile is skipped when its deadline comes.
        self._deadlines: List[Tuple[float, int, _Waiter]] = []
        self._deadline_timer: Optional[asyncio.TimerHandle] = None
        self._deadline_at = 0.0  # when the timer fires (loop time)
        self._sequence = 0
        self._prune_at = _PRUNE_MIN  # heap size at which finished calls go
        #: Done once the socket is closed (`connection_lost` ran).
        self.socket_closed: asyncio.Future[None] = self._loop.create_future()
        # Set by a close that waits for abandoned calls: it closes at the end.
        self._close_timer: Optional[asyncio.TimerHandle] = None

    # --- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._plaintext = transport.get_extra_info("ssl_object") is None
        self._core.initiate()
        self._flush()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._read_view

    def buffer_updated(self, nbytes: int) -> None:
        # A copy: the core keeps views of what it is given (framing.py).
        self._received(self._read_view[:nbytes].tobytes())

    def _received(self, data: bytes) -> None:
        self.last_read = time.monotonic()
        keepalive = self._keepalive
        if keepalive is not None and keepalive.ping_sent_at is not None:
            # Answered: the next check is keepalive_time after this read, not
            # the unanswered PING's deadline the timer was armed for.
            keepalive.heard()
            if self._keepalive_timer is not None:
                self._keepalive_timer.cancel()
            self._arm_keepalive()
        self._dispatch(self._core.receive_data(data))
        self._flush_or_retire()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        reason = str(exc) if exc else "the server closed the connection"
        # The error of a server that ended it before answering HTTP/2, or
        # None.  (If we closed it, `dead` is set.)
        error = closed_before_answer(
            self.endpoint,
            plaintext=self._plaintext,
            answered=self._core.server_preface_received,
        )
        if self.dead is None:
            self.dead = error or ConnectionLostError(
                f"{self.endpoint}: connection lost: {reason}", endpoint=self.endpoint
            )
            _log.connection_lost(self.endpoint, error or reason)
        self._stop_timers()
        self._dispatch(self._core.connection_lost(reason, error))
        if not self.socket_closed.done():
            self.socket_closed.set_result(None)

    # --- calls ---------------------------------------------------------------

    @property
    def usable(self) -> bool:
        return (
            self.dead is None and self._close_timer is None and self._core.accepts_calls
        )

    @property
    def active(self) -> bool:
        """True while calls are in flight."""
        return bool(self._core.active_calls)

    async def unary(
        self,
        path: str,
        request: bytes,
        *,
        timeout: Optional[float],
        metadata: Metadata = (),
        cancellable: bool = True,
    ) -> bytes:
        """One request, one response message.  `cancellable=False`: a call
        given up (deadline, task cancelled) is abandoned, not cancelled on
        the server (`GrpcConnection.cancel_call`).

        Raises:
            DeadlineExceededError: `timeout` passed (the call is cancelled).
            ConnectionLostError: the connection ended first.
            RpcError: the server answered with a non-OK status.
        """
        if self.dead is not None:
            self._check_usable()
        try:
            call = self._core.unary(
                path,
                request,
                metadata=metadata,
                timeout=timeout,
                cancellable=cancellable,
            )
        except CallsNotAcceptedError as exc:  # GOAWAY, or stream ids used up
            self.dead = ConnectionLostError(str(exc), endpoint=self.endpoint)
            raise ConnectionLostError(
                str(exc), endpoint=self.endpoint, not_processed=True
            ) from None
        waiter = _Waiter(self._loop.create_future())
        call.context = waiter
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush)
        if self._keepalive is not None and self._keepalive_timer is None:
            self._arm_keepalive()
        if timeout is not None:
            self._add_deadline(waiter, timeout)
        try:
            await waiter.future
        except BaseException as exc:  # deadline, or the task was cancelled
            self._core.cancel_call(call)
            self._flush_or_retire()
            if isinstance(exc, _DeadlineError):
                raise DeadlineExceededError(
                    f"deadline exceeded waiting for {path} from {self.endpoint}",
                    endpoint=self.endpoint,
                ) from None
            raise
        status = waiter.status
        assert status is not None
        messages = waiter.messages
        if status.code is _OK and waiter.error is None and len(messages) == 1:
            return messages[0]  # the common case; unary_outcome decides the rest
        return unary_outcome(path, messages, status, waiter.error, self.endpoint)

    def open_stream(
        self,
        path: str,
        *,
        metadata: Metadata = (),
        request: Optional[bytes] = None,
        timeout: Optional[float] = None,
        on_news: Optional[Callable[[], None]] = None,
    ) -> AsyncStream:
        """Start a streaming call: bidirectional, or server-streaming with
        its one `request`.  `on_news` is called after each read that brought
        the stream messages or its end (it reads them with
        `AsyncStream.take_messages`).

        Raises:
            ConnectionLostError: the connection takes no new calls.
            ResourceExhaustedError: `request` is too large.
        """
        self._check_usable()
        try:
            if request is None:
                call = self._core.start_call(path, metadata=metadata, timeout=timeout)
            else:
                call = self._core.unary(
                    path,
                    request,
                    metadata=metadata,
                    timeout=timeout,
                    server_streaming=True,
                )
        except CallsNotAcceptedError as exc:
            self.dead = ConnectionLostError(str(exc), endpoint=self.endpoint)
            raise ConnectionLostError(
                str(exc), endpoint=self.endpoint, not_processed=True
            ) from None
        stream = AsyncStream(self, call, on_news)
        call.context = stream
        self._flush_soon()
        if self._keepalive is not None and self._keepalive_timer is None:
            self._arm_keepalive()
        return stream

    def send_messages(self, call: Call, messages: List[bytes], *, end: bool) -> None:
        """Queue request messages on a stream (`end`: the last half-closes)."""
        if self.dead is not None:
            raise self.dead
        last = len(messages) - 1
        for i, message in enumerate(messages):
            self._core.send_message(call, message, end=end and i == last)
        self._flush_soon()

    def message_consumed(self, call: Call, count: int) -> None:
        """`count` messages of a stream are done with: credit may go back."""
        if self.dead is not None or call.state is CallState.CLOSED:
            return
        for _ in range(count):
            self._core.message_consumed(call)
        self._flush_soon()

    def cancel_call(self, call: Call) -> None:
        if self.dead is None and call.state is not CallState.CLOSED:
            self._core.cancel_call(call)
            self._flush_or_retire()

    def _flush_or_retire(self) -> None:
        """After a call ended: a draining connection (GOAWAY, stream ids used
        up) that is now idle closes, whether its last call was answered or
        given up; any other has its writes flushed."""
        core = self._core
        if self.dead is None and (
            (not core.accepts_calls and not core.active_calls)
            or (self._close_timer is not None and not core.abandoned_calls)
        ):
            self.close_with(None)
        else:
            self._flush_soon()

    def forget(self) -> None:
        """In a forked child: close this process's copy of the descriptor and
        nothing more, not through the parent's loop (`_fork.py`; as
        `Connection.forget`).  What still refers to this connection fails
        with ConnectionLostError."""
        self.dead = ConnectionLostError(
            "connection inherited from the parent process", endpoint=self.endpoint
        )
        transport, self._transport = self._transport, None
        if transport is None:
            return
        # The transport's socket, wrapped since Python 3.8 in a TransportSocket
        # that offers no close(); closing it marks it closed (no double close).
        sock = transport.get_extra_info("socket")
        sock = getattr(sock, "_sock", sock)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        """Close the connection; calls in flight fail with ConnectionLostError.
        Abandoned calls are let end first (see the module docstring): the
        close then comes when the last one ends, or at ABANDONED_GRACE."""
        if self.dead is None and self._core.abandoned_calls:
            if self._close_timer is None:
                self._close_timer = self._loop.call_later(
                    ABANDONED_GRACE, self.close_with, None
                )
            return
        self.close_with(None)

    def close_with(self, error: Optional[EtcdError]) -> None:
        """Close the connection; every call still open ends with `error`
        (None: the ConnectionLostError of a connection the client closed)."""
        if self.dead is None:
            if error is not None:
                _log.connection_lost(self.endpoint, error)
            self.dead = error or ConnectionLostError(
                "the client closed the connection", endpoint=self.endpoint
            )
            events = self._core.close()
            if error is not None:
                # The calls must end with `error` (e.g. the RemoteProtocolError
                # of a malformed message, which is not retried), not the
                # core's generic ConnectionLostError.
                events = [
                    ge.CallEnded(call=e.call, status=e.status, error=error)
                    if type(e) is ge.CallEnded
                    else e
                    for e in events
                ]
            self._dispatch(events)
        self._flush()
        self._stop_timers()
        if self._transport is not None:
            self._transport.abort()  # see "Closing" in the module docstring

    # --- plumbing --------------------------------------------------------------

    def _check_usable(self) -> None:
        if self.dead is not None:
            raise still_closed(self.dead) or ConnectionLostError(
                f"connection to {self.endpoint} is closed: {self.dead}",
                endpoint=self.endpoint,
                not_processed=True,
            )

    def _stop_timers(self) -> None:
        for timer in (self._deadline_timer, self._keepalive_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._deadline_timer = self._keepalive_timer = self._close_timer = None

    def _arm_keepalive(self) -> None:
        keepalive = self._keepalive
        assert keepalive is not None
        delay = keepalive.next_check(self.last_read) - time.monotonic()
        self._keepalive_timer = self._loop.call_later(
            max(0.0, delay), self._keepalive_check
        )

    def _keepalive_check(self) -> None:
        """PING a silent server, or give the connection up if a PING went
        unanswered; idle connections are never pinged (the timer is armed
        again by the next call)."""
        self._keepalive_timer = None
        keepalive = self._keepalive
        if keepalive is None or self.dead is not None or not self._core.active_calls:
            return
        now = time.monotonic()
        due = keepalive.due(now, self.last_read)
        if due is Due.DEAD:
            self._lost(
                f"keepalive: no answer to a PING within {keepalive.timeout:g} s"
                f" (silent for {now - self.last_read:.1f} s)"
            )
            return
        if due is Due.PING:
            keepalive.pinged(now)
            self._core.ping(os.urandom(8))
            self._flush()
        self._arm_keepalive()

    def _lost(self, reason: str) -> None:
        """The connection is given up: its calls fail as on a lost one."""
        if self.dead is None:
            self.dead = ConnectionLostError(
                f"{self.endpoint}: {reason}", endpoint=self.endpoint
            )
            self._dispatch(self._core.connection_lost(reason))
            _log.connection_lost(self.endpoint, reason)
        self._stop_timers()
        if self._transport is not None:
            self._transport.abort()

    def _flush_soon(self) -> None:
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush)

    def _add_deadline(self, waiter: _Waiter, timeout: float) -> None:
        when = self._loop.time() + timeout
        self._sequence += 1
        deadlines = self._deadlines
        heapq.heappush(deadlines, (when, self._sequence, waiter))
        if len(deadlines) > self._prune_at:
            # Finished calls stay in the heap until their deadline comes up;
            # with long deadlines that is most of it: drop them now and then
            # (amortized O(1) per call), or it grows with the call rate.
            deadlines[:] = [d for d in deadlines if not d[2].future.done()]
            heapq.heapify(deadlines)
            self._prune_at = max(_PRUNE_MIN, 2 * len(deadlines))
        timer = self._deadline_timer
        if timer is None or when < self._deadline_at:
            if timer is not None:
                timer.cancel()
            self._deadline_at = when
            self._deadline_timer = self._loop.call_at(when, self._expire_deadlines)

    def _expire_deadlines(self) -> None:
        self._deadline_timer = None
        deadlines = self._deadlines
        now = self._loop.time()
        while deadlines and deadlines[0][0] <= now:
            future = heapq.heappop(deadlines)[2].future
            if not future.done():
                future.set_exception(_DeadlineError())
        while deadlines and deadlines[0][2].future.done():
            heapq.heappop(deadlines)  # finished calls: no timer for them
        if deadlines:
            self._deadline_at = deadlines[0][0]
            self._deadline_timer = self._loop.call_at(
                self._deadline_at, self._expire_deadlines
            )

    def _flush(self) -> None:
        self._flush_pending = False
        data = self._core.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _dispatch(self, events: List[GrpcEvent]) -> None:
        touched: Optional[List[AsyncStream]] = None  # streams to tell, once each
        for event in events:
            kind = type(event)
            if kind is ge.MessageReceived:
                waiter: Any = event.call.context  # type: ignore[union-attr]
                waiter.messages.append(event.message)  # type: ignore[union-attr]
                if waiter.streaming and not waiter.touched:
                    waiter.touched = True
                    touched = touched or []
                    touched.append(waiter)
            elif kind is ge.CallEnded:
                ended: ge.CallEnded = event  # type: ignore[assignment]
                waiter = ended.call.context
                waiter.status = ended.status
                waiter.error = ended.error
                if waiter.streaming:
                    if not waiter.touched:
                        waiter.touched = True
                        touched = touched or []
                        touched.append(waiter)
                elif not waiter.future.done():
                    waiter.future.set_result(None)
            elif kind is ge.ConnectionClosed:
                closed: ge.ConnectionClosed = event  # type: ignore[assignment]
                if self.dead is None:
                    if closed.error is not None:
                        _log.connection_lost(self.endpoint, closed.error)
                    self.dead = closed.error or ConnectionLostError(
                        "connection closed", endpoint=self.endpoint
                    )
                if self._transport is not None:
                    self._transport.abort()
            elif kind is ge.GoAway:  # `usable` turns False
                away: ge.GoAway = event  # type: ignore[assignment]
                _log.went_away(self.endpoint, away.error_code, away.debug_data)
        if touched:
            for stream in touched:
                stream.touched = False
                stream._news()


class _DeadlineError(Exception):
    """A call's deadline passed (set on its future by the timer)."""


__all__ = ["AsyncConnection"]
