"""What the stream managers need of a driver's streams and user objects."""

from __future__ import annotations

from typing import Callable, List, Optional, Protocol

from .._core.grpc.metadata import Metadata
from .._core.lease import LostReason
from .._proto import rpc_pb2
from ..errors import EtcdError, LeaseError


class StreamConnection(Protocol):
    """The connection a stream runs on."""

    @property
    def endpoint(self) -> str: ...

    def close_with(self, error: EtcdError) -> None:
        """Drop the connection: every call on it ends with `error`."""


class StreamPort(Protocol):
    """One open bidirectional stream, read by the driver's loop."""

    @property
    def connection(self) -> StreamConnection: ...

    def take_messages(self) -> List[bytes]:
        """The messages received so far (credit is given back by
        `message_consumed`)."""

    def message_consumed(self, count: int = 1) -> None: ...

    @property
    def ended(self) -> bool: ...

    def end_error(self) -> Optional[EtcdError]: ...

    def cancel(self) -> None: ...


OpenStream = Callable[[str, Metadata], StreamPort]
Send = Callable[[StreamPort, List[bytes]], None]


class StreamNotReadyError(Exception):
    """The driver is still connecting, or getting the first token; it calls
    `tend` again once it is done (asyncio dials in a task; the sync driver
    raises this only after the first token)."""


class WatchSink(Protocol):
    """The user's end of one watch (`Watch`, `AsyncWatch`)."""

    watch_id: int  # the manager gives a watch made again a new one
    created_revision: int

    @property
    def ended(self) -> bool:
        """Cancelled by the user, or ended."""

    def _on_created(self, revision: int) -> None: ...

    def _on_response(self, response: rpc_pb2.WatchResponse, size: int) -> bool:
        """Queue a response; False if the watch no longer takes any."""

    def _on_end(self, error: Optional[EtcdError]) -> None: ...

    def _orphan(self) -> None:
        """In a forked child: the watch is the parent's (`_fork.py`)."""


class KeepAliveSink(Protocol):
    """One subscription to a kept-alive lease (`KeepAlive`, `AsyncKeepAlive`)."""

    lease_id: int

    def _on_response(self, response: rpc_pb2.LeaseKeepAliveResponse) -> None: ...

    def _on_lost(
        self, error: LeaseError, reason: Optional[LostReason] = None
    ) -> None: ...

    def _on_stopped(self) -> None: ...

    def _orphan(self) -> None:
        """In a forked child: the subscription is the parent's (`_fork.py`)."""


__all__ = [
    "KeepAliveSink",
    "OpenStream",
    "Send",
    "StreamConnection",
    "StreamNotReadyError",
    "StreamPort",
    "WatchSink",
]
