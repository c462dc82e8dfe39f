"""SETTINGS (RFC 9113 §6.5): what we ask of the server, what it asks of us.

Our own settings bind the server only once it ACKs them, so they wait in a
queue, one entry per SETTINGS frame we sent, until the matching ACK arrives
(ACKs come in order).  The server's settings apply as soon as they arrive and
are acknowledged by us immediately.
"""

from __future__ import annotations

from collections import deque
from typing import Deque, Dict, List, Tuple

from .frames import (
    DEFAULT_WINDOW,
    MAX_MAX_FRAME_SIZE,
    MAX_WINDOW,
    MIN_MAX_FRAME_SIZE,
    ErrorCode,
    FrameType,
    Setting,
    violation,
)

# RFC 9113 §6.5.2 initial values.
UNLIMITED = 2**32 - 1


class RemoteSettings:
    """The server's settings, as they bind what we send."""

    __slots__ = (
        "header_table_size",
        "initial_window_size",
        "max_concurrent_streams",
        "max_frame_size",
        "max_header_list_size",
    )

    def __init__(self) -> None:
        self.header_table_size = 4096
        self.max_concurrent_streams = UNLIMITED
        self.initial_window_size = DEFAULT_WINDOW
        self.max_frame_size = MIN_MAX_FRAME_SIZE
        self.max_header_list_size = UNLIMITED

    def apply(self, pairs: List[Tuple[int, int]]) -> int:
        """Apply received settings; returns the change of INITIAL_WINDOW_SIZE,
        which the caller applies to every open stream (§6.9.2).

        Raises:
            LocalProtocolError: a value outside its legal range (§6.5.2).
        """
        delta = 0
        for ident, value in pairs:
            if ident == Setting.ENABLE_PUSH:
                # §6.5.2: a server must not enable push on us; only 0/1 exist.
                if value != 0:
                    raise violation(
                        FrameType.SETTINGS,
                        f"server sent SETTINGS_ENABLE_PUSH={value}; only 0 is"
                        " allowed from a server (§6.5.2)",
                    )
            elif ident == Setting.INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise violation(
                        FrameType.SETTINGS,
                        f"SETTINGS_INITIAL_WINDOW_SIZE={value} exceeds 2^31-1 (§6.5.2)",
                        ErrorCode.FLOW_CONTROL_ERROR,
                    )
                delta += value - self.initial_window_size
                self.initial_window_size = value
            elif ident == Setting.MAX_FRAME_SIZE:
                if not MIN_MAX_FRAME_SIZE <= value <= MAX_MAX_FRAME_SIZE:
                    raise violation(
                        FrameType.SETTINGS,
                        f"SETTINGS_MAX_FRAME_SIZE={value} outside 16384..16777215"
                        " (§6.5.2)",
                    )
                self.max_frame_size = value
            elif ident == Setting.MAX_CONCURRENT_STREAMS:
                self.max_concurrent_streams = value
            elif ident == Setting.HEADER_TABLE_SIZE:
                self.header_table_size = value  # our encoder never indexes
            elif ident == Setting.MAX_HEADER_LIST_SIZE:
                self.max_header_list_size = value
            # Unknown identifiers are ignored (§6.5.2).
        return delta


class LocalSettings:
    """Our settings: the values sent, and those the server has ACKed."""

    __slots__ = ("_pending", "acked")

    def __init__(self) -> None:
        self.acked: Dict[int, int] = {}
        self._pending: Deque[Dict[int, int]] = deque()

    def sent(self, settings: Dict[int, int]) -> None:
        self._pending.append(dict(settings))

    def acknowledged(self) -> Dict[int, int]:
        """The settings that an ACK confirms (empty for a stray ACK)."""
        if not self._pending:
            return {}
        confirmed = self._pending.popleft()
        self.acked.update(confirmed)
        return confirmed
