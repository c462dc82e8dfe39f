"""Lock / AsyncLock (Go's concurrency.Mutex) on a real 3-member cluster:
mutual exclusion between processes, a SIGKILLed holder, FIFO order, lost
sessions, fencing with is_owner(), and `etcdctl lock` as the independent
peer that must exclude us and be excluded by us (same key layout)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.errors import (
    DeadlineExceededError,
    LeaseNotFoundError,
    LockedError,
    LockReleasedError,
    SessionExpiredError,
)
from pyetcd_wire.recipes._async.lock import AsyncLock
from pyetcd_wire.recipes._async.session import AsyncSession
from pyetcd_wire.recipes._sync import queue
from pyetcd_wire.recipes._sync.lock import Lock
from pyetcd_wire.recipes._sync.session import Session
from pyetcd_wire.testing import EtcdCluster, find_etcd_binary
from tests.aio import run
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(etcd_cluster3: EtcdCluster) -> Iterator[etcd.Client]:
    with etcd.Client(etcd_cluster3.endpoints, timeout=10) as c:
        yield c


@pytest.fixture
def name() -> str:
    """A fresh lock name per test."""
    return f"/lock-test/{uuid.uuid4().hex}"


def queued(client: etcd.Client, name: str) -> int:
    """How many contenders have a key under the lock."""
    return client.get(f"{name}/", prefix=True, count_only=True).count


def lease_of(key: bytes) -> int:
    """The lease ID a lock key names (``<name>/<lease hex>``)."""
    return int(key.rsplit(b"/", 1)[1], 16)


@contextlib.contextmanager
def spawned(*argv: str) -> Iterator[subprocess.Popen[str]]:
    """A child process with text pipes (stdin too), killed if still running
    and reaped on exit."""
    env = {**os.environ, "ETCDCTL_API": "3"}
    pipe = subprocess.PIPE
    with subprocess.Popen(
        argv, stdin=pipe, stdout=pipe, stderr=pipe, text=True, cwd=ROOT, env=env
    ) as proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def worker(cluster: EtcdCluster, *args: str) -> List[str]:
    """The argv of a tests/recipes_lock_worker.py process on this interpreter."""
    endpoints = ",".join(cluster.endpoints)
    module = "tests.recipes_lock_worker"
    return [sys.executable, "-m", module, args[0], endpoints, *args[1:]]


def etcdctl_lock(cluster: EtcdCluster, name: str, *command: str) -> List[str]:
    """The argv of ``etcdctl lock NAME [COMMAND...]`` against the cluster."""
    binary = find_etcd_binary("etcdctl")
    endpoints = f"--endpoints={','.join(cluster.endpoints)}"
    return [binary, endpoints, "lock", name, *command]


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Start `work` on a thread; the list gets what it returned or raised."""
    outcome: list[Any] = []

    def run_work() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # reported through `outcome`
            outcome.append(exc)

    thread = threading.Thread(target=run_work)
    thread.start()
    return thread, outcome


# --- the three: processes, a killed holder, etcdctl ------------------


def test_eight_processes_lose_no_increment(etcd_cluster3, client, name):
    counter = f"{name}-counter"
    times = 10
    argv = worker(etcd_cluster3, "increment", name, counter, str(times))
    with contextlib.ExitStack() as stack:
        procs = [stack.enter_context(spawned(*argv)) for _ in range(8)]
        for proc in procs:
            assert proc.stdout.readline() == "ready\n", proc.stderr.read()
        for proc in procs:  # all at once
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=60) for proc in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert (proc.returncode, out) == (0, "done\n"), err
    assert client.get(counter).kvs[0].value == str(8 * times).encode()
    assert queued(client, name) == 0


