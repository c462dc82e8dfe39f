"""Sockets for the sync driver: connect, and wait for readiness with a deadline.

Sockets are blocking, with kernel timeouts (`KernelTimeouts`) standing in
for each call's deadline, so that several threads can share one socket, one
reading and one writing, each with its own deadline.  Connection failures
become `ConnectionFailedError` naming the endpoint.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Optional

from .._policy.endpoints import Endpoint
from ..errors import ConnectionFailedError, DeadlineExceededError


def connect(endpoint: Endpoint, timeout: Optional[float]) -> socket.socket:
    """Open a non-blocking socket to `endpoint` within `timeout` seconds.

    Raises:
        ConnectionFailedError: naming the endpoint and the reason.
    """
    try:
        if endpoint.path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(endpoint.path)
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection(
                (endpoint.host, endpoint.port), timeout=timeout
            )
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except socket.timeout:
        raise ConnectionFailedError(
            [(endpoint.text, f"no connection within dial_timeout ({timeout} s)")]
        ) from None
    except OSError as exc:
        raise ConnectionFailedError([(endpoint.text, describe(exc))]) from None
    sock.settimeout(None)  # blocking: see KernelTimeouts
    return sock


def describe(exc: OSError) -> str:
    """A short reason for an OSError, for error messages."""
    return exc.strerror or str(exc) or type(exc).__name__


class KernelTimeouts:
    """SO_RCVTIMEO and SO_SNDTIMEO of a blocking socket, changed only when needed.

    Why blocking sockets: a read then costs one recv() that sleeps in the
    kernel, where a non-blocking socket costs recv (EAGAIN), poll and recv
    again: about 3-4 µs of client CPU per call (benchmarks/).  Deadlines are
    kept by kernel timeouts instead.  Only the thread holding the reader role
    sets the receive timeout, and only the writer the send timeout.

    The timeout is the deadline's remaining time rounded *down* to a power of
    two milliseconds, so it never overshoots, and calls with similar deadlines
    reuse the value already set (no setsockopt per call).  When it fires early,
    the caller loops and sets a shorter one.
    """

    __slots__ = ("_recv_ms", "_send_ms", "_sock")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._recv_ms = 0  # 0: no timeout
        self._send_ms = 0

    def for_receive(self, remaining: Optional[float]) -> None:
        ms = _quantize(remaining)
        if ms != self._recv_ms:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(ms))
            self._recv_ms = ms

    def for_send(self, remaining: Optional[float]) -> None:
        ms = _quantize(remaining)
        if ms != self._send_ms:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(ms))
            self._send_ms = ms


def _quantize(remaining: Optional[float]) -> int:
    if remaining is None:
        return 0
    ms = int(remaining * 1000)
    return 1 << (ms.bit_length() - 1) if ms >= 1 else 1


_TIMEVAL = struct.Struct("ll")  # struct timeval {long tv_sec; long tv_usec;}


def _timeval(ms: int) -> bytes:
    return _TIMEVAL.pack(ms // 1000, (ms % 1000) * 1000)


def remaining(
    deadline: Optional[float], what: str, endpoint: str = ""
) -> Optional[float]:
    """Seconds left before `deadline`, or DeadlineExceededError if none are."""
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceededError(
            f"deadline exceeded while {what}", endpoint=endpoint
        )
    return left
