"""Run FakeEtcdPeer connections on real sockets, in daemon threads.

`PeerServer` serves a socket pair, a loopback TCP listener or a unix socket;
each connection gets its own peer and thread and calls a handler per event.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Callable, cast

from .fake_peer import FakeEtcdPeer
from .peer_events import (
    PeerEvent,
    RequestEnded,
)

__all__ = [
    "Handler",
    "PeerConnection",
    "PeerServer",
    "canned_reply_handler",
    "echo_unary_handler",
]

Handler = Callable[[FakeEtcdPeer, PeerEvent], None]


def echo_unary_handler(peer: FakeEtcdPeer, event: PeerEvent) -> None:
    """When a request ends, reply with the messages it carried, status OK."""
    if isinstance(event, RequestEnded):
        record = peer.requests[event.stream_id]
        if record.reset_code is None:
            peer.reply(event.stream_id, *record.messages)


def canned_reply_handler(
    *messages: bytes, grpc_status: int = 0, grpc_message: str | None = None
) -> Handler:
    """Return a handler that answers every request, when it ends, the same way."""

    def handler(peer: FakeEtcdPeer, event: PeerEvent) -> None:
        if isinstance(event, RequestEnded):
            peer.reply(
                event.stream_id,
                *messages,
                grpc_status=grpc_status,
                grpc_message=grpc_message,
            )

    return handler


# --------------------------------------------------------------------------
# The socket runner
# --------------------------------------------------------------------------


def _ignore(peer: FakeEtcdPeer, event: PeerEvent) -> None:
    """The default handler: record requests, answer nothing."""


class PeerConnection:
    """One socket served by one :class:`FakeEtcdPeer` in a daemon thread.

    The thread waits on the socket and a wake-up socket pair, feeds what it
    reads to the peer, calls the handler once per event, then writes
    ``data_to_send()``. Built by :class:`PeerServer`; tests use its controls.
    """

    def __init__(
        self, server: PeerServer, sock: socket.socket, peer: FakeEtcdPeer
    ) -> None:
        self.peer = peer
        self.closed = threading.Event()
        self._server = server
        self._sock = sock
        self._tcp = sock.family in (socket.AF_INET, socket.AF_INET6)
        self._peer_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._reading = True
        self._abort = False
        self._eof = False
        self._paused = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="fake-etcd-peer", daemon=True
        )

    def start(self) -> None:
        """Start serving (`PeerServer` lists the connection first, so that a
        handler, run by this thread, finds it in `PeerServer.connections`);
        not once closed."""
        if not self._abort:
            self._thread.start()

    def _join(self) -> None:
        """Wait for the thread to end: not from itself, nor if never started."""
        thread = self._thread
        if thread.ident is not None and threading.current_thread() is not thread:
            thread.join(5.0)

    # -- controls (any thread) ----------------------------------------------

    @contextlib.contextmanager
    def script(self) -> Iterator[FakeEtcdPeer]:
        """Script the peer from the test thread; queued bytes are sent on exit."""
        with self._peer_lock:
            yield self.peer
        self._flush()

    def stop_reading(self) -> None:
        """Stop calling recv (the client's writes pile up, then block).

        Returns once the thread has stopped reading.
        """
        self._reading = False
        self._paused.clear()
        self._wake()
        if threading.current_thread() is not self._thread:
            self._paused.wait(5.0)

    def resume_reading(self) -> None:
        """Undo :meth:`stop_reading`."""
        self._reading = True
        self._wake()

    def abort(self) -> None:
        """Close the socket at once, unsent bytes dropped (TCP: RST via SO_LINGER 0)."""
        self._abort = True
        self._wake()
        self._join()

    def close(self) -> None:
        """Stop the thread and close the sockets (idempotent)."""
        self._abort = True
        self._wake()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # unblocks a stuck sendall
        self._join()
        self._sock.close()
        self._wake_r.close()
        self._wake_w.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    # -- the thread -----------------------------------------------------------

    def _run(self) -> None:
        try:
            self._flush()  # the server preface
            while not (self._abort or self._eof or self.peer.terminated):
                self._step()
            if self._eof and not self._abort:
                self._deliver(self.peer.receive_eof)
        except Exception as exc:  # reported by PeerServer.close()
            if not self._abort:
                self._server.errors.append(exc)
        finally:
            self._shut()

    def _step(self) -> None:
        """Wait for input once and handle it."""
        reading = self._reading
        if not reading:
            self._paused.set()
        watched = [self._wake_r, self._sock] if reading else [self._wake_r]
        ready, _, _ = select.select(watched, [], [])
        if self._wake_r in ready:
            with contextlib.suppress(OSError):
                self._wake_r.recv(4096)
            return
        try:
            data = self._sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._eof = True
        elif not (
            self._server.delay and self._server.stopping.wait(self._server.delay)
        ):
            self._deliver(lambda: self.peer.receive_data(data))

    def _deliver(self, feed: Callable[[], list[PeerEvent]]) -> None:
        """Feed the peer, run the handler on each event, send the result."""
        with self._peer_lock:
            for event in feed():
                self._server.handler(self.peer, event)
        self._flush()

    def _flush(self) -> None:
        with self._write_lock:
            with self._peer_lock:
                data = self.peer.data_to_send()
            if data and not (self._abort or self._eof):
                try:
                    self._sock.sendall(data)
                except OSError:  # the client went away: report it as EOF
                    self._eof = True

    def _shut(self) -> None:
        if self._tcp and self._abort:  # close() below then sends RST, not FIN
            with contextlib.suppress(OSError):
                self._sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
        self._sock.close()
        self.closed.set()


class PeerServer:
    """Serve :class:`FakeEtcdPeer` connections from daemon threads.

    ``listen=False`` (default): one connection over ``socket.socketpair()``;
    the test talks through ``client_socket``. ``listen=True``: a loopback TCP
    listener at ``address`` accepting any number of connections, each with a
    fresh peer from ``peer_factory`` (for reconnect tests).

    Errors raised by the handler or the peer end that connection and are
    re-raised by :meth:`close`. Use it as a context manager.
    """

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        listen: bool = False,
        unix_path: str | None = None,
        peer_factory: Callable[[], FakeEtcdPeer] = FakeEtcdPeer,
        delay: float = 0.0,
    ) -> None:
        """Start serving.

        Args:
            handler: called as ``handler(peer, event)`` for every event, under
                the connection's lock; it scripts replies. Default: none.
            listen: TCP on 127.0.0.1 instead of a socket pair.
            unix_path: listen on this unix socket path instead (implies listen).
            peer_factory: builds the peer of each connection.
            delay: seconds to wait before handling each batch read (settable).
        """
        self.handler: Handler = handler or _ignore
        self.delay = delay
        self.errors: list[BaseException] = []
        self.connections: list[PeerConnection] = []
        self.stopping = threading.Event()
        self.client_socket: socket.socket | None = None
        self.address: tuple[str, int] | None = None
        self._factory = peer_factory
        self._new_connection = threading.Condition()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self.unix_path = unix_path
        if listen or unix_path:
            self._listen()
        else:
            server_end, self.client_socket = socket.socketpair()
            self._add(server_end)

    def _listen(self) -> None:
        if self.unix_path:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(self.unix_path)
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind(("127.0.0.1", 0))
            self.address = cast("tuple[str, int]", listener.getsockname())
        listener.listen(8)
        self._listener = listener
        self._wake = socket.socketpair()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name="fake-etcd-accept", daemon=True
        )
        self._accept_thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        assert self._wake is not None
        while not self.stopping.is_set():
            ready, _, _ = select.select([self._listener, self._wake[0]], [], [])
            if self._listener not in ready or self.stopping.is_set():
                continue
            try:
                sock, _ = self._listener.accept()
                if sock.family != socket.AF_UNIX:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._add(sock)
            except Exception as exc:  # reported by close()
                self.errors.append(exc)

    def _add(self, sock: socket.socket) -> None:
        try:
            connection = PeerConnection(self, sock, self._factory())
        except Exception:
            sock.close()
            raise
        with self._new_connection:
            self.connections.append(connection)
            self._new_connection.notify_all()
        connection.start()

    def wait_for_connection(
        self, index: int = 0, timeout: float = 5.0
    ) -> PeerConnection:
        """Return connection number ``index`` (0-based), waiting for it to arrive.

        Raises:
            TimeoutError: if it did not arrive in time.
        """
        with self._new_connection:
            if not self._new_connection.wait_for(
                lambda: len(self.connections) > index, timeout
            ):
                raise TimeoutError(f"connection #{index} did not arrive")
            return self.connections[index]

    @property
    def connection(self) -> PeerConnection:
        """The latest connection (waits up to 5 s for the first)."""
        self.wait_for_connection(0)
        return self.connections[-1]

    @property
    def peer(self) -> FakeEtcdPeer:
        """The latest connection's peer (read-only use; script via :meth:`script`)."""
        return self.connection.peer

    def script(self) -> contextlib.AbstractContextManager[FakeEtcdPeer]:
        """``with server.script() as peer:`` on the latest connection."""
        return self.connection.script()

    def stop_reading(self) -> None:
        """:meth:`PeerConnection.stop_reading` on the latest connection."""
        self.connection.stop_reading()

    def resume_reading(self) -> None:
        """:meth:`PeerConnection.resume_reading` on the latest connection."""
        self.connection.resume_reading()

    def abort(self) -> None:
        """:meth:`PeerConnection.abort` on the latest connection."""
        self.connection.abort()

    def close(self) -> None:
        """Stop every thread, close every socket, then re-raise a handler error.

        Raises:
            Exception: the first error raised inside a connection thread.
        """
        if self.stopping.is_set():
            return
        self.stopping.set()
        if self._accept_thread is not None and self._wake is not None:
            self._wake[1].send(b"\0")
            self._accept_thread.join(5.0)
            self._wake[0].close()
            self._wake[1].close()
        if self._listener is not None:
            self._listener.close()
        with self._new_connection:
            connections = list(self.connections)
        for connection in connections:
            connection.close()
        if self.client_socket is not None:
            self.client_socket.close()
        if self.errors:
            raise self.errors[0]

    def __enter__(self) -> PeerServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
