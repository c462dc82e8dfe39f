"""Election / AsyncElection (Go's concurrency.Election) on a real 3-member
cluster: the API's contract, interoperation with ``etcdctl elect`` (Go's
own Election on the same keys), and a failover where candidates are
SIGKILLed and a member dies, checked for two leaders at once with etcd's
own history rather than wall clocks.  Then the asyncio twin, natively."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import IO, AsyncIterator, Callable, Iterator, List, Optional, Tuple

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.errors import (
    DeadlineExceededError,
    ElectionNoLeaderError,
    NotLeaderError,
    SessionExpiredError,
)
from pyetcd_wire.recipes import AsyncSession, Session
from pyetcd_wire.recipes._async.election import AsyncElection, LeaderObserver
from pyetcd_wire.recipes._sync.election import Election
from pyetcd_wire.testing import EtcdCluster, find_etcd_binary
from tests.aio import run, wait_until
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
Line = Tuple[str, str, float]  # (who printed it, the line, time.monotonic())


@pytest.fixture
def name() -> str:
    """A fresh election per test."""
    return f"/election-test/{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def client(etcd_cluster3: EtcdCluster) -> Iterator[etcd.Client]:
    with etcd.Client(etcd_cluster3.endpoints, timeout=10) as c:
        yield c


@pytest.fixture
def session(client: etcd.Client) -> Iterator[Session]:
    with Session(client, ttl=10) as s:
        yield s


@pytest.fixture
def other(client: etcd.Client) -> Iterator[Session]:
    """A second session (another candidate) on the same client."""
    with Session(client, ttl=10) as s:
        yield s


def in_thread(
    fn: Callable[..., object], *args: object
) -> Tuple[threading.Thread, List[object]]:
    """Run fn(*args) in a thread; the list gets its result or exception."""
    outcome: List[object] = []

    def target() -> None:
        try:
            outcome.append(fn(*args))
        except BaseException as exc:  # the test inspects it
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


# --- the contract ---------------------------------------------------------------


def test_leader_without_candidates_raises_no_leader(session: Session, name: str):
    with pytest.raises(ElectionNoLeaderError):
        Election(session, name).leader()


def test_campaign_writes_gos_key_and_leads(
    client: etcd.Client, session: Session, name: str
):
    election = Election(session, name)
    election.campaign("first")
    expected = f"{name}/{session.lease_id:x}".encode()
    assert election.key == expected
    leader = election.leader()
    assert [(kv.key, kv.value) for kv in leader.kvs] == [(expected, b"first")]
    assert leader.kvs[0].lease == session.lease_id
    assert election.revision == leader.kvs[0].create_revision
    assert election.header is not None
    assert election.header.revision == election.revision

    election.proclaim(b"second")
    assert election.leader().kvs[0].value == b"second"
    assert election.header.revision > election.revision
    fenced = client.txn(compare=[election.is_leader()], success=[])
    assert fenced.succeeded

    election.resign()
    assert election.key == b""
    assert client.get(expected).count == 0
    with pytest.raises(ElectionNoLeaderError):
        election.leader()
    election.resign()  # a no-op now


def test_campaign_again_keeps_the_key_and_proclaims(session: Session, name: str):
    election = Election(session, name)
    election.campaign("a")
    key, revision = election.key, election.revision
    again = Election(session, name)  # e.g. the process restarted on this lease
    again.campaign("b")
    assert (again.key, again.revision) == (key, revision)
    assert again.leader().kvs[0].value == b"b"
    again.resign()


def test_proclaim_by_a_non_leader_raises_not_leader(
    client: etcd.Client, session: Session, other: Session, name: str
):
    leader, bystander = Election(session, name), Election(other, name)
    with pytest.raises(NotLeaderError):
        bystander.proclaim("usurper")  # never campaigned
    with pytest.raises(NotLeaderError):
        bystander.is_leader()
    leader.campaign("king")
    leader.resign()
    with pytest.raises(NotLeaderError):
        leader.proclaim("again")  # resigned
    leader.campaign("king")
    client.revoke(session.lease_id)  # the session's key goes with its lease
    with pytest.raises(NotLeaderError):
        leader.proclaim("ghost")
    with pytest.raises(ElectionNoLeaderError):
        bystander.leader()


def test_resign_hands_over_to_the_waiting_candidate(
    session: Session, other: Session, name: str
):
    first, second = Election(session, name), Election(other, name)
    first.campaign("one")
    thread, outcome = in_thread(second.campaign, "two")
    thread.join(0.5)
    assert thread.is_alive(), "a second candidate won while the first leads"
    assert first.leader().kvs[0].value == b"one"
    first.resign()
    thread.join(5)
    assert outcome == [None]
    assert first.leader().kvs[0].value == b"two"
    with pytest.raises(NotLeaderError):
        first.proclaim("one again")
    second.resign()


def test_candidates_are_elected_in_campaign_order(client: etcd.Client, name: str):
    sessions = [Session(client, ttl=10) for _ in range(3)]
    try:
        elections = [Election(s, name) for s in sessions]
        elections[0].campaign("0")
        waiting = []
        for n in (1, 2):
            waiting.append(in_thread(elections[n].campaign, str(n)))
            deadline = time.monotonic() + 5
            while client.get(f"{name}/", prefix=True, count_only=True).count <= n:
                assert time.monotonic() < deadline
                time.sleep(0.01)
        for n, (thread, outcome) in enumerate(waiting, start=1):
            elections[n - 1].resign()
            thread.join(5)
            assert outcome == [None]
            assert elections[n].leader().kvs[0].value == str(n).encode()
    finally:
        for s in sessions:
            s.close()


def test_campaign_timeout_withdraws_the_candidacy(
    client: etcd.Client, session: Session, other: Session, name: str
):
    leader, late = Election(session, name), Election(other, name)
    leader.campaign("leader")
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        late.campaign("late", timeout=0.5)
    assert 0.4 < time.monotonic() - started < 3
    assert late.key == b""
    assert client.get(f"{name}/", prefix=True, count_only=True).count == 1
    leader.resign()
    with pytest.raises(ElectionNoLeaderError):
        leader.leader()  # the withdrawn candidate did not take over


def test_candidate_whose_session_expired_gets_session_expired(
    client: etcd.Client, session: Session, other: Session, name: str
):
    leader, doomed = Election(session, name), Election(other, name)
    leader.campaign("leader")
    thread, outcome = in_thread(doomed.campaign, "doomed")
    wait_for(lambda: client.get(f"{name}/", prefix=True, count_only=True).count == 2)
    client.revoke(other.lease_id)  # its key is gone while it waits
    leader.resign()
    thread.join(5)
    assert len(outcome) == 1
    assert isinstance(outcome[0], SessionExpiredError)


def test_observe_reports_every_leader_in_turn(
    client: etcd.Client, session: Session, other: Session, name: str
):
    first, second = Election(session, name), Election(other, name)
    seen: queue.Queue[bytes] = queue.Queue()
    observer = first.observe()

    def observe() -> None:
        with observer:
            for response in observer:
                assert len(response.kvs) == 1
                seen.put(response.kvs[0].value)

    watcher, outcome = in_thread(observe)

    def next_seen() -> bytes:
        return seen.get(timeout=5)

    time.sleep(0.2)  # it waits for a first leader
    assert seen.empty()
    first.campaign("one")
    assert next_seen() == b"one"
    first.proclaim("one, again")
    assert next_seen() == b"one, again"
    thread, _ = in_thread(second.campaign, "two")
    first.resign()
    thread.join(5)
    assert next_seen() == b"two"
    second.resign()
    time.sleep(0.2)
    assert seen.empty()  # no leader: nothing to report
    first.campaign("three")
    assert next_seen() == b"three"
    first.resign()
    observer.close()
    watcher.join(5)
    assert outcome == [None]


def test_observer_close_ends_iteration_in_another_thread(session: Session, name: str):
    election = Election(session, name)
    election.campaign("x")
    observer = election.observe()
    got: List[bytes] = []
    thread, outcome = in_thread(lambda: got.extend(r.kvs[0].value for r in observer))
    deadline = time.monotonic() + 5
    while not got:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    observer.close()
    thread.join(5)
    assert not thread.is_alive()
    assert outcome == [None]
    assert got == [b"x"]
    assert list(observer) == []  # closed for good
    election.resign()


def test_observer_stops_on_break_and_with(session: Session, name: str):
    election = Election(session, name)
    election.campaign("x")
    with election.observe() as observer:
        for response in observer:
            assert response.kvs[0].value == b"x"
            assert response.header.revision >= election.revision
            break
    assert list(observer) == []
    election.resign()


# --- interoperation with etcdctl elect (Go's concurrency.Election) ----------------


class Child:
    """A long-running process whose stdout lines a thread reads into `lines`
    (shared by several children to see one timeline)."""

    def __init__(
        self,
        args: List[str],
        tag: str,
        lines: queue.Queue[Line],
        stderr: IO[bytes],
        env: Optional[dict] = None,
    ) -> None:
        self.tag = tag
        self.lines = lines
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            cwd=ROOT,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put((self.tag, raw.decode().rstrip("\n"), time.monotonic()))

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)

    def stop(self) -> None:
        self.signal(signal.SIGKILL)
        self.proc.wait(10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        self._reader.join(5)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Child]]:
    """spawn(args, tag, lines): start a `Child`; all are killed at the end."""
    children: List[Child] = []
    logs: List[IO[bytes]] = []

    def start(args: List[str], tag: str, lines: queue.Queue[Line]) -> Child:
        log = open(tmp_path / f"{tag}.stderr", "wb")  # noqa: SIM115 - closed below
        logs.append(log)
        env = {**os.environ, "ETCDCTL_API": "3"}
        child = Child(args, tag, lines, log, env)
        children.append(child)
        return child

    yield start
    for child in children:
        child.stop()
    for log in logs:
        log.close()


def expect(lines: queue.Queue[Line], count: int, timeout: float = 10) -> List[Line]:
    """The next `count` lines, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    got = []
    while len(got) < count:
        try:
            got.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError(f"only {got} within {timeout} s") from None
    return got


