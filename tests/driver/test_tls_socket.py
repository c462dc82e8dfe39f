"""The TLS adapter (`TLSSocket` over memory BIOs) and the TLS settings, against
an in-process server built on the stdlib's own `ssl.SSLSocket`: an independent
TLS implementation, driven from a helper thread."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import queue
import select
import socket
import ssl
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import pytest

from pyetcd_wire import TLS
from pyetcd_wire._async.channel import AsyncChannel
from pyetcd_wire._client import dial_errors
from pyetcd_wire._client.tls import channel_settings, default_context
from pyetcd_wire._policy.endpoints import parse_endpoint
from pyetcd_wire._sync import transport
from pyetcd_wire._sync.channel import Channel
from pyetcd_wire._sync.connection import READ_SIZE
from pyetcd_wire._sync.tls_socket import RECORD_MAX, TLSSocket
from pyetcd_wire.errors import ConnectionFailedError, DeadlineExceededError, TLSError
from pyetcd_wire.testing.fake_peer import FakeEtcdPeer
from pyetcd_wire.testing.peer_events import RequestEnded
from tests.aio import run
from tests.helpers import Acceptor, in_threads, wait_for
from tests.tls_certs import Certs, make_certs

Handler = Callable[[ssl.SSLSocket], None]

#: Bytes a TLS 1.3 record adds to its data: a 5-byte header, the inner
#: content type and a 16-byte AEAD tag (RFC 8446 §5.2; no padding).
TLS13_RECORD_OVERHEAD = 22


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def server_context(
    certs: Certs,
    alpn: Optional[List[str]] = None,
    version: Optional[ssl.TLSVersion] = None,
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    context.set_alpn_protocols(["h2"] if alpn is None else alpn)
    if version is not None:
        context.minimum_version = context.maximum_version = version
    return context


class TLSServer:
    """Accepts connections on 127.0.0.1 (or a unix socket), completes the
    handshake with `ssl.SSLSocket` and runs `handler` on each in a thread;
    what the handshake or the handler raised is kept in `errors`."""

    def __init__(
        self,
        context: ssl.SSLContext,
        handler: Handler,
        unix_path: Optional[str] = None,
    ) -> None:
        self.context = context
        self.handler = handler
        self.errors: List[BaseException] = []
        self.sni: List[Optional[str]] = []
        context.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)
        listener = None
        if unix_path:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(unix_path)
            listener.listen(8)
        self._acceptor = Acceptor(self._serve, listener)
        self.endpoint = self._acceptor.address or f"unixs://{unix_path}"

    def _serve(self, raw: socket.socket) -> None:
        try:
            raw.settimeout(10.0)
            with self.context.wrap_socket(raw, server_side=True) as conn:
                self.handler(conn)
        except Exception as exc:
            self.errors.append(exc)

    def close(self) -> None:
        self._acceptor.close()


@pytest.fixture
def serve(certs: Certs) -> Iterator[Callable[..., TLSServer]]:
    servers: List[TLSServer] = []

    def start(handler: Handler, context: Optional[ssl.SSLContext] = None, **kw):
        server = TLSServer(context or server_context(certs), handler, **kw)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def client_context(certs: Certs) -> ssl.SSLContext:
    return TLS(ca_file=certs.ca).ssl_context()


def dial(
    server: TLSServer,
    context: ssl.SSLContext,
    server_name: Optional[str] = None,
    timeout: float = 5.0,
) -> TLSSocket:
    sock = transport.connect(
        parse_endpoint(server.endpoint), timeout, context, server_name
    )
    assert isinstance(sock, TLSSocket)
    return sock


def echo(conn: ssl.SSLSocket) -> None:
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def readable(sock: TLSSocket, timeout: float = 0.0) -> bool:
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(int(timeout * 1000)))


def recv_exactly(sock: TLSSocket, size: int) -> bytes:
    chunks = []
    while size:
        data = sock.recv(min(size, READ_SIZE))
        assert data, "unexpected EOF"
        chunks.append(data)
        size -= len(data)
    return b"".join(chunks)


# --- handshake ---------------------------------------------------------------------


def test_handshake_negotiates_h2_and_round_trips(serve, certs):
    server = serve(echo)
    with contextlib.closing(dial(server, client_context(certs))) as sock:
        assert sock.ssl_object.selected_alpn_protocol() == "h2"
        assert sock.ssl_object.version() == "TLSv1.3"
        assert sock.send(b"ping") == 4
        assert recv_exactly(sock, 4) == b"ping"
    assert server.sni == [None]  # no SNI for an IP address (RFC 6066 §3)


def test_server_name_is_checked_and_sent(serve, certs):
    server = serve(echo)
    sock = dial(server, client_context(certs), server_name="localhost")
    sock.close()
    assert server.sni == ["localhost"]
    with pytest.raises(TLSError) as info:
        dial(server, client_context(certs), server_name="etcd.example.com")
    text = str(info.value)
    assert server.endpoint in text
    assert "certificate verify failed" in text
    assert "etcd.example.com" in text


def test_unknown_ca_names_endpoint_and_reason(serve, certs):
    server = serve(echo)
    with pytest.raises(TLSError) as info:
        dial(server, TLS(ca_file=certs.other_ca).ssl_context())
    assert info.value.failures[0][0] == server.endpoint
    assert info.value.failures[0][1].startswith(
        "TLS handshake failed: certificate verify failed: "
    )


@pytest.mark.parametrize("alpn", [[], ["http/1.1"]])
def test_server_not_choosing_h2_fails_clearly(serve, certs, alpn):
    server = serve(echo, server_context(certs, alpn=alpn))
    with pytest.raises(TLSError, match="did not select ALPN protocol 'h2'"):
        dial(server, client_context(certs))


def test_context_without_alpn_fails_clearly(serve, certs):
    server = serve(echo)
    bare = ssl.create_default_context(cafile=certs.ca)  # no set_alpn_protocols
    with pytest.raises(TLSError, match=r"set_alpn_protocols\(\['h2'\]\)"):
        dial(server, bare)


def test_mutual_tls_presents_the_client_certificate(serve, certs):
    seen = []

    def who(conn: ssl.SSLSocket) -> None:
        seen.append(conn.getpeercert())
        echo(conn)

    context = server_context(certs)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(certs.ca)
    server = serve(who, context)
    tls = TLS(ca_file=certs.ca, cert_file=certs.client_cert, key_file=certs.client_key)
    with contextlib.closing(dial(server, tls.ssl_context())) as sock:
        sock.send(b"x")
        assert recv_exactly(sock, 1) == b"x"
    assert dict(pair[0] for pair in seen[0]["subject"])["commonName"] == (
        "pyetcd-wire-client"
    )


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_missing_client_certificate_is_named(serve, certs, version):
    context = server_context(certs, version=version)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(certs.ca)
    server = serve(echo, context)
    if version == ssl.TLSVersion.TLSv1_2:  # refused in the handshake
        with pytest.raises(TLSError, match="TLS handshake failed") as e:
            dial(server, client_context(certs))
        assert server.endpoint in str(e.value)
        return
    # TLS 1.3: the server refuses after our Finished, so on the first read.
    # (Nothing is sent first: bytes arriving after the server closed would
    # make its kernel answer with a reset, which may overtake the alert.)
    sock = dial(server, client_context(certs))
    with contextlib.closing(sock), pytest.raises(ssl.SSLError) as info:
        sock.recv(READ_SIZE)
    assert "requires a client certificate" in dial_errors.describe(info.value)


@contextlib.contextmanager
def raw_server(behaviour: Callable[[socket.socket], None]) -> Iterator[socket.socket]:
    """A plain TCP listener running `behaviour` on each connection (a dial
    makes one).  On exit the listener and the connection are closed and the
    threads joined (tests.helpers.Acceptor).  The client may reset the
    connection: an OSError ends `behaviour` quietly."""

    def quietly(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            behaviour(conn)

    acceptor = Acceptor(quietly)
    try:
        yield acceptor.listener
    finally:
        acceptor.close()


def _dial_raw(listener: socket.socket, certs: Certs, timeout: float = 5.0) -> None:
    port = listener.getsockname()[1]
    transport.connect(
        parse_endpoint(f"https://127.0.0.1:{port}"), timeout, client_context(certs)
    )


def test_handshake_is_bounded_by_the_dial_timeout(certs):
    done = threading.Event()
    with raw_server(lambda conn: done.wait(30)) as listener:
        started = time.monotonic()
        # The dial's own timeout ended it: one that waited for the server
        # would fail 30 s later, as "the server closed the connection during
        # the TLS handshake" (no upper bound: a loaded machine wakes late).
        with pytest.raises(ConnectionFailedError, match="no TLS handshake within"):
            _dial_raw(listener, certs, timeout=0.3)
        assert time.monotonic() - started > 0.25  # not before its timeout
        done.set()


def test_plaintext_server_is_recognised(certs):
    def http(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    with raw_server(http) as listener, pytest.raises(TLSError) as info:
        _dial_raw(listener, certs)
    assert "is the endpoint serving TLS?" in str(info.value)


def test_server_closing_during_the_handshake(certs):
    expected = pytest.raises(ConnectionFailedError, match="during the TLS handshake")
    with raw_server(lambda conn: conn.recv(4096)) as listener, expected:
        _dial_raw(listener, certs)


def test_handshake_reads_no_byte_past_its_records(serve, certs):
    # The server speaks first, at once (as an HTTP/2 server sends SETTINGS);
    # whatever the handshake took from the socket beyond its own records
    # would be invisible to poll(2).
    def speak_first(conn: ssl.SSLSocket) -> None:
        conn.sendall(b"settings")
        echo(conn)

    server = serve(speak_first, server_context(certs, version=ssl.TLSVersion.TLSv1_2))
    sock = dial(server, client_context(certs))
    assert sock.buffered == 0
    assert readable(sock, 5.0)
    assert sock.recv(READ_SIZE, socket.MSG_DONTWAIT) == b"settings"
    sock.close()


def test_unixs_endpoint_checks_the_socket_name(serve, certs, tmp_path):
    path = str(tmp_path / "pyetcd.sock")  # the certificate names "pyetcd.sock"
    server = serve(echo, unix_path=path)
    with contextlib.closing(dial(server, client_context(certs))) as sock:
        sock.send(b"unix")
        assert recv_exactly(sock, 4) == b"unix"
    assert server.sni == ["pyetcd.sock"]


# --- reading -------------------------------------------------------------------------


def burst(records: int, size: int, sent: threading.Event) -> Handler:
    """A handler sending `records` records of `size` bytes back to back once
    the client says "go", then waiting for the client to close."""

    def handler(conn: ssl.SSLSocket) -> None:
        conn.recv(2)
        for i in range(records):
            conn.sendall(bytes([i % 256]) * size)
        sent.set()
        conn.recv(1)

    return handler


def arrived(sock: TLSSocket, records: int, size: int) -> None:
    """Wait until `records` records of `size` bytes (TLS 1.3: plus 22 bytes
    of header, content type and AEAD tag each) are in the kernel's receive
    queue.  The server's session tickets may be there too (some 510 bytes,
    less than one record), so a queue that long holds every record; that the
    server's sendall() returned does not say they arrived (Nagle)."""
    assert sock.ssl_object.version() == "TLSv1.3"
    wanted = records * (size + TLS13_RECORD_OVERHEAD)

    def queued() -> int:
        raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
        return int(struct.unpack("i", raw)[0])

    wait_for(lambda: queued() >= wanted)


