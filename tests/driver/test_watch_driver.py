"""watch() on the stream worker against FakeEtcd (tests/driver/fake_etcd.py,
over h2's server side): resets, GOAWAY, aborts, fragments, server cancels,
malformed responses, back-pressure and the worker thread's lifecycle, which a
real etcd will not produce on demand.

Each test runs against `Client` and `AsyncClient` (conftest.py), but those
about the sync worker's thread and reader role.  Every check reads with
`Watch.get(timeout=...)` and asserts the exact sequence of revisions the
user sees: each exactly once, in order.
"""

from __future__ import annotations

import select
import threading
import time
from typing import List, Optional, Union

import pytest

from pyetcd_wire import Client
from pyetcd_wire._core.h2.connection import DEFAULT_STREAM_WINDOW
from pyetcd_wire._managers.watches import BACKLOG_LIMIT
from pyetcd_wire._proto import rpc_pb2
from pyetcd_wire._sync.reader_role import WORKER, Sleeper
from pyetcd_wire._sync.watch import Watch
from pyetcd_wire.errors import (
    ClientClosedError,
    CompactedError,
    NoLeaderError,
    PermissionDeniedError,
    RemoteProtocolError,
    WatchCanceledError,
)
from tests.async_bridge import BlockingStream
from tests.driver.fake_etcd import (
    INTERNAL_ERROR,
    REFUSED_STREAM,
)
from tests.helpers import internal, wait_for, waiting_in_get

pytestmark = pytest.mark.timeout(30)

WORKER_PREFIX = "pyetcd-wire-streams"

#: Seconds that only bound a hang: a wait that must end at once ends far
#: sooner even on a loaded machine; the bug it catches waits until a deadline
#: of `LONG` seconds (within the module's 30 s timeout).
HANG_BOUND = 10
LONG = 25

#: A watch of either client: `Watch`, or `AsyncWatch` behind the bridge.
AnyWatch = Union[Watch, BlockingStream]

#: For a test of the sync driver's own machinery (its thread, the reader role).
sync_only = pytest.mark.parametrize("client_class", [Client], ids=["sync"])


def revisions(watch: AnyWatch, count: int, timeout: float = 5.0) -> List[int]:
    """Read responses until `count` events came; their mod_revisions, in the
    order the user sees them (so tests assert exactly-once and in-order)."""
    deadline = time.monotonic() + timeout
    seen: List[int] = []
    while len(seen) < count:
        response = watch.get(timeout=max(0.0, deadline - time.monotonic()))
        assert response is not None, f"only {seen} arrived"
        assert response.watch_id == watch.watch_id
        seen += [event.kv.mod_revision for event in response.events]
    return seen


def assert_quiet(watch: AnyWatch, wait: float = 0.2) -> None:
    """Nothing more arrives (no duplicate slipped through)."""
    response = watch.get(timeout=wait)
    assert response is None, f"unexpected {response}"


def worker_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(WORKER_PREFIX)]


# --- basics ---------------------------------------------------------------------


def test_watch_is_created_with_a_client_assigned_id_and_events_flow(etcd):
    fake, _, client = etcd()
    w1 = client.watch("k", timeout=5)
    w2 = client.watch("k2", prev_kv=True, timeout=5)
    assert (w1.watch_id, w2.watch_id) == (1, 2)
    assert w1.created_revision == 1
    stream = fake.watch_stream(watches=2)
    assert [(c.key, c.watch_id, c.prev_kv) for c in stream.creates] == [
        (b"k", 1, False),
        (b"k2", 2, True),
    ]
    fake.put(5)
    assert revisions(w1, 5) == [2, 3, 4, 5, 6]
    assert revisions(w2, 5) == [2, 3, 4, 5, 6]
    assert_quiet(w1)
    assert len(fake.watch_streams) == 1  # one Watch stream for every watch


def test_request_progress_reaches_every_watch(etcd):
    fake, _, client = etcd()
    w1 = client.watch("a", timeout=5)
    w2 = client.watch("b", timeout=5)
    fake.put(3, push=False)  # the store moved on; nothing to send these watches
    client.request_progress()
    for w in (w1, w2):
        response = w.get(timeout=5)
        assert response is not None
        assert list(response.events) == []
        assert response.header.revision == 4
        assert response.watch_id == w.watch_id
    assert fake.progress_requests == 1


