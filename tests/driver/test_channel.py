"""The sync driver against FakeEtcdPeer (h2's server side) over real sockets:
what a real etcd will not do on demand."""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable, Dict

import pytest
from h2.settings import SettingCodes

from pyetcd_wire._sync.channel import Channel
from pyetcd_wire._sync.connection import DEFERRED_MAX, Connection
from pyetcd_wire.errors import (
    ConnectionFailedError,
    ConnectionLostError,
    DeadlineExceededError,
    InternalError,
    NotFoundError,
    RemoteProtocolError,
    ResourceExhaustedError,
    RpcCancelledError,
    UnavailableError,
    UnimplementedError,
    UnknownError,
)
from pyetcd_wire.testing.fake_peer import FakeEtcdPeer
from pyetcd_wire.testing.peer_events import (
    ETCD_SERVER_SETTINGS,
    PeerEvent,
    RequestEnded,
    StreamReset,
    raw_frame,
)
from pyetcd_wire.testing.peer_server import (
    PeerServer,
)
from tests.helpers import count_dialed_sockets, in_threads, wait_for

Script = Callable[[FakeEtcdPeer, int, bytes], None]


def route(**scripts: Script):
    """A handler answering each finished request by its method name."""

    def handler(peer: FakeEtcdPeer, event: PeerEvent) -> None:
        if isinstance(event, RequestEnded):
            record = peer.requests[event.stream_id]
            method = record.path.rsplit("/", 1)[-1]
            request = record.messages[0] if record.messages else b""
            scripts.get(method, echo)(peer, event.stream_id, request)

    return handler


def echo(peer: FakeEtcdPeer, sid: int, request: bytes) -> None:
    peer.reply(sid, request)


def silent(peer: FakeEtcdPeer, sid: int, request: bytes) -> None:
    pass


@pytest.fixture
def serve():
    servers = []

    def start(handler=None, **kwargs) -> tuple[PeerServer, Channel]:
        seen: list[PeerEvent] = []
        inner = handler or route()

        def recording(peer: FakeEtcdPeer, event: PeerEvent) -> None:
            seen.append(event)
            inner(peer, event)

        server = PeerServer(recording, listen=True, **kwargs)
        server.seen = seen  # type: ignore[attr-defined]
        servers.append(server)
        host, port = server.address
        channel = Channel(f"{host}:{port}", dial_timeout=2.0)
        servers.append(channel)
        return server, channel

    yield start
    for thing in reversed(servers):
        thing.close()


def test_unary_echo(serve):
    server, ch = serve()
    assert ch.unary("/svc/Echo", b"hello", timeout=5) == b"hello"
    record = server.peer.requests[1]
    assert record.path == "/svc/Echo"
    assert record.headers[b"te"] == b"trailers"
    assert record.headers[b"content-type"] == b"application/grpc"
    assert record.headers[b"grpc-timeout"].endswith(b"u")


def test_metadata_goes_out(serve):
    server, ch = serve()
    ch.unary("/svc/Echo", b"", metadata=(("token", "abc"), ("hasleader", "true")))
    headers = server.peer.requests[1].headers
    assert headers[b"token"] == b"abc"
    assert headers[b"hasleader"] == b"true"
    assert b"grpc-timeout" not in headers


def test_response_metadata_comes_back(serve):
    def with_metadata(peer, sid, request):
        peer.send_response_headers(sid, extra=[("x-header", "h")])
        peer.send_message(sid, request)
        peer.send_trailers(sid, extra=[("x-trailer", "t")])

    _, ch = serve(route(Meta=with_metadata))
    message, headers, trailers = ch.unary_with_metadata("/svc/Meta", b"m", timeout=5)
    assert message == b"m"
    assert (b"x-header", b"h") in headers
    assert (b"x-trailer", b"t") in trailers
    assert (b"grpc-status", b"0") in trailers


def test_trailers_only_error(serve):
    def not_found(peer, sid, request):
        peer.trailers_only(sid, grpc_status=5, grpc_message="etcdserver: not found")

    _, ch = serve(route(Echo=not_found))
    with pytest.raises(NotFoundError, match="etcdserver: not found") as info:
        ch.unary("/svc/Echo", b"")
    assert info.value.endpoint.startswith("127.0.0.1:")