def test_a_killed_holder_hands_over_within_its_ttl(etcd_cluster3, client, name):
    with spawned(*worker(etcd_cluster3, "hold", name, "2")) as holder:
        key = holder.stdout.readline().strip().encode()
        assert key.startswith(f"{name}/".encode()), holder.stderr.read()
        ttl = client.time_to_live(lease_of(key)).grantedTTL
        assert ttl == 2
        with Session(client, ttl=10) as session:
            lock = Lock(session, name)
            thread, outcome = in_thread(lambda: lock.acquire(timeout=15))
            wait_for(lambda: queued(client, name) == 2)
            killed = time.monotonic()
            holder.kill()
            thread.join()
            handed_over = time.monotonic() - killed
            assert outcome == [None]
            assert client.get(key).count == 0  # the holder's lease expired
            lock.release()
    # The lease was renewed until the kill, so it expires within the TTL;
    # etcd notices every 500 ms (lessor's expiry check) and then revokes it
    # through raft, and the waiter's watch sees the key go.
    assert handed_over < ttl + 1.0


def test_etcdctl_lock_excludes_ours(etcd_cluster3, client, name):
    with spawned(*etcdctl_lock(etcd_cluster3, name)) as ctl:
        ctl_key = ctl.stdout.readline().strip()  # printed once held
        with Session(client, ttl=5) as session:
            lock = Lock(session, name)
            with pytest.raises(LockedError):
                lock.try_acquire()
            with pytest.raises(DeadlineExceededError):
                lock.acquire(timeout=0.3)
            assert queued(client, name) == 1
            thread, outcome = in_thread(lambda: lock.acquire(timeout=10))
            wait_for(lambda: queued(client, name) == 2)
            ctl.terminate()  # etcdctl unlocks on SIGTERM
            thread.join()
            assert outcome == [None]
            assert ctl.wait(5) == 0
            # the same layout: <name>/<lease hex>, ours under the same prefix
            assert ctl_key.rsplit("/", 1)[0] == name
            assert lock.key == f"{name}/{session.lease_id:x}".encode()
            lock.release()


def test_our_lock_excludes_etcdctl_lock(etcd_cluster3, client, name):
    with Session(client, ttl=5) as session:
        lock = Lock(session, name)
        lock.acquire()
        with spawned(*etcdctl_lock(etcd_cluster3, name, "echo", "got it")) as ctl:
            wait_for(lambda: queued(client, name) == 2)
            time.sleep(0.3)
            assert ctl.poll() is None  # etcdctl waits for us
            lock.release()
            out, err = ctl.communicate(timeout=10)
            assert (ctl.returncode, out) == (0, "got it\n"), err


# --- behaviour ---------------------------------------------------------------


def test_acquire_release_key_layout_and_header(etcd_cluster3, client, name):
    with Session(client, ttl=5) as session:
        lock = Lock(session, name)
        with pytest.raises(LockReleasedError):
            lock.release()
        lock.acquire()
        assert lock.key == f"{name}/{session.lease_id:x}".encode()
        mine = client.get(lock.key).kvs[0]
        assert (mine.value, mine.lease) == (b"", session.lease_id)
        assert lock.revision == mine.create_revision
        assert lock.header is not None
        assert lock.header.revision >= lock.revision
        shown = etcd_cluster3.etcdctl("get", f"{name}/", "--prefix", "--keys-only")
        assert shown.stdout.split() == [lock.key.decode()]
        lock.release()
        assert client.get(lock.key).count == 0
        assert lock.revision == -1
        with pytest.raises(LockReleasedError):
            lock.release()


def test_try_acquire_and_a_timeout_leave_the_queue(client, name):
    with Session(client, ttl=5) as mine, Session(client, ttl=5) as theirs:
        holder = Lock(theirs, name)
        holder.try_acquire()
        lock = Lock(mine, name)
        with pytest.raises(LockedError):
            lock.try_acquire()
        assert (queued(client, name), lock.revision) == (1, -1)
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            lock.acquire(timeout=0.3)
        assert 0.3 <= time.monotonic() - started < 2
        assert (queued(client, name), lock.revision) == (1, -1)
        with pytest.raises(LockReleasedError):
            lock.release()
        holder.release()
        lock.try_acquire()
        lock.release()


