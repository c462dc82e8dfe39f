"""TLS over a plain socket through memory BIOs (`ssl.SSLObject`).

Theory of operation
===================

Why not `ssl.SSLSocket`: the driver relies on three things an SSLSocket does
not give (transport.py, connection.py, stream_worker.py):

* kernel timeouts (SO_RCVTIMEO / SO_SNDTIMEO) on a *blocking* socket, where a
  timed-out recv/send raises BlockingIOError;
* ``recv(n, MSG_DONTWAIT)`` for a read that must not block;
* poll(2) on the descriptor: the stream worker waits for the socket to be
  readable and then reads.  An SSLSocket may hold decrypted bytes the kernel
  knows nothing about, so poll would sleep on data already received.

`TLSSocket` keeps the raw socket and moves ciphertext between it and an
`SSLObject` through two `MemoryBIO`s.  It offers what the driver uses of a
socket, with the same behaviour: ``recv(n, flags)`` (BlockingIOError when the
raw recv times out or would block, b"" at EOF), ``send(data)``, ``fileno()``,
``setsockopt``/``getsockopt`` (the kernel timeouts), ``shutdown``, ``close``.

Rules that keep poll(2) truthful and the TLS stream intact:

1. *Nothing hides after a read.*  Every raw read is followed by decrypting
   every complete record the SSL object has, into a plaintext buffer that the
   next recv empties first (without touching the socket, even with
   MSG_DONTWAIT).  A raw read takes at most ``n - RECORD_MAX`` bytes (at
   least a whole record), so what it decrypts, plus one record carried over,
   fits in the caller's ``n``: with the driver's read size the buffer is
   empty whenever recv returns, and the only bytes left behind are part of a
   record still arriving, which the kernel will signal again.
2. *One SSL operation at a time.*  A reader and a writer thread share the
   socket (connection.py); `_lock` serialises the SSL object and the queue of
   ciphertext to send.  It is never held during a system call.
3. *Ciphertext leaves in the order it was made.*  Encrypting appends to
   `_out` under `_lock`; only the holder of `_send_lock` sends from it.  Reads
   can make ciphertext too (alerts, TLS 1.3 key-update replies): the reader
   queues it and sends it without blocking if no writer is busy; otherwise
   the writer sends it, and re-checks the queue after letting go of the send
   lock, so nothing is stranded.
4. *Plaintext is taken once it is encrypted.*  `send` encrypts at most
   `SEND_CHUNK` bytes per call and reports them sent once queued; if the
   kernel send timeout fires part way, the rest of their ciphertext goes out
   first on the next `send`, which takes nothing of its own data (returns 0,
   or raises BlockingIOError) until that is out.  So, as with a raw socket,
   one timed-out call waits one kernel timeout, and the driver's own rule
   (bytes a timed-out writer left go first) holds for the ciphertext too.

The handshake (`client_handshake`) reads one record at a time, so no byte
beyond the server's last handshake record is taken from the socket.

Over a cooperative library's socket (gevent), the handshake uses the socket
as it is (its own timeout bounds each call, in the library's event loop);
then the connection goes on `over` a `CooperativeSocket`, which gives the
raw socket the kernel's behaviour described above (cooperative.py).
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import List, Optional, Tuple, Union

from .._client.dial_errors import HandshakeEOFError
from .cooperative import CooperativeSocket

# The largest TLS record on the wire: a 5-byte header and a fragment of at
# most 2**14 + 2048 bytes (RFC 5246 §6.2.3; TLS 1.3 allows only 2**14 + 256,
# RFC 8446 §5.2).
RECORD_MAX = 5 + 2**14 + 2048
# Plaintext encrypted per send() call: bounds the bytes taken but not yet sent
# when a kernel send timeout fires.
SEND_CHUNK = 256 * 1024
# Plaintext asked of the SSL object per read: a whole record's worth.
_READ_CHUNK = 2**14 + 2048


class TLSSocket:
    """A client TLS connection over a blocking socket; see the module docstring.

    Built by `client_handshake`.  One thread may read while another writes;
    two readers (or two writers) at once are not supported, as with the
    driver's reader and writer roles.
    """

    __slots__ = (
        "_buffer",
        "_eof",
        "_incoming",
        "_lock",
        "_out",
        "_outgoing",
        "_raw",
        "_send_lock",
        "_ssl",
    )

    def __init__(
        self,
        raw: Union[socket.socket, CooperativeSocket],
        ssl_object: ssl.SSLObject,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
    ) -> None:
        self._raw = raw
        self._ssl = ssl_object
        self._incoming = incoming
        self._outgoing = outgoing
        self._lock = threading.Lock()  # the SSL object and `_out`
        self._send_lock = threading.Lock()  # held by whoever sends from `_out`
        self._out = b""  # ciphertext not yet sent, oldest first
        self._buffer = b""  # plaintext decrypted but not yet returned (reader's)
        self._eof = False  # reader's: close_notify or EOF seen

    def over(self, raw: CooperativeSocket) -> TLSSocket:
        """This connection over `raw`, a view of the same socket; right after
        the handshake only, before anything else is read or written."""
        return TLSSocket(raw, self._ssl, self._incoming, self._outgoing)

    @property
    def ssl_object(self) -> ssl.SSLObject:
        """The TLS session (peer certificate, cipher, ALPN protocol, ...)."""
        return self._ssl

    @property
    def buffered(self) -> int:
        """Plaintext bytes decrypted and not yet returned by `recv`."""
        return len(self._buffer)

    # --- reading ------------------------------------------------------------------

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Up to `bufsize` bytes of plaintext; b"" at EOF.

        `flags` (0 or MSG_DONTWAIT) go to the raw recv, which is skipped when
        plaintext is already buffered.

        Raises:
            BlockingIOError: the raw recv timed out or would block.
            OSError: the socket failed; ssl.SSLError for a TLS failure (a
                fatal alert we send back is flushed first).
        """
        buffered = self._buffer
        if buffered:
            if len(buffered) <= bufsize:
                self._buffer = b""
                return buffered
            self._buffer = buffered[bufsize:]
            return buffered[:bufsize]
        if self._eof:
            return b""
        raw_size = bufsize - RECORD_MAX if bufsize > 2 * RECORD_MAX else RECORD_MAX
        raw_recv = self._raw.recv
        while True:
            data = raw_recv(raw_size, flags)
            if not data:
                self._eof = True  # EOF without close_notify: etcd's usual way
                return b""
            plain = self._decrypt(data)
            if plain:
                if len(plain) <= bufsize:
                    return plain
                self._buffer = plain[bufsize:]
                return plain[:bufsize]
            if self._eof:  # close_notify
                return b""
            # Only part of a record, or no application data in it (a TLS 1.3
            # session ticket): read again, as the caller asked for data.

    def _decrypt(self, data: bytes) -> bytes:
        """Feed ciphertext; return all the plaintext now available."""
        chunks: List[bytes] = []
        error: Optional[ssl.SSLError] = None
        incoming = self._incoming
        ssl_object = self._ssl
        with self._lock:
            incoming.write(data)
            read = ssl_object.read
            try:
                while True:
                    chunk = read(_READ_CHUNK)
                    if not chunk:  # close_notify (CPython: b"", not an error)
                        self._eof = True
                        break
                    chunks.append(chunk)
                    # Every byte fed is consumed and every record's plaintext
                    # taken (OpenSSL reads one record at a time): done,
                    # without the cost of raising SSLWantReadError.
                    if not incoming.pending and not ssl_object.pending():
                        break
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                self._eof = True
            except ssl.SSLError as exc:
                error = exc
            made = self._outgoing.read() if self._outgoing.pending else b""
            if made:
                self._out += made
        if made:
            self._flush_nowait()
        if error is not None:
            raise error
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    # --- writing ------------------------------------------------------------------

    def send(self, data: Union[bytes, memoryview]) -> int:
        """Encrypt up to `SEND_CHUNK` bytes of `data` and send them; returns
        how many plaintext bytes were taken: 0 if ciphertext an earlier call
        left (rule 4) is still not all out.  Taken bytes whose ciphertext the
        kernel send timeout kept back go first on the next call;
        ``send(b"")`` only sends those.

        Raises:
            BlockingIOError: the kernel send timeout fired before anything
                could be sent; nothing of `data` was taken.
            OSError: the socket failed.
        """
        with self._send_lock:
            if (self._out and not self._send_once(0)) or not data:
                return 0
            chunk = data if len(data) <= SEND_CHUNK else memoryview(data)[:SEND_CHUNK]
            with self._lock:
                self._ssl.write(chunk)
                out = self._outgoing.read()
                if self._out:  # a reader's, made before ours: it goes first
                    out = self._out + out
                    self._out = b""
            try:
                self._send_data(out, 0)
            except BlockingIOError:
                # Taken all the same: its ciphertext goes first next time.
                return len(chunk)
        if self._out:  # made by a reader while we held the send lock (rule 3)
            self._flush_nowait()
        return len(chunk)

    def _send_once(self, flags: int) -> bool:
        """One raw send of the queued ciphertext (send lock held); True if
        everything queued when it started went out.

        Raises:
            BlockingIOError: nothing could be sent (it stays queued).
            OSError: the socket failed.
        """
        with self._lock:
            data = self._out
            self._out = b""
        return self._send_data(data, flags) if data else True

    def _send_data(self, data: bytes, flags: int) -> bool:
        """One raw send of `data`, the oldest ciphertext (send lock held);
        what does not go out is queued first in line.  True if all went."""
        try:
            sent = self._raw.send(data, flags)
        except BaseException:
            with self._lock:
                self._out = data + self._out
            raise
        if sent == len(data):
            return True
        with self._lock:
            self._out = data[sent:] + self._out
        return False

    def _flush_nowait(self) -> None:
        """Send queued ciphertext without blocking, unless a writer is busy
        (it will).  Failures are left for the next read or write to meet."""
        while self._out and self._send_lock.acquire(blocking=False):
            try:
                if not self._send_once(socket.MSG_DONTWAIT):
                    return
            except OSError:
                return
            finally:
                self._send_lock.release()

    # --- the socket underneath ---------------------------------------------------

    def fileno(self) -> int:
        return self._raw.fileno()

    def setsockopt(self, level: int, optname: int, value: bytes) -> None:
        self._raw.setsockopt(level, optname, value)

    def getsockopt(self, level: int, optname: int, buflen: int) -> bytes:
        return self._raw.getsockopt(level, optname, buflen)

    def shutdown(self, how: int) -> None:
        self._raw.shutdown(how)

    def close(self) -> None:
        self._raw.close()