@pytest.mark.parametrize(
    ("script", "error", "text"),
    [
        (
            lambda p, s, r: (
                p.send_response_headers(s),
                p.send_message(s, b"x"),
                p.send_trailers(s, grpc_status=None, extra=[("x-other", "1")]),
            ),
            UnknownError,
            "no grpc-status",
        ),
        (
            lambda p, s, r: (
                p.send_response_headers(s, content_type="text/html"),
                p.send_trailers(s),
            ),
            UnknownError,
            "text/html",
        ),
        (
            lambda p, s, r: p.trailers_only(
                s, grpc_status=None, http_status=503, content_type="text/plain"
            ),
            UnavailableError,
            "503",
        ),
        (lambda p, s, r: p.reply(s, b"a", b"b"), InternalError, "returned 2 messages"),
        (lambda p, s, r: p.reply(s), InternalError, "returned 0 messages"),
        (
            lambda p, s, r: (
                p.send_response_headers(s),
                p.send_message(s, b"x", compressed_flag=1),
                p.send_trailers(s),
            ),
            InternalError,
            "compressed",
        ),
        (lambda p, s, r: p.reset(s, 0x7), UnavailableError, "REFUSED_STREAM"),
        (lambda p, s, r: p.reset(s, 0x8), RpcCancelledError, "CANCEL"),
        (lambda p, s, r: p.reset(s, 0xB), ResourceExhaustedError, "ENHANCE_YOUR_CALM"),
    ],
)
def test_odd_responses_are_typed_and_connection_survives(serve, script, error, text):
    server, ch = serve(route(Odd=script))
    with pytest.raises(error, match=text):
        ch.unary("/svc/Odd", b"req", timeout=5)
    assert ch.unary("/svc/Echo", b"after", timeout=5) == b"after"
    server.wait_for_connection(0)
    assert len(server.connections) == 1


def test_refused_stream_is_marked_not_processed(serve):
    _, ch = serve(route(Odd=lambda p, s, r: p.reset(s, 0x7)))
    with pytest.raises(UnavailableError) as info:
        ch.unary("/svc/Odd", b"")
    assert info.value.not_processed


def test_oversized_message_fails_before_buffering_and_connection_survives(serve):
    server, _ = serve(route(Big=lambda p, s, r: p.reply(s, b"z" * 5000)))
    host, port = server.address
    with Channel(f"{host}:{port}", max_recv_message_size=1000) as ch:
        with pytest.raises(
            ResourceExhaustedError, match=r"larger than max \(5000 vs\. 1000\)"
        ):
            ch.unary("/svc/Big", b"")
        assert ch.unary("/svc/Echo", b"ok") == b"ok"


def test_twenty_mebibyte_response(serve):
    big = bytes(range(256)) * (20 * 4096)
    _, ch = serve(route(Big=lambda p, s, r: p.reply(s, big)))
    assert ch.unary("/svc/Big", b"", timeout=30) == big


def test_large_request_waits_for_window_updates(serve):
    server, _ = serve()
    host, port = server.address
    payload = b"p" * (3 * 1024 * 1024)
    with Channel(f"{host}:{port}", max_send_message_size=4 * 1024 * 1024) as ch:
        assert ch.unary("/svc/Echo", payload, timeout=30) == payload


def test_padded_frames_and_continuation(serve):
    def fancy(peer, sid, request):
        peer.send_response_headers(sid)
        peer.send_message(sid, b"padded", pad_length=50)
        peer.send_trailers(sid, extra=[("x-big", "v" * 40000)])

    _, ch = serve(route(Fancy=fancy))
    assert ch.unary("/svc/Fancy", b"") == b"padded"


def test_hpack_table_size_updates(serve):
    def resize(peer, sid, request):
        peer.set_header_table_size(0)
        peer.reply(sid, request)

    _server, ch = serve(route(Resize=resize))
    for i in range(5):
        assert ch.unary("/svc/Echo" if i % 2 else "/svc/Resize", b"%d" % i) == b"%d" % i


def one_stream_peer() -> FakeEtcdPeer:
    return FakeEtcdPeer(local_settings={SettingCodes.MAX_CONCURRENT_STREAMS: 1})


def hammer(ch: Channel, threads: int = 4, calls: int = 20) -> Dict[int, bytes]:
    results: Dict[int, bytes] = {}

    def work(n: int) -> None:
        for i in range(calls):
            key = n * 1000 + i
            results[key] = ch.unary("/svc/Echo", b"%d" % key, timeout=10)

    assert in_threads(work, threads) == []
    return results