def test_is_owner_fences_writes(client, name):
    fenced = f"{name}-fenced"

    def write(lock: Lock) -> bool:
        put = etcd.Op.put(fenced, "v")
        return client.txn(compare=[lock.is_owner()], success=[put]).succeeded

    with Session(client, ttl=5) as session:
        lock = Lock(session, name)
        assert not write(lock)  # never acquired
        with lock:
            assert write(lock)
        assert not write(lock)  # released
        lock.acquire()
    assert not write(lock)  # the session closed: its lease took the key
    with Session(client, ttl=5) as session:
        lock = Lock(session, name)
        lock.acquire()
        client.revoke(session.lease_id)  # the session is lost
        assert not write(lock)


def test_a_session_locking_again_reuses_its_key(client, name):
    with Session(client, ttl=5) as session:
        first, second = Lock(session, name), Lock(session, name)
        first.acquire()
        second.acquire(timeout=1)  # does not wait for itself
        assert (first.key, first.revision) == (second.key, second.revision)
        assert queued(client, name) == 1
        first.acquire(timeout=1)  # held already: still held, same key
        assert first.revision == second.revision
        second.release()


def test_the_oldest_key_holds_the_lock_even_when_it_sorts_last(client, name):
    """Who holds the lock is decided by create revision, not by key name.
    Asked for the oldest key with a limit and no sort order, etcd fetches
    the first keys by name and sorts only those: a waiter whose key sorted
    before the holder's took the lock while the holder still had it (the
    fault campaign saw two holders' fenced writes interleave).  As there: a
    waiter whose key is left in the queue, a younger contender, and the
    holder's key named after both."""
    base = random.getrandbits(40) << 8  # three IDs of one length, in order
    waiter_id, younger_id, holder_id = base + 1, base + 2, base + 3
    with contextlib.ExitStack() as stack:
        for lease_id in (waiter_id, younger_id, holder_id):
            client.grant(30, id=lease_id)
        sessions = [
            stack.enter_context(Session(client, ttl=30, lease_id=lease_id))
            for lease_id in (waiter_id, holder_id)
        ]
        holder = Lock(sessions[1], name)
        holder.acquire()
        for lease_id in (waiter_id, younger_id):
            client.put(f"{name}/{lease_id:x}", b"", lease=lease_id)
        waiter = Lock(sessions[0], name)
        with pytest.raises(LockedError):
            waiter.try_acquire()
        assert client.txn([holder.is_owner()], [], []).succeeded
        client.revoke(younger_id)
        holder.release()


def test_waiters_get_the_lock_in_fifo_order(client, name):
    order: list[int] = []
    with contextlib.ExitStack() as stack:
        sessions = [stack.enter_context(Session(client, ttl=5)) for _ in range(4)]
        holder = Lock(sessions[0], name)
        holder.acquire()

        def waiter(n: int) -> None:
            with Lock(sessions[n], name):
                order.append(n)

        threads = []
        for n in (3, 1, 2):  # queued in this order, whatever the sessions
            threads.append(in_thread(lambda n=n: waiter(n)))
            wait_for(lambda: queued(client, name) == 1 + len(threads))
        holder.release()
        for thread, outcome in threads:
            thread.join()
            assert outcome == [None]
    assert order == [3, 1, 2]


def test_a_session_lost_while_waiting_raises_session_expired(client, name):
    with contextlib.ExitStack() as stack:
        first, lost, last = [
            stack.enter_context(Session(client, ttl=5)) for _ in range(3)
        ]
        holder = Lock(first, name)
        holder.acquire()
        lost_lock, last_lock = Lock(lost, name), Lock(last, name)
        lost_thread, lost_outcome = in_thread(lambda: lost_lock.acquire(timeout=10))
        wait_for(lambda: queued(client, name) == 2)
        last_thread, last_outcome = in_thread(lambda: last_lock.acquire(timeout=10))
        wait_for(lambda: queued(client, name) == 3)
        client.revoke(lost.lease_id)  # the waiter in the middle loses its key
        assert queued(client, name) == 2  # revoking deleted its key
        holder.release()
        lost_thread.join()
        last_thread.join()
        assert [type(e) for e in lost_outcome] == [SessionExpiredError]
        assert lost_lock.revision == -1
        assert last_outcome == [None]
        last_lock.release()


