"""Streams and the scheduling of outbound DATA under flow control (RFC 9113 §5.2).

A stream's DATA may go out only as far as both the stream's and the
connection's send windows allow, in frames no larger than the server's
SETTINGS_MAX_FRAME_SIZE.  What does not fit waits in the stream's queue, and
the stream waits in the scheduler's `blocked` list until a WINDOW_UPDATE (or
a SETTINGS change) lets it continue, in the order streams got stuck.  A
window can be negative after a SETTINGS decrease (§6.9.2): nothing is sent
until it recovers.  Nothing here does I/O: frames are appended to `out`.
"""

from __future__ import annotations

from collections import deque
from typing import Deque, List, Tuple

from .. import state as st
from . import frames as fr
from .flow import ReceiveWindow, SendWindow

# Members read on the per-call path, as globals (see state.py: `_Enum`).
_STREAM_OPEN = st.StreamState.OPEN


class Stream:
    """One open stream: its state, both windows, and DATA waiting for window."""

    __slots__ = ("pending", "recv", "send", "state")

    def __init__(self, send_window: int, recv_window: int) -> None:
        self.state = _STREAM_OPEN
        self.send = SendWindow(send_window)
        self.recv = ReceiveWindow(recv_window)
        # Outbound DATA not yet covered by window: (payload, end_stream),
        # views, so that sending a large message frame by frame copies each
        # byte once (slicing bytes copied the rest at every frame: 39 s for
        # a 48 MiB request).
        self.pending: Deque[Tuple[memoryview, bool]] = deque()


class SendScheduler:
    """The connection's send window and the streams blocked on flow control."""

    __slots__ = ("blocked", "window")

    def __init__(self) -> None:
        self.window = SendWindow(fr.DEFAULT_WINDOW)
        self.blocked: Deque[int] = deque()

    def send(
        self,
        stream_id: int,
        stream: Stream,
        data: bytes,
        end_stream: bool,
        max_frame: int,
        out: List[bytes],
    ) -> None:
        """Queue `data` on the stream and send what the windows allow."""
        if stream.pending:
            stream.pending.append((memoryview(data), end_stream))
            return
        n = len(data)
        if n <= max_frame and n <= stream.send.available and n <= self.window.available:
            # The common case, a small message: one frame, no queue.
            stream.send.available -= n
            self.window.available -= n
            flags = fr.END_STREAM if end_stream else 0
            out.append(fr.frame_header(fr.DATA_TYPE, flags, stream_id, n))
            out.append(data)
            return
        stream.pending.append((memoryview(data), end_stream))
        self.flush(stream_id, stream, max_frame, out)

    def flush(
        self, stream_id: int, stream: Stream, max_frame: int, out: List[bytes]
    ) -> None:
        """Send as much of the stream's queue as both windows allow."""
        pending = stream.pending
        while pending:
            data, end_stream = pending[0]
            room = min(stream.send.available, self.window.available, max_frame)
            if data and room <= 0:
                if stream_id not in self.blocked:
                    self.blocked.append(stream_id)
                return
            chunk = data[:room]
            rest = data[room:]
            n = len(chunk)
            stream.send.available -= n
            self.window.available -= n
            flags = fr.END_STREAM if end_stream and not rest else 0
            out.append(fr.frame_header(fr.DATA_TYPE, flags, stream_id, n))
            out.append(chunk.tobytes())
            if rest:
                pending[0] = (rest, end_stream)
            else:
                pending.popleft()

    def take_blocked(self) -> List[int]:
        """After a window grew: the blocked streams, in order, to flush again
        (a stream still short of window is blocked anew by `flush`)."""
        blocked = list(self.blocked)
        self.blocked.clear()
        return blocked

    def forget(self, stream_id: int) -> None:
        """The stream is gone: it no longer waits for window."""
        if self.blocked and stream_id in self.blocked:
            self.blocked.remove(stream_id)
