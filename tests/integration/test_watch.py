"""Watches against a real etcd (3.5 and 3.4): ordering under a concurrent
writer, resume across SIGKILL and restart, compaction, filters, many watches
on one stream, back-pressure; etcdctl as the independent writer."""

from __future__ import annotations

import threading
import time
import uuid
from operator import methodcaller
from typing import Any, Iterator, List, Optional, Tuple, Union

import pytest

import pyetcd_wire as etcd
from pyetcd_wire._core.h2.connection import DEFAULT_STREAM_WINDOW
from pyetcd_wire._core.watch import WatchStream
from pyetcd_wire._managers.watches import BACKLOG_LIMIT
from pyetcd_wire._sync.watch import Watch
from pyetcd_wire.errors import (
    ClientClosedError,
    CompactedError,
    ConnectionFailedError,
    EtcdError,
)
from pyetcd_wire.testing import EtcdCluster, EtcdMember
from tests.async_bridge import AnyClient, BlockingStream, ClientClass
from tests.helpers import at_once, internal, wait_for, waiting_in_get

PUT, DELETE = 0, 1
WAIT = 30.0  # seconds any single expected response may take, at most

Event = Tuple[int, bytes, bytes, int]  # type, key, value, mod_revision
AnyWatch = Union[Watch, BlockingStream]  # a watch of either client


@pytest.fixture(scope="module")
def client(
    etcd_versioned: EtcdMember, client_class: ClientClass
) -> Iterator[AnyClient]:
    """Each client in turn (conftest's `client_class`), shared by the module."""
    with client_class(etcd_versioned.endpoint, timeout=30) as c:
        yield c


def prefix() -> str:
    return f"/watch-test/{uuid.uuid4().hex}/"


def collect(w: AnyWatch, count: int, timeout: float = WAIT) -> List[Event]:
    """Read `count` events from `w`, failing if they do not come in time."""
    events: List[Event] = []
    deadline = time.monotonic() + timeout
    while len(events) < count:
        response = w.get(timeout=max(0.0, deadline - time.monotonic()))
        assert response is not None, f"only {len(events)} of {count} events came"
        events.extend(
            (e.type, e.kv.key, e.kv.value, e.kv.mod_revision) for e in response.events
        )
    return events


def worker_threads() -> List[threading.Thread]:
    return [
        t for t in threading.enumerate() if t.name.startswith("pyetcd-wire-streams")
    ]


def test_watch_sees_every_write_of_a_concurrent_writer_in_order(
    etcd_versioned: EtcdMember, client: AnyClient, client_class: ClientClass
) -> None:
    base = prefix()
    total = 3000
    with (
        client.watch(base, prefix=True) as w,
        client_class(etcd_versioned.endpoint, timeout=30) as writer_client,
    ):
        errors: List[BaseException] = []

        def writer() -> None:
            try:
                for i in range(total):
                    writer_client.put(f"{base}{i:05d}", f"v{i}")
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        thread = threading.Thread(target=writer)
        thread.start()
        events = collect(w, total, timeout=120)
        thread.join()
    assert not errors
    assert [key for _, key, _, _ in events] == [
        f"{base}{i:05d}".encode() for i in range(total)
    ]
    revisions = [rev for _, _, _, rev in events]
    assert revisions == list(range(revisions[0], revisions[0] + total))
    assert w.created_revision == revisions[0] - 1


def test_watch_delivers_what_etcdctl_writes(
    etcd_versioned: EtcdMember, client: AnyClient
) -> None:
    base = prefix()
    with client.watch(base, prefix=True, prev_kv=True) as w:
        etcd_versioned.etcdctl("put", f"{base}a", "one")
        etcd_versioned.etcdctl("put", f"{base}a", "two")
        etcd_versioned.etcdctl("del", f"{base}a")
        responses = []
        while sum(len(r.events) for r in responses) < 3:
            response = w.get(timeout=WAIT)
            assert response is not None
            responses.append(response)
    events = [e for r in responses for e in r.events]
    assert [(e.type, e.kv.value, e.prev_kv.value) for e in events] == [
        (PUT, b"one", b""),
        (PUT, b"two", b"one"),
        (DELETE, b"", b"two"),
    ]


def test_watch_filters_and_ranges(client: AnyClient) -> None:
    base = prefix()
    no_puts = client.watch(base, prefix=True, filter_put=True)
    no_deletes = client.watch(base, prefix=True, filter_delete=True)
    ranged = client.watch(f"{base}b", range_end=f"{base}d")
    from_c = client.watch(f"{base}c", from_key=True)
    single = client.watch(f"{base}a")
    for key in "abcde":
        client.put(f"{base}{key}", key)
    for key in "abcde":
        client.delete(f"{base}{key}")
    keys = [f"{base}{k}".encode() for k in "abcde"]
    assert [(t, k) for t, k, _, _ in collect(no_puts, 5)] == [(DELETE, k) for k in keys]
    assert [(t, k) for t, k, _, _ in collect(no_deletes, 5)] == [(PUT, k) for k in keys]
    assert [k for _, k, _, _ in collect(ranged, 4)] == keys[1:3] * 2
    assert [k for _, k, _, _ in collect(from_c, 6)] == keys[2:] * 2
    assert [t for t, _, _, _ in collect(single, 2)] == [PUT, DELETE]
    for w in (no_puts, no_deletes, ranged, from_c, single):
        w.cancel()
        assert w.get(timeout=0) is None
        assert w.ended


