"""Sockets for the sync driver: connect, and wait for readiness with a deadline.

Sockets are blocking, with kernel timeouts (`KernelTimeouts`) standing in
for each call's deadline, so that several threads can share one socket, one
reading and one writing, each with its own deadline.  Connection failures
become `ConnectionFailedError` naming the endpoint.

TLS runs over the same blocking socket through memory BIOs (tls_socket.py),
so a TLS connection is read, written and polled exactly like a plain one
(`SocketLike`).  The handshake happens here, within the dial timeout.

A cooperative library's socket (gevent's, after ``monkey.patch_all()``)
cannot be made blocking: `blocking` gives the driver a `CooperativeSocket`
over it instead, which keeps the same rules by waiting in the library's
event loop (cooperative.py).
"""

from __future__ import annotations

import os
import socket
import struct
import time
from typing import TYPE_CHECKING, Optional, Protocol, Union

from .._client.dial_errors import (
    alpn_refusal,
    answered_tls,
    describe,
    host_name,
    probe_context,
    tls_dial_error,
)
from .._policy.endpoints import Endpoint
from ..errors import ConnectionFailedError, TLSError

if TYPE_CHECKING:
    import ssl

    from .cooperative import CooperativeSocket
    from .tls_socket import TLSSocket


class DialTimedOutError(ConnectionFailedError):
    """The dial's time ran out (TCP connect or TLS handshake): the caller
    may say whose time it was (dial_timeout, or a call's deadline)."""


class SocketLike(Protocol):
    """What the driver uses of a socket: `socket.socket` or `TLSSocket`."""

    def recv(self, bufsize: int, flags: int = ..., /) -> bytes: ...

    def send(self, data: Union[bytes, memoryview], /) -> int: ...

    def fileno(self) -> int: ...

    def setsockopt(self, level: int, optname: int, value: bytes, /) -> None: ...

    def shutdown(self, how: int, /) -> None: ...

    def close(self) -> None: ...


def connect(
    endpoint: Endpoint,
    timeout: Optional[float],
    ssl_context: Optional[ssl.SSLContext] = None,
    server_name: Optional[str] = None,
) -> SocketLike:
    """Open a blocking socket to `endpoint` within `timeout` seconds; with
    `ssl_context`, also run the TLS handshake (ALPN "h2") in that time.

    Args:
        server_name: the name the server's certificate must hold (and SNI);
            default the endpoint's host, or a unix socket's base name.

    Raises:
        ConnectionFailedError: naming the endpoint and the reason.
    """
    started = time.monotonic()
    sock = _dial(endpoint, timeout)
    if ssl_context is None:
        return blocking(sock)
    try:
        if timeout is not None:
            sock.settimeout(max(timeout - (time.monotonic() - started), 1e-3))
        tls = _handshake(sock, endpoint, timeout, ssl_context, server_name)
    except BaseException:
        sock.close()
        raise
    raw = blocking(sock)
    return tls if isinstance(raw, socket.socket) else tls.over(raw)


def blocking(sock: socket.socket) -> Union[socket.socket, CooperativeSocket]:
    """`sock` made blocking (see KernelTimeouts); or, if it cannot be, a
    `CooperativeSocket` that behaves as if it were.

    A socket whose descriptor stays non-blocking after ``settimeout(None)``
    belongs to a cooperative library (gevent, after ``monkey.patch_all()``):
    its methods wait in the library's event loop and know nothing of kernel
    timeouts or MSG_DONTWAIT.  Asked once per connection, so the per-call
    path of a plain socket is untouched.
    """
    sock.settimeout(None)
    if os.get_blocking(sock.fileno()):
        return sock
    from .cooperative import CooperativeSocket  # gevent's sockets only

    return CooperativeSocket(sock)


def _handshake(
    sock: socket.socket,
    endpoint: Endpoint,
    timeout: Optional[float],
    context: ssl.SSLContext,
    server_name: Optional[str],
) -> TLSSocket:
    from .tls_socket import client_handshake  # imports ssl: TLS dials only

    try:
        tls = client_handshake(sock, context, server_name or host_name(endpoint))
    except socket.timeout:
        raise DialTimedOutError(
            [(endpoint.text, f"no TLS handshake within dial_timeout ({timeout} s)")]
        ) from None
    except OSError as exc:  # ssl.SSLError included
        raise tls_dial_error(endpoint.text, exc) from None
    refused = alpn_refusal(tls.ssl_object.selected_alpn_protocol())
    if refused is None:
        return tls
    raise TLSError([(endpoint.text, refused)])


