"""A short tour of the whole client against one real etcd: what every other
Python we claim runs (noxfile's `smoke_*` sessions) besides the unit and
fake-peer tests, where the full suite would not fit in CI's time.

Each test is one scene: KV and a txn, a watch that resumes across a restart
of the server, a lease kept alive past its TTL, a Lock, and the command line,
for `Client` and `AsyncClient`, with etcdctl as the oracle where it reads.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from typing import Any, Iterator, List

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.recipes import AsyncLock, AsyncSession, Lock, Session
from pyetcd_wire.testing import EtcdMember

WAIT = 10.0  # seconds: a bound on waits, not an expectation


@pytest.fixture(scope="module")
def member(etcd_binary: str) -> Iterator[EtcdMember]:
    """A member of this module's own: the watch scene restarts it."""
    with EtcdMember("smoke", binary=etcd_binary) as started:
        yield started


@pytest.fixture
def prefix() -> str:
    return f"/smoke/{uuid.uuid4().hex[:12]}/"


def etcdctl_get(member: EtcdMember, key: str) -> str:
    return member.etcdctl("get", "--print-value-only", key).stdout.strip()


def test_kv_and_txn_agree_with_etcdctl(member: EtcdMember, prefix: str) -> None:
    with etcd.Client(member.endpoint, timeout=WAIT) as client:
        client.put(prefix + "a", "1")
        member.etcdctl("put", prefix + "b", "2")
        got = client.get(prefix, prefix=True)
        assert [(kv.key, kv.value) for kv in got.kvs] == [
            ((prefix + "a").encode(), b"1"),
            ((prefix + "b").encode(), b"2"),
        ]
        swapped = client.txn(
            compare=[etcd.Compare.value(prefix + "a") == "1"],
            success=[etcd.Op.put(prefix + "a", "3")],
            failure=[etcd.Op.get(prefix + "a")],
        )
        assert swapped.succeeded
        assert etcdctl_get(member, prefix + "a") == "3"


def test_a_watch_resumes_across_a_restart(member: EtcdMember, prefix: str) -> None:
    with etcd.Client(member.endpoint, timeout=WAIT) as client:
        first = client.put(prefix + "k", "before").header.revision
        with client.watch(prefix, prefix=True, start_revision=first) as watch:
            assert values(watch, 1) == [b"before"]
            member.restart()
            client.put(prefix + "k", "after")
            assert values(watch, 1) == [b"after"]
            assert watch.get(timeout=0) is None  # nothing twice


def values(watch: Any, count: int) -> List[bytes]:
    """The next `count` event values the watch delivers."""
    seen: List[bytes] = []
    while len(seen) < count:
        resp = watch.get(timeout=WAIT)
        assert resp is not None, f"no event within {WAIT} s (have {seen})"
        seen.extend(event.kv.value for event in resp.events)
    return seen


def test_a_lease_is_kept_alive_past_its_ttl(member: EtcdMember, prefix: str) -> None:
    with etcd.Client(member.endpoint, timeout=WAIT) as client:
        lease = client.grant(2)
        client.put(prefix + "alive", "yes", lease=lease.ID)
        with client.keep_alive(lease.ID) as ka:
            renewals = 0
            while renewals < 4:  # the first answer, then three renewals at TTL/3
                assert ka.get(timeout=WAIT) is not None
                renewals += 1
            assert not ka.lost
        assert client.time_to_live(lease.ID).TTL > 0
        assert etcdctl_get(member, prefix + "alive") == "yes"
        client.revoke(lease.ID)


def test_a_lock_is_held_by_one_session_at_a_time(
    member: EtcdMember, prefix: str
) -> None:
    client = etcd.Client(member.endpoint, timeout=WAIT)
    with client, Session(client, ttl=10) as one, Session(client, ttl=10) as two:
        with Lock(one, prefix + "lock"), pytest.raises(etcd.LockedError):
            Lock(two, prefix + "lock").try_acquire()
        second = Lock(two, prefix + "lock")
        second.acquire(timeout=WAIT)
        fenced = client.txn(compare=[second.is_owner()], success=[put(prefix)])
        assert fenced.succeeded
        second.release()
        assert not client.txn(compare=[second.is_owner()]).succeeded


def put(prefix: str) -> etcd.Op:
    return etcd.Op.put(prefix + "fenced", "by the holder")


def test_the_async_client_does_the_same(member: EtcdMember, prefix: str) -> None:
    async def tour() -> None:
        async with etcd.AsyncClient(member.endpoint, timeout=WAIT) as client:
            rev = (await client.put(prefix + "k", "v")).header.revision
            async with client.watch(prefix, prefix=True, start_revision=rev) as watch:
                resp = await watch.get(timeout=WAIT)
                assert resp is not None
                assert [e.kv.value for e in resp.events] == [b"v"]
            txn = await client.txn(
                compare=[etcd.Compare.version(prefix + "k") == 1],
                success=[etcd.Op.delete(prefix + "k")],
            )
            assert txn.succeeded
            lease = await client.grant(5)
            async with await client.keep_alive(lease.ID) as ka:
                assert ka.response is not None
            async with AsyncSession(client, ttl=10) as session:
                lock = AsyncLock(session, prefix + "lock")
                async with lock:
                    fenced = await client.txn(compare=[lock.is_owner()])
                    assert fenced.succeeded

    asyncio.run(tour())
    assert etcdctl_get(member, prefix + "k") == ""


def test_the_command_line_puts_and_gets(member: EtcdMember, prefix: str) -> None:
    command = [sys.executable, "-m", "pyetcd_wire", f"--endpoints={member.endpoint}"]

    def pyetcd(*argv: str) -> str:
        done = subprocess.run(
            [*command, *argv],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert pyetcd("put", prefix + "cli", "from-cli") == "OK\n"
    assert etcdctl_get(member, prefix + "cli") == "from-cli"
    assert pyetcd("get", prefix + "cli") == f"{prefix}cli\nfrom-cli\n"
