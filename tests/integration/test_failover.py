"""A client of a 3-member cluster while members die, freeze and come back.

What the issue asks, measured here: a killed member costs no failed call; a
frozen one (SIGSTOP: alive on TCP, answering nothing) makes no call overrun
its deadline and only a few slow; watches and keep-alives move on.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.errors import ConnectionFailedError
from pyetcd_wire.testing import EtcdCluster, EtcdMember

from ..helpers import free_port, internal, wait_for


@pytest.fixture
def cluster(etcd_binary):
    """A fresh 3-member cluster for each test (they kill and freeze members)."""
    with EtcdCluster(3, binary=etcd_binary) as cluster:
        yield cluster


def test_calls_go_round_robin_over_every_endpoint(cluster, client_class):
    with client_class(cluster.endpoints, timeout=5) as client:
        members = {
            client.get(b"k", serializable=True).header.member_id for _ in range(6)
        }
    assert len(members) == 3


def test_killed_member_fails_no_call(cluster, client_class):
    victim = cluster.followers()[0]
    with client_class(cluster.endpoints, timeout=5) as client:
        client.put(b"counter", b"0")
        for i in range(30):
            if i == 10:
                victim.kill()
            client.put(b"counter", str(i).encode())
            assert client.get(b"counter").kvs[0].value == str(i).encode()
        # The dead member is out of rotation, not tried on every call.
        quarantined = internal(
            client, lambda c: c._balancer.quarantined(time.monotonic())
        )
        assert [e.text for e, _, _ in quarantined] == [victim.endpoint]
        victim.start()
        victim.wait_ready()
        assert (
            cluster.etcdctl("get", "counter", "--print-value-only").stdout.strip()
            == "29"
        )


def test_killed_leader_fails_no_read_and_writes_only_during_the_election(
    cluster, client_class
):
    """Reads are retried on the others; a write the election catches fails
    with a typed Unavailable error (its outcome is unknown, as in Go)."""
    leader = cluster.leader()
    with client_class(cluster.endpoints, timeout=10) as client:
        client.put(b"k", b"0")
        leader.kill()
        failed_writes = []
        started = time.monotonic()
        for i in range(40):
            assert client.get(b"k").kvs  # never fails
            try:
                client.put(b"k", str(i).encode())
            except etcd.UnavailableError as exc:
                failed_writes.append(exc)
        elapsed = time.monotonic() - started
    assert len(failed_writes) <= 3, failed_writes
    assert elapsed < 20


def test_frozen_member_no_call_past_its_deadline_and_few_slow(cluster, client_class):
    victim = cluster.followers()[0]
    deadline = 1.0
    with client_class(cluster.endpoints, timeout=deadline) as client:
        client.put(b"k", b"v")
        victim.pause()
        try:
            durations, failures = [], 0
            for _ in range(60):
                started = time.monotonic()
                try:
                    client.get(b"k")
                except etcd.DeadlineExceededError:
                    failures += 1
                durations.append(time.monotonic() - started)
        finally:
            victim.resume()
    assert max(durations) < deadline + 0.5
    slow = sum(d > 0.5 for d in durations)
    assert slow <= 2, durations  # the calls the freeze caught, then routed around
    assert failures <= slow


@pytest.fixture
def busy_cpus():
    """Two busy-loop processes for the test's duration (the machine has two
    cores): etcd and the client then run on a loaded machine."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)
    ]
    yield
    for hog in hogs:
        hog.kill()
        hog.wait()


