"""python-etcd3's watch API (`pyetcd_wire.compat.etcd3.watch`, `.events`)
against real etcd: the shapes python-etcd3's own tests rely on, and what
python-etcd3 got wrong and this does not (watches that survive a restarted
server and an expired token, callbacks that raise, watches made from a
callback, concurrent watch_once, threads that end, iterators that end).

The watch methods are a mixin of the compat client; `Compat` below is the
smallest class that uses them, over a `pyetcd_wire.Client`."""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from typing import Any, Iterator, List, Optional

import pytest

import pyetcd_wire
from pyetcd_wire import Op
from pyetcd_wire._proto import kv_pb2, rpc_pb2
from pyetcd_wire.compat.etcd3 import watch as watch_module
from pyetcd_wire.compat.etcd3.events import DeleteEvent, PutEvent, new_event
from pyetcd_wire.compat.etcd3.exceptions import WatchTimedOut
from pyetcd_wire.compat.etcd3.watch import Watcher, WatchMethods, WatchResponse
from pyetcd_wire.errors import CompactedError
from pyetcd_wire.pytest_plugin import etcd_binary_for
from pyetcd_wire.testing import EtcdMember
from tests.helpers import token_deleted, wait_for

pytestmark = pytest.mark.integration

#: Seconds that only bound a hang: what must happen happens far sooner.
HANG_BOUND = 30.0
THREAD_PREFIX = "pyetcd-wire-compat-watch-"
NOPUT = rpc_pb2.WatchCreateRequest.NOPUT
NODELETE = rpc_pb2.WatchCreateRequest.NODELETE


class Compat(WatchMethods):
    """The watch half of the compat client: the core's client sets the same
    two attributes over its `pyetcd_wire.Client`."""

    def __init__(self, client: pyetcd_wire.Client, timeout: Optional[float] = None):
        self.watcher = Watcher(client, timeout)
        self.timeout = timeout


class Deliveries:
    """A callback that keeps what it is given, in order."""

    def __init__(self) -> None:
        self.items: queue.Queue[Any] = queue.Queue()

    def __call__(self, delivery: Any) -> None:
        self.items.put(delivery)

    def next(self) -> Any:
        return self.items.get(timeout=HANG_BOUND)

    def events(self, count: int) -> List[Any]:
        """The next `count` events (failing on anything but responses)."""
        events: List[Any] = []
        while len(events) < count:
            delivery = self.next()
            assert isinstance(delivery, WatchResponse), delivery
            events.extend(delivery.events)
        return events


def compat_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


def no_compat_threads() -> bool:
    return not compat_threads()


@pytest.fixture
def base() -> str:
    return f"/compat-watch/{uuid.uuid4().hex}/"


@pytest.fixture
def client(etcd_server: EtcdMember) -> Iterator[pyetcd_wire.Client]:
    with pyetcd_wire.Client(etcd_server.endpoint, timeout=10) as c:
        yield c


@pytest.fixture
def etcd(client: pyetcd_wire.Client) -> Iterator[Compat]:
    compat = Compat(client)
    yield compat
    compat.watcher.close()
    assert no_compat_threads()


@pytest.fixture
def member(request: pytest.FixtureRequest) -> Iterator[EtcdMember]:
    """An etcd of the test's own, to restart, pause or compact."""
    binary = etcd_binary_for(request.config)
    with EtcdMember("compat-watch", binary=binary) as m:
        yield m


# --- events ----------------------------------------------------------------------


def test_events_read_as_python_etcd3s() -> None:
    kv = kv_pb2.KeyValue(
        key=b"k", value=b"v2", create_revision=3, mod_revision=5, version=2, lease=7
    )
    prev = kv_pb2.KeyValue(key=b"k", value=b"v1", mod_revision=3, version=1)
    put = new_event(kv_pb2.Event(type=kv_pb2.Event.PUT, kv=kv, prev_kv=prev))
    assert isinstance(put, PutEvent)
    assert (put.key, put.value, put.create_revision, put.mod_revision) == (
        b"k",
        b"v2",
        3,
        5,
    )
    assert (put.version, put.lease) == (2, 7)
    assert (put.prev_key, put.prev_value, put.prev_mod_revision) == (b"k", b"v1", 3)
    assert (put.prev_version, put.prev_create_revision, put.prev_lease) == (1, 0, 0)
    assert str(put) == f"{PutEvent} key=b'k' value=b'v2'"
    gone = new_event(
        kv_pb2.Event(type=kv_pb2.Event.DELETE, kv=kv_pb2.KeyValue(key=b"k"))
    )
    assert isinstance(gone, DeleteEvent)
    assert (gone.key, gone.value, gone.prev_value) == (b"k", b"", b"")
    with pytest.raises(ValueError, match="event type"):
        new_event(kv_pb2.Event(type=5))  # type: ignore[arg-type]