# --- 1. the Watch stream ends mid-stream ----------------------------------------

STREAM_ENDINGS = {
    "rst-internal-error": {"rst": INTERNAL_ERROR},
    "rst-refused-stream": {"rst": REFUSED_STREAM},
    "trailers-unavailable": {
        "grpc_status": 14,
        "grpc_message": "etcdserver: leader changed",
    },
    "trailers-ok": {"grpc_status": 0},
}


@pytest.mark.parametrize("ending", list(STREAM_ENDINGS))
def test_stream_end_mid_stream_resumes_exactly_once(etcd, ending):
    fake, server, client = etcd()
    fake.replay_overlap = 3  # the new stream replays 3 delivered revisions
    w = client.watch("k", timeout=5)
    first = fake.watch_stream()
    fake.put(10)
    assert revisions(w, 5) == [2, 3, 4, 5, 6]  # 7..11 delivered, not yet read
    fake.put(10, push=False)  # 12..21: in the store, never sent on this stream
    fake.end_stream(first, **STREAM_ENDINGS[ending])

    second = fake.watch_stream()
    assert second is not first
    assert second.conn is first.conn  # a new stream, same connection
    (create,) = second.creates
    assert create.watch_id == w.watch_id
    assert create.key == b"k"
    assert create.start_revision == 12  # last delivered + 1
    assert revisions(w, 15) == list(range(7, 22))  # 9, 10, 11 replayed: dropped
    fake.put(3)
    assert revisions(w, 3) == [22, 23, 24]
    assert_quiet(w)
    assert len(server.connections) == 1


def test_watch_created_during_a_reset_is_sent_once(etcd):
    fake, _, client = etcd()
    w1 = client.watch("k", timeout=5)
    fake.put(2)
    assert revisions(w1, 2) == [2, 3]
    fake.end_stream(fake.watch_stream(), rst=INTERNAL_ERROR)
    w2 = client.watch("k2", timeout=5)  # during, or just after, the resume
    second = fake.watch_stream(watches=2)
    assert sorted((c.watch_id, c.start_revision) for c in second.creates) == [
        (1, 4),
        (2, 0),
    ]
    fake.put(1)
    assert revisions(w1, 1) == [4]
    assert revisions(w2, 1) == [4]
    assert_quiet(w1)


# --- 2. GOAWAY, connection close, abort -----------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_goaway_then_close_resumes_on_a_new_connection(etcd, tmp_path, transport):
    unix_path = str(tmp_path / "etcd.sock") if transport == "unix" else None
    fake, server, client = etcd(unix_path=unix_path)
    fake.replay_overlap = 4
    w = client.watch("k", timeout=5)
    first = fake.watch_stream()
    fake.put(5)
    fake.on_stream(first, lambda peer, sid: peer.goaway(last_stream_id=sid))
    fake.put(5)  # the stream is below last_stream_id: it keeps flowing
    assert revisions(w, 10) == list(range(2, 12))
    assert len(server.connections) == 1
    fake.put(5, push=False)
    first.conn.close()  # unix: EOF; tcp: RST

    second = fake.watch_stream()
    assert second.conn is not first.conn
    assert [c.start_revision for c in second.creates] == [12]
    assert revisions(w, 5) == [12, 13, 14, 15, 16]
    fake.put(2)
    assert revisions(w, 2) == [17, 18]
    assert_quiet(w)


def test_abort_mid_stream_resumes_on_a_new_connection(etcd):
    fake, server, client = etcd()
    fake.replay_overlap = 2
    w1 = client.watch("k", timeout=5)
    w2 = client.watch("k2", start_revision=1, timeout=5)
    first = fake.watch_stream(watches=2)
    fake.put(6)
    assert revisions(w1, 3) == [2, 3, 4]  # the rest is queued
    fake.put(4, push=False)
    first.conn.abort()

    second = fake.watch_stream(watches=2)
    assert second.conn is not first.conn
    assert sorted((c.watch_id, c.start_revision) for c in second.creates) == [
        (1, 8),
        (2, 8),
    ]
    assert revisions(w1, 7) == list(range(5, 12))
    assert revisions(w2, 10) == list(range(2, 12))
    fake.put(1)
    assert revisions(w1, 1) == [12]
    assert revisions(w2, 1) == [12]
    assert_quiet(w1)
    assert_quiet(w2, 0.05)
    assert len(server.connections) == 2