def test_watch_from_a_past_revision_replays_history(client: AnyClient) -> None:
    base = prefix()
    first = client.put(f"{base}x", "1").header.revision
    client.put(f"{base}x", "2")
    client.delete(f"{base}x")
    with client.watch(base, prefix=True, start_revision=first) as w:
        events = collect(w, 3)
    assert [(t, v, r - first) for t, _, v, r in events] == [
        (PUT, b"1", 0),
        (PUT, b"2", 1),
        (DELETE, b"", 2),
    ]


def test_watch_on_a_compacted_revision_raises_compacted_error(
    client: AnyClient,
) -> None:
    base = prefix()
    old = client.put(f"{base}k", "1").header.revision
    latest = client.put(f"{base}k", "2").header.revision
    client.compact(latest)
    w = client.watch(base, prefix=True, start_revision=old)
    with pytest.raises(CompactedError) as info:
        w.get(timeout=WAIT)
    assert info.value.compact_revision == latest
    assert w.ended


def test_progress_request_reaches_every_watch(client: AnyClient) -> None:
    base = prefix()
    watches = [client.watch(f"{base}{i}") for i in range(3)]
    revision = client.put(f"{base}other", "x").header.revision
    client.request_progress()
    for w in watches:
        response = w.get(timeout=WAIT)
        assert response is not None
        assert list(response.events) == []
        assert response.header.revision >= revision
        w.cancel()


def test_fifty_watches_share_one_stream_and_cancel_independently(
    client: AnyClient,
) -> None:
    base = prefix()
    watches = [client.watch(f"{base}{i:02d}") for i in range(50)]
    stream = internal(client, lambda c: c._worker._watches.stream)
    assert stream is not None
    cancelled = watches[::2]
    for w in cancelled:
        w.cancel()
    for i in range(50):
        client.put(f"{base}{i:02d}", f"v{i}")
    for i, w in enumerate(watches):
        if w in cancelled:
            assert w.get(timeout=0) is None
        else:
            [(kind, key, value, _)] = collect(w, 1)
            assert (kind, key, value) == (
                PUT,
                f"{base}{i:02d}".encode(),
                f"v{i}".encode(),
            )
    # one stream the whole time
    assert internal(client, lambda c: c._worker._watches.stream) is stream
    for w in watches:
        w.cancel()