def test_one_read_decrypts_everything_that_arrived(serve, certs):
    sent = threading.Event()
    server = serve(burst(40, 1000, sent))
    sock = dial(server, client_context(certs))
    sock.send(b"go")
    assert sent.wait(5)
    arrived(sock, 40, 1000)
    data = sock.recv(READ_SIZE)
    assert len(data) == 40_000
    assert data == b"".join(bytes([i]) * 1000 for i in range(40))
    # Nothing left anywhere: neither in the adapter nor in the kernel.
    assert sock.buffered == 0
    assert not readable(sock)
    with pytest.raises(BlockingIOError):
        sock.recv(READ_SIZE, socket.MSG_DONTWAIT)
    sock.close()


def test_the_driver_read_size_holds_two_records():
    # Rule 1 (tls_socket.py): a raw read of READ_SIZE - RECORD_MAX, plus a
    # record carried over, decrypts into at most READ_SIZE.
    assert READ_SIZE >= 2 * RECORD_MAX


def test_reads_of_the_driver_size_leave_nothing_buffered(serve, certs):
    """However the records fall into raw reads, what one raw read decrypts
    (with a partial record carried over) fits in the caller's READ_SIZE."""
    sent = threading.Event()
    server = serve(burst(200, 16_000, sent))  # 3.2 MB in full-size records
    sock = dial(server, client_context(certs))
    sock.send(b"go")
    total = 0
    while total < 200 * 16_000:
        data = sock.recv(READ_SIZE)
        assert 0 < len(data) <= READ_SIZE
        assert sock.buffered == 0
        total += len(data)
    assert sent.wait(5)
    sock.close()