def test_interoperates_with_etcdctl_elect(
    etcd_cluster3: EtcdCluster, client: etcd.Client, session: Session, name: str, spawn
):
    etcdctl = [
        find_etcd_binary("etcdctl"),
        f"--endpoints={','.join(etcd_cluster3.endpoints)}",
        "elect",
    ]
    campaigner: queue.Queue[Line] = queue.Queue()
    go = spawn([*etcdctl, name, "go-1"], "go-1", campaigner)
    # etcdctl prints the leader key, then its value, once elected.
    (_, go_key, _), (_, go_value, _) = expect(campaigner, 2)
    assert (go_key.rsplit("/", 1)[0], go_value) == (name, "go-1")
    election = Election(session, name)
    leader = election.leader()
    assert (leader.kvs[0].key, leader.kvs[0].value) == (go_key.encode(), b"go-1")

    thread, outcome = in_thread(election.campaign, "python")
    thread.join(1)
    assert thread.is_alive(), "campaign won while etcdctl leads"
    assert client.get(f"{name}/", prefix=True, count_only=True).count == 2
    go.signal(signal.SIGTERM)  # etcdctl resigns on SIGTERM
    thread.join(10)
    assert outcome == [None]
    assert go.proc.wait(10) == 0

    listened: queue.Queue[Line] = queue.Queue()
    spawn([*etcdctl, "-l", name], "listener", listened)
    ours = election.key.decode()
    assert [line for _, line, _ in expect(listened, 2)] == [ours, "python"]
    election.proclaim("python, again")
    assert [line for _, line, _ in expect(listened, 2)] == [ours, "python, again"]

    successor = spawn([*etcdctl, name, "go-2"], "go-2", campaigner)
    time.sleep(1)
    assert campaigner.empty(), "etcdctl won while we lead"
    election.resign()
    (_, go2_key, _), (_, go2_value, _) = expect(campaigner, 2)
    assert go2_value == "go-2"
    assert [line for _, line, _ in expect(listened, 2)] == [go2_key, "go-2"]
    assert election.leader().kvs[0].value == b"go-2"
    successor.signal(signal.SIGTERM)
    assert successor.proc.wait(10) == 0