def test_frozen_follower_fails_no_read_and_none_takes_half_its_deadline(
    cluster, client_class, busy_cpus
):
    """Reads with a 5 s timeout while a follower is frozen, on a loaded
    machine: none fails, none takes 2.5 s, and only the one that met the
    member as it froze waits on it.  They go on (200 at least) until a health
    check of the frozen member has failed, so that its quarantine ended once.

    Why the bounds hold by design, not by luck: with 3 endpoints, a read's
    attempt on one member gets a third of what is left of its deadline
    (`_policy/retry.py: attempt_timeout`): 5 / 3 = 1.67 s.  The read that
    meets the frozen member gives up there after 1.67 s, quarantines it and
    goes to a healthy member with the 3.33 s left.  No later read goes to the
    frozen member: when its quarantine ends, its health is checked (a Status
    call with a 1 s bound, off the reads' path), and it gets no read until
    it answers, which a frozen process never does.  So one read costs 1.67 s plus a
    healthy member's answer, every other one a healthy answer alone.  A
    healthy answer takes milliseconds here: the busy loops take CPU time
    from etcd, they do not stop it; 0.83 s is left for it below 2.5 s, and
    1 s separates "met the frozen member" (>= 1.67 s) from "did not".
    Before, the read that met the frozen member waited there for its whole
    deadline and failed, and so did one read at each end of its quarantine.
    """
    frozen = cluster.followers()[0]

    def health_check_failed(client):
        quarantined = internal(
            client, lambda c: c._balancer.quarantined(time.monotonic())
        )
        return any(
            endpoint.text == frozen.endpoint and why.startswith("health check:")
            for endpoint, _, why in quarantined
        )

    with client_class(
        cluster.endpoints, timeout=5, keepalive_time=1, keepalive_timeout=1
    ) as client:
        client.put(b"fz", b"v")
        frozen_id = client.status(frozen.endpoint).header.member_id
        frozen.pause()
        try:
            durations, failures, checked = [], [], False
            give_up = time.monotonic() + 60
            while not failures and time.monotonic() < give_up:
                if len(durations) >= 200 and health_check_failed(client):
                    checked = True
                    break
                started = time.monotonic()
                try:
                    assert client.get(b"fz").kvs[0].value == b"v"
                except etcd.EtcdError as exc:
                    failures.append(exc)
                durations.append(time.monotonic() - started)
        finally:
            frozen.resume()
        assert failures == []
        assert max(durations) < 2.5, sorted(durations)[-5:]
        assert sum(d > 1.0 for d in durations) == 1, sorted(durations)[-5:]
        assert checked, "no health check of the frozen member failed in 60 s"
        # Resumed, it passes its next health check and serves again.
        wait_for(
            lambda: client.get(b"fz", serializable=True).header.member_id == frozen_id,
            timeout=60,
        )


def test_watch_resumes_on_another_member_when_its_member_dies(cluster, client_class):
    # A follower first in the list: the watch (the first call) goes there, and
    # killing it costs no election (writes during one may fail, as in Go).
    follower = cluster.followers()[0]
    endpoints = [follower.endpoint] + [
        m.endpoint for m in cluster.members if m is not follower
    ]
    with client_class(endpoints, timeout=5) as client:
        watch = client.watch(b"w/", prefix=True)
        assert _member_of_watch(cluster, client) is follower
        client.put(b"w/1", b"a")
        first = watch.get(timeout=5)
        assert [e.kv.key for e in first.events] == [b"w/1"]
        follower.kill()
        for i in range(2, 12):
            client.put(f"w/{i}".encode(), b"b")
        keys = []
        while len(keys) < 10:
            response = watch.get(timeout=10)
            assert response is not None, keys
            keys += [e.kv.key for e in response.events]
        assert keys == [f"w/{i}".encode() for i in range(2, 12)]
        assert _member_of_watch(cluster, client) is not follower
        watch.cancel()


def _member_of_watch(cluster, client):
    endpoint = _watch_connection(client).endpoint
    return next(m for m in cluster.members if m.endpoint == endpoint)


def _watch_connection(client):
    """The connection of the client's Watch stream (read on its loop, for
    the AsyncClient)."""
    return internal(client, lambda c: c._worker._watches.stream.connection)


def test_keep_alive_survives_the_death_of_its_member(cluster, client_class):
    with client_class(cluster.endpoints, timeout=5) as client:
        lease = client.grant(2).ID
        keep = client.keep_alive(lease)
        wait_for(lambda: internal(client, lambda c: c._worker._leases.stream))
        endpoint = internal(
            client, lambda c: c._worker._leases.stream.connection.endpoint
        )
        victim = next(m for m in cluster.members if m.endpoint == endpoint)
        victim.kill()
        time.sleep(4)  # two TTLs: renewals must have moved to another member
        assert not keep.lost
        assert client.time_to_live(lease).TTL > 0
        keep.close()


def test_unreachable_endpoints_are_skipped_and_named_when_all_fail(
    cluster, client_class
):
    dead = "127.0.0.1:9"  # discard port: nothing listens
    with client_class([dead, *cluster.endpoints], timeout=5) as client:
        for _ in range(8):
            client.put(b"k", b"v")  # a write: retried, as it never left
    with (
        client_class([dead, "127.0.0.1:7"], timeout=2) as client,
        pytest.raises(ConnectionFailedError, match=r"127\.0\.0\.1:(9|7)"),
    ):
        client.get(b"k")