def test_small_reads_come_from_the_buffer_without_the_socket(serve, certs):
    sent = threading.Event()
    server = serve(burst(3, 1000, sent))
    sock = dial(server, client_context(certs))
    sock.send(b"go")
    assert sent.wait(5)
    arrived(sock, 3, 1000)
    first = sock.recv(100)
    assert first == b"\0" * 100
    assert sock.buffered > 0
    assert not readable(sock)  # the kernel has nothing more ...
    rest = []
    while sock.buffered:  # ... and yet MSG_DONTWAIT reads return data
        rest.append(sock.recv(100, socket.MSG_DONTWAIT))
    assert len(first) + sum(map(len, rest)) == 3000
    with pytest.raises(BlockingIOError):
        sock.recv(100, socket.MSG_DONTWAIT)
    sock.close()


def test_session_tickets_alone_are_not_data_nor_eof(serve, certs):
    def quiet(conn: ssl.SSLSocket) -> None:
        conn.recv(1)  # TLS 1.3 servers send their session tickets meanwhile

    server = serve(quiet)
    sock = dial(server, client_context(certs))
    assert readable(sock, 5.0)  # the tickets
    with pytest.raises(BlockingIOError):
        sock.recv(READ_SIZE, socket.MSG_DONTWAIT)
    assert not readable(sock)
    sock.close()