# --- failover: candidates SIGKILLed, a member killed --------------------------------

TTL = 2  # the candidates' session TTL (etcd's minimum here is 1 s)
ELECTED_WITHIN = TTL + 4  # lease expiry (TTL, checked every 0.5 s) plus a raft election


class Timeline:
    """What the candidates printed and what the test did, in order; shown
    when an assertion fails."""

    def __init__(self, lines: queue.Queue[Line]) -> None:
        self.lines = lines
        self.t0 = time.monotonic()
        self.entries: List[Tuple[str, str, float]] = []

    def __repr__(self) -> str:
        return repr(self.entries)

    def mark(self, who: str, what: str) -> float:
        now = time.monotonic()
        self.entries.append((who, what, round(now - self.t0, 2)))
        return now

    def term(self, who: str) -> str:
        """The term `who` last announced it leads (its LEADER line)."""
        leads = [e for w, e, _ in self.entries if w == who and e.startswith("LEADER")]
        return leads[-1].split()[1]

    def saw(self, who: str, start: str) -> bool:
        return any(w == who and e.startswith(start) for w, e, _ in self.entries)

    def wait(self, start: str, timeout: float, who: str = "") -> Tuple[str, float]:
        """The next line starting with `start` (from `who`, if given): who
        printed it, and when."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                by, line, when = self.lines.get(timeout=deadline - time.monotonic())
            except (queue.Empty, ValueError):  # ValueError: negative timeout
                raise AssertionError(f"no {start} {who} in {self}") from None
            self.entries.append((by, line, round(when - self.t0, 2)))
            if line.startswith(start) and by == (who or by):
                return by, when


def test_failover_elects_one_leader_at_a_time(
    etcd_cluster3: EtcdCluster, client: etcd.Client, name: str, spawn
):
    log_key = f"{name}-fenced-log"
    start_revision = client.get(log_key).header.revision + 1
    lines: queue.Queue[Line] = queue.Queue()
    timeline = Timeline(lines)
    members = dict(zip("abc", etcd_cluster3.members))
    candidates = {}
    for ident, member in members.items():  # each talks to one member only
        args = [sys.executable, "-m", "tests.recipes_election_candidate"]
        args += [member.endpoint, name, ident, str(TTL), log_key]
        candidates[ident] = spawn(args, ident, lines)

    def wrote(who: str) -> None:
        """Wait until `who` wrote fenced in its latest term: the log check
        finds every leader in it, and a loaded machine may run a new one's
        first write late."""
        record = f"{who} {timeline.term(who)}".encode()
        wait_for(lambda: [kv.value for kv in client.get(log_key).kvs] == [record])

    first, _ = timeline.wait("LEADER", 30)  # PyPy takes a while to start
    wrote(first)
    candidates[first].signal(signal.SIGKILL)
    killed_at = timeline.mark("test", f"SIGKILL {first}")
    second, elected_at = timeline.wait("LEADER", ELECTED_WITHIN + 2)
    assert second != first, timeline
    assert elected_at - killed_at < ELECTED_WITHIN, timeline

    wrote(second)
    lost_member = members[second]  # cut the leader off from etcd
    lost_member.kill()
    killed_at = timeline.mark("test", f"SIGKILL the member of {second}")
    try:
        third, elected_at = timeline.wait("LEADER", ELECTED_WITHIN + 2)
        assert third not in (first, second), timeline
        assert elected_at - killed_at < ELECTED_WITHIN, timeline
        # Cut off, the old leader learns it lost when its session does, which
        # may be before or after the new one is elected: fencing decides.
        if not timeline.saw(second, "LOST"):
            timeline.wait("LOST", ELECTED_WITHIN, who=second)
    finally:
        lost_member.start()

    # A leader frozen (as by a long GC pause) past its TTL wakes up believing
    # it leads; its fenced writes must fail while its successor's succeed.
    wrote(third)
    candidates[third].signal(signal.SIGSTOP)
    frozen_at = timeline.mark("test", f"SIGSTOP {third}")
    fourth, elected_at = timeline.wait("LEADER", ELECTED_WITHIN + 2)
    assert fourth == second, timeline  # back, and the only one left
    assert elected_at - frozen_at < ELECTED_WITHIN, timeline
    wrote(fourth)
    candidates[third].signal(signal.SIGCONT)
    timeline.mark("test", f"SIGCONT {third}")
    timeline.wait("LOST", ELECTED_WITHIN, who=third)
    for child in candidates.values():
        child.stop()

    leaders = [first, second, third, fourth]
    check_fenced_log(client, name, log_key, start_revision, leaders)


def check_fenced_log(
    client: etcd.Client, name: str, log_key: str, start: int, leaders: List[str]
) -> None:
    """The fenced writes, in revision order, come from one term after the
    other (terms never interleave), in the order the leaders were seen, and
    at each write's revision its writer's key was the oldest in the election:
    etcd's history shows no two leaders at once."""
    end = client.get(log_key).kvs[0].mod_revision
    writes: List[Tuple[int, str, int]] = []  # (revision, ident, term)
    with client.watch(log_key, start_revision=start) as watch:
        while not writes or writes[-1][0] < end:
            response = watch.get(timeout=10)
            assert response is not None
            for event in response.events:
                ident, term = event.kv.value.decode().split()
                writes.append((event.kv.mod_revision, ident, int(term)))
    terms = [term for _, _, term in writes]
    assert terms == sorted(terms), "an old leader wrote after a newer one"
    order = []
    for _, ident, term in writes:
        if not order or order[-1] != (ident, term):
            order.append((ident, term))
    assert [ident for ident, _ in order] == leaders
    for revision, ident, term in writes:
        oldest = client.get(
            f"{name}/",
            prefix=True,
            sort_target="create",
            sort_order="ascend",
            limit=1,
            revision=revision,
        ).kvs
        assert oldest[0].create_revision == term, (revision, ident)
        assert oldest[0].value == ident.encode()