def client_handshake(
    raw: socket.socket, context: ssl.SSLContext, server_hostname: Optional[str]
) -> TLSSocket:
    """Run a client handshake over `raw` (its Python-level timeout bounds each
    socket call) and return the TLS connection.

    Raises:
        ssl.SSLError: the handshake failed (SSLCertVerificationError for the
            server's certificate).
        HandshakeEOFError: the server closed the connection.
        OSError: the socket failed or timed out (socket.timeout).
    """
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    ssl_object = context.wrap_bio(
        incoming, outgoing, server_side=False, server_hostname=server_hostname
    )
    while True:
        try:
            ssl_object.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        finally:
            # Also after an error: the alert we send back tells the server why.
            if outgoing.pending:
                raw.sendall(outgoing.read())
        if done:
            return TLSSocket(raw, ssl_object, incoming, outgoing)
        record, is_tls = _read_record(raw)
        incoming.write(record)
        if not is_tls:  # OpenSSL names the problem (e.g. "wrong version number")
            ssl_object.do_handshake()
            raise ssl.SSLError("the server's reply is not TLS")


def _read_record(raw: socket.socket) -> Tuple[bytes, bool]:
    """One whole TLS record, and never a byte more (so nothing is left to
    decrypt after the handshake); or just 5 bytes, and False, if they are not
    a TLS record header (RFC 8446 §5.1: type 20-24, version 3.x, length)."""
    header = _recv_exactly(raw, 5)
    length = int.from_bytes(header[3:5], "big")
    if not (20 <= header[0] <= 24 and header[1] == 3 and length <= RECORD_MAX - 5):
        return header, False
    return header + _recv_exactly(raw, length), True


def _recv_exactly(raw: socket.socket, size: int) -> bytes:
    chunks: List[bytes] = []
    left = size
    while left:
        data = raw.recv(left)
        if not data:
            raise HandshakeEOFError(
                "the server closed the connection during the TLS handshake"
            )
        chunks.append(data)
        left -= len(data)
    return b"".join(chunks)
