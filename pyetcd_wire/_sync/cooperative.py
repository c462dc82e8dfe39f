"""A cooperative library's socket made to behave as a blocking kernel socket.

Theory of operation
===================

The sync driver is written for blocking kernel sockets (transport.py,
connection.py, tls_socket.py, stream_worker.py):

* a recv or send sleeps in the kernel until it can proceed, or until the
  kernel timeout (SO_RCVTIMEO / SO_SNDTIMEO, `KernelTimeouts`) fires, when
  it raises BlockingIOError;
* ``recv(n, MSG_DONTWAIT)`` never sleeps: BlockingIOError if nothing is
  there.

A socket from a monkey-patched socket module (gevent's ``patch_all()``) is
not one.  Its descriptor is always non-blocking, and its methods, on EAGAIN,
wait in the library's event loop for the descriptor to be ready, for the
Python-level timeout (None: for ever), whatever the flags: so a recv with
MSG_DONTWAIT waits for data, and a kernel timeout is never used (issue 15:
a call on a connection idle for a second, which is first drained with
MSG_DONTWAIT, waited for ever and ignored its deadline).

`CooperativeSocket` gives the driver the kernel's behaviour over such a
socket: the socket is put in non-blocking mode (its timeout 0: every call
returns at once, or raises BlockingIOError), and the waiting is done here,
in poll objects of the patched ``select`` module, which sleep in the
library's event loop: other greenlets run meanwhile.  The kernel timeouts
are kept here, not in the kernel: `setsockopt(SO_RCVTIMEO / SO_SNDTIMEO)`
records them.  The reader and the writer each wait on their own poll object,
so each keeps its own timeout, as with the kernel's two options.

Whether a socket needs this is decided once, when it is made
(`transport.blocking`): a plain socket costs nothing more per call.
"""

from __future__ import annotations

import errno
import math
import select
import socket
import struct
import time
from typing import Callable, Optional, TypeVar, Union

# struct timeval {long tv_sec; long tv_usec;}, as SO_RCVTIMEO takes it.
_TIMEVAL = struct.Struct("ll")

T = TypeVar("T")


class CooperativeSocket:
    """A blocking socket with kernel timeouts, over a cooperative library's
    socket; see the module docstring.  One thread (greenlet) may read while
    another writes, as the driver's reader and writer roles do."""

    __slots__ = ("_readable", "_recv_timeout", "_send_timeout", "_sock", "_writable")

    def __init__(self, sock: socket.socket) -> None:
        sock.settimeout(0.0)  # every call returns at once: the waiting is ours
        self._sock = sock
        self._recv_timeout: Optional[float] = None  # None: wait for ever
        self._send_timeout: Optional[float] = None
        fd = sock.fileno()
        self._readable = select.poll()
        self._readable.register(fd, select.POLLIN)
        self._writable = select.poll()
        self._writable.register(fd, select.POLLOUT)

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        """As a blocking socket's recv: BlockingIOError once the receive
        timeout passed with nothing read, or at once with MSG_DONTWAIT."""
        sock = self._sock
        return _blocking(
            lambda: sock.recv(bufsize, flags), flags, self._readable, self._recv_timeout
        )

    def send(self, data: Union[bytes, memoryview], flags: int = 0, /) -> int:
        """As a blocking socket's send: BlockingIOError once the send timeout
        passed with nothing sent, or at once with MSG_DONTWAIT."""
        sock = self._sock
        return _blocking(
            lambda: sock.send(data, flags), flags, self._writable, self._send_timeout
        )

    def setsockopt(self, level: int, optname: int, value: bytes, /) -> None:
        """SO_RCVTIMEO and SO_SNDTIMEO are kept here (see the module
        docstring); other options go to the socket."""
        if level == socket.SOL_SOCKET and optname == socket.SO_RCVTIMEO:
            self._recv_timeout = _seconds(value)
        elif level == socket.SOL_SOCKET and optname == socket.SO_SNDTIMEO:
            self._send_timeout = _seconds(value)
        else:
            self._sock.setsockopt(level, optname, value)

    def getsockopt(self, level: int, optname: int, buflen: int, /) -> bytes:
        return self._sock.getsockopt(level, optname, buflen)

    def fileno(self) -> int:
        return self._sock.fileno()

    def shutdown(self, how: int, /) -> None:
        # Wakes our waits too: the descriptor turns readable (EOF) and
        # writable (EPIPE), as for a thread blocked in the kernel.
        self._sock.shutdown(how)

    def close(self) -> None:
        self._sock.close()


def _blocking(
    attempt: Callable[[], T],
    flags: int,
    poller: select.poll,
    timeout: Optional[float],
) -> T:
    """`attempt()` until it does not raise BlockingIOError, waiting for
    `poller`'s descriptor in between, for `timeout` in all (None: for
    ever); no wait with MSG_DONTWAIT."""
    deadline = None
    while True:
        try:
            return attempt()
        except BlockingIOError:
            if flags & socket.MSG_DONTWAIT:
                raise
        deadline = _wait(poller, timeout, deadline)


def _wait(
    poller: select.poll, timeout: Optional[float], deadline: Optional[float]
) -> Optional[float]:
    """Wait until `poller`'s descriptor is ready or the timeout that started
    with the first wait of this call (`deadline`, None the first time) ends;
    returns that deadline.

    Raises:
        BlockingIOError: the timeout had passed already (the kernel's EAGAIN).
    """
    if timeout is None:
        poller.poll()
        return None
    now = time.monotonic()
    if deadline is None:
        deadline = now + timeout
    remaining = deadline - now
    if remaining <= 0:
        raise BlockingIOError(errno.EAGAIN, "timed out")
    # In whole ms, rounded up: the next try then finds the time over.
    poller.poll(math.ceil(remaining * 1000.0))
    return deadline


def _seconds(timeval: bytes) -> Optional[float]:
    seconds, microseconds = _TIMEVAL.unpack(timeval)
    total: float = seconds + microseconds / 1e6
    return total or None  # 0: no timeout


__all__ = ["CooperativeSocket"]