# --- asyncio ---------------------------------------------------------------------


def observer_waits(observer: LeaderObserver) -> bool:
    """The observer waits for news on its watch (no call of it in flight)."""
    watch = observer._watch
    return watch is not None and bool(watch._waiters._futures)


@contextlib.asynccontextmanager
async def async_sessions(
    cluster: EtcdCluster, count: int
) -> AsyncIterator[List[AsyncSession]]:
    """An AsyncClient on the cluster with `count` sessions, all closed after."""
    async with etcd.AsyncClient(cluster.endpoints, timeout=10) as client:
        sessions = [AsyncSession(client, ttl=10) for _ in range(count)]
        try:
            for session in sessions:
                await session
            yield sessions
        finally:
            for session in sessions:
                await session.aclose()


def test_async_two_tasks_campaign_and_observe(etcd_cluster3: EtcdCluster, name: str):
    async def main() -> None:
        async with async_sessions(etcd_cluster3, 2) as sessions:
            first, second = [AsyncElection(s, name) for s in sessions]
            with pytest.raises(ElectionNoLeaderError):
                await first.leader()
            seen: asyncio.Queue[bytes] = asyncio.Queue()

            observer = first.observe()

            async def observe() -> None:
                async with observer:
                    async for response in observer:
                        await seen.put(response.kvs[0].value)

            async def next_seen() -> bytes:
                return await asyncio.wait_for(seen.get(), 5)

            observing = asyncio.ensure_future(observe())
            await first.campaign("one")
            assert first.key == f"{name}/{sessions[0].lease_id:x}".encode()
            assert await next_seen() == b"one"
            waiting = asyncio.ensure_future(second.campaign("two"))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            await first.proclaim("uno")
            assert await next_seen() == b"uno"
            assert (await second.leader()).kvs[0].value == b"uno"
            await first.resign()
            await asyncio.wait_for(waiting, 5)
            assert await next_seen() == b"two"
            with pytest.raises(NotLeaderError):
                await first.proclaim("one again")
            await second.proclaim("dos")
            assert await next_seen() == b"dos"
            await second.resign()
            with pytest.raises(ElectionNoLeaderError):
                await first.leader()
            # Cancelling the task leaves the observer's block, which closes it.
            # Once it is idle: a cancel that lands as a unary call completes
            # can be lost in asyncio.wait_for before Python 3.12 (bpo-42130).
            await wait_until(lambda: observer_waits(observer))
            observing.cancel()
            with pytest.raises(asyncio.CancelledError):
                await observing

    run(main())


