"""The sync Client under gevent (issue 15): greenlets share one client, and
background work (keep-alive, watches) runs as greenlets.

Only in a session monkey-patched before anything was imported (conftest.py,
plugin.py; ``nox -s gevent``).  Every wait is bounded by a gevent.Timeout:
the bug these tests catch is a call that waits for ever, deaf to its
``timeout=``.
"""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path
from typing import Iterator, List

import gevent
import gevent.event
import gevent.pool
import pytest

import pyetcd_wire as etcd
from pyetcd_wire._sync.cooperative import CooperativeSocket
from pyetcd_wire._sync.transport import KernelTimeouts
from pyetcd_wire.errors import DeadlineExceededError
from pyetcd_wire.recipes import Lock, Session
from pyetcd_wire.testing import EtcdCluster, EtcdMember, EtcdTLS
from tests.tls_certs import Certs, make_certs

#: Bound on any one test's waits (a hang fails the test instead).
BOUND = 60.0
#: Longer than connection.IDLE_CHECK_SECONDS: the next call drains first.
IDLE = 1.5
GREENLETS = 1000


def key() -> str:
    return f"/gevent-test/{uuid.uuid4().hex}/"


# --- the socket under the driver ---------------------------------------------


@pytest.fixture
def pair() -> Iterator[tuple[CooperativeSocket, socket.socket]]:
    ours, peer = socket.socketpair()
    with ours, peer:
        yield CooperativeSocket(ours), peer


def test_recv_dontwait_returns_at_once(
    pair: tuple[CooperativeSocket, socket.socket],
) -> None:
    sock, _ = pair
    with gevent.Timeout(BOUND), pytest.raises(BlockingIOError):
        sock.recv(100, socket.MSG_DONTWAIT)


def test_recv_honours_the_receive_timeout(
    pair: tuple[CooperativeSocket, socket.socket],
) -> None:
    sock, peer = pair
    KernelTimeouts(sock).for_receive(0.05)
    with gevent.Timeout(BOUND), pytest.raises(BlockingIOError):
        sock.recv(100)
    peer.send(b"x")
    assert sock.recv(100) == b"x"


def test_recv_wakes_other_greenlets_and_then_reads(
    pair: tuple[CooperativeSocket, socket.socket],
) -> None:
    sock, peer = pair
    reader = gevent.spawn(sock.recv, 100)
    gevent.spawn(peer.send, b"hello")  # runs only if the reader yields
    assert reader.get(timeout=BOUND) == b"hello"


def test_shutdown_wakes_a_blocked_reader(
    pair: tuple[CooperativeSocket, socket.socket],
) -> None:
    sock, _ = pair
    reader = gevent.spawn(sock.recv, 100)
    gevent.sleep(0)  # the reader waits
    sock.shutdown(socket.SHUT_RDWR)
    assert reader.get(timeout=BOUND) == b""


# --- the cases, on a real etcd ------------------------------------------


def test_keep_alive_survives_an_idle_connection(member: EtcdMember) -> None:
    """The issue's example: a call after the connection sat idle for over a
    second waited for ever in its drain (recv with MSG_DONTWAIT)."""
    with gevent.Timeout(BOUND), etcd.Client(member.endpoint, timeout=5) as client:
        lease = client.grant(2)
        with client.keep_alive(lease.ID) as ka:
            gevent.sleep(IDLE * 2)  # > the TTL: only renewals keep it
            ttl = client.time_to_live(lease.ID).TTL
            assert not ka.lost
            assert ttl > 0
        client.revoke(lease.ID)


def test_call_to_a_frozen_server_ends_at_its_deadline(etcd_binary: str) -> None:
    with (
        EtcdMember("frozen", binary=etcd_binary) as frozen,
        gevent.Timeout(BOUND),
        etcd.Client(frozen.endpoint) as client,
    ):
        client.put("k", "v")
        gevent.sleep(IDLE)  # the next call drains the idle connection
        frozen.pause()
        try:
            with pytest.raises(DeadlineExceededError):
                client.get("k", timeout=0.5)
            with pytest.raises(DeadlineExceededError):  # not idle: read
                client.get("k", timeout=0.5)
        finally:
            frozen.resume()


