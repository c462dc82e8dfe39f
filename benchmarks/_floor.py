"""The floor of a unary call: Python and the kernel alone.

`Floor` sends one call's request bytes, encoded once by our sans-IO core
(HTTP/2 HEADERS + DATA; the HPACK block is literal-without-indexing fields,
so it can be resent as is, only the stream id changing by 2 per call), over a
plain blocking socket, and reads until the trailers (END_STREAM) of that
stream.  Receiving scans frame headers and nothing else: DATA lengths add up
for the connection's WINDOW_UPDATE, a PING or SETTINGS is acknowledged with
the next request (as our client does), GOAWAY and RST_STREAM fail the run
(but a RST_STREAM NO_ERROR, which grpc-go may send after an answer).
No HPACK decoding, no protobuf, no status check, no flow control per stream
(each stream is fresh; a response is far below its window), no locks, no
deadlines: whatever a client does beyond this is its own cost.

`CountingSocket` (`_counting.py`) wraps a socket and counts the calls that
are syscalls (send, recv, setsockopt), for the per-call counts the report prints.
"""

from __future__ import annotations

import socket
import struct
from typing import Any, List, Tuple

from _canned import join_frames, split_frames

from pyetcd_wire._core.grpc.connection import GrpcConnection
from pyetcd_wire._sync.connection import READ_SIZE  # as our client reads

# The connection window is given back once this much DATA has arrived (our
# preface opens it to 16 MiB).
WINDOW_UPDATE_AT = 1 << 20

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0, 1, 3, 4, 6, 7
END_STREAM = ACK = 0x1
NO_ERROR = bytes(4)  # the RST_STREAM payload of error code 0
_HEADER = struct.Struct(">BHBBL")  # 24-bit length as (high byte, low 16 bits)
_SETTINGS_ACK = _HEADER.pack(0, 0, SETTINGS, ACK, 0)


def dial(endpoint: str) -> socket.socket:
    """A blocking TCP socket to ``host:port`` with TCP_NODELAY, as ours dials."""
    host, port = endpoint.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Floor:
    """Unary calls of one method and request over `sock`, bytes pre-encoded.

    Args:
        sock: a connected blocking socket (or a `CountingSocket` over one).
        authority: the :authority our client would send.
        path: the gRPC method, e.g. "/etcdserverpb.KV/Range".
        request: the serialized request message, sent by every call.
    """

    def __init__(self, sock: Any, authority: str, path: str, request: bytes) -> None:
        core = GrpcConnection(authority=authority)
        core.initiate()
        preface = core.data_to_send()
        core.unary(path, request)
        self._frames = split_frames(core.data_to_send())  # stream 1
        core.unary(path, request)
        if join_frames(self._frames, 3) != core.data_to_send():
            raise RuntimeError("a call's bytes differ beyond the stream id")
        self._sock = sock
        self._next_stream = 1
        self._pending = preface  # sent with the next request
        self._buffer = b""
        self._unacked = 0  # connection DATA not yet given back
        self.message = b""  # the last DATA payload (the framed response)

    def requests(self, calls: int) -> List[Tuple[int, bytes]]:
        """(stream id, bytes) of the next `calls` calls, encoded now."""
        first = self._next_stream
        self._next_stream += 2 * calls
        return [
            (sid, join_frames(self._frames, sid))
            for sid in range(first, first + 2 * calls, 2)
        ]

    def call(self, stream_id: int, request: bytes) -> None:
        """Send one call's bytes (after any pending acks), read to its end."""
        if self._pending:
            request = self._pending + request
            self._pending = b""
        sock = self._sock
        sock.sendall(request)
        unpack = _HEADER.unpack_from
        buffer = self._buffer
        while True:
            data = sock.recv(READ_SIZE)
            if not data:
                raise ConnectionError("etcd closed the connection")
            buffer = buffer + data if buffer else data
            pos, size, done = 0, len(buffer), False
            while size - pos >= 9:
                high, low, kind, flags, sid = unpack(buffer, pos)
                end = pos + 9 + ((high << 16) | low)
                if end > size:
                    break
                if kind == DATA:
                    self._unacked += end - pos - 9
                    if sid == stream_id:
                        self.message = buffer[pos + 9 : end]
                elif kind == HEADERS and flags & END_STREAM and sid == stream_id:
                    done = True
                elif kind == PING and not flags & ACK:
                    self._pending += _HEADER.pack(0, 8, PING, ACK, 0)
                    self._pending += buffer[pos + 9 : end]
                elif kind == SETTINGS and not flags & ACK:
                    self._pending += _SETTINGS_ACK
                elif kind == RST_STREAM and buffer[pos + 9 : end] == NO_ERROR:
                    # grpc-go resets a stream it answered before it saw the
                    # request's END_STREAM (RFC 7540 section 8.1): no error.
                    pass
                elif kind in (RST_STREAM, GOAWAY):
                    payload = bytes(buffer[pos + 9 : end]).hex()
                    raise ConnectionError(
                        f"etcd sent frame type {kind} on stream {sid} (payload"
                        f" {payload}) during the call on stream {stream_id}"
                    )
                pos = end
            buffer = buffer[pos:]
            if done:
                break
        self._buffer = buffer
        if self._unacked >= WINDOW_UPDATE_AT:
            self._pending += _HEADER.pack(0, 4, 8, 0, 0)
            self._pending += struct.pack(">L", self._unacked)
            self._unacked = 0

    def close(self) -> None:
        self._sock.close()


def last_message(floor: Floor) -> bytes:
    """The response message of the floor's last call, without gRPC's 5-byte
    prefix; raises if there was none or it was compressed."""
    got = floor.message
    if len(got) < 5 or got[0] or int.from_bytes(got[1:5], "big") != len(got) - 5:
        raise RuntimeError(f"the floor's last call got {got!r}")
    return got[5:]