def test_kernel_timeouts_pass_through(serve, certs):
    server = serve(echo)
    sock = dial(server, client_context(certs))
    timeouts = transport.KernelTimeouts(sock)
    timeouts.for_receive(0.05)
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16)
    assert raw != bytes(16)
    started = time.monotonic()
    with pytest.raises(BlockingIOError):  # the timeout fired: the echo says nothing
        sock.recv(READ_SIZE)
    assert time.monotonic() - started > 0.02  # not before it
    timeouts.for_receive(None)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16) == bytes(16)
    sock.send(b"after")
    assert recv_exactly(sock, 5) == b"after"
    sock.close()


@pytest.mark.parametrize("polite", [True, False])
def test_eof_with_and_without_close_notify(serve, certs, polite):
    def bye(conn: ssl.SSLSocket) -> None:
        conn.recv(1)
        conn.sendall(b"bye")
        if polite:  # close_notify; the client does not answer it
            conn.settimeout(0.2)
            with contextlib.suppress(OSError):
                conn.unwrap()

    server = serve(bye)
    sock = dial(server, client_context(certs))
    sock.send(b"?")
    assert recv_exactly(sock, 3) == b"bye"
    assert sock.recv(READ_SIZE) == b""
    assert sock.recv(READ_SIZE, socket.MSG_DONTWAIT) == b""
    sock.close()


def test_alert_made_by_a_read_reaches_the_server(serve, certs):
    alert = queue.Queue()

    def corrupt(conn: ssl.SSLSocket) -> None:
        conn.recv(1)
        # An application-data record that does not decrypt, sent under the
        # TLS layer: the client must answer with a fatal alert.
        socket.socket.send(conn, b"\x17\x03\x03\x00\x20" + b"\xaa" * 32)
        try:
            conn.recv(1)
        except ssl.SSLError as exc:
            alert.put(exc)
        else:
            alert.put(None)

    server = serve(corrupt)
    sock = dial(server, client_context(certs))
    sock.send(b"?")
    with pytest.raises(ssl.SSLError):
        sock.recv(READ_SIZE)
    got = alert.get(timeout=5)
    assert got is not None
    assert "alert" in str(got).lower()
    sock.close()


# --- writing -------------------------------------------------------------------------