# --- callbacks ---------------------------------------------------------------------


def test_a_callback_gets_each_response_in_order_until_cancelled(
    etcd: Compat, client: pyetcd_wire.Client, base: str
) -> None:
    got = Deliveries()
    watch_id = etcd.add_watch_callback(base + "k", got)
    revisions = [client.put(base + "k", str(i)).header.revision for i in range(3)]
    events = got.events(3)
    assert [type(e) for e in events] == [PutEvent] * 3
    assert [(e.key, e.value, e.mod_revision) for e in events] == [
        ((base + "k").encode(), str(i).encode(), revisions[i]) for i in range(3)
    ]
    assert len(compat_threads()) == 1
    etcd.cancel_watch(watch_id)
    wait_for(no_compat_threads, HANG_BOUND)  # the watch's thread ended
    client.put(base + "k", "after")
    etcd.cancel_watch(watch_id)  # again: nothing happens
    etcd.cancel_watch(12345)  # unknown: nothing happens
    assert got.items.empty()  # not called on cancel


def test_prefix_callback_with_filters_and_prev_kv(
    etcd: Compat, client: pyetcd_wire.Client, base: str
) -> None:
    got = Deliveries()
    puts = Deliveries()
    watch_id = etcd.add_watch_prefix_callback(base, got, filters=[NOPUT], prev_kv=True)
    puts_id = etcd.add_watch_prefix_callback(base, puts, filters=[NODELETE])
    client.put(base + "a", "1")
    client.put(base + "abc", "2")
    client.put(base[:-1] + "x", "outside")
    client.delete(base + "a")
    client.put(base + "z", "3")
    (event,) = got.events(1)
    assert isinstance(event, DeleteEvent)
    assert (event.key, event.prev_value) == ((base + "a").encode(), b"1")
    events = puts.events(3)
    assert [(type(e), e.value, e.prev_value) for e in events] == [
        (PutEvent, b"1", b""),
        (PutEvent, b"2", b""),
        (PutEvent, b"3", b""),
    ]
    etcd.cancel_watch(watch_id)
    etcd.cancel_watch(puts_id)
    with pytest.raises(ValueError, match="filters"):
        etcd.add_watch_callback(base, got, filters=[7])


def test_a_callback_that_raises_is_logged_and_its_watch_goes_on(
    etcd: Compat, client: pyetcd_wire.Client, base: str, caplog: Any
) -> None:
    got = Deliveries()

    def callback(response: Any) -> None:
        got(response)
        if response.events[0].value == b"bad":
            raise RuntimeError("a bug in the callback")

    etcd.add_watch_callback(base + "k", callback)
    client.put(base + "k", "bad")
    client.put(base + "k", "good")
    assert [e.value for e in got.events(2)] == [b"bad", b"good"]
    (record,) = [r for r in caplog.records if r.name == "pyetcd_wire.compat"]
    assert record.levelno == logging.ERROR
    assert "the watch goes on" in record.getMessage()
    assert isinstance(record.exc_info[1], RuntimeError)


def test_a_callback_can_add_and_cancel_watches(
    etcd: Compat, client: pyetcd_wire.Client, base: str
) -> None:
    """python-etcd3 deadlocked on a watch created from a callback (its #187)."""
    inner = Deliveries()
    outcome: List[Any] = []

    def outer(response: Any) -> None:
        inner_id = etcd.add_watch_callback(base + "inner", inner)
        client.put(base + "inner", "x")
        outcome.append(inner.events(1)[0].value)
        etcd.cancel_watch(inner_id)
        outcome.append(etcd.watch_once(base + "late", 5, start_revision=late))

    late = client.put(base + "late", "old").header.revision
    outer_id = etcd.add_watch_callback(base + "outer", outer)
    client.put(base + "outer", "go")
    wait_for(lambda: len(outcome) == 2, HANG_BOUND)
    assert outcome[0] == b"x"
    assert outcome[1].value == b"old"
    etcd.cancel_watch(outer_id)