def test_async_cancelled_or_timed_out_campaign_withdraws(
    etcd_cluster3: EtcdCluster, name: str
):
    async def main() -> None:
        async with async_sessions(etcd_cluster3, 3) as sessions:
            leader, timed_out, cancelled = [AsyncElection(s, name) for s in sessions]
            await leader.campaign("leader")
            with pytest.raises(DeadlineExceededError):
                await timed_out.campaign("timed out", timeout=0.3)
            task = asyncio.ensure_future(cancelled.campaign("cancelled"))
            client = leader.client

            async def queued() -> int:  # its key is in, behind the leader's
                key = f"{name}/{sessions[2].lease_id:x}"
                return (await client.get(key, count_only=True)).count

            await wait_until(queued, every=0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            count = await client.get(f"{name}/", prefix=True, count_only=True)
            assert count.count == 1
            assert (timed_out.key, cancelled.key) == (b"", b"")
            await leader.resign()
            with pytest.raises(ElectionNoLeaderError):
                await leader.leader()

    run(main())


def test_async_observer_aclose_from_another_task(etcd_cluster3: EtcdCluster, name: str):
    async def main() -> None:
        async with async_sessions(etcd_cluster3, 1) as (session,):
            observer = AsyncElection(session, name).observe()
            got = []

            async def consume() -> None:
                async for response in observer:
                    got.append(response)

            consuming = asyncio.ensure_future(consume())
            await wait_until(lambda: observer_waits(observer))  # for a first leader
            await observer.aclose()
            await asyncio.wait_for(consuming, 5)
            assert got == []

    run(main())