def test_a_session_on_a_missing_lease_fails_at_its_start(client):
    """A session that takes over a lease that is gone (expired, revoked)
    says so at once, in both clients (keep_alive() confirms the lease)."""
    lease_id = client.grant(30).ID
    client.revoke(lease_id)
    with pytest.raises(LeaseNotFoundError):
        Session(client, lease_id=lease_id)

    async def start_async() -> None:
        async with etcd.AsyncClient(client.endpoints, timeout=10) as aclient:
            with pytest.raises(LeaseNotFoundError):
                await AsyncSession(aclient, lease_id=lease_id)

    run(start_async())


def test_a_closed_session_cannot_lock(client, name):
    session = Session(client, ttl=5)
    session.close()
    with pytest.raises(SessionExpiredError):
        Lock(session, name).acquire()
    with pytest.raises(SessionExpiredError):
        Lock(session, name).try_acquire()
    assert queued(client, name) == 0
    with pytest.raises(ValueError, match="name"):
        Lock(session, "")


def test_a_compacted_predecessor_watch_reads_again(client, name):
    """The waiter watches its predecessor from the revision of the read that
    found it; if that revision is compacted before the watch starts, it
    reads again instead of failing."""
    with Session(client, ttl=5):
        predecessor = f"{name}/0"
        seen = client.put(predecessor, "").header.revision
        latest = client.put(f"{name}-other", "").header.revision
        client.compact(latest, physical=True)
        started = time.monotonic()
        queue._wait_deleted(client, predecessor.encode(), seen, time.monotonic() + 5)
        assert time.monotonic() - started < 1
        client.delete(predecessor)


# --- asyncio -----------------------------------------------------------------


def test_async_acquire_try_acquire_timeout_release(etcd_cluster3, name):
    async def main() -> None:
        client = etcd.AsyncClient(etcd_cluster3.endpoints, timeout=10)
        async with client, AsyncSession(client, ttl=5) as theirs:
            holder = AsyncLock(theirs, name)
            await holder.acquire()
            session = AsyncSession(client, ttl=5)  # acquire starts it
            lock = AsyncLock(session, name)
            with pytest.raises(LockedError):
                await lock.try_acquire()
            assert session.lease_id != 0
            with pytest.raises(DeadlineExceededError):
                await lock.acquire(timeout=0.3)
            got = await client.get(f"{name}/", prefix=True, keys_only=True)
            assert [kv.key for kv in got.kvs] == [holder.key]
            with pytest.raises(LockReleasedError):
                await lock.release()
            await holder.release()
            # A write: etcd serves a Txn without operations from the member's
            # own (possibly lagging) state, as it does a serializable read.
            fenced = [etcd.Op.put(f"{name}-fenced", "v")]
            async with lock:
                assert lock.key == f"{name}/{session.lease_id:x}".encode()
                txn = await client.txn(compare=[lock.is_owner()], success=fenced)
                assert txn.succeeded
            txn = await client.txn(compare=[lock.is_owner()], success=fenced)
            assert not txn.succeeded
            with pytest.raises(LockReleasedError):
                await lock.release()
            await session.aclose()
            with pytest.raises(SessionExpiredError):
                await lock.acquire()

    run(main())


def test_async_two_tasks_contend(etcd_cluster3, name):
    counter = f"{name}-counter"
    inside: list[int] = []

    async def increments(client: etcd.AsyncClient, n: int, times: int) -> None:
        async with AsyncSession(client, ttl=5) as session:
            lock = AsyncLock(session, name)
            for _ in range(times):
                async with lock:
                    inside.append(n)
                    assert len(inside) == 1, inside
                    got = await client.get(counter)
                    value = int(got.kvs[0].value) if got.kvs else 0
                    await asyncio.sleep(0.001)
                    await client.put(counter, str(value + 1))
                    inside.remove(n)

    async def main() -> bytes:
        async with etcd.AsyncClient(etcd_cluster3.endpoints, timeout=10) as client:
            await asyncio.gather(increments(client, 1, 15), increments(client, 2, 15))
            return (await client.get(counter)).kvs[0].value

    assert run(main()) == b"30"