def test_a_callback_can_cancel_its_own_watch(
    etcd: Compat, client: pyetcd_wire.Client, base: str
) -> None:
    got = Deliveries()
    ids: List[int] = []

    def once(response: Any) -> None:
        got(response)
        etcd.cancel_watch(ids[0])

    ids.append(etcd.add_watch_callback(base + "k", once))
    client.put(base + "k", "1")
    assert [e.value for e in got.events(1)] == [b"1"]
    wait_for(no_compat_threads, HANG_BOUND)
    client.put(base + "k", "2")
    etcd.watcher.close()
    assert got.items.empty()  # neither the second put nor a last call


def test_a_compacted_start_revision_ends_the_watch_with_its_error(
    member: EtcdMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The callback, and an iterator, get the error `translated` makes of
    the CompactedError (python-etcd3's RevisionCompactedError, with
    `compacted_revision`, once compat-core's translation is in)."""
    through: List[BaseException] = []

    def translated(error: BaseException) -> BaseException:
        through.append(error)
        return error

    monkeypatch.setattr(watch_module, "translated", translated)
    with pyetcd_wire.Client(member.endpoint, timeout=10) as client:
        etcd = Compat(client)
        for i in range(3):
            compacted = client.put("/k", str(i)).header.revision
        client.compact(compacted)
        got = Deliveries()
        etcd.add_watch_callback("/k", got, start_revision=1)
        error = got.next()
        assert isinstance(error, CompactedError)
        assert error.compact_revision == compacted
        assert through == [error]
        events, cancel = etcd.watch("/k", start_revision=1)
        with pytest.raises(CompactedError) as raised:
            next(events)
        assert raised.value.compact_revision == compacted
        assert list(events) == []  # ended
        cancel()
        events, cancel = etcd.watch("/k", start_revision=compacted)
        assert next(events).value == b"2"
        cancel()
        etcd.watcher.close()
    assert no_compat_threads()


def test_a_watch_whose_thread_cannot_start_is_cancelled(
    etcd: Compat, client: pyetcd_wire.Client, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = threading.Thread.start

    def no_compat_thread(thread: threading.Thread) -> None:
        if thread.name.startswith(THREAD_PREFIX):
            raise RuntimeError("can't start new thread")
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", no_compat_thread)
    with pytest.raises(RuntimeError, match="new thread"):
        etcd.add_watch_callback(base + "k", Deliveries())
    monkeypatch.undo()
    wait_for(lambda: len(client._worker._watches) == 0, HANG_BOUND)


# --- iterators ---------------------------------------------------------------------


def test_an_iterator_ends_after_cancel_in_a_thread_waiting_in_it(
    etcd: Compat, client: pyetcd_wire.Client, base: str
) -> None:
    events, cancel = etcd.watch_prefix(base)
    client.put(base + "a", "1")
    assert next(events).value == b"1"
    rest: List[List[Any]] = []
    reader = threading.Thread(target=lambda: rest.append(list(events)))
    reader.start()
    cancel()
    reader.join(HANG_BOUND)
    assert rest == [[]]
    wait_for(no_compat_threads, HANG_BOUND)


def test_responses_carry_the_header_and_every_event_of_a_revision(
    etcd: Compat, client: pyetcd_wire.Client, base: str
) -> None:
    """python-etcd3's test_watch_responses, with our client writing."""
    key = base + "watch"
    revision = client.put(key, "0").header.revision
    client.put(key, "1")
    responses, cancel = etcd.watch_response(key, start_revision=revision)
    first = next(responses)
    cancel()
    once = etcd.watch_once_response(key, start_revision=revision)
    for response in (first, once):
        assert response.header.revision > 0
        assert [(e.key, e.value) for e in response.events] == [
            (key.encode(), b"0"),
            (key.encode(), b"1"),
        ]
    txn = client.txn(
        success=[Op.put(base + "p/0", "0"), Op.put(base + "p/1", "1")], compare=[]
    )
    revision = txn.header.revision
    responses, cancel = etcd.watch_prefix_response(base + "p/", start_revision=revision)
    first = next(responses)
    cancel()
    once = etcd.watch_prefix_once_response(base + "p/", start_revision=revision)
    for response in (first, once):
        assert response.header.revision == revision
        assert [e.value for e in response.events] == [b"0", b"1"]
    assert etcd.watch_prefix_once(base + "p/", start_revision=revision).value == b"0"


def test_watch_once_times_out_again_and_again_and_then_sees_a_put(
    etcd: Compat, client: pyetcd_wire.Client, base: str
) -> None:
    """python-etcd3's test_sequential_watch_prefix_once, then an event."""
    for _ in range(3):
        with pytest.raises(WatchTimedOut):
            etcd.watch_prefix_once(base, 0.2)
    revision = client.put(base + "k", "v").header.revision
    assert etcd.watch_prefix_once(base, 5, start_revision=revision).value == b"v"
    wait_for(no_compat_threads, HANG_BOUND)


def test_watch_once_skips_progress_notifications(
    etcd: Compat, client: pyetcd_wire.Client, base: str
) -> None:
    """python-etcd3 took the first response's first event: IndexError for a
    progress notification.  watch_once_response returns that notification;
    watch_once waits for an event."""
    response: List[Any] = []
    event: List[Any] = []
    response_waiter = threading.Thread(
        target=lambda: response.append(etcd.watch_once_response(base + "k", 30))
    )
    event_waiter = threading.Thread(
        target=lambda: event.append(etcd.watch_once(base + "k", 30))
    )
    response_waiter.start()
    event_waiter.start()
    wait_for(lambda: len(compat_threads()) == 2, HANG_BOUND)  # both created
    client.request_progress()  # every watch of the client gets a notification
    response_waiter.join(HANG_BOUND)
    assert response[0].events == []
    assert response[0].header.revision > 0
    client.put(base + "k", "v")
    event_waiter.join(HANG_BOUND)
    assert event[0].value == b"v"


def test_concurrent_watch_once_calls_each_get_their_event(
    etcd: Compat, client: pyetcd_wire.Client, base: str
) -> None:
    """python-etcd3's concurrent watch_once mixed up its responses (#1026)."""
    count = 8
    results: List[Any] = [None] * count

    def wait_once(n: int) -> None:
        results[n] = etcd.watch_once(f"{base}{n}", timeout=HANG_BOUND)

    threads = [threading.Thread(target=wait_once, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(compat_threads()) == count, HANG_BOUND)
    for n in range(count):
        client.put(f"{base}{n}", f"v{n}")
    for thread in threads:
        thread.join(HANG_BOUND)
    assert [(e.key, e.value) for e in results] == [
        (f"{base}{n}".encode(), f"v{n}".encode()) for n in range(count)
    ]


def test_a_watcher_of_the_users_gets_the_callbacks(base: str) -> None:
    """python-etcd3's ``client.watcher`` is an attribute code may replace:
    the methods call its add_callback, and an iterator raises what it gives
    the callback."""

    class Failing:
        def add_callback(self, key: Any, callback: Any, **options: Any) -> int:
            callback(WatchResponse(rpc_pb2.ResponseHeader(revision=9), []))
            callback(OSError("down"))
            return 1

        def cancel(self, watch_id: int) -> None:
            pass

    etcd = Compat.__new__(Compat)
    etcd.watcher = Failing()  # type: ignore[assignment]
    responses, cancel = etcd.watch_response(base)
    assert next(responses).header.revision == 9
    with pytest.raises(OSError, match="down"):
        next(responses)
    cancel()


# --- ends: close, timeouts, restarts, tokens -------------------------------------


def test_close_ends_every_watch_and_waits_for_their_threads(
    client: pyetcd_wire.Client, base: str
) -> None:
    etcd = Compat(client)
    got = Deliveries()
    etcd.add_watch_callback(base + "a", got)
    events, _ = etcd.watch(base + "b")
    rest: List[List[Any]] = []
    reader = threading.Thread(target=lambda: rest.append(list(events)))
    reader.start()
    etcd.watcher.close()
    assert no_compat_threads()  # joined
    assert got.next() is None  # python-etcd3's master: a last call with None
    reader.join(HANG_BOUND)
    assert rest == [[]]
    etcd.add_watch_callback(base + "a", got)  # usable again
    client.put(base + "a", "1")
    assert [e.value for e in got.events(1)] == [b"1"]
    etcd.watcher.close()


def test_a_watch_not_created_in_time_raises_watch_timed_out(
    member: EtcdMember,
) -> None:
    """Then, with the server back, watches work (python-etcd3's
    test_new_watch_error checks the same after a failed creation)."""
    with pyetcd_wire.Client(member.endpoint, timeout=10) as client:
        etcd = Compat(client, timeout=0.5)
        client.put("/k", "0")
        member.pause()
        try:
            with pytest.raises(WatchTimedOut):
                etcd.add_watch_callback("/k", Deliveries())
            with pytest.raises(WatchTimedOut):
                etcd.watch("/k")
        finally:
            member.resume()
        etcd.watcher.timeout = HANG_BOUND
        events, cancel = etcd.watch("/k")
        client.put("/k", "1")
        assert next(events).value == b"1"
        cancel()
        etcd.watcher.close()


def test_watches_survive_a_server_restart(member: EtcdMember) -> None:
    """python-etcd3 gave each callback the grpc error and dropped the watch."""
    with pyetcd_wire.Client(member.endpoint, timeout=10) as client:
        etcd = Compat(client)
        got = Deliveries()
        etcd.add_watch_callback("/k", got)
        events, cancel = etcd.watch("/k")
        client.put("/k", "before")
        assert [e.value for e in got.events(1)] == [b"before"]
        assert next(events).value == b"before"
        member.restart()
        client.put("/k", "after")
        assert [e.value for e in got.events(1)] == [b"after"]  # not an error
        assert next(events).value == b"after"
        cancel()
        etcd.watcher.close()
        assert got.next() is None


@pytest.fixture
def secured(request: pytest.FixtureRequest) -> Iterator[EtcdMember]:
    """An etcd with auth on whose tokens live one second (logged at info,
    for `token_deleted`)."""
    binary = etcd_binary_for(request.config)
    flags = ["--auth-token-ttl", "1", "--log-level", "info"]
    with EtcdMember("compat-watch-auth", binary=binary, extra_args=flags) as m:
        for args in (
            ("user", "add", "root:rootpw"),
            ("user", "grant-role", "root", "root"),
            ("auth", "enable"),
        ):
            m.etcdctl(*args)
        yield m


def test_watches_survive_an_expired_token(secured: EtcdMember) -> None:
    """python-etcd3 hung or lost the watch once its token expired (#1227):
    here an open watch goes on, and one made after the expiry gets a new
    token."""
    with pyetcd_wire.Client(
        secured.endpoint, username="root", password="rootpw", timeout=10
    ) as client:
        etcd = Compat(client)
        got = Deliveries()
        etcd.add_watch_callback("/k", got)
        token = dict(client._md.calls)["token"]
        wait_for(lambda: token_deleted(secured, token), HANG_BOUND, every=0.1)
        revision = client.put("/k", "after").header.revision
        assert [e.value for e in got.events(1)] == [b"after"]
        assert etcd.watch_once("/k", 5, start_revision=revision).value == b"after"
        etcd.watcher.close()
        assert got.next() is None


def test_watches_survive_a_restart_of_a_server_with_auth(secured: EtcdMember) -> None:
    """A restarted etcd forgets its simple tokens: each watch is resumed on
    a new stream, and needs a new token for that."""
    with pyetcd_wire.Client(
        secured.endpoint, username="root", password="rootpw", timeout=10
    ) as client:
        etcd = Compat(client)
        got = Deliveries()
        etcd.add_watch_callback("/k", got)
        try:
            secured.restart()
            secured.etcdctl("--user", "root:rootpw", "put", "/k", "after")
            assert [e.value for e in got.events(1)] == [b"after"]
        finally:
            etcd.watcher.close()