def test_a_thousand_greenlets_share_one_client(member: EtcdMember) -> None:
    base = key()
    done: List[int] = []

    def work(n: int) -> None:
        client.put(f"{base}{n}", str(n))
        assert client.get(f"{base}{n}").kvs[0].value == str(n).encode()
        done.append(n)

    with gevent.Timeout(BOUND), etcd.Client(member.endpoint, timeout=30) as client:
        started = time.monotonic()
        pool = gevent.pool.Pool(GREENLETS)
        for n in range(GREENLETS):
            pool.spawn(work, n)
        pool.join(raise_error=True)
        elapsed = time.monotonic() - started
        count = client.get(base, prefix=True, count_only=True).count
    print(f"{GREENLETS} greenlets, {2 * GREENLETS} calls, {elapsed:.2f} s")
    assert sorted(done) == list(range(GREENLETS))
    assert count == GREENLETS


def test_watch_receives_events_while_greenlets_call(member: EtcdMember) -> None:
    base = key()
    writers, each = 20, 10
    with (
        gevent.Timeout(BOUND),
        etcd.Client(member.endpoint, timeout=10) as client,
        client.watch(base, prefix=True) as w,
    ):

        def write(n: int) -> None:
            for i in range(each):
                client.put(f"{base}{n}/{i}", "v")
                client.get(f"{base}{n}/{i}")

        group = gevent.pool.Group()
        for n in range(writers):
            group.spawn(write, n)
        seen: List[bytes] = []
        while len(seen) < writers * each:
            resp = w.get(timeout=BOUND)
            assert resp is not None
            seen.extend(ev.kv.key for ev in resp.events)
        group.join(raise_error=True)
    assert len(set(seen)) == writers * each


def test_greenlets_fail_over_to_another_member(etcd_binary: str) -> None:
    """Reads (retried on another member when theirs dies) by greenlets going
    on across a member's SIGKILL; test_failover.py covers watches and
    keep-alives, also under gevent (`nox -s gevent`)."""
    base = key()
    readers, each = 50, 10
    with EtcdCluster(3, binary=etcd_binary) as cluster:
        victim = cluster.members[0]
        with (
            gevent.Timeout(BOUND),
            etcd.Client(cluster.endpoints, timeout=5, dial_timeout=1) as client,
        ):
            client.put(f"{base}k", "v")
            counts: List[int] = []
            started = gevent.event.Event()

            def read() -> None:
                for i in range(each):
                    counts.append(client.get(base, prefix=True).count)
                    if i == 0:
                        started.set()
                        gevent.sleep(0)

            group = gevent.pool.Group()
            for _ in range(readers):
                group.spawn(read)
            started.wait()
            victim.kill()
            try:
                group.join(raise_error=True)
            finally:
                victim.restart()
    assert counts == [1] * (readers * each)


def test_lock_contended_by_greenlets(member: EtcdMember) -> None:
    name = key()
    holders: List[int] = []
    order: List[int] = []

    def contend(n: int) -> None:
        with Session(client, ttl=10) as session, Lock(session, name):
            holders.append(n)
            assert len(holders) == 1, holders
            gevent.sleep(0.01)  # let the others try meanwhile
            order.append(n)
            holders.remove(n)

    with gevent.Timeout(BOUND), etcd.Client(member.endpoint, timeout=10) as client:
        group = gevent.pool.Group()
        for n in range(10):
            group.spawn(contend, n)
        group.join(raise_error=True)
    assert sorted(order) == list(range(10))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(Path(tmp_path_factory.mktemp("certs")))


def test_tls_keep_alive_and_deadline(etcd_binary: str, certs: Certs) -> None:
    tls = EtcdTLS(
        cert_file=certs.server_cert, key_file=certs.server_key, ca_file=certs.ca
    )
    with (
        EtcdMember("gevent-tls", binary=etcd_binary, tls=tls) as secure,
        gevent.Timeout(BOUND),
        etcd.Client(
            secure.endpoint, tls=etcd.TLS(ca_file=certs.ca), timeout=5
        ) as client,
    ):
        lease = client.grant(2)
        with client.keep_alive(lease.ID) as ka:
            gevent.sleep(IDLE * 2)
            assert client.time_to_live(lease.ID).TTL > 0
            assert not ka.lost
        secure.pause()
        try:
            with pytest.raises(DeadlineExceededError):
                client.get("k", timeout=0.5)
        finally:
            secure.resume()