def test_set_endpoints_moves_calls_and_streams(cluster, client_class):
    first = cluster.followers()[0]  # killing the leader would cost an election
    others = [m for m in cluster.members if m is not first]
    with client_class([first.endpoint], timeout=5) as client:
        watch = client.watch(b"s/", prefix=True)
        client.set_endpoints(*[m.endpoint for m in others])
        assert client.endpoints == tuple(m.endpoint for m in others)
        first.kill()
        client.put(b"s/1", b"x")
        response = watch.get(timeout=10)
        assert [e.kv.key for e in response.events] == [b"s/1"]
        watch.cancel()
        with pytest.raises(ValueError, match="endpoint"):
            client.set_endpoints()


def test_threads_share_a_client_across_a_member_kill(cluster, client_class):
    """Four threads read through one client while a member is killed: no
    read fails, and every thread's reads go on after the kill (ten each at
    least, so round robin sent some of them towards the dead member)."""
    victim = cluster.members[2]
    errors = []
    stop, killed = threading.Event(), threading.Event()
    before, after = [0] * 4, [0] * 4

    def reader(n, client):
        while not stop.is_set():
            late = killed.is_set()
            try:
                client.get(b"t")
            except Exception as exc:  # every failure counts
                errors.append(exc)
                continue
            (after if late else before)[n] += 1

    with client_class(cluster.endpoints, timeout=5) as client:
        client.put(b"t", b"1")
        threads = [threading.Thread(target=reader, args=(n, client)) for n in range(4)]
        for t in threads:
            t.start()
        try:
            wait_for(lambda: min(before) > 0 or errors, timeout=30)
            victim.kill()
            killed.set()
            wait_for(lambda: min(after) >= 10 or errors, timeout=30)
        finally:
            stop.set()
            for t in threads:
                t.join()
    assert errors == []


def test_sync_sets_the_endpoints_of_started_voting_members(cluster, client_class):
    with client_class([cluster.members[0].endpoint], timeout=5) as client:
        assert set(client.sync()) == set(cluster.client_urls)
        assert set(client.endpoints) == set(cluster.client_urls)
        members = {
            client.get(b"k", serializable=True).header.member_id for _ in range(6)
        }
        assert len(members) == 3


def test_auto_sync_interval_refreshes_the_endpoints(cluster, client_class):
    with client_class(
        [cluster.members[0].endpoint], timeout=5, auto_sync_interval=0.3
    ) as client:
        wait_for(lambda: set(client.endpoints) == set(cluster.client_urls), timeout=5)


def test_auto_sync_runs_in_a_thread_of_its_own(cluster):
    with etcd.Client(
        [cluster.members[0].endpoint], timeout=5, auto_sync_interval=0.3
    ) as client:
        # The count goes up once sync() returned, just after the endpoints
        # changed: wait for it too.
        wait_for(lambda: client._auto_sync.syncs >= 1, timeout=5)
        assert set(client.endpoints) == set(cluster.client_urls)
        threads = [t.name for t in threading.enumerate()]
        assert "pyetcd-wire-autosync" in threads
    assert "pyetcd-wire-autosync" not in [t.name for t in threading.enumerate()]


def test_keepalive_fails_a_call_without_deadline_on_a_frozen_member(
    cluster, client_class
):
    """No deadline: only keepalive can tell. The PING goes unanswered, the
    connection is given up, and the read is retried on another member."""
    frozen = cluster.followers()[0]
    other = next(m for m in cluster.members if m is not frozen)
    with client_class(
        [frozen.endpoint, other.endpoint], keepalive_time=5, keepalive_timeout=1
    ) as client:
        client.put(b"ka", b"v")  # to the frozen one: it is picked first
        frozen.pause()
        try:
            started = time.monotonic()
            while True:  # until round robin lands on the frozen member
                client.get(b"ka")
                if time.monotonic() - started > 1:
                    break
            elapsed = time.monotonic() - started
        finally:
            frozen.resume()
    # The call that met the frozen member took keepalive_time + timeout.
    assert 5.5 < elapsed < 9, elapsed


