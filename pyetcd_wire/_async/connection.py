"""One HTTP/2 connection for asyncio: an `asyncio.Protocol` around the
sans-IO `GrpcConnection`.

The event loop hands each read to `data_received`, which feeds the core and
routes its events to the calls waiting on futures.  No task per call, no
thread: a unary call is one future.  Two things are batched per connection,
because per call they cost more than the rest of the call together
(measured: 64 tasks, one send(2) each, 10.8 µs per call):

* writes: what the core has to send goes out once per event-loop turn
  (`call_soon`), so the requests the tasks made in one turn share a send;
* deadlines: one timer for the earliest, over a heap of (deadline, call)
  tuples compared in C, not a `TimerHandle` per call compared in Python.

Cancelling the task that awaits a call cancels the call on the wire
(RST_STREAM CANCEL) and leaves the connection usable.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from typing import Any, List, Optional, Tuple

from .._core.grpc import events as ge
from .._core.grpc.connection import CallsNotAcceptedError, GrpcConnection, GrpcEvent
from .._core.grpc.metadata import Metadata
from .._core.grpc.outcome import unary_outcome
from .._core.grpc.status import Status
from ..errors import (
    ConnectionLostError,
    DeadlineExceededError,
    EtcdError,
)


class _Waiter:
    """What one call's caller waits on."""

    __slots__ = ("error", "future", "messages", "status")

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future
        self.messages: List[bytes] = []
        self.status: Optional[Status] = None
        self.error: Optional[EtcdError] = None


class AsyncConnection(asyncio.Protocol):
    """A connection's protocol; made by `AsyncChannel` with the loop's
    `create_connection`."""

    def __init__(self, core: GrpcConnection, endpoint: str) -> None:
        self.endpoint = endpoint
        self._core = core
        self._transport: Optional[asyncio.Transport] = None
        self.dead: Optional[EtcdError] = None
        self._loop = asyncio.get_running_loop()
        self.last_read = time.monotonic()  # when the server last sent bytes
        self._flush_pending = False
        # (loop time, sequence, waiter): deadlines, the earliest first; a
        # waiter done meanwhile is skipped when its deadline comes.
        self._deadlines: List[Tuple[float, int, _Waiter]] = []
        self._deadline_timer: Optional[asyncio.TimerHandle] = None
        self._sequence = 0

    # --- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._core.initiate()
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.last_read = time.monotonic()
        self._dispatch(self._core.receive_data(data))
        self._flush_soon()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        reason = str(exc) if exc else "the server closed the connection"
        if self.dead is None:
            self.dead = ConnectionLostError(
                f"{self.endpoint}: connection lost: {reason}", endpoint=self.endpoint
            )
        self._dispatch(self._core.connection_lost(reason))

    # --- calls ---------------------------------------------------------------

    @property
    def usable(self) -> bool:
        return self.dead is None and self._core.accepts_calls

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
    ) -> bytes:
        """One request, one response message.

        Raises:
            DeadlineExceededError: `timeout` passed (the call is cancelled).
            ConnectionLostError: the connection ended first.
            RpcError: the server answered with a non-OK status.
        """
        if self.dead is not None:
            raise ConnectionLostError(
                f"connection to {self.endpoint} is closed: {self.dead}",
                endpoint=self.endpoint,
                not_processed=True,
            )
        try:
            call = self._core.unary(path, request, metadata=metadata, timeout=timeout)
        except CallsNotAcceptedError as exc:  # GOAWAY, or stream ids used up
            self.dead = ConnectionLostError(str(exc), endpoint=self.endpoint)
            raise ConnectionLostError(
                str(exc), endpoint=self.endpoint, not_processed=True
            ) from None
        waiter = _Waiter(self._loop.create_future())
        call.context = waiter
        self._flush_soon()
        if timeout is not None:
            self._add_deadline(waiter, timeout)
        try:
            await waiter.future
        except BaseException as exc:  # deadline, or the task was cancelled
            self._core.cancel_call(call)
            self._flush_soon()
            if isinstance(exc, _DeadlineError):
                raise DeadlineExceededError(
                    f"deadline exceeded waiting for {path} from {self.endpoint}",
                    endpoint=self.endpoint,
                ) from None
            raise
        assert waiter.status is not None
        return unary_outcome(
            path, waiter.messages, waiter.status, waiter.error, self.endpoint
        )

    def close(self) -> None:
        """Close the connection; calls in flight fail with ConnectionLostError."""
        if self.dead is None:
            self.dead = ConnectionLostError(
                "the client closed the connection", endpoint=self.endpoint
            )
        self._dispatch(self._core.close())
        self._flush()
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None
        if self._transport is not None:
            self._transport.close()

    # --- plumbing --------------------------------------------------------------

    def _flush_soon(self) -> None:
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush)

    def _add_deadline(self, waiter: _Waiter, timeout: float) -> None:
        when = self._loop.time() + timeout
        self._sequence += 1
        heapq.heappush(self._deadlines, (when, self._sequence, waiter))
        timer = self._deadline_timer
        if timer is None or when < timer.when():
            if timer is not None:
                timer.cancel()
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
            self._deadline_timer = self._loop.call_at(
                deadlines[0][0], self._expire_deadlines
            )

    def _flush(self) -> None:
        self._flush_pending = False
        data = self._core.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _dispatch(self, events: List[GrpcEvent]) -> None:
        for event in events:
            kind = type(event)
            if kind is ge.MessageReceived:
                waiter: Any = event.call.context  # type: ignore[union-attr]
                waiter.messages.append(event.message)  # type: ignore[union-attr]
            elif kind is ge.CallEnded:
                ended: ge.CallEnded = event  # type: ignore[assignment]
                waiter = ended.call.context
                waiter.status = ended.status
                waiter.error = ended.error
                if not waiter.future.done():
                    waiter.future.set_result(None)
            elif kind is ge.ConnectionClosed:
                closed: ge.ConnectionClosed = event  # type: ignore[assignment]
                if self.dead is None:
                    self.dead = closed.error or ConnectionLostError(
                        "connection closed", endpoint=self.endpoint
                    )
                if self._transport is not None:
                    self._transport.close()


class _DeadlineError(Exception):
    """A call's deadline passed (set on its future by the timer)."""


__all__ = ["AsyncConnection"]
