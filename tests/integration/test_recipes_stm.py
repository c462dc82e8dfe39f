"""stm / async_stm (Go's concurrency.NewSTM) against real etcd: the bank
invariant under contention on a 3-member cluster (etcdctl reads the
result), what each isolation level guards (one interfering write, at a
chosen point of the first attempt), prefetch after a failed commit, aborts,
and the asyncio twin."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from typing import Callable, Dict, Iterator, List, Tuple

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.errors import EmptyKeyError, FutureRevisionError
from pyetcd_wire.metrics import RpcMetrics
from pyetcd_wire.recipes._async.stm import AsyncSTM, Isolation, async_stm
from pyetcd_wire.recipes._sync.stm import STM, stm
from pyetcd_wire.testing import EtcdCluster, EtcdMember
from tests.aio import run
from tests.helpers import in_threads

SNAPSHOT = Isolation.SERIALIZABLE_SNAPSHOT
SERIALIZABLE = Isolation.SERIALIZABLE
REPEATABLE = Isolation.REPEATABLE_READS
READ_COMMITTED = Isolation.READ_COMMITTED

ACCOUNTS = 10
OPENING_BALANCE = 100


class CallCounter(RpcMetrics):
    """Counts the unary calls a client makes, by method name."""

    def __init__(self) -> None:
        self.calls: Dict[str, int] = {}

    def started(self, method) -> None:
        self.calls[method.name] = self.calls.get(method.name, 0) + 1


def unique_prefix() -> str:
    return f"/stm-test/{uuid.uuid4().hex}/"


@pytest.fixture
def client(etcd_single: EtcdMember) -> Iterator[etcd.Client]:
    with etcd.Client(etcd_single.endpoint, timeout=10) as c:
        yield c


# --- the bank: the invariant under contention ------------------------------------


def open_accounts(client, base: str) -> List[str]:
    accounts = [f"{base}account-{n}" for n in range(ACCOUNTS)]
    client.txn(success=[etcd.Op.put(a, str(OPENING_BALANCE)) for a in accounts])
    return accounts


def etcdctl_balances(cluster: EtcdCluster, base: str) -> Dict[str, int]:
    """The balances as etcdctl reads them (key and value lines alternate)."""
    lines = cluster.etcdctl("get", base, "--prefix").stdout.split()
    return {key: int(value) for key, value in zip(lines[::2], lines[1::2])}


def transfer_body(src: str, dst: str, amount: int) -> Callable[[STM], None]:
    """Move `amount` from src to dst if src has it (Go's stm_test bank)."""

    def fn(tx: STM) -> None:
        balance = int(tx.get(src))
        if balance < amount:
            return
        tx.put(src, str(balance - amount))
        tx.put(dst, str(int(tx.get(dst)) + amount))

    return fn


def run_bank(cluster: EtcdCluster, isolation: Isolation) -> Tuple[str, int, int]:
    """6 threads, each with its own client on all 3 members, make 25 random
    transfers each; returns the prefix, commits and attempts."""
    base = unique_prefix()
    threads, transfers = 6, 25
    attempts = [0] * threads
    with etcd.Client(cluster.endpoints, timeout=15) as setup:
        accounts = open_accounts(setup, base)

    def worker(n: int) -> None:
        rng = random.Random(n)
        with etcd.Client(cluster.endpoints, timeout=15) as client:
            for _ in range(transfers):
                src, dst = rng.sample(accounts, 2)
                body = transfer_body(src, dst, rng.randint(1, 60))

                def counted(tx: STM, body=body) -> None:
                    attempts[n] += 1
                    body(tx)

                assert stm(client, counted, isolation=isolation).succeeded

    assert in_threads(worker, threads) == []
    return base, threads * transfers, sum(attempts)


def test_bank_transfers_keep_the_total_under_contention(
    etcd_cluster3: EtcdCluster,
) -> None:
    start = time.monotonic()
    base, commits, attempts = run_bank(etcd_cluster3, SNAPSHOT)
    balances = etcdctl_balances(etcd_cluster3, base)
    assert len(balances) == ACCOUNTS
    assert sum(balances.values()) == ACCOUNTS * OPENING_BALANCE
    assert min(balances.values()) >= 0
    # The threads did conflict, and the conflicts were retried.
    assert attempts > commits, (attempts, commits)
    assert time.monotonic() - start < 30


def test_read_committed_never_retries_so_concurrent_transfers_are_unguarded(
    etcd_cluster3: EtcdCluster,
) -> None:
    """READ_COMMITTED behaves as documented: every commit succeeds at the
    first attempt, whatever happened between its reads and its writes (the
    lost updates themselves are shown deterministically below)."""
    base, commits, attempts = run_bank(etcd_cluster3, READ_COMMITTED)
    assert attempts == commits
    assert len(etcdctl_balances(etcd_cluster3, base)) == ACCOUNTS


# --- what each isolation level guards ---------------------------------------------
#
# Each scenario runs `fn` under one level; on the first attempt only, a
# plain client write lands in the middle of `fn`.  It returns the number of
# attempts and what `fn` saw.


def read_conflict(client, base: str, isolation: Isolation) -> Tuple[int, object]:
    """Read a, someone writes a, write a from what was read: lost update?"""
    key = base + "a"
    client.put(key, "0")
    attempts = 0

    def fn(tx: STM) -> None:
        nonlocal attempts
        attempts += 1
        seen = int(tx.get(key))
        if attempts == 1:
            client.put(key, str(seen + 100))
        tx.put(key, str(seen + 1))

    stm(client, fn, isolation=isolation)
    return attempts, int(client.get(key).kvs[0].value)


def write_conflict(client, base: str, isolation: Isolation) -> Tuple[int, object]:
    """Read a, someone writes b, write b: only the snapshot guards b."""
    a, b = base + "a", base + "b"
    client.put(a, "0")
    attempts = 0

    def fn(tx: STM) -> None:
        nonlocal attempts
        attempts += 1
        tx.get(a)
        if attempts == 1:
            client.put(b, "theirs")
        tx.put(b, "mine")

    stm(client, fn, isolation=isolation)
    return attempts, client.get(b).kvs[0].value


def snapshot_read(client, base: str, isolation: Isolation) -> Tuple[int, object]:
    """Read a, someone writes b, read b: the old b (snapshot) or the new?"""
    a, b = base + "a", base + "b"
    client.put(a, "0")
    client.put(b, "old")
    seen: List[bytes] = []

    def fn(tx: STM) -> None:
        tx.get(a)
        if not seen:
            client.put(b, "new")
        seen.append(tx.get(b))

    stm(client, fn, isolation=isolation)
    return len(seen), seen


def repeated_read(client, base: str, isolation: Isolation) -> Tuple[int, object]:
    """Read a, someone writes a, read a again: the same value both times."""
    key = base + "a"
    client.put(key, "before")
    seen: List[Tuple[bytes, bytes]] = []

    def fn(tx: STM) -> None:
        first = tx.get(key)
        if not seen:
            client.put(key, "after")
        seen.append((first, tx.get(key)))

    stm(client, fn, isolation=isolation)
    return len(seen), seen


SAME = [(b"before", b"before"), (b"after", b"after")]
GUARDS = {  # scenario -> isolation -> (attempts, what fn saw)
    read_conflict: {
        SNAPSHOT: (2, 101),
        SERIALIZABLE: (2, 101),
        REPEATABLE: (2, 101),
        READ_COMMITTED: (1, 1),  # the other write (100) is lost
    },
    write_conflict: {
        SNAPSHOT: (2, b"mine"),  # the write set is guarded
        SERIALIZABLE: (1, b"mine"),
        REPEATABLE: (1, b"mine"),
        READ_COMMITTED: (1, b"mine"),
    },
    snapshot_read: {
        SNAPSHOT: (2, [b"old", b"new"]),  # one snapshot; b then conflicts
        SERIALIZABLE: (2, [b"old", b"new"]),
        REPEATABLE: (1, [b"new"]),  # the latest b, guarded and unchanged
        READ_COMMITTED: (1, [b"new"]),
    },
    repeated_read: {
        SNAPSHOT: (2, SAME),
        SERIALIZABLE: (2, SAME),
        REPEATABLE: (2, SAME),
        READ_COMMITTED: (1, SAME[:1]),
    },
}


@pytest.mark.parametrize("isolation", list(Isolation), ids=lambda i: i.name)
@pytest.mark.parametrize("scenario", list(GUARDS), ids=lambda f: f.__name__)
def test_what_each_isolation_level_guards(client, scenario, isolation) -> None:
    got = scenario(client, unique_prefix(), isolation)
    assert got == GUARDS[scenario][isolation]


def test_a_failed_commit_prefetches_the_next_attempts_reads(
    etcd_single: EtcdMember,
) -> None:
    """SERIALIZABLE rereads the read set in the failed commit's failure
    branch: the retry needs no read of its own (Go's prefetch)."""
    calls = {}
    for isolation in (SERIALIZABLE, REPEATABLE):
        counter = CallCounter()
        with etcd.Client(etcd_single.endpoint, timeout=10, metrics=counter) as c:
            assert read_conflict(c, unique_prefix(), isolation) == (2, 101)
        calls[isolation] = counter.calls["Txn"]
    # read, commit (fails); commit: 3 Txns, against 4 without prefetch.
    assert calls == {SERIALIZABLE: 3, REPEATABLE: 4}


# --- the STM object ------------------------------------------------------------------


def test_reads_writes_and_the_commit_response(etcd_single: EtcdMember) -> None:
    base = unique_prefix()
    a, b, c, gone = (base + name for name in ("a", "b", "c", "gone"))
    counter = CallCounter()
    with etcd.Client(etcd_single.endpoint, timeout=10, metrics=counter) as client:
        a_revision = client.put(a, "1").header.revision
        client.put(b, "2")
        lease = client.grant(60).ID
        seen = {}

        def fn(tx: STM) -> None:
            reads_before = counter.calls.get("Txn", 0)
            seen["a"] = tx.get(a, b, gone)  # one round trip for the three
            seen["b"], seen["gone"] = tx.get(b), tx.get(gone)
            seen["reads"] = counter.calls["Txn"] - reads_before
            seen["revs"] = (tx.rev(a), tx.rev(gone))
            tx.put(c, "3", lease=lease)
            seen["c"] = tx.get(c)  # the buffered write, not etcd's
            tx.delete(a)
            seen["deleted a"] = tx.get(a)

        response = stm(client, fn)
        assert seen == {
            "a": b"1",
            "b": b"2",
            "gone": b"",
            "reads": 1,
            "revs": (a_revision, 0),
            "c": b"3",
            "deleted a": b"",
        }
        assert response.succeeded
        written = client.get(c).kvs[0]
        assert written.mod_revision == response.header.revision
        assert written.lease == lease
        assert client.get(a).count == 0
        client.revoke(lease)


def test_an_exception_aborts_without_writing(client) -> None:
    key = unique_prefix() + "k"
    attempts = []

    def fn(tx: STM) -> None:
        attempts.append(1)
        tx.put(key, "never")
        raise LookupError("no such account")

    with pytest.raises(LookupError, match="no such account"):
        stm(client, fn)
    assert attempts == [1]
    assert client.get(key).count == 0


def test_bad_arguments(client) -> None:
    def no_key(tx: STM) -> None:
        tx.get()

    with pytest.raises(TypeError, match="at least one key"):
        stm(client, no_key)

    def empty_key(tx: STM) -> None:
        tx.put("", "v")

    with pytest.raises(EmptyKeyError):
        stm(client, empty_key)
    with pytest.raises(ValueError, match="not_a_level"):
        stm(client, empty_key, isolation="not_a_level")  # type: ignore[arg-type]


def test_prefetch_keys_are_read_first_in_one_round_trip(etcd_single) -> None:
    base = unique_prefix()
    keys = [base + str(n) for n in range(5)]
    counter = CallCounter()
    with etcd.Client(etcd_single.endpoint, timeout=10, metrics=counter) as client:
        client.txn(success=[etcd.Op.put(key, key) for key in keys])
        before = counter.calls["Txn"]
        values = []

        def fn(tx: STM) -> None:
            values.extend(tx.get(key) for key in keys)

        stm(client, fn, prefetch=keys)
        assert values == [key.encode() for key in keys]
        assert counter.calls["Txn"] - before == 2  # the prefetch, the commit


class BehindTheSnapshot:
    """A client whose first pinned serializable read is refused, as by a
    member that has not applied the snapshot's revision yet."""

    def __init__(self, client: etcd.Client) -> None:
        self.client = client
        self.reads: List[Tuple[bool, int]] = []  # (serializable, revision)

    def txn(self, compare=(), success=(), failure=(), *, timeout=None):
        for op in success:
            if op.kind == "get":
                request = op.to_request_op().request_range
                self.reads.append((request.serializable, request.revision))
        if len(self.reads) == 2:
            raise FutureRevisionError()
        return self.client.txn(compare, success, failure, timeout=timeout)


def test_a_member_behind_the_snapshot_is_read_linearizably(client) -> None:
    base = unique_prefix()
    client.put(base + "a", "1")
    client.put(base + "b", "2")
    behind = BehindTheSnapshot(client)
    seen = []

    def fn(tx: STM) -> None:
        seen.append((tx.get(base + "a"), tx.get(base + "b")))

    stm(behind, fn)  # type: ignore[arg-type]
    pinned = behind.reads[1][1]
    assert seen == [(b"1", b"2")]
    assert behind.reads == [(False, 0), (True, pinned), (False, pinned)]


# --- asyncio ------------------------------------------------------------------------


def test_async_bank_transfers_keep_the_total(etcd_cluster3: EtcdCluster) -> None:
    base = unique_prefix()
    tasks, transfers = 8, 15

    async def transfer(client: etcd.AsyncClient, rng: random.Random) -> int:
        attempts = 0
        src, dst = rng.sample(accounts, 2)
        amount = rng.randint(1, 60)

        async def fn(tx: AsyncSTM) -> None:
            nonlocal attempts
            attempts += 1
            balance = int(await tx.get(src))
            if balance >= amount:
                tx.put(src, str(balance - amount))
                tx.put(dst, str(int(await tx.get(dst)) + amount))

        assert (await async_stm(client, fn)).succeeded
        return attempts

    async def teller(client: etcd.AsyncClient, n: int) -> int:
        rng = random.Random(100 + n)
        return sum([await transfer(client, rng) for _ in range(transfers)])

    async def main() -> int:
        async with etcd.AsyncClient(etcd_cluster3.endpoints, timeout=15) as client:
            attempts = await asyncio.gather(*(teller(client, n) for n in range(tasks)))
            return sum(attempts)

    with etcd.Client(etcd_cluster3.endpoints, timeout=15) as setup:
        accounts = open_accounts(setup, base)
    attempts = run(main())
    balances = etcdctl_balances(etcd_cluster3, base)
    assert sum(balances.values()) == ACCOUNTS * OPENING_BALANCE
    assert min(balances.values()) >= 0
    assert attempts > tasks * transfers


@pytest.mark.parametrize(
    ("isolation", "expected"), [(SNAPSHOT, (2, b"101")), (READ_COMMITTED, (1, b"1"))]
)
def test_async_read_conflict(etcd_single, isolation, expected) -> None:
    key = unique_prefix() + "a"

    async def main() -> Tuple[int, bytes]:
        attempts = 0
        async with etcd.AsyncClient(etcd_single.endpoint, timeout=10) as client:
            await client.put(key, "0")

            async def fn(tx: AsyncSTM) -> None:
                nonlocal attempts
                attempts += 1
                seen = int(await tx.get(key))
                assert await tx.rev(key) > 0
                if attempts == 1:
                    await client.put(key, str(seen + 100))
                tx.put(key, str(seen + 1))

            response = await async_stm(client, fn, isolation=isolation)
            assert response.succeeded
            return attempts, (await client.get(key)).kvs[0].value

    assert run(main()) == expected


def test_async_abort_and_delete(etcd_single) -> None:
    key = unique_prefix() + "k"

    async def main() -> None:
        async with etcd.AsyncClient(etcd_single.endpoint, timeout=10) as client:
            await client.put(key, "v")

            async def fails(tx: AsyncSTM) -> None:
                tx.delete(key)
                raise KeyError(key)

            with pytest.raises(KeyError):
                await async_stm(client, fails)
            assert (await client.get(key)).count == 1

            async def deletes(tx: AsyncSTM) -> None:
                assert await tx.get(key) == b"v"
                tx.delete(key)
                assert await tx.get(key) == b""

            await async_stm(client, deletes, isolation=Isolation.SERIALIZABLE)
            assert (await client.get(key)).count == 0

    run(main())