# --- 3. fragments ---------------------------------------------------------------


def test_fragments_are_joined_into_one_response(etcd):
    fake, _, client = etcd()
    fake.fragment_events = 4
    w = client.watch("k", prefix=True, fragment=True, timeout=5)
    stream = fake.watch_stream()
    assert stream.creates[0].fragment
    revision = fake.txn(10)
    sent = [r.fragment for r in stream.sent if r.events]
    assert sent == [True, True, False]  # the server did split it
    response = w.get(timeout=5)
    assert response is not None
    assert [e.kv.key for e in response.events] == [b"k%d" % i for i in range(10)]
    assert {e.kv.mod_revision for e in response.events} == {revision}
    assert not response.fragment
    fake.put(1)
    assert revisions(w, 1) == [revision + 1]
    assert_quiet(w)


def test_fragments_cut_by_a_reset_are_resent_not_duplicated(etcd):
    fake, _, client = etcd()
    fake.fragment_events = 4
    fake.replay_overlap = 2
    w = client.watch("k", prefix=True, fragment=True, timeout=5)
    fake.put(2)
    assert revisions(w, 2) == [2, 3]
    first = fake.watch_stream()
    revision = fake.txn(10, push=False)

    def two_of_three_fragments(peer, sid):
        fragments = fake.responses(first.watches[w.watch_id], w.watch_id, revision)
        assert [f.fragment for f in fragments] == [True, True, False]
        for fragment in fragments[:2]:
            fake.send(first, fragment)

    fake.on_stream(first, two_of_three_fragments)
    fake.end_stream(first, rst=INTERNAL_ERROR)

    second = fake.watch_stream()
    assert [c.start_revision for c in second.creates] == [revision]
    response = w.get(timeout=5)
    assert response is not None
    assert [e.kv.key for e in response.events] == [b"k%d" % i for i in range(10)]
    assert {e.kv.mod_revision for e in response.events} == {revision}
    fake.put(1)
    assert revisions(w, 1) == [revision + 1]
    assert_quiet(w)


# --- 4. server cancels and non-retryable stream statuses ------------------------

CANCELS = {
    "compacted": ({"compact_revision": 7}, CompactedError, None),
    "permission-denied": (
        {"cancel_reason": "etcdserver: permission denied"},
        PermissionDeniedError,
        "permission denied",
    ),
    "grpc-wrapped-reason": (
        {
            "cancel_reason": "rpc error: code = PermissionDenied"
            " desc = etcdserver: permission denied"
        },
        PermissionDeniedError,
        "permission denied",
    ),
    "other-reason": (
        {"cancel_reason": "watcher went away"},
        WatchCanceledError,
        "watcher went away",
    ),
    "no-reason": ({}, WatchCanceledError, None),
}


@pytest.mark.parametrize("case", list(CANCELS))
def test_server_cancel_ends_iteration_with_a_typed_error(etcd, case):
    fields, error, text = CANCELS[case]
    fake, _, client = etcd()
    w = client.watch("k", timeout=5)
    other = client.watch("other", timeout=5)
    stream = fake.watch_stream(watches=2)
    fake.put(2)

    def cancel(peer, sid):
        del stream.watches[w.watch_id]
        response = rpc_pb2.WatchResponse(watch_id=w.watch_id, canceled=True, **fields)
        fake.send(stream, response)

    fake.on_stream(stream, cancel)
    assert revisions(w, 2) == [2, 3]  # what came before the cancel comes first
    with pytest.raises(error, match=text) as info:
        w.get(timeout=5)
    if error is CompactedError:
        assert info.value.compact_revision == 7
    assert w.ended
    assert w.error is info.value
    with pytest.raises(error):
        next(iter(w))  # iteration raises it too, every time
    # The other watch on the stream is untouched; nothing was re-created.
    fake.put(1)
    assert revisions(other, 3) == [2, 3, 4]
    assert len(fake.watch_streams) == 1
    assert stream.cancels == []  # the client did not cancel it again


def test_compacted_start_revision_ends_with_compacted_error(etcd):
    fake, _, client = etcd()
    fake.compact_revision = 5
    w = client.watch("k", start_revision=2, timeout=5)
    with pytest.raises(CompactedError) as info:
        w.get(timeout=5)
    assert info.value.compact_revision == 5