def test_watch_leaves_a_frozen_member_by_keepalive(cluster, client_class):
    frozen = cluster.followers()[0]
    others = [m for m in cluster.members if m is not frozen]
    with client_class(
        [frozen.endpoint] + [m.endpoint for m in others],
        timeout=5,
        keepalive_time=5,
        keepalive_timeout=1,
    ) as client:
        watch = client.watch(b"kw/", prefix=True)
        assert _member_of_watch(cluster, client) is frozen
        frozen.pause()
        try:
            started = time.monotonic()
            others[0].etcdctl("put", "kw/1", "x")
            response = watch.get(timeout=15)
            elapsed = time.monotonic() - started
        finally:
            frozen.resume()
        assert [e.kv.key for e in response.events] == [b"kw/1"]
        assert 5 < elapsed < 10, elapsed
        watch.cancel()


def test_keepalive_pings_an_idle_watch_without_too_many_pings(cluster, client_class):
    """An idle watch's connection is PINGed (never closer than 5 s), and etcd
    takes it: the second PING is answered, and the watch goes on on the same
    connection (a too_many_pings GOAWAY would have replaced it)."""
    with client_class(cluster.endpoints, timeout=5, keepalive_time=5) as client:
        watch = client.watch(b"idle/", prefix=True)
        conn = _watch_connection(client)
        keepalive = conn._keepalive
        wait_for(
            lambda: keepalive.pings >= 2 and keepalive.ping_sent_at is None,
            timeout=30,
        )
        client.put(b"idle/1", b"x")
        assert [e.kv.key for e in watch.get(timeout=5).events] == [b"idle/1"]
        assert _watch_connection(client) is conn  # no GOAWAY
        watch.cancel()


def remove_asking_another(cluster, leaving, leaving_id, client_class):
    """Remove `leaving`, asking a member that stays, as an operator would:
    asked itself (the client's round-robin may pick it), the leaving member
    stops once the removal is applied and may answer "etcdserver: server
    stopped" first (seen under load), a write whose outcome is unknown, which
    Go's client does not retry either."""
    staying = next(m for m in cluster.members if m is not leaving)
    with client_class(staying.endpoint, timeout=5) as admin:
        admin.member_remove(leaving_id)


def test_member_removed_and_added_back_while_reads_go_on(etcd_binary, client_class):
    """A reader thread reads all along: no read fails, and once the new
    member is in the endpoints its reads reach it.  (No count of reads: the
    remove and re-add take some 0.3 s, with no read slower than 0.1 s even
    on a loaded machine; a count measured only the machine's speed.)"""
    lax = ["--strict-reconfig-check=false"]  # re-add without the 5 s wait
    with EtcdCluster(3, binary=etcd_binary, extra_args=lax) as cluster:
        errors, served_by = [], set()
        stop = threading.Event()
        with client_class(cluster.endpoints, timeout=5) as client:
            client.put(b"rr", b"v")

            def reader():
                while not stop.is_set():
                    try:
                        served_by.add(client.get(b"rr").header.member_id)
                    except Exception as exc:  # every failure counts
                        errors.append(exc)

            thread = threading.Thread(target=reader)
            thread.start()
            try:
                leaving = cluster.followers()[0]
                leaving_id = client.status(leaving.endpoint).header.member_id
                remove_asking_another(cluster, leaving, leaving_id, client_class)
                wait_for(lambda: not leaving.is_running, timeout=10)
                client.sync()
                assert len(client.endpoints) == 2
                assert leaving.client_url not in client.endpoints

                port, peer_port = free_port(), free_port()
                peer = f"http://127.0.0.1:{peer_port}"
                client.member_add([peer])
                stayed = {
                    m.name: m.peer_url for m in cluster.members if m is not leaving
                }
                with EtcdMember(
                    "back",
                    binary=etcd_binary,
                    client_port=port,
                    peer_port=peer_port,
                    initial_cluster={**stayed, "back": peer},
                    cluster_token=leaving.cluster_token,
                    extra_args=["--initial-cluster-state", "existing", *lax],
                ) as back:
                    wait_for(
                        lambda: back.client_url in client.sync(timeout=2), timeout=20
                    )
                    back_id = client.status(back.endpoint).header.member_id
                    # It serves once it is out of any quarantine its start
                    # earned it (reads it could not answer while joining).
                    wait_for(
                        lambda: (
                            client.get(b"rr", serializable=True).header.member_id
                            == back_id
                        ),
                        timeout=10,
                    )
                    # The reader's own (linearizable) reads reach it too.
                    wait_for(lambda: back_id in served_by or errors, timeout=10)
            finally:
                stop.set()
                thread.join()
        assert errors == []
        assert back_id in served_by