def test_max_concurrent_streams_queues_instead_of_failing(serve):
    server, ch = serve(peer_factory=one_stream_peer)
    ch.unary("/svc/Echo", b"warm-up")  # the server's SETTINGS are known from here on
    results = hammer(ch)
    assert len(results) == 80
    assert all(v == b"%d" % k for k, v in results.items())
    server.wait_for_connection(0)
    assert len(server.connections) == 1


def test_settings_change_mid_connection(serve):
    def handler(peer: FakeEtcdPeer, event: PeerEvent) -> None:
        if isinstance(event, RequestEnded):
            record = peer.requests[event.stream_id]
            if record.messages == [b"raise"]:
                peer.update_settings({SettingCodes.MAX_CONCURRENT_STREAMS: 100})
            peer.reply(event.stream_id, record.messages[0])

    server, ch = serve(handler, peer_factory=one_stream_peer)
    ch.unary("/svc/Echo", b"warm-up")
    assert len(hammer(ch, calls=5)) == 20
    ch.unary("/svc/Echo", b"raise")
    ch.unary("/svc/Echo", b"ack")  # the client has applied the new limit
    assert len(hammer(ch, threads=8)) == 160
    server.wait_for_connection(0)
    assert len(server.connections) == 1


def test_ping_flood_is_answered_and_calls_complete(serve):
    def flood(peer, sid, request):
        for i in range(500):
            peer.ping(b"%08d" % i)
        peer.reply(sid, request)

    server, ch = serve(route(Flood=flood))
    assert ch.unary("/svc/Flood", b"x", timeout=5) == b"x"
    assert ch.unary("/svc/Echo", b"y", timeout=5) == b"y"  # carries the queued ACKs

    def acked() -> int:
        return sum(type(e).__name__ == "PingAcked" for e in server.seen)

    wait_for(lambda: acked() >= 500)
    assert acked() == 500


def test_a_ping_ahead_of_the_trailers_is_answered_with_the_next_request(
    serve, monkeypatch
):
    """etcd's PING (grpc-go's BDP probe) often comes with a response's message,
    ahead of its trailers.  The reader's call then has its message and only
    waits for the trailers, which follow at once: the ACK waits with them and
    rides with the next request, as when the PING came with the trailers,
    instead of costing a send of its own."""
    sockets = count_dialed_sockets(monkeypatch)

    def split(peer, sid, request):
        peer.send_response_headers(sid)
        peer.send_message(sid, request)
        peer.ping(b"bdpprobe")

        def trailers():
            # The server lists a connection only after its thread started:
            # wait for it there, not in this handler (that thread).
            with server.wait_for_connection(0).script() as later:
                later.send_trailers(sid)

        threading.Timer(0.2, trailers).start()

    server, ch = serve(route(Split=split))
    assert ch.unary("/svc/Echo", b"warm-up", timeout=5) == b"warm-up"
    (counted,) = sockets
    counted.reset()
    assert ch.unary("/svc/Split", b"x", timeout=5) == b"x"
    assert counted.sends == 1  # the request alone: no ACK on its own
    assert ch.unary("/svc/Echo", b"y", timeout=5) == b"y"  # carries the ACK
    assert counted.sends == 2
    wait_for(lambda: sum(type(e).__name__ == "PingAcked" for e in server.seen) == 1)


def test_pings_flooding_ahead_of_the_trailers_are_answered_as_they_come(serve):
    """ACKs held for the next request are bounded (DEFERRED_MAX): a peer that
    floods PINGs between a call's message and its trailers, and sends the
    trailers only once it has 200 ACKs, gets them while the call waits (all
    held, the call would wait out its deadline)."""

    def acked() -> int:
        return sum(type(e).__name__ == "PingAcked" for e in server.seen)

    def flood(peer, sid, request):
        peer.send_response_headers(sid)
        peer.send_message(sid, request)

        def pings_then_trailers():
            connection = server.wait_for_connection(0)
            for batch in range(20):  # apart, so that each comes in a read of its own
                with connection.script() as later:
                    for i in range(20):
                        later.ping(b"%04d%04d" % (batch, i))
                time.sleep(0.01)
            wait_for(lambda: acked() >= 200, timeout=5)
            with connection.script() as later:
                later.send_trailers(sid)

        threading.Thread(target=pings_then_trailers, daemon=True).start()

    server, ch = serve(route(Flood=flood))
    assert ch.unary("/svc/Flood", b"x", timeout=10) == b"x"
    connection = ch.connection(None)
    assert len(connection._deferred) < DEFERRED_MAX + 20 * 17
    assert ch.unary("/svc/Echo", b"y", timeout=5) == b"y"  # carries what is left
    wait_for(lambda: acked() == 400)