def test_refused_create_raises_from_watch(etcd):
    fake, _, client = etcd()
    fake.refuse_creates = "etcdserver: permission denied"
    with pytest.raises(PermissionDeniedError):
        client.watch("k", timeout=5)
    fake.refuse_creates = ""
    w = client.watch("k", timeout=5)  # the stream is still fine
    fake.put(1)
    assert revisions(w, 1) == [2]


@pytest.mark.parametrize(
    ("grpc_status", "message", "error", "require_leader"),
    [
        (7, "etcdserver: permission denied", PermissionDeniedError, False),
        (14, "etcdserver: no leader", NoLeaderError, True),
    ],
)
def test_non_retryable_stream_status_ends_every_watch(
    etcd, grpc_status, message, error, require_leader
):
    fake, _, client = etcd(require_leader=require_leader)
    w1 = client.watch("a", timeout=5)
    w2 = client.watch("b", timeout=5)
    first = fake.watch_stream(watches=2)
    headers = first.peer.requests[first.sid].headers
    assert (headers.get(b"hasleader") == b"true") is require_leader
    fake.put(1)
    fake.end_stream(first, grpc_status=grpc_status, grpc_message=message)
    for w in (w1, w2):
        assert revisions(w, 1) == [2]
        with pytest.raises(error, match=message):
            w.get(timeout=5)
    time.sleep(0.2)
    assert len(fake.watch_streams) == 1  # not resumed
    # A new watch opens a new stream.
    w3 = client.watch("c", timeout=5)
    fake.put(1)
    assert revisions(w3, 1) == [3]


# --- 5. malformed responses -----------------------------------------------------

