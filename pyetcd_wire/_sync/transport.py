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


if hasattr(select, "poll"):

    def wait_for(sock: socket.socket, *, write: bool, timeout: Optional[float]) -> bool:
        """Wait until `sock` is readable (or writable); False on timeout."""
        poller = select.poll()
        poller.register(sock, select.POLLOUT if write else select.POLLIN)
        ms = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
        return bool(poller.poll(ms))

else:  # pragma: no cover - gevent removes poll; Windows never had it

    def wait_for(sock: socket.socket, *, write: bool, timeout: Optional[float]) -> bool:
        """Wait until `sock` is readable (or writable); False on timeout."""
        none: List[socket.socket] = []
        ready = (
            select.select(none, [sock], none, timeout)
            if write
            else select.select([sock], none, none, timeout)
        )
        return bool(ready[0] or ready[1])


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