def test_full_duplex_from_two_threads(serve, certs):
    server = serve(echo)
    sock = dial(server, client_context(certs))
    payload = os.urandom(3 * 1024 * 1024 + 17)
    received = bytearray()

    def read(_: int) -> None:
        while len(received) < len(payload):
            data = sock.recv(READ_SIZE)
            assert data
            received.extend(data)

    def write(_: int) -> None:
        view = memoryview(payload)
        while view:
            view = view[sock.send(view[:100_000]) :]

    errors = in_threads(lambda n: (read, write)[n](n), 2)
    assert errors == []
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
    sock.close()


def test_send_timeout_keeps_the_stream_whole(serve, certs):
    """A writer whose kernel send timeout fires part way (the server is not
    reading) goes on later; the server gets every byte, in order."""
    may_read = threading.Event()
    digest = queue.Queue()
    payload = os.urandom(16 * 1024 * 1024)

    def slow_reader(conn: ssl.SSLSocket) -> None:
        may_read.wait(10)
        got = hashlib.sha256()
        size = 0
        while size < len(payload):
            data = conn.recv(65536)
            if not data:
                break
            got.update(data)
            size += len(data)
        digest.put(got.digest())

    server = serve(slow_reader)
    sock = dial(server, client_context(certs))
    timeouts = transport.KernelTimeouts(sock)
    timeouts.for_send(0.05)
    view = memoryview(payload)
    stalls = 0
    while view:  # as Connection._write does
        try:
            sent = sock.send(view)
        except BlockingIOError:
            sent = 0
        if sent < len(view) and sent == 0:
            stalls += 1
            if stalls == 3:
                may_read.set()
        view = view[sent:]
    assert stalls >= 3  # the timeout did fire
    timeouts.for_send(None)
    sock.send(b"")  # push out the ciphertext the last timeout kept back
    assert digest.get(timeout=20) == hashlib.sha256(payload).digest()
    sock.close()


# --- the channel over TLS --------------------------------------------------------


def grpc_peer(messages: int = 1, size: int = 0) -> Handler:
    """FakeEtcdPeer (h2's server side) over the TLS connection: echoes each
    request, or answers it with `messages` messages of `size` bytes."""

    def handler(conn: ssl.SSLSocket) -> None:
        peer = FakeEtcdPeer()
        conn.sendall(peer.data_to_send())
        while True:
            try:
                data = conn.recv(65536)
            except (ssl.SSLError, OSError):
                return
            if not data:
                return
            for event in peer.receive_data(data):
                if isinstance(event, RequestEnded):
                    request = peer.requests[event.stream_id].messages
                    replies = request if not size else [b"m" * size] * messages
                    peer.reply(event.stream_id, *replies)
            out = peer.data_to_send()
            if out:
                conn.sendall(out)

    return handler


def test_channel_unary_calls_over_tls(serve, certs):
    server = serve(grpc_peer())
    context = client_context(certs)
    for endpoint in (f"https://{server.endpoint}", server.endpoint):
        with Channel(endpoint, ssl_context=context, dial_timeout=5) as channel:
            assert channel.unary("/svc/Echo", b"hello", timeout=5) == b"hello"
            big = os.urandom(1024 * 1024)
            assert channel.unary("/svc/Echo", big, timeout=10) == big

            def call(n: int) -> None:
                for i in range(20):
                    message = f"{n}-{i}".encode() * 100
                    assert channel.unary("/svc/Echo", message, timeout=10) == message

            assert in_threads(call, 8) == []


def test_channel_https_without_context_uses_the_system_roots(serve, certs):
    server = serve(grpc_peer())
    with Channel(f"https://{server.endpoint}", dial_timeout=5) as channel:
        assert channel.ssl_context is default_context()
        with pytest.raises(TLSError, match="certificate verify failed"):
            channel.unary("/svc/Echo", b"x", timeout=5)


def test_channel_tls_choice_follows_the_endpoint_form(certs):
    context = client_context(certs)
    assert Channel("http://127.0.0.1:1", ssl_context=context).ssl_context is None
    assert Channel("127.0.0.1:1", ssl_context=context).ssl_context is context
    assert Channel("https://127.0.0.1:1", ssl_context=context).ssl_context is context
    assert Channel("127.0.0.1:1").ssl_context is None
    assert Channel("unix:///tmp/x.sock", ssl_context=context).ssl_context is context
    assert Channel("unixs:///tmp/x.sock").ssl_context is default_context()