MALFORMED = {
    "not-protobuf": b"\x0a\x05ab",
    "created-never-requested": rpc_pb2.WatchResponse(
        watch_id=9, created=True
    ).SerializeToString(),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_watch_response_ends_watches_with_remote_protocol_error(etcd, case):
    fake, _, client = etcd()
    w1 = client.watch("a", timeout=5)
    w2 = client.watch("b", timeout=5)
    stream = fake.watch_stream(watches=2)
    fake.on_stream(stream, lambda peer, sid: peer.send_message(sid, MALFORMED[case]))
    for w in (w1, w2):
        with pytest.raises(RemoteProtocolError, match="Watch stream"):
            w.get(timeout=5)
    time.sleep(0.2)
    assert len(fake.watch_streams) == 1  # not resumed against a broken server
    assert stream.conn.closed.wait(5)  # the client dropped the connection


# --- 6. back-pressure -----------------------------------------------------------


def test_unread_watch_holds_at_most_one_stream_window(etcd):
    fake, _, client = etcd()
    w = client.watch("k", timeout=5)
    stream = fake.watch_stream()
    before = stream.queued_bytes  # the created response
    count = 192  # 192 x 64 KiB = 12 MiB: three stream windows
    fake.put(count, value_size=64 * 1024)
    message = (stream.queued_bytes - before) // count

    def pending() -> int:
        with stream.conn.script() as peer:
            return peer.pending(stream.sid)

    def stalled() -> bool:  # the client holds the stream's credit back
        return internal(client, lambda c: c._worker._watches._stalled)

    wait_for(stalled, timeout=10)
    # Whatever credit the client gave before it stalled has reached the
    # server, and was spent there at once, when a PING sent after that is
    # answered: what the server delivered is final (nobody reads the watch).
    fake.round_trip(stream)
    with stream.conn.script() as peer:
        window = peer.connection.local_flow_control_window(stream.sid)
    assert window == 0
    delivered = stream.queued_bytes - before - pending()
    # The server is blocked on the window (it did spend it) and the client
    # holds about one stream window: plus the message credited as it arrived,
    # plus the backlog the worker credits eagerly.
    bound = DEFAULT_STREAM_WINDOW + BACKLOG_LIMIT
    assert DEFAULT_STREAM_WINDOW - message <= delivered <= bound + 2 * message
    # The client's other connection is not held up by the unread watch.
    assert client.get("k", timeout=5).header.revision == count + 1

    assert revisions(w, count, timeout=20) == list(range(2, count + 2))
    assert pending() == 0
    assert_quiet(w)


# --- 8. the worker thread and waking readers ------------------------------------


@sync_only
def test_worker_thread_lives_while_watches_are_open_and_goes_with_close(etcd):
    _, server, client = etcd()
    before = set(worker_threads())
    w1 = client.watch("a", timeout=5)
    client.watch("b", timeout=5)
    (thread,) = set(worker_threads()) - before
    host, port = server.address
    assert thread.name == f"{WORKER_PREFIX} {host}:{port}"
    assert thread.daemon
    client.close()
    assert not thread.is_alive()  # joined by close()
    assert w1.get(timeout=1) is None
    assert w1.ended
    assert w1.error is None
    with pytest.raises(ClientClosedError, match="closed"):
        client.watch("c", timeout=1)
    client.close()  # idempotent


@sync_only
def test_worker_thread_exits_after_the_last_watch_is_cancelled(etcd):
    fake, _, client = etcd()
    before = set(worker_threads())
    with client.watch("k", timeout=5) as w:
        (thread,) = set(worker_threads()) - before
    assert w.ended
    (stream,) = fake.watch_streams
    wait_for(lambda: stream.cancels == [w.watch_id])
    # The stream closes with its last watch (RST_STREAM CANCEL) ...
    wait_for(lambda: stream.peer.requests[stream.sid].reset_code == 0x8)
    # ... and the thread ends once it has lingered.
    thread.join(5)
    assert not thread.is_alive()
    w2 = client.watch("k", timeout=5)  # and comes back on demand
    fake.put(1)
    assert revisions(w2, 1) == [2]


@pytest.mark.parametrize("stop", ["cancel", "close"])
def test_iteration_in_another_thread_is_woken(etcd, stop):
    fake, _, client = etcd()
    w = client.watch("k", timeout=5)
    got: List[rpc_pb2.WatchResponse] = []
    errors: List[BaseException] = []

    def consume() -> None:
        try:
            for response in w:
                got.append(response)
        except BaseException as exc:
            errors.append(exc)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    fake.put(2)
    wait_for(lambda: len(got) == 2)
    wait_for(lambda: waiting_in_get(w))  # the consumer waits in get() again
    if stop == "cancel":
        w.cancel()
    else:
        client.close()  # also joins the worker thread
    # Nothing else would wake it: iteration waits without a deadline, and the
    # fake sends nothing unasked.
    consumer.join(HANG_BOUND)
    assert not consumer.is_alive()
    assert errors == []
    assert [r.events[0].kv.mod_revision for r in got] == [2, 3]


@sync_only
@pytest.mark.parametrize("waiter", ["watch", "get"])
def test_reader_role_handed_over_with_news_already_routed_returns_at_once(etcd, waiter):
    """Thread A reads the stream for its w1.get(); the main thread waits as a
    follower (for its watch to be created, or in w2.get()).  One write from
    the server carries news for both: A routes both, returns, and hands the
    reader role to the main thread, whose news is already there.  It must
    return at once, not poll the socket until its deadline (or forever,
    without one)."""
    fake, _, client = etcd()
    w1 = client.watch("a", timeout=5)
    w2 = client.watch("b", timeout=5) if waiter == "get" else None
    got: List[Optional[rpc_pb2.WatchResponse]] = []
    reader = threading.Thread(target=lambda: got.append(w1.get(timeout=LONG)))
    reader.start()
    # A holds the reader role (once the worker handed it over), in poll().
    wait_for(lambda: client._worker._role.holder not in (None, WORKER))
    # The main thread's wait has a deadline far beyond HANG_BOUND: waiting in
    # poll() for news already routed would last until it.
    started = time.monotonic()
    if w2 is None:
        fake.put(1, push=False)  # goes out right behind b's created
        client.watch("b", timeout=LONG)
    else:
        follower = w2  # once the main thread waits as a follower:
        putter = threading.Thread(
            target=lambda: (wait_for(lambda: follower._sleepers), fake.put())
        )
        putter.start()
        assert revisions(w2, 1, timeout=LONG) == [2]
        putter.join()
    assert time.monotonic() - started < HANG_BOUND
    reader.join(5)
    assert [r.events[0].kv.mod_revision for r in got if r is not None] == [2]


@sync_only
def test_news_read_while_a_turn_looks_after_the_streams_returns_at_once(etcd):
    """With a lease kept alive, a turn that looks after the streams first
    reads what waits in the socket (a renewal must not be declared late).
    What that read routes (here an event the waiting thread wants) must end
    the turn, not leave it in poll() on an empty socket until the next lease
    timer (a third of the TTL: the watch after a cancel that stalled for
    ~20 s, and `pyetcd elect -l` hung past Ctrl-C)."""
    fake, _, client = etcd()
    fake.lease_ttl[7] = 60  # the next renewal is due in 20 s
    ka = client.keep_alive(7)
    w = client.watch("k", timeout=5)
    worker = client._worker
    role = worker._role
    me = Sleeper()
    # Take the reader role as a waiting user does: the worker may hold it,
    # in a poll() that lasts until the lease timer; woken, it hands it over.
    if not role.claim(me, follow=True):
        worker._wake()
        assert me.wait(time.monotonic() + HANG_BOUND)
    assert role.holder is me  # nobody else reads now
    try:
        (fd,) = worker._polled
        assert not select.select([fd], [], [], 0)[0]  # everything was read
        fake.put()  # the event waits in the socket, unread
        assert select.select([fd], [], [], 5)[0]
        worker._dirty = True  # as after a turn whose routing asked for it
        started = time.monotonic()
        # What Watch.get() does holding the role: turns until it has news.
        worker._read_until(w, w._has_news, time.monotonic() + LONG)
        assert time.monotonic() - started < HANG_BOUND
    finally:
        role.release(me)
    assert revisions(w, 1) == [2]
    ka.close()


class Interrupted(BaseException):
    """Stands for the KeyboardInterrupt of Ctrl-C in a waiting thread."""


@sync_only
def test_a_follower_interrupted_in_its_wait_leaves_the_reader_role(etcd, monkeypatch):
    """The main thread waits in w2.get() as a follower of thread A's reader
    role and is interrupted (Ctrl-C).  It must leave the queue: the role
    was handed to it when A let go, and nobody read the stream again (and
    Client.close() then waited for the role; `pyetcd elect -l` hung on
    Ctrl-C)."""
    fake, _, client = etcd()
    w1 = client.watch("a", timeout=5)
    w2 = client.watch("b", timeout=5)
    role = client._worker._role
    got: List[Optional[rpc_pb2.WatchResponse]] = []
    reader = threading.Thread(target=lambda: got.append(w1.get(timeout=10)))
    reader.start()
    wait_for(lambda: role.holder not in (None, WORKER))  # A reads
    main, wait = threading.current_thread(), Sleeper.wait

    def interrupted(self: Sleeper, deadline: Optional[float]) -> bool:
        if threading.current_thread() is main:
            raise Interrupted
        return wait(self, deadline)

    monkeypatch.setattr(Sleeper, "wait", interrupted)
    with pytest.raises(Interrupted):
        w2.get(timeout=10)
    monkeypatch.undo()
    fake.put(1)  # news for both: A returns and lets go of the role
    reader.join(10)
    assert [r.events[0].kv.mod_revision for r in got if r is not None] == [2]
    assert revisions(w2, 1) == [2]  # routed by A's turn
    fake.put(1)
    assert revisions(w2, 1) == [3]  # someone reads the stream still
    client.close()


# --- a bug in the loop ends everything loudly -------------------------------------


def _next_news(w: AnyWatch) -> None:
    """Read until the watch ends; the thread whose turn hits the bug sees the
    bug itself (RuntimeError), every later read the error it ended with."""
    while True:
        try:
            w.get(timeout=5)
        except RuntimeError:
            continue


def _drain(ka) -> None:
    while ka.get(timeout=5) is not None:
        pass


def test_a_failing_turn_ends_every_watch_and_keep_alive_with_the_cause(
    etcd, monkeypatch
):
    from pyetcd_wire._core.watch import WatchStream
    from pyetcd_wire.errors import EtcdError, KeepAliveHaltedError

    fake, _, client = etcd()
    w1 = client.watch("a", timeout=5)
    w2 = client.watch("b", timeout=5)
    fake.lease_ttl[7] = 30
    ka = client.keep_alive(7)
    fake.put(1)
    assert revisions(w1, 1) == [2]

    def broken(self, response):
        raise RuntimeError("injected bug")

    monkeypatch.setattr(WatchStream, "receive", broken)
    fake.put(1)
    for w in (w1, w2):
        with pytest.raises(EtcdError, match=r"stream worker failed.*injected bug"):
            _next_news(w)
        assert w.ended
    with pytest.raises(KeepAliveHaltedError, match="injected bug"):
        _drain(ka)
