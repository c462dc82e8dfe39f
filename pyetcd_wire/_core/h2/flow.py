"""Flow-control windows (RFC 9113 §5.2, §6.9), as pure policy objects.

Receive side.  The peer may send as many DATA octets as the window it has been
granted: DATA spends `available` (too much is a FLOW_CONTROL_ERROR, checked
by the connection where the frame is parsed);
`consumed(n)` records octets the application is done with and returns the
WINDOW_UPDATE increment to send now, or 0.  Increments are batched: credit goes
back once half the window is consumed, so a steady reader never lets the
peer's view of the window drop below half and a large response (a 64 MiB Range,
a long Snapshot) never stalls, while one WINDOW_UPDATE covers many frames.

Back-pressure.  Whoever calls `consumed()` decides when credit returns.  The
connection window is credited as soon as frames arrive (as grpc-go does), so
one slow stream cannot starve the others; stream windows are credited only
when the application has taken the stream's messages (see grpc/connection.py),
so a consumer that stops reading stops its stream after one window.

Send side.  `SendWindow` is the peer's grant to us: it grows with WINDOW_UPDATE
and with SETTINGS_INITIAL_WINDOW_SIZE deltas, and may go negative after a
SETTINGS decrease (§6.9.2), in which case nothing is sent until it recovers.
"""

from __future__ import annotations

from .frames import MAX_WINDOW


class ReceiveWindow:
    """Our grant to the peer for one stream or the connection."""

    __slots__ = ("available", "size", "unacked")

    def __init__(self, size: int) -> None:
        self.size = size  # the window we advertise
        self.available = size  # what the peer may still send
        self.unacked = 0  # consumed, but not yet given back

    def consumed(self, n: int) -> int:
        """Record consumed octets; the WINDOW_UPDATE increment due now, or 0."""
        self.unacked += n
        if self.unacked < self.size // 2:
            return 0
        increment, self.unacked = self.unacked, 0
        self.available += increment
        return increment

    def grow(self, new_size: int) -> int:
        """Raise the advertised size; the increment to send (for the connection
        window, which has no SETTINGS of its own)."""
        increment = max(0, new_size - self.size)
        self.size = new_size
        self.available += increment
        return increment


class SendWindow:
    """The peer's grant to us."""

    __slots__ = ("available",)

    def __init__(self, size: int) -> None:
        self.available = size

    def increase(self, increment: int) -> bool:
        """Apply a WINDOW_UPDATE; False if the window would exceed 2^31-1."""
        if self.available + increment > MAX_WINDOW:
            return False
        self.available += increment
        return True
