"""Events of the gRPC layer, one connection's calls.

A unary call produces `MessageReceived` then `CallEnded`; response headers
are reported only to calls that asked for them (streams), which keeps the
unary path at two events.  Slotted plain classes,
immutable by convention, for the cost reason given in h2/events.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Tuple

from ..h2.events import H2Event
from .status import Status

if TYPE_CHECKING:
    from ...errors import EtcdError, ProtocolError
    from .call import Call

HeaderList = Tuple[Tuple[bytes, bytes], ...]


class ResponseHeadersReceived(H2Event):
    """The response's initial metadata arrived."""

    __slots__ = ("call", "headers")

    def __init__(self, *, call: Call, headers: HeaderList) -> None:
        self.call = call
        self.headers = headers


class MessageReceived(H2Event):
    """One whole response message (serialized protobuf)."""

    __slots__ = ("call", "message")

    def __init__(self, *, call: Call, message: bytes) -> None:
        self.call = call
        self.message = message


class CallEnded(H2Event):
    """The call is over; `status` says how.  No event for it follows.

    `error`, when set, is what the caller should see instead of an error built
    from `status` (the server broke HTTP/2 and the connection is gone).
    """

    __slots__ = ("call", "error", "status")

    def __init__(
        self, *, call: Call, status: Status, error: Optional[EtcdError] = None
    ) -> None:
        self.call = call
        self.status = status
        self.error = error


class ConnectionClosed(H2Event):
    """The connection is over.  `error` is set when the server broke the
    protocol; every call still open has been ended with its own `CallEnded`."""

    __slots__ = ("error",)

    def __init__(self, *, error: Optional[ProtocolError]) -> None:
        self.error = error


class GoAway(H2Event):
    """The server is going away: no new call may start on this connection;
    calls it processed run to completion."""

    __slots__ = ("debug_data", "error_code", "last_stream_id")

    def __init__(
        self, *, last_stream_id: int, error_code: int, debug_data: bytes
    ) -> None:
        self.last_stream_id = last_stream_id
        self.error_code = error_code
        self.debug_data = debug_data


class PingAnswered(H2Event):
    """One of our PINGs was acknowledged."""

    __slots__ = ("data",)

    def __init__(self, *, data: bytes) -> None:
        self.data = data