def test_stream_worker_pattern_never_sleeps_on_decrypted_data(serve, certs):
    """poll(2) on the descriptor, then `pump()` (one non-blocking read): the
    way stream_worker.py reads.  Were decrypted bytes left in the adapter, poll
    would sleep on them and the stream would never end."""
    server = serve(grpc_peer(messages=60, size=20_000))
    with Channel(server.endpoint, ssl_context=client_context(certs)) as channel:
        stream = channel.server_stream("/svc/Many", b"", timeout=10)
        conn = stream.connection
        poller = select.poll()
        fd = conn.hold_fd()
        assert fd is not None
        poller.register(fd, select.POLLIN)
        got = 0
        try:
            while not stream.ended:
                assert poller.poll(5000), "poll slept though the stream had not ended"
                assert conn.pump()
                taken = stream.take_messages()
                stream.message_consumed(len(taken))
                got += len(taken)
        finally:
            conn.release_fd()
        assert got == 60
        assert stream.end_error() is None


def test_async_close_does_not_wait_for_a_silent_peer(serve, certs):
    """AsyncChannel.close() aborts its TLS connections: a graceful close
    waited for the server's close_notify (30 s on Python 3.11, for good on
    3.9), keeping the socket open after the client said it had closed."""
    release = threading.Event()

    def silent_after_close(conn: ssl.SSLSocket) -> None:
        grpc_peer()(conn)  # until the client closes
        release.wait(30)  # then neither close_notify nor FIN goes back

    server = serve(silent_after_close)

    async def main() -> None:
        context = client_context(certs)
        channel = AsyncChannel(server.endpoint, ssl_context=context)
        assert await channel.unary("/svc/Echo", b"hi", timeout=10) == b"hi"
        channel.close()
        await asyncio.wait_for(channel.wait_closed(), 10)

    try:
        run(main())
    finally:
        release.set()


def test_async_alpn_refusal_closes_at_once(serve, certs):
    """A server that does not choose h2: the asyncio dial gives the
    connection up at once (a graceful close left it open, waiting for the
    server's close_notify, after the client had closed)."""
    release = threading.Event()
    server = serve(lambda conn: release.wait(30), server_context(certs, alpn=[]))

    async def main() -> None:
        context = client_context(certs)
        channel = AsyncChannel(server.endpoint, ssl_context=context)
        with pytest.raises(TLSError, match="ALPN"):
            await channel.unary("/svc/Echo", b"hi", timeout=10)
        channel.close()
        await channel.wait_closed()

    try:
        run(main())
    finally:
        release.set()


# --- TLS settings --------------------------------------------------------------------


def test_tls_builds_a_verifying_h2_context(certs):
    tls = TLS(ca_file=certs.ca, server_name="etcd.example")
    context = tls.ssl_context()
    assert context is tls.ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert channel_settings(tls) == (context, "etcd.example")
    assert channel_settings(context) == (context, None)
    assert channel_settings(None) == (None, None)
    with pytest.raises(TypeError, match="tls= must be"):
        channel_settings("ca.pem")  # type: ignore[arg-type]


def test_tls_is_frozen_and_readable(certs):
    tls = TLS(ca_file=Path(certs.ca))
    assert tls.ca_file == certs.ca
    assert tls.cert_file is None
    assert repr(tls) == f"TLS(ca_file={certs.ca!r})"
    assert tls == TLS(ca_file=certs.ca)
    with pytest.raises(AttributeError):
        tls.ca_file = "other"  # type: ignore[misc]


@pytest.fixture
def bad_files(tmp_path: Path, certs: Certs):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    (tmp_path / "dir").mkdir()
    return {
        "missing": str(tmp_path / "missing.pem"),
        "garbage": str(garbage),
        "dir": str(tmp_path / "dir"),
    }


@pytest.mark.parametrize("kind", ["missing", "garbage", "dir"])
@pytest.mark.parametrize("field", ["ca_file", "cert_file", "key_file"])
def test_bad_file_is_named_when_tls_is_created(certs, bad_files, kind, field):
    files = {
        "ca_file": certs.ca,
        "cert_file": certs.client_cert,
        "key_file": certs.client_key,
    }
    files[field] = bad_files[kind]
    with pytest.raises(ValueError, match=f"TLS: {field} '{bad_files[kind]}'"):
        TLS(**files)