def test_deadline_cancels_the_call_on_the_wire(serve):
    server, ch = serve(route(Hang=silent))
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError, match="/svc/Hang"):
        ch.unary("/svc/Hang", b"", timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 2
    assert ch.unary("/svc/Echo", b"still usable", timeout=5) == b"still usable"
    wait_for(lambda: server.peer.requests[1].reset_code is not None)
    assert server.peer.requests[1].reset_code == 0x8  # RST_STREAM(CANCEL)


def test_goaway_with_calls_in_flight(serve):
    held = []

    def hold(peer, sid, request):
        held.append(sid)
        if len(held) == 3:
            peer.goaway(last_stream_id=held[1], debug_data=b"restarting")
            peer.reply(held[0], b"first")
            peer.reply(held[1], b"second")

    server, ch = serve(route(Hold=hold))
    outcomes: Dict[int, object] = {}

    def call(n: int) -> None:
        try:
            outcomes[n] = ch.unary("/svc/Hold", b"%d" % n, timeout=10)
        except Exception as exc:
            outcomes[n] = exc

    threads = []
    for n in range(3):  # streams 1, 3, 5 in order
        threads.append(threading.Thread(target=call, args=(n,)))
        threads[-1].start()
        wait_for(lambda n=n: len(server.peer.requests) > n)
    for t in threads:
        t.join()
    assert outcomes[0] == b"first"
    assert outcomes[1] == b"second"
    refused = outcomes[2]
    assert isinstance(refused, ConnectionLostError)
    assert refused.not_processed
    assert "restarting" in str(refused)
    # New calls go to a new connection; the old one closes, its calls done.
    assert ch.unary("/svc/Echo", b"new", timeout=5) == b"new"
    server.wait_for_connection(1, timeout=5)
    assert server.connections[0].closed.wait(5)
    assert not server.connections[1].closed.is_set()


def test_rst_mid_server_stream(serve):
    def stream(peer, sid, request):
        peer.send_response_headers(sid)
        peer.send_message(sid, b"one")
        peer.send_message(sid, b"two")
        peer.reset(sid, 0x2)

    _, ch = serve(route(Stream=stream))
    call = ch.server_stream("/svc/Stream", b"", timeout=5)
    assert call.receive() == b"one"
    assert call.receive() == b"two"
    with pytest.raises(InternalError, match="INTERNAL_ERROR"):
        call.receive()


def test_server_stream_and_trailers(serve):
    def stream(peer, sid, request):
        peer.send_response_headers(sid, extra=[("x-meta", "m")])
        for i in range(100):
            peer.send_message(sid, b"msg %d" % i)
        peer.send_trailers(sid, extra=[("x-trailer", "t")])

    _, ch = serve(route(Stream=stream))
    stream_call = ch.server_stream("/svc/Stream", b"", timeout=5)
    assert list(stream_call) == [b"msg %d" % i for i in range(100)]
    assert (b"x-meta", b"m") in stream_call.headers
    assert (b"x-trailer", b"t") in stream_call.trailers


def test_bidi_stream(serve):
    def handler(peer: FakeEtcdPeer, event: PeerEvent) -> None:
        name = type(event).__name__
        if name == "RequestReceived":
            peer.send_response_headers(event.stream_id)
        elif name == "RequestMessage":
            peer.send_message(event.stream_id, event.message.upper())
        elif name == "RequestEnded":
            peer.send_trailers(event.stream_id)

    _, ch = serve(handler)
    stream = ch.bidi_stream("/svc/Chat", timeout=5)
    replies = []
    for word in (b"a", b"bb", b"ccc"):
        stream.send(word)
        replies.append(stream.receive())
    stream.done_writing()
    assert replies == [b"A", b"BB", b"CCC"]
    assert stream.receive() is None


def test_cancelled_stream_sends_rst(serve):
    def stream(peer, sid, request):
        peer.send_response_headers(sid)
        peer.send_message(sid, b"first")

    server, ch = serve(route(Stream=stream))
    with ch.server_stream("/svc/Stream", b"", timeout=5) as call:
        assert call.receive() == b"first"
    wait_for(lambda: server.peer.requests[1].reset_code is not None)
    assert server.peer.requests[1].reset_code == 0x8


def test_peer_that_stops_reading(serve):
    server, _ = serve()
    host, port = server.address
    ch = Channel(f"{host}:{port}", max_send_message_size=64 * 1024 * 1024)
    assert ch.unary("/svc/Echo", b"warm-up") == b"warm-up"
    server.stop_reading()
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        ch.unary("/svc/Echo", b"x" * (16 * 1024 * 1024), timeout=0.5)
    assert time.monotonic() - started < 3
    server.resume_reading()
    ch.close()


def test_deadline_is_kept_when_the_cancel_cannot_be_sent(serve):
    """A call whose deadline passes while the socket takes no bytes (the
    server stopped reading; another call's request filled the buffer) ends
    at its deadline: its RST_STREAM waits in line for the next writer, and
    does not hold the caller (the fault campaign's deadline check found a
    cancel that took a second of its own)."""

    def open_windows(peer, sid, request):  # so that a request can fill the socket
        peer.window_update(0, 1 << 30)
        peer.reply(sid, request)

    def wide_open() -> FakeEtcdPeer:
        settings = dict(ETCD_SERVER_SETTINGS)
        settings[SettingCodes.INITIAL_WINDOW_SIZE] = (1 << 31) - 1
        return FakeEtcdPeer(local_settings=settings)

    server, ch = serve(route(Hang=silent, Open=open_windows), peer_factory=wide_open)
    ch.max_send_message_size = 64 * 1024 * 1024
    assert ch.unary("/svc/Open", b"warm-up", timeout=5) == b"warm-up"
    server.stop_reading()
    seconds: Dict[str, float] = {}

    def timed(name: str, request: bytes, timeout: float) -> None:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            ch.unary("/svc/Hang", request, timeout=timeout)
        seconds[name] = time.monotonic() - started

    waiter = threading.Thread(target=timed, args=("small", b"", 1.0))
    waiter.start()
    wait_for(lambda: ch._current is not None and not ch._current.idle)
    timed("large", b"x" * (8 * 1024 * 1024), 0.3)
    waiter.join(5)
    assert seconds["large"] < 0.3 + 0.5, seconds
    assert seconds["small"] < 1.0 + 0.5, seconds  # was 2.0: one more to cancel
    server.resume_reading()


def test_server_closes_mid_call_then_reconnect(serve):
    server, ch = serve(route(Hang=silent))
    thread_error = []

    def call():
        try:
            ch.unary("/svc/Hang", b"", timeout=10)
        except Exception as exc:
            thread_error.append(exc)

    t = threading.Thread(target=call)
    t.start()
    wait_for(lambda: server.connections and server.peer.requests)
    server.abort()
    t.join(5)
    assert isinstance(thread_error[0], ConnectionLostError)
    assert ch.unary("/svc/Echo", b"again", timeout=5) == b"again"
    server.wait_for_connection(1, timeout=5)


def test_protocol_violation_drops_the_connection(serve):
    def bad(peer, sid, request):
        peer.send_raw_frame(raw_frame(0x0, 0, 0, b"data on stream zero"))

    server, ch = serve(route(Bad=bad))
    with pytest.raises(
        RemoteProtocolError, match=r"DATA frame: sent on stream 0"
    ) as info:
        ch.unary("/svc/Bad", b"", timeout=5)
    assert info.value.frame == "DATA"
    assert ch.unary("/svc/Echo", b"fresh", timeout=5) == b"fresh"
    server.wait_for_connection(1, timeout=5)


def test_stream_id_exhaustion_moves_to_a_new_connection(serve):
    server, _ = serve()
    host, port = server.address
    with Channel(f"{host}:{port}", first_stream_id=2**31 - 3) as ch:
        for i in range(4):
            assert ch.unary("/svc/Echo", b"%d" % i, timeout=5) == b"%d" % i
    server.wait_for_connection(1, timeout=5)


def test_many_threads_share_one_connection(serve):
    before = set(threading.enumerate())  # an earlier test's may still be ending
    server, ch = serve()

    def work(n):
        for i in range(300):
            payload = b"%d-%d" % (n, i)
            assert ch.unary("/svc/Echo", payload, timeout=10) == payload

    assert in_threads(work, 8) == []
    server.wait_for_connection(0)
    assert len(server.connections) == 1
    new = set(threading.enumerate()) - before
    assert len(new) < 8, new  # no thread per call


def test_close_fails_waiting_calls_and_is_idempotent(serve):
    server, ch = serve(route(Hang=silent))
    errors = []

    def call():
        try:
            ch.unary("/svc/Hang", b"", timeout=10)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    wait_for(lambda: len(server.peer.requests) >= 3)
    ch.close()
    ch.close()
    for t in threads:
        t.join(5)
    assert len(errors) == 3
    assert all(isinstance(e, (ConnectionLostError, RpcCancelledError)) for e in errors)
    with pytest.raises(ConnectionLostError, match="closed"):
        ch.unary("/svc/Echo", b"")


def test_connect_failures_name_the_endpoint():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    with (
        Channel(f"127.0.0.1:{port}") as ch,
        pytest.raises(ConnectionFailedError) as info,
    ):
        ch.unary("/svc/Echo", b"")
    assert info.value.failures[0][0] == f"127.0.0.1:{port}"
    assert "refused" in str(info.value).lower()


def test_unimplemented_from_fake(serve):
    _, ch = serve(
        route(
            Nope=lambda p, s, r: p.trailers_only(
                s, grpc_status=12, grpc_message="unknown method"
            )
        )
    )
    with pytest.raises(UnimplementedError):
        ch.unary("/svc/Nope", b"")


def test_stream_reset_by_us_is_seen_by_peer(serve):
    server, ch = serve(route(Hang=silent))
    with pytest.raises(DeadlineExceededError):
        ch.unary("/svc/Hang", b"", timeout=0.1)
    wait_for(lambda: any(isinstance(e, StreamReset) for e in server.seen))
    resets = [e for e in server.seen if isinstance(e, StreamReset)]
    assert resets
    assert resets[0].error_code == 0x8


def test_unix_socket_endpoint(tmp_path):
    path = str(tmp_path / "etcd.sock")
    with PeerServer(route(), unix_path=path) as server:
        for endpoint in (f"unix://{path}", f"unix:{path}"):
            with Channel(endpoint) as ch:
                assert ch.unary("/svc/Echo", b"over unix", timeout=5) == b"over unix"
        assert server.peer.requests[1].headers[b":authority"] == b"etcd.sock"


def test_dial_timeout_when_the_server_never_accepts():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        # Fill the accept queue so the kernel stops answering SYNs.
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        with Channel(f"127.0.0.1:{port}", dial_timeout=0.3) as ch:
            started = time.monotonic()
            with pytest.raises(ConnectionFailedError, match="dial_timeout") as info:
                ch.unary("/svc/Echo", b"")
        assert time.monotonic() - started < 2
        assert info.value.failures[0][0] == f"127.0.0.1:{port}"
    finally:
        for s in fillers:
            s.close()
        listener.close()


class Interrupted(BaseException):
    """Stands for the KeyboardInterrupt of Ctrl-C in a waiting thread."""


def test_a_caller_interrupted_while_it_sleeps_leaves_the_line(serve, monkeypatch):
    """Three calls share a connection: R reads, B and C sleep behind it.  B
    is interrupted (Ctrl-C) in its sleep.  When R's call ends, the reader
    role must go to C, not to B's abandoned place in line; else C's answer,
    which comes after R has left, is read by nobody until C's deadline."""
    held: Dict[str, int] = {}

    def hold(peer: FakeEtcdPeer, sid: int, request: bytes) -> None:
        held[request.decode()] = sid

    server, ch = serve(route(Hold=hold))
    conn = ch.connection(None)
    sleep = Connection._sleep

    def interrupted(self, slot, deadline, call):
        if threading.current_thread().name == "B":
            raise Interrupted
        return sleep(self, slot, deadline, call)

    monkeypatch.setattr(Connection, "_sleep", interrupted)
    results: Dict[str, object] = {}

    def call(name: str, timeout: float) -> None:
        try:
            results[name] = ch.unary("/svc/Hold", name.encode(), timeout=timeout)
        except BaseException as exc:
            results[name] = exc

    def start(name: str, timeout: float) -> threading.Thread:
        thread = threading.Thread(target=call, args=(name, timeout), name=name)
        thread.start()
        wait_for(lambda: name in held)
        return thread

    reader = start("R", 30)
    wait_for(lambda: conn._reading)
    interrupted_thread = start("B", 30)
    interrupted_thread.join(5)
    assert isinstance(results["B"], Interrupted)
    waiting = start("C", 10)  # the hang bound: its deadline
    wait_for(lambda: len(conn._sleepers) == 1)  # C, behind R
    with server.script() as peer:
        peer.reply(held["R"], b"r")
    reader.join(5)
    with server.script() as peer:
        peer.reply(held["C"], b"c")
    waiting.join(15)
    assert results == {"R": b"r", "B": results["B"], "C": b"c"}