def test_creates_are_pipelined(
    client: AnyClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many watches created at once go out in batches, not one round trip
    each (Go sends one create per round trip)."""
    batches: List[int] = []
    original = WatchStream.requests_to_send

    def spy(self: WatchStream) -> list:  # type: ignore[type-arg]
        requests = original(self)
        creates = sum(1 for r in requests if r.HasField("create_request"))
        if creates:
            batches.append(creates)
        return requests

    monkeypatch.setattr(WatchStream, "requests_to_send", spy)
    base = prefix()
    # 20 callers at once, 50 watches each: threads, or tasks of the loop.
    keys = [f"{base}{i:04d}" for i in range(1000)]
    made = at_once(client, [methodcaller("watch", key) for key in keys], workers=20)
    assert len(made) == 1000
    assert sum(batches) == 1000
    assert len(batches) < 500
    assert max(batches) > 1
    client.put(f"{base}0999", "last")
    assert collect(made[999], 1)[0][1] == f"{base}0999".encode()
    for w in made:
        w.cancel()


def credit_left(c: Any) -> Optional[int]:
    """What etcd may still send on the client's Watch stream, once the client
    holds its credit back (None until then)."""
    manager = c._worker._watches
    if not manager._stalled:
        return None
    stream = manager.stream
    h2 = stream.connection._core.h2
    return h2._streams[stream._call.stream_id].recv.available


def test_slow_consumer_backlog_is_bounded(client: AnyClient) -> None:
    base = prefix()
    value = b"x" * 100_000
    count = 200  # 20 MB of events, five times the stream window
    other = client.watch(f"{base}other")
    slow = client.watch(f"{base}big/", prefix=True)
    client.put(f"{base}other", "before")
    for i in range(count):
        client.put(f"{base}big/{i:03d}", value)
    assert collect(other, 1)[0][2] == b"before"
    # The client holds the stream's credit back, and the server has spent
    # what it had: it has pushed all it may.
    wait_for(lambda: internal(client, credit_left) == 0, timeout=WAIT)
    queued = internal(slow, lambda w: sum(size for _, size in w._items))
    assert 0 < queued <= DEFAULT_STREAM_WINDOW + BACKLOG_LIMIT + len(value) + 4096
    events = collect(slow, count, timeout=60)
    assert [k for _, k, _, _ in events] == [
        f"{base}big/{i:03d}".encode() for i in range(count)
    ]
    slow.cancel()
    other.cancel()


def test_watch_of_an_unreachable_endpoint_fails_fast(
    etcd_binary: str, client_class: ClientClass
) -> None:
    member = EtcdMember("gone", binary=etcd_binary)  # never started: no server
    with (
        client_class(member.endpoint, dial_timeout=2) as c,
        pytest.raises(ConnectionFailedError),
    ):
        c.watch("/x")


def test_worker_thread_lives_only_while_streams_are_open(
    etcd_versioned: EtcdMember,
) -> None:
    before = set(worker_threads())
    c = etcd.Client(etcd_versioned.endpoint, timeout=30)
    w = c.watch("/thread-test")
    new = [t for t in worker_threads() if t not in before]
    assert len(new) == 1
    assert new[0].daemon
    w2 = c.watch("/thread-test-2")
    assert [t for t in worker_threads() if t not in before] == new
    w.cancel()
    w2.cancel()
    new[0].join(timeout=10)  # exits after LINGER with nothing to do
    assert not new[0].is_alive()
    w3 = c.watch("/thread-test-3")
    again = [t for t in worker_threads() if t not in before]
    assert len(again) == 1
    c.close()
    assert not again[0].is_alive()
    assert w3.get(timeout=0) is None
    assert w3.ended
    with pytest.raises(ClientClosedError):
        c.watch("/thread-test-4")


def test_close_wakes_a_blocked_iterator(
    etcd_versioned: EtcdMember, client_class: ClientClass
) -> None:
    c = client_class(etcd_versioned.endpoint, timeout=30)
    w = c.watch("/close-test")
    result: List[Optional[object]] = []
    t = threading.Thread(target=lambda: result.append(list(w)))
    t.start()
    wait_for(lambda: waiting_in_get(w))
    c.close()
    t.join(timeout=10)
    assert not t.is_alive()
    assert result == [[]]


# --- resume across server death ---------------------------------------------------


@pytest.fixture
def own_cluster(server_binary: str) -> Iterator[EtcdCluster]:
    """Three durable members: the test SIGKILLs and restarts one of them, a
    follower, and compares the history it kept with what the watch saw.

    Never the leader: etcd 3.5.1's leader may apply a write, and so deliver
    its watch event, before the entry is in its own WAL (etcd#14370, fixed
    in 3.5.5 and 3.4.21).  SIGKILLed then, and back within an election
    timeout, it votes for a follower that lacks the entry, which then
    overwrites it: the restarted member gave the lost write's revision to
    the next one (seen about once in 15 runs under load, and so with a lone
    member, where every write is the leader's).  A follower applies only
    what a live leader committed, so its history must survive a SIGKILL."""
    with EtcdCluster(3, binary=server_binary, durable=True) as cluster:
        yield cluster


def a_follower_at_the_kill(
    cluster: EtcdCluster, member: EtcdMember, client: Any
) -> None:
    """Hand leadership away from `member` if an election gave it (see
    `own_cluster`); `client` talks to `member` only."""
    if cluster.leader() is not member:
        return
    others = [m for m in client.member_list().members if m.name != member.name]
    client.move_leader(others[0].ID)
    wait_for(lambda: cluster.leader() is not member, timeout=10)


def test_sigkill_and_restart_mid_stream_loses_and_duplicates_nothing(
    own_cluster: EtcdCluster, client_class: ClientClass
) -> None:
    own_member = own_cluster.followers()[0]
    base = prefix()
    total = 1000
    with client_class(
        own_member.endpoint, timeout=10, dial_timeout=2
    ) as watcher_client:
        w = watcher_client.watch(base, prefix=True)
        start = w.created_revision + 1
        written: List[str] = []

        def writer() -> None:
            with client_class(own_member.endpoint, timeout=5, dial_timeout=1) as c:
                i = 0
                while i < total:
                    try:
                        c.put(f"{base}{i:04d}", f"v{i}")
                    except EtcdError:
                        time.sleep(0.05)  # the server is down: retry this key
                        continue
                    written.append(f"{base}{i:04d}")
                    i += 1

        thread = threading.Thread(target=writer)
        thread.start()
        seen = collect(w, 300, timeout=60)
        a_follower_at_the_kill(own_cluster, own_member, watcher_client)
        own_member.kill()  # SIGKILL, mid-stream
        time.sleep(0.5)
        own_member.restart()
        thread.join(timeout=120)
        assert not thread.is_alive()
        assert len(written) == total
        last = watcher_client.get(base, prefix=True, count_only=True).header.revision
        while not seen or seen[-1][3] < last:
            seen.extend(collect(w, 1, timeout=60))
        w.cancel()
        # The truth: the server's own history, read by a fresh watch.
        with watcher_client.watch(base, prefix=True, start_revision=start) as fresh:
            truth = collect(fresh, last - start + 1)
    assert seen == truth
    keys = {key for _, key, _, _ in seen}
    assert keys == {k.encode() for k in written}
    revisions = [rev for _, _, _, rev in seen]
    assert revisions == sorted(set(revisions))
