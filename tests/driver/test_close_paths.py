"""Closing connections (issue 14): a connection closed by one thread while
another uses it ends that thread's call with ConnectionLostError, never with
an OSError of a socket pulled from under it; every socket a close path gives
up is closed, and closed by the time the close says it is."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import threading
import time
from typing import Callable, Iterator, List, Optional, Tuple

import pytest

from pyetcd_wire._async.channel import AsyncChannel
from pyetcd_wire._core.grpc.connection import GrpcConnection
from pyetcd_wire._policy.endpoints import parse_endpoint
from pyetcd_wire._sync import transport
from pyetcd_wire._sync.channel import Channel
from pyetcd_wire._sync.connection import Connection
from pyetcd_wire.errors import (
    ConnectionFailedError,
    ConnectionLostError,
    DeadlineExceededError,
)
from pyetcd_wire.testing.fake_peer import FakeEtcdPeer
from pyetcd_wire.testing.peer_events import PeerEvent, RequestEnded
from pyetcd_wire.testing.peer_server import PeerServer
from tests.aio import run, wait_until
from tests.helpers import wait_for


@pytest.fixture
def server() -> Iterator[PeerServer]:
    """A fake etcd that echoes "/svc/Echo" and never answers anything else."""

    def handler(peer: FakeEtcdPeer, event: PeerEvent) -> None:
        if isinstance(event, RequestEnded):
            record = peer.requests[event.stream_id]
            if record.path == "/svc/Echo":
                peer.reply(event.stream_id, *record.messages)

    with PeerServer(handler, listen=True) as server:
        yield server


def connect(server: PeerServer, wrap: Callable[[socket.socket], object] = lambda s: s):
    assert server.address is not None
    raw = socket.create_connection(server.address)
    sock = wrap(raw)
    core = GrpcConnection(authority="localhost", endpoint="fake")
    return raw, sock, Connection(sock, core, "fake")  # type: ignore[arg-type]


class RacingSocket:
    """A socket whose next setsockopt(SO_RCVTIMEO) first lets `before`
    run to its end on another thread: the moment the fault run of issue 14
    met (another thread closed the connection as this one, holding the
    reader role, set its receive timeout)."""

    def __init__(self, raw: socket.socket) -> None:
        self.raw = raw
        self.before: Optional[Callable[[], None]] = None

    def setsockopt(self, level: int, option: int, value: bytes) -> None:
        before = self.before
        if before is not None and option == socket.SO_RCVTIMEO:
            self.before = None
            thread = threading.Thread(target=before)
            thread.start()
            thread.join()
        self.raw.setsockopt(level, option, value)

    def recv(self, size: int, flags: int = 0) -> bytes:
        return self.raw.recv(size, flags)

    def send(self, data: bytes) -> int:
        return self.raw.send(data)

    def fileno(self) -> int:
        return self.raw.fileno()

    def shutdown(self, how: int) -> None:
        self.raw.shutdown(how)

    def close(self) -> None:
        self.raw.close()


def test_a_reader_whose_connection_another_thread_closes_gets_connection_lost(
    server: PeerServer,
) -> None:
    raw, racing, conn = connect(server, RacingSocket)
    racing.before = conn.close
    with pytest.raises(ConnectionLostError, match="the client closed"):
        conn.unary("/svc/Hang", b"", deadline=time.monotonic() + 30)
    assert raw.fileno() == -1  # closed once the reader let go of it


def test_a_descriptor_being_polled_stays_open_until_released(
    server: PeerServer,
) -> None:
    raw, _, conn = connect(server)
    assert conn.unary("/svc/Echo", b"hi", deadline=None)[0] == b"hi"
    fd = conn.hold_fd()
    assert fd == raw.fileno()
    conn.close()
    assert conn.hold_fd() is None  # closed: nothing more to poll
    # Shut down, so a poll on it wakes; but open, so its number cannot be
    # given to a new socket while the poll still watches it.
    assert raw.fileno() == fd
    os.fstat(fd)
    conn.release_fd()
    assert raw.fileno() == -1


class NoDelaySocket(socket.socket):
    """A socket that refuses TCP_NODELAY."""

    def setsockopt(self, *args: object) -> None:  # type: ignore[override]
        raise OSError(errno.ENOPROTOOPT, "no TCP_NODELAY here")


def test_a_dial_that_fails_after_connecting_closes_its_socket(
    server: PeerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: List[socket.socket] = []

    def create_connection(address: Tuple[str, int], timeout: object) -> socket.socket:
        sock = NoDelaySocket()
        made.append(sock)
        sock.connect(address)
        return sock

    monkeypatch.setattr(transport.socket, "create_connection", create_connection)
    assert server.address is not None
    host, port = server.address
    with pytest.raises(ConnectionFailedError, match="no TCP_NODELAY here"):
        transport.connect(parse_endpoint(f"{host}:{port}"), 5.0)
    assert made[0].fileno() == -1  # closed, not left to the collector


def _requested(server: PeerServer) -> bool:
    """The server has a connection and a request on it."""
    return bool(server.connections and server.peer.requests)


def _goaway_after_first_call(server: PeerServer) -> None:
    with server.script() as peer:
        peer.goaway(last_stream_id=1)


# --- asyncio ------------------------------------------------------------------------


def test_a_drained_connection_closes_once_its_last_call_ended(
    server: PeerServer,
) -> None:
    """GOAWAY with a call in flight: the channel dials a new connection and
    the old one finishes its call, then closes (it was left open until the
    client closed, and then, not being the current one, not closed at all)."""
    assert server.address is not None
    host, port = server.address

    async def main() -> List[bytes]:
        channel = AsyncChannel(f"{host}:{port}")
        try:
            first = asyncio.ensure_future(channel.unary("/svc/Hang", b"", timeout=30))
            old = await channel.connection()
            await wait_until(lambda: _requested(server))
            _goaway_after_first_call(server)
            await wait_until(lambda: not old.usable)
            new = await channel.connection()
            assert new is not old
            with server.connections[0].script() as peer:
                peer.reply(1, b"done")
            replies = [await first, await channel.unary("/svc/Echo", b"hi", timeout=30)]
            await asyncio.wait_for(asyncio.shield(old.socket_closed), 10)
            return replies
        finally:
            channel.close()
            await channel.wait_closed()

    assert run(main()) == [b"done", b"hi"]


def test_a_drained_connection_closes_once_its_last_call_gave_up(
    server: PeerServer,
) -> None:
    """GOAWAY with a call in flight that then passes its deadline: the old
    connection has nothing left to do and closes (the sync one stayed open
    until the client closed; an answered last call already closed it)."""
    assert server.address is not None
    host, port = server.address
    channel = Channel(f"{host}:{port}")
    try:
        old = channel.connection(None)

        def hang() -> None:
            with pytest.raises(DeadlineExceededError):
                channel.unary("/svc/Hang", b"", timeout=2)

        hung = threading.Thread(target=hang)
        hung.start()
        wait_for(lambda: _requested(server))
        _goaway_after_first_call(server)
        hung.join(10)
        assert server.connections[0].closed.wait(10)  # with no other call
        assert old.closed
    finally:
        channel.close()


def test_a_drained_asyncio_connection_closes_once_its_last_call_gave_up(
    server: PeerServer,
) -> None:
    assert server.address is not None
    host, port = server.address

    async def main() -> None:
        channel = AsyncChannel(f"{host}:{port}")
        try:
            first = asyncio.ensure_future(channel.unary("/svc/Hang", b"", timeout=2))
            old = await channel.connection()
            await wait_until(lambda: _requested(server))
            _goaway_after_first_call(server)
            with pytest.raises(DeadlineExceededError):
                await first
            assert await channel.unary("/svc/Echo", b"hi", timeout=30) == b"hi"
            await asyncio.wait_for(asyncio.shield(old.socket_closed), 10)
        finally:
            channel.close()
            await channel.wait_closed()

    run(main())