def test_key_of_another_certificate_is_named(certs):
    with pytest.raises(ValueError, match="is not the PEM private key") as info:
        TLS(ca_file=certs.ca, cert_file=certs.client_cert, key_file=certs.server_key)
    assert f"key_file {certs.server_key!r} is not" in str(info.value)


def test_encrypted_key_is_refused_without_prompting(certs, tmp_path):
    encrypted = tmp_path / "encrypted.key"
    subprocess.run(
        [
            *("openssl", "pkey", "-in", certs.client_key, "-aes256"),
            *("-passout", "pass:secret", "-out", str(encrypted)),
        ],
        check=True,
        capture_output=True,
    )
    with pytest.raises(ValueError, match="encrypted private key"):
        TLS(cert_file=certs.client_cert, key_file=encrypted)


def test_cert_file_holding_its_key_and_other_misuse(certs, tmp_path):
    both = tmp_path / "both.pem"
    both.write_bytes(
        Path(certs.client_cert).read_bytes() + Path(certs.client_key).read_bytes()
    )
    assert TLS(cert_file=both).key_file is None
    with pytest.raises(ValueError, match="holds no private key"):
        TLS(cert_file=certs.client_cert)
    with pytest.raises(ValueError, match="key_file given without cert_file"):
        TLS(key_file=certs.client_key)
    with pytest.raises(ValueError, match="empty path"):
        TLS(ca_file="")
    with pytest.raises(ValueError, match="server_name"):
        TLS(server_name="")
    with pytest.raises(TypeError, match="ca_file must be a path"):
        TLS(ca_file=3)  # type: ignore[arg-type]


def test_ssl_error_descriptions_drop_openssl_noise():
    error = ssl.SSLError(
        1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)"
    )
    error.reason = "WRONG_VERSION_NUMBER"  # type: ignore[misc]
    assert dial_errors.describe_ssl_error(error) == (
        "wrong version number (is the endpoint serving TLS?)"
    )


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_calls_deadline_bounds_its_dial(certs, driver):
    """A member that accepts TCP but never answers the TLS handshake (a frozen
    one): a call with a deadline shorter than dial_timeout fails at its
    deadline, as DeadlineExceededError, instead of waiting for the dial."""
    done = threading.Event()
    with raw_server(lambda conn: done.wait(30)) as listener:
        endpoint = f"https://127.0.0.1:{listener.getsockname()[1]}"
        try:
            if driver == "sync":
                channel = Channel(endpoint, ssl_context=client_context(certs))
                with channel, pytest.raises(DeadlineExceededError):
                    channel.unary("/svc/Echo", b"", timeout=0.3)
            else:

                async def main() -> None:
                    channel = AsyncChannel(endpoint, ssl_context=client_context(certs))
                    try:
                        with pytest.raises(DeadlineExceededError):
                            await channel.unary("/svc/Echo", b"", timeout=0.3)
                    finally:
                        channel.close()
                        await channel.wait_closed()

                run(main())
        finally:
            done.set()


def test_a_deadline_that_ends_a_redial_names_the_failed_connection(certs, client_class):
    """The first dial fails (the member closes the connection during the TLS
    handshake); the retry's dial hangs until the call's deadline cuts it.  The
    caller learns why it never got a connection, not only that time ran out
    (on a slow machine, the deadline ending one of the many quick redials to a
    member with the wrong CA said just 'deadline exceeded connecting')."""
    hold = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(2)
    accepted: List[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            listener.accept()[0].close()  # the first: closed at once
            accepted.append(listener.accept()[0])  # the next: never answered
            hold.wait(30)

    server = threading.Thread(target=serve)
    server.start()
    endpoint = f"https://127.0.0.1:{listener.getsockname()[1]}"
    try:
        client = client_class(endpoint, tls=TLS(ca_file=certs.ca), timeout=0.5)
        with contextlib.closing(client), pytest.raises(ConnectionFailedError) as info:
            client.get("/k")
    finally:
        hold.set()
        listener.close()
        server.join()
        for conn in accepted:
            conn.close()
    assert [why for _, why in info.value.failures] == [
        "the server closed the connection during the TLS handshake"
        " (does it serve TLS, and accept this client?)",
        "the call's deadline passed while connecting",
    ]
    assert {where for where, _ in info.value.failures} == {endpoint}
