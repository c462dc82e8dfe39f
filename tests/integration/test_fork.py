"""Fork safety (issue 15 part 3; API.md "Where it runs": fork).

A busy parent forks children that use the client they inherited: no child
waits on a lock another thread of the parent held at the fork, none touches
the parent's connections (the parent sees no error, no reconnect, every
watch event once), the inherited client dials afresh in the child, and the
parent's watches and keep-alives raise `ParentProcessError` there.

Each child reports on a pipe and ends with `os._exit` (never returning into
pytest); the parent waits for each within bounds, so a hang fails the test.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
import traceback
import uuid
from typing import Any, Callable, Dict, List, Set, Tuple

import pytest

import pyetcd_wire as etcd
from pyetcd_wire._async.client import AsyncClient
from pyetcd_wire.testing import EtcdMember, EtcdTLS
from tests.async_bridge import BlockingAsyncClient, on_loop
from tests.helpers import exit_status, wait_for
from tests.tls_certs import make_certs

#: Seconds a child may take (hundreds of calls on a loaded machine).
CHILD_TIMEOUT = 120.0
CHILDREN = 8
BUSY_THREADS = 16
INHERITED_GETS = 150
NEW_CLIENT_GETS = 50

# Python 3.12+ warns that forking a multi-threaded process may deadlock:
# this module forks one on purpose, to show ours does not.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*multi-threaded.*fork.*:DeprecationWarning"
)


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _in_child(work: Callable[[], None], report: int) -> None:
    """The body of a forked child: `work()`, then "ok" or the traceback on
    the pipe, then `os._exit` (pytest's code must not run twice)."""
    try:
        work()
        message = b"ok"
    except BaseException:
        message = traceback.format_exc().encode()
    try:
        os.write(report, message[:60000])
    finally:
        os._exit(0 if message == b"ok" else 1)


def _fork_children(count: int, work: Callable[[int], None], how: str) -> List[str]:
    """Start `count` children running `work(n)` (with os.fork, or
    multiprocessing's fork context) and wait for them, within
    CHILD_TIMEOUT; returns each child's report ("ok" or what failed)."""
    pipes = [os.pipe() for _ in range(count)]
    procs: List[Any] = []
    for n, (_, w) in enumerate(pipes):
        if how == "os.fork":
            pid = os.fork()
            if pid == 0:
                _in_child(lambda n=n: work(n), w)
            procs.append(pid)
        else:
            ctx = multiprocessing.get_context("fork")
            proc = ctx.Process(target=_in_child, args=(lambda n=n: work(n), w))
            proc.start()
            procs.append(proc)
        os.close(w)
    reports = []
    deadline = time.monotonic() + CHILD_TIMEOUT
    for proc, (r, _) in zip(procs, pipes):
        status = _wait(proc, deadline)
        chunks = []
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(r)
        text = b"".join(chunks).decode(errors="replace")
        reports.append(text if status == 0 else f"exit status {status}: {text}")
    return reports


def _wait(proc: Any, deadline: float) -> int:
    """The child's exit status; a child still running at `deadline` is
    killed and counts as hung."""
    if isinstance(proc, int):
        return exit_status(proc, deadline)
    proc.join(max(0.0, deadline - time.monotonic()))
    if proc.is_alive():
        proc.kill()
        proc.join()
        return -9
    code: int = proc.exitcode
    proc.close()
    return code


def _connections(client: etcd.Client) -> List[object]:
    """The parent's connections: the KV pool's and the stream worker's."""
    streams = client._worker
    assert streams is not None
    channels = [*client._pool.channels(), *streams._pool.channels()]
    return [channel._current for channel in channels]


@pytest.mark.parametrize("how", ["os.fork", "multiprocessing"])
def test_busy_parent_forks_children_that_use_its_client(
    etcd_single: EtcdMember, how: str
) -> None:
    """The issue's test: a parent with a live watch, a keep-alive and 16
    busy threads forks 8 children that use the inherited client and new
    clients; the parent sees no error and every event once."""
    prefix = f"/fork/{uuid.uuid4().hex}/"
    fds, threads = _fds(), set(threading.enumerate())
    client = etcd.Client(etcd_single.endpoint, timeout=30)
    lease = client.grant(60)
    watch = client.watch(prefix, prefix=True)
    keep_alive = client.keep_alive(lease.ID)
    errors: List[BaseException] = []
    written: Set[int] = set()  # revisions of the parent's puts
    seen: List[int] = []  # revisions of the events the watch delivered
    stop = threading.Event()

    def busy(n: int) -> None:
        i = 0
        while not stop.is_set():
            try:
                resp = client.put(f"{prefix}{n}", str(i))
                written.add(resp.header.revision)
                client.get(f"{prefix}{n}")
            except BaseException as exc:
                errors.append(exc)
                return
            i += 1

    def consume() -> None:
        try:
            for resp in watch:
                seen.extend(ev.kv.mod_revision for ev in resp.events)
        except BaseException as exc:
            errors.append(exc)

    def child(n: int) -> None:
        for i in range(INHERITED_GETS):
            client.get(f"{prefix}{i % BUSY_THREADS}")
        client.put(f"/fork-child/{prefix}{n}", "from a child")  # not watched
        with etcd.Client(etcd_single.endpoint, timeout=30) as own:
            for i in range(NEW_CLIENT_GETS):
                own.get(f"{prefix}{i % BUSY_THREADS}")
        with pytest.raises(etcd.ParentProcessError, match="parent process"):
            watch.get(timeout=0)
        with pytest.raises(etcd.ParentProcessError, match="parent process"):
            next(iter(keep_alive))
        watch.cancel()  # the parent's: nothing happens here
        keep_alive.close()
        client.close()  # closes nothing of the parent's

    workers = [threading.Thread(target=busy, args=(n,)) for n in range(BUSY_THREADS)]
    consumer = threading.Thread(target=consume)
    for thread in [*workers, consumer]:
        thread.start()
    try:
        wait_for(lambda: len(written) > 200 or errors, timeout=60)
        before = _connections(client)
        started = time.monotonic()
        reports = _fork_children(CHILDREN, child, how)
        took = time.monotonic() - started
        count = len(written)
        wait_for(lambda: len(written) > count + 100 or errors, timeout=60)
    finally:
        stop.set()
        for thread in workers:
            thread.join()
    assert reports == ["ok"] * CHILDREN, reports
    assert errors == []
    last = max(written)
    wait_for(lambda: (seen and max(seen) >= last) or errors, timeout=60)
    assert errors == []
    assert sorted(seen) == sorted(written)  # each event exactly once
    assert not keep_alive.lost
    assert _connections(client) == before  # nothing reconnected
    assert client.time_to_live(lease.ID).TTL > 0
    print(
        f"{how}: {CHILDREN} children x {INHERITED_GETS + NEW_CLIENT_GETS} gets"
        f" + 1 put in {took:.1f} s; parent: {len(written)} puts, {len(seen)}"
        " events"
    )
    keep_alive.close()
    client.revoke(lease.ID)
    client.close()
    consumer.join(timeout=30)
    assert not consumer.is_alive()
    wait_for(lambda: set(threading.enumerate()) <= threads, timeout=10)
    wait_for(lambda: _fds() <= fds, timeout=10)


def test_child_dials_afresh_and_its_close_spares_the_parent(
    etcd_single: EtcdMember,
) -> None:
    """In the child, the inherited client has no connection until its
    first call; the parent's connection is the same one afterwards."""
    with etcd.Client(etcd_single.endpoint, timeout=30) as client:
        client.put("/fork/k", "v")
        (channel,) = client._pool.channels()
        conn = channel._current

        def child(_: int) -> None:
            assert client._pool.channels() == []
            assert client.get("/fork/k").kvs[0].value == b"v"
            (mine,) = client._pool.channels()
            assert mine is not channel
            assert mine._current is not conn
            client.close()

        assert _fork_children(1, child, "os.fork") == ["ok"]
        assert client._pool.channels() == [channel]
        assert channel._current is conn
        assert conn is not None
        assert conn.usable
        assert client.get("/fork/k").kvs[0].value == b"v"
        assert channel._current is conn


def test_inherited_tls_client_dials_afresh(tmp_path: Any, etcd_binary: str) -> None:
    """Over TLS: the child's close sends no close_notify on the parent's
    connection, and the child does its own handshake."""
    certs = make_certs(tmp_path)
    server = EtcdTLS(
        cert_file=certs.server_cert, key_file=certs.server_key, ca_file=certs.ca
    )
    with EtcdMember("fork-tls", binary=etcd_binary, tls=server) as member:
        tls = etcd.TLS(ca_file=certs.ca)
        with etcd.Client(member.endpoint, tls=tls, timeout=30) as client:
            client.put("/fork/tls", "v")
            (channel,) = client._pool.channels()
            conn = channel._current

            def child(_: int) -> None:
                for _ in range(20):
                    assert client.get("/fork/tls").kvs[0].value == b"v"
                client.close()

            assert _fork_children(2, child, "os.fork") == ["ok", "ok"]
            for _ in range(20):
                assert client.get("/fork/tls").kvs[0].value == b"v"
            assert channel._current is conn


def test_inherited_async_client_dials_afresh_in_the_childs_loop(
    etcd_single: EtcdMember,
) -> None:
    """AsyncClient: the parent runs it on a loop in another thread; the
    child runs a loop of its own, where the inherited client dials afresh
    (never through the parent's loop) and the parent's watch raises."""
    prefix = f"/fork/{uuid.uuid4().hex}/"
    with BlockingAsyncClient(etcd_single.endpoint, timeout=30) as bridge:
        inner: AsyncClient = on_loop(bridge, lambda c: c)
        with bridge.watch(prefix, prefix=True) as watch:
            bridge.put(f"{prefix}a", "1")
            outer_watch = on_loop(watch, lambda w: w)

            async def in_child() -> Tuple[bytes, int]:
                resp = await inner.get(f"{prefix}a")
                with pytest.raises(etcd.ParentProcessError, match="parent process"):
                    await outer_watch.get(timeout=0)
                async with inner.watch(prefix, prefix=True) as mine:
                    await inner.put(f"{prefix}b", "2")
                    event = (await mine.get(timeout=30)).events[0]
                await inner.aclose()
                return resp.kvs[0].value, event.kv.mod_revision

            results: Dict[str, Any] = {}

            def child(_: int) -> None:
                results["got"] = asyncio.run(in_child())
                assert results["got"][0] == b"1"

            assert _fork_children(2, child, "os.fork") == ["ok", "ok"]
            first = watch.get(timeout=30)
            assert [ev.kv.key for ev in first.events] == [f"{prefix}a".encode()]
            keys = []
            while len(keys) < 2:  # the children's two puts, each once
                keys += [ev.kv.key for ev in watch.get(timeout=30).events]
            assert keys == [f"{prefix}b".encode()] * 2
            assert bridge.get(f"{prefix}a").kvs[0].value == b"1"
