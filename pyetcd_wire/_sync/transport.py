"""Sockets for the sync driver: connect, and wait for readiness with a deadline.

Sockets are non-blocking; waiting uses `select.poll` (or `select.select`
where poll is missing, e.g. under gevent's monkey-patching) so that several
threads can share one socket, one reading and one writing, each with its own
deadline.  Every OSError becomes a `TransportError` naming the endpoint.
"""

from __future__ import annotations

import select
import socket
import time
from typing import List, Optional

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
        raise ConnectionFailedError([(endpoint.text, _describe(exc))]) from None
    sock.setblocking(False)
    return sock


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def describe(exc: OSError) -> str:
    """A short reason for an OSError, for error messages."""
    return _describe(exc)


class Readiness:
    """Waits for one socket to become readable (or writable).  Built once per
    connection: a poll object per wait would cost more than the syscall."""

    def __init__(self, sock: socket.socket, *, write: bool) -> None:
        self._sock = sock
        self._write = write
        self._poll: Optional[select.poll] = None
        if hasattr(select, "poll"):  # gevent's monkey-patching removes it
            self._poll = select.poll()
            self._poll.register(sock, select.POLLOUT if write else select.POLLIN)

    def wait(self, timeout: Optional[float]) -> bool:
        """True once ready (or closed: the next I/O call says so); False on timeout."""
        if self._poll is not None:
            ms = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
            return bool(self._poll.poll(ms))
        none: List[socket.socket] = []
        sock = [self._sock]
        if self._write:
            return bool(select.select(none, sock, none, timeout)[1])
        return bool(select.select(sock, none, none, timeout)[0])


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