def speaks_tls(endpoint: Endpoint, timeout: Optional[float]) -> bool:
    """Whether `endpoint` answers a TLS handshake, on a connection of its own
    (`dial_errors.ClosedBeforeAnswerError` says when to ask)."""
    try:
        sock = _dial(endpoint, timeout)
    except ConnectionFailedError:
        return False
    from .tls_socket import client_handshake  # imports ssl: TLS probes only

    with sock:
        try:
            client_handshake(sock, probe_context(), None)
        except OSError as exc:  # ssl.SSLError included
            return answered_tls(exc)
    return True


def _host_bytes(host: str) -> Union[str, bytes]:
    """An ASCII host name or address as bytes, which getaddrinfo takes as
    they are: given a str, it encodes it with the "idna" codec, whose import
    (stringprep, unicodedata) costs a command line's single call more than
    the call.  For ASCII that codec gives the same bytes; other names stay
    str, for it."""
    return host.encode("ascii") if host.isascii() else host


def _dial(endpoint: Endpoint, timeout: Optional[float]) -> socket.socket:
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
            # It passes the host to getaddrinfo as it is (typeshed says str).
            address = (_host_bytes(endpoint.host), endpoint.port)
            sock = socket.create_connection(address, timeout=timeout)  # type: ignore[arg-type]
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except BaseException:
                sock.close()
                raise
    except socket.timeout:
        raise DialTimedOutError(
            [(endpoint.text, f"no connection within dial_timeout ({timeout} s)")]
        ) from None
    except OSError as exc:
        raise ConnectionFailedError([(endpoint.text, describe(exc))]) from None
    return sock


class KernelTimeouts:
    """SO_RCVTIMEO and SO_SNDTIMEO of a blocking socket, changed only when needed.

    Why blocking sockets: a read then costs one recv() that sleeps in the
    kernel, where a non-blocking socket costs recv (EAGAIN), poll and recv
    again: about 3-4 µs of client CPU per call (benchmarks/).  Deadlines are
    kept by kernel timeouts instead.  Only the thread holding the reader role
    sets the receive timeout, and only the writer the send timeout.

    The timeout is the deadline's remaining time rounded *down* to a power of
    two milliseconds, so it never overshoots, and calls with similar deadlines
    reuse the value already set (no setsockopt per call); one of a second or
    more also stays for I/O with a later deadline or none (`LINGER_MS`).
    When it fires early, the caller loops and sets a shorter one.
    """

    __slots__ = ("_recv_ms", "_send_ms", "_sock")

    def __init__(self, sock: SocketLike) -> None:
        self._sock = sock
        self._recv_ms = 0  # 0: no timeout
        self._send_ms = 0

    def for_receive(self, remaining: Optional[float]) -> None:
        if remaining is None and not self._recv_ms:
            return  # no deadline and no timeout: the common case, no call
        if not _fits(self._recv_ms, remaining):
            self._recv_ms = self._set(socket.SO_RCVTIMEO, self._recv_ms, remaining)

    def for_send(self, remaining: Optional[float]) -> None:
        if remaining is None and not self._send_ms:
            return
        if not _fits(self._send_ms, remaining):
            self._send_ms = self._set(socket.SO_SNDTIMEO, self._send_ms, remaining)

    def _set(self, option: int, ms: int, remaining: Optional[float]) -> int:
        """Set `option` for `remaining` seconds unless it is `ms` already;
        returns the milliseconds now set."""
        new = _quantize(remaining)
        if new != ms:
            self._sock.setsockopt(socket.SOL_SOCKET, option, _timeval(new))
        return new


# A timeout set may stay for the next I/O if it does not overshoot that I/O's
# deadline and is at least this long: callers loop when it fires early, so it
# only wakes them this often.  So calls whose deadlines differ (a control
# reply is sent within 5 s, a request within its call's deadline, or with
# none) do not cost a setsockopt pair each; a shorter timeout would wake a
# long wait too often, and is replaced.
LINGER_MS = 1024


def _fits(ms: int, remaining: Optional[float]) -> bool:
    """May the timeout set (`ms`; 0: none) stay for an I/O with `remaining`
    seconds to its deadline (None: no deadline)?"""
    if remaining is None:
        return not ms or ms >= LINGER_MS
    return 0 < ms <= remaining * 1000 and (
        ms >= LINGER_MS or ms == _quantize(remaining)
    )


def _quantize(remaining: Optional[float]) -> int:
    if remaining is None:
        return 0
    ms = int(remaining * 1000)
    return 1 << (ms.bit_length() - 1) if ms >= 1 else 1


_TIMEVAL = struct.Struct("ll")  # struct timeval {long tv_sec; long tv_usec;}


def _timeval(ms: int) -> bytes:
    return _TIMEVAL.pack(ms // 1000, (ms % 1000) * 1000)
