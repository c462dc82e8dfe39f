"""`AsyncStream`: one streaming call on an `AsyncConnection` (the asyncio
twin of `_sync/channel.Stream`).

The connection pushes what arrives (`messages`, `status`) and calls `_news`
once per read.  A stream worker reads with `take_messages` and gives credit
back with `message_consumed` (the `StreamPort` of _managers/ports.py); a task
awaits `receive()` instead (Snapshot, a single LeaseKeepAlive).
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable, List, Optional, Protocol

from .._core.grpc.call import Call
from .._core.grpc.outcome import call_error
from .._core.grpc.status import Status
from ..errors import DeadlineExceededError, EtcdError


class StreamConnection(Protocol):
    """What a stream needs of its `AsyncConnection` (typed so, the connection
    module imports this one)."""

    @property
    def endpoint(self) -> str: ...

    def send_messages(
        self, call: Call, messages: List[bytes], *, end: bool
    ) -> None: ...

    def message_consumed(self, call: Call, count: int) -> None: ...

    def cancel_call(self, call: Call) -> None: ...

    def close_with(self, error: Optional[EtcdError]) -> None: ...


class AsyncStream:
    """A streaming call; made by `AsyncConnection.open_stream`."""

    streaming = True  # the connection tells it of each read (`_news`)

    def __init__(
        self,
        conn: StreamConnection,
        call: Call,
        on_news: Optional[Callable[[], None]],
    ) -> None:
        self._conn = conn
        self._call = call
        self._on_news = on_news
        self.messages: List[bytes] = []
        self.status: Optional[Status] = None
        self.error: Optional[EtcdError] = None
        self.touched = False  # in the connection's list of streams to tell
        self._waiter: Optional[asyncio.Future[None]] = None

    def _wake_waiter(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _news(self) -> None:
        if self._on_news is not None:
            self._on_news()
        self._wake_waiter()

    # --- the StreamPort of a stream worker ------------------------------------------

    @property
    def connection(self) -> StreamConnection:
        return self._conn

    def take_messages(self) -> List[bytes]:
        """Every message received so far; credit goes back with
        `message_consumed`."""
        taken, self.messages = self.messages, []
        return taken

    def message_consumed(self, count: int = 1) -> None:
        self._conn.message_consumed(self._call, count)

    @property
    def ended(self) -> bool:
        """True once the call is over (status received, or connection lost)."""
        return self.status is not None

    def end_error(self) -> Optional[EtcdError]:
        """Why the call ended: None for status OK, else the typed error."""
        return call_error(self.status, self.error, self._conn.endpoint)

    def send_many(self, messages: List[bytes], *, end: bool = False) -> None:
        """Queue request messages (written at the end of this loop turn).

        Raises:
            ResourceExhaustedError: a message is too large.
            LocalProtocolError: the call is over or half-closed.
        """
        self._conn.send_messages(self._call, messages, end=end)

    def cancel(self) -> None:
        """Cancel the call on the wire (RST_STREAM) unless it is over."""
        if self.status is None:
            self._conn.cancel_call(self._call)

    # --- a task that awaits it ------------------------------------------------------

    async def receive(self, deadline: Optional[float] = None) -> Optional[bytes]:
        """The next message (its credit given back); None once the call
        ended OK.  `deadline` (monotonic) cancels the call when it passes.

        Raises:
            EtcdError: the call ended with an error.
            DeadlineExceededError: `deadline` passed first.
        """
        loop = asyncio.get_running_loop()
        while not self.messages:
            if self.status is not None:
                error = self.end_error()
                if error is not None:
                    raise error
                return None
            if deadline is not None and time.monotonic() >= deadline:
                self.cancel()
                raise DeadlineExceededError(
                    f"deadline exceeded waiting for {self._call.path}"
                    f" from {self._conn.endpoint}",
                    endpoint=self._conn.endpoint,
                )
            # A timer, not asyncio.wait_for, which before Python 3.12 can
            # swallow a cancellation that arrives with the result (gh-86296).
            waiter = self._waiter = loop.create_future()
            timer = None
            if deadline is not None:
                timer = loop.call_later(
                    max(0.0, deadline - time.monotonic()), self._wake_waiter
                )
            try:
                await waiter
            except BaseException:
                self.cancel()  # the task was cancelled: so is the call
                raise
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        message = self.messages.pop(0)
        self.message_consumed()
        return message


__all__ = ["AsyncStream"]