def test_async_cancelled_waiter_leaves_the_queue(etcd_cluster3, name):
    async def main() -> int:
        client = etcd.AsyncClient(etcd_cluster3.endpoints, timeout=10)
        theirs, mine = AsyncSession(client, ttl=5), AsyncSession(client, ttl=5)
        async with client, theirs, mine:
            holder = AsyncLock(theirs, name)
            await holder.acquire()
            waiting = asyncio.ensure_future(AsyncLock(mine, name).acquire())
            while (await client.get(f"{name}/", prefix=True)).count < 2:
                await asyncio.sleep(0.01)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            left = (await client.get(f"{name}/", prefix=True)).count
            await holder.release()
            return left

    assert run(main()) == 1


def test_async_lock_and_etcdctl_lock_exclude_each_other(etcd_cluster3, name):
    async def ours_waits(ctl: subprocess.Popen[str]) -> None:
        client = etcd.AsyncClient(etcd_cluster3.endpoints, timeout=10)
        async with client, AsyncSession(client, ttl=5) as session:
            lock = AsyncLock(session, name)
            with pytest.raises(LockedError):
                await lock.try_acquire()
            waiting = asyncio.ensure_future(lock.acquire(timeout=10))
            while (await client.get(f"{name}/", prefix=True)).count < 2:
                await asyncio.sleep(0.01)
            ctl.terminate()  # etcdctl unlocks on SIGTERM
            await waiting
            ctl_argv = etcdctl_lock(etcd_cluster3, name, "echo", "got it")
            with spawned(*ctl_argv) as waiter:
                while (await client.get(f"{name}/", prefix=True)).count < 2:
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.3)
                assert waiter.poll() is None  # etcdctl waits for us
                await lock.release()
                out, _ = waiter.communicate(timeout=10)
                assert out == "got it\n"

    with spawned(*etcdctl_lock(etcd_cluster3, name)) as ctl:
        assert ctl.stdout.readline().startswith(f"{name}/")
        run(ours_waits(ctl))


# How many times the tests below give up a waiting acquire: on 3 members with
# calls spread round robin, 1,500 task cancellations left a key behind 9
# times before the queue Txn was let finish (`queue.settled`).
GIVE_UPS = 1500


def test_async_cancelled_waiters_never_leave_their_key(etcd_cluster3, name):
    """A waiter cancelled while its queue Txn is in flight deletes its key
    only after that Txn ended: sent at once, the delete could reach etcd (a
    different member) before the put and leave the key holding up the queue."""

    async def main() -> List[int]:
        rnd = random.Random(14)
        client = etcd.AsyncClient(etcd_cluster3.endpoints, timeout=10)
        theirs, mine = AsyncSession(client, ttl=30), AsyncSession(client, ttl=30)
        async with client, theirs, mine:
            holder = AsyncLock(theirs, name)
            await holder.acquire()
            left = []
            for i in range(GIVE_UPS):
                waiting = asyncio.ensure_future(AsyncLock(mine, name).acquire())
                await asyncio.sleep(rnd.uniform(0, 0.004))
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting
                if (await client.get(f"{name}/", prefix=True)).count != 1:
                    left.append(i)
                    await client.delete(f"{name}/{mine.lease_id:x}")
            await holder.release()
            return left

    assert run(main()) == []


def test_acquire_timeout_raises_deadline_exceeded_and_leaves_no_key(
    client: etcd.Client, name: str
):
    """acquire(timeout=) fails with DeadlineExceededError, never with the
    server's own timer (RequestTimeoutError: 34 of 1,000 tries when the queue
    Txn carried the acquire's deadline), and leaves no key behind."""
    rnd = random.Random(15)
    with Session(client, ttl=30) as theirs, Session(client, ttl=30) as mine:
        holder = Lock(theirs, name)
        holder.acquire()
        for _ in range(GIVE_UPS // 3):
            with pytest.raises(DeadlineExceededError):
                Lock(mine, name).acquire(timeout=rnd.uniform(0.0002, 0.004))
            assert queued(client, name) == 1
        holder.release()
