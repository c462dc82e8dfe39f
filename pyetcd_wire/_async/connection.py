"""One HTTP/2 connection for asyncio: an `asyncio.Protocol` around the
sans-IO `GrpcConnection`.

The event loop hands each read to `data_received`, which feeds the core and
routes its events to the calls waiting on futures; whatever the core wants
to send goes straight to the transport.  No task per call, no thread: a
unary call is one future, and its deadline one timer handle (`call_at`),
cheaper than `asyncio.wait_for`'s extra task.

Cancelling the task that awaits a call cancels the call on the wire
(RST_STREAM CANCEL) and leaves the connection usable.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, List, Optional

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
        self._dead: Optional[EtcdError] = None
        self._loop = asyncio.get_running_loop()
        self.last_read = time.monotonic()  # when the server last sent bytes

    # --- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._core.initiate()
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.last_read = time.monotonic()
        self._dispatch(self._core.receive_data(data))
        self._flush()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        reason = str(exc) if exc else "the server closed the connection"
        if self._dead is None:
            self._dead = ConnectionLostError(
                f"{self.endpoint}: connection lost: {reason}", endpoint=self.endpoint
            )
        self._dispatch(self._core.connection_lost(reason))

    # --- calls ---------------------------------------------------------------

    @property
    def usable(self) -> bool:
        return self._dead is None and self._core.accepts_calls

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
        if self._dead is not None:
            raise ConnectionLostError(
                f"connection to {self.endpoint} is closed: {self._dead}",
                endpoint=self.endpoint,
                not_processed=True,
            )
        try:
            call = self._core.unary(path, request, metadata=metadata, timeout=timeout)
        except CallsNotAcceptedError as exc:
            raise ConnectionLostError(
                str(exc), endpoint=self.endpoint, not_processed=True
            ) from None
        waiter = _Waiter(self._loop.create_future())
        call.context = waiter
        self._flush()
        timer = (
            None
            if timeout is None
            else self._loop.call_later(timeout, _expire, waiter.future)
        )
        try:
            await waiter.future
        except BaseException as exc:  # deadline, or the task was cancelled
            self._core.cancel_call(call)
            self._flush()
            if isinstance(exc, _DeadlineError):
                raise DeadlineExceededError(
                    f"deadline exceeded waiting for {path} from {self.endpoint}",
                    endpoint=self.endpoint,
                ) from None
            raise
        finally:
            if timer is not None:
                timer.cancel()
        assert waiter.status is not None
        return unary_outcome(
            path, waiter.messages, waiter.status, waiter.error, self.endpoint
        )

    def close(self) -> None:
        """Close the connection; calls in flight fail with ConnectionLostError."""
        if self._dead is None:
            self._dead = ConnectionLostError(
                "the client closed the connection", endpoint=self.endpoint
            )
        self._dispatch(self._core.close())
        self._flush()
        if self._transport is not None:
            self._transport.close()

    # --- plumbing --------------------------------------------------------------

    def _flush(self) -> None:
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
                if self._dead is None:
                    self._dead = closed.error or ConnectionLostError(
                        "connection closed", endpoint=self.endpoint
                    )
                if self._transport is not None:
                    self._transport.close()


class _DeadlineError(Exception):
    """A call's deadline passed (set on its future by the timer)."""


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(_DeadlineError())


__all__ = ["AsyncConnection"]
