"""`KernelTimeouts`: which setsockopt calls a sequence of deadlines costs.

A timeout never overshoots the deadline it is set for (rounded down to a
power of two milliseconds); one of a second or more stays for I/O with a
later deadline or none; a shorter one is replaced."""

from __future__ import annotations

import socket
import struct
from typing import List, Optional, Tuple

import pytest

from pyetcd_wire._sync.transport import KernelTimeouts

TIMEVAL = struct.Struct("ll")


class RecordingSocket:
    """Records SO_RCVTIMEO / SO_SNDTIMEO settings, in milliseconds."""

    def __init__(self) -> None:
        self.set: List[Tuple[str, int]] = []

    def setsockopt(self, level: int, optname: int, value: bytes, /) -> None:
        assert level == socket.SOL_SOCKET
        seconds, micros = TIMEVAL.unpack(value)
        which = {socket.SO_RCVTIMEO: "recv", socket.SO_SNDTIMEO: "send"}[optname]
        self.set.append((which, seconds * 1000 + micros // 1000))


@pytest.mark.parametrize("direction", ["send", "recv"])
@pytest.mark.parametrize(
    ("remaining", "expected"),
    [
        # No deadline on a fresh socket: nothing to set.
        ([None, None], []),
        # Rounded down to a power of two ms; similar deadlines reuse it.
        ([60.0, 59.0, 40.0], [32768]),
        # A control reply within 5 s lowers it; the next call's later deadline
        # and a call without one keep it (it is >= 1024 ms).
        ([60.0, 4.9, 59.0, None, 58.0], [32768, 4096]),
        # A short one is never kept past its deadline's class, nor for none.
        ([0.3, None, 0.3, 60.0], [256, 0, 256, 32768]),
        # Below a millisecond: 1 ms, once.
        ([0.0004, 0.0002], [1]),
    ],
)
def test_setsockopt_only_when_the_timeout_set_does_not_fit(
    direction: str, remaining: List[Optional[float]], expected: List[int]
) -> None:
    sock = RecordingSocket()
    timeouts = KernelTimeouts(sock)  # type: ignore[arg-type]
    apply = timeouts.for_send if direction == "send" else timeouts.for_receive
    for value in remaining:
        apply(value)
    assert sock.set == [(direction, ms) for ms in expected]


def test_send_and_receive_timeouts_are_kept_apart() -> None:
    sock = RecordingSocket()
    timeouts = KernelTimeouts(sock)  # type: ignore[arg-type]
    timeouts.for_send(5.0)
    timeouts.for_receive(None)
    timeouts.for_receive(0.1)
    timeouts.for_send(5.0)
    assert sock.set == [("send", 4096), ("recv", 64)]
