"""The campaign's clients: sync writers and readers on threads, the same on
an asyncio client, and watchers; each records what it did (history.py).

Every call has a deadline (2-5 s) and every outcome is recorded, whatever it
was: ``ok`` with the result, ``fail`` or ``unknown`` as the error's
``outcome_known`` says, and any exception that is not an `EtcdError` as a
violation of its own ("typed-errors").  Values are unique per write
(``<process>:<seq>``), so the checks can tell writes apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pyetcd_wire as etcd
from pyetcd_wire import Compare
from pyetcd_wire import Op as TxnOp
from pyetcd_wire.recipes import Election, Session

from .history import (
    CAS,
    DELETE,
    FAIL,
    GET,
    OK,
    PUT,
    UNKNOWN,
    Op,
    Violation,
    WatchEvent,
    WatchLog,
)
from .recipe_worker import ELECTION_NAME

PREFIX = b"/chaos/"
KV_PREFIX = PREFIX + b"kv/"

KEYS = [KV_PREFIX + b"k%d" % i for i in range(6)]


def deadline_for(rng: random.Random) -> float:
    return round(rng.uniform(2.0, 5.0), 2)


class Stop:
    """The workload's end, in two steps: the writers stop (`set`), then,
    once the last revision is known (`finish`), the watchers read up to it."""

    def __init__(self) -> None:
        self._writers = threading.Event()
        self.end_known = threading.Event()
        self.end_revision = 0

    def set(self) -> None:
        self._writers.set()

    def is_set(self) -> bool:
        return self._writers.is_set()

    def wait(self, timeout: float) -> bool:
        return self._writers.wait(timeout)

    def finish(self, end_revision: int) -> None:
        self.end_revision = end_revision
        self.end_known.set()


class Recorder:
    """Every Op of every worker, and what was wrong beyond them."""

    def __init__(self) -> None:
        self.ops: List[Op] = []
        self.watches: List[WatchLog] = []
        self.violations: List[Violation] = []
        self._lock = threading.Lock()

    def add(self, op: Op) -> None:
        with self._lock:
            self.ops.append(op)

    def add_watch(self, log: WatchLog) -> None:
        with self._lock:
            self.watches.append(log)

    def violation(self, check: str, detail: str) -> None:
        with self._lock:
            self.violations.append(Violation(check, detail[:600]))


# --- one operation: planned, run (sync or async), recorded ----------------------


class Plan:
    """What a worker does next, and what it remembers per key (for CAS)."""

    def __init__(self, process: str, rng: random.Random, *, serializable: bool) -> None:
        self.process = process
        self.rng = rng
        self.serializable = serializable
        self.seq = 0
        self.seen: Dict[bytes, Optional[bytes]] = {}

    def next(self) -> Op:
        rng = self.rng
        key = rng.choice(KEYS)
        roll = rng.random()
        op = Op(self.process, GET, key, start=0.0, deadline=deadline_for(rng))
        if self.serializable:
            op.serializable = roll < 0.7
        elif roll < 0.35:
            op.kind = PUT
        elif roll < 0.6:
            op.kind = CAS
            op.expect = self.seen.get(key)
        elif roll < 0.65:
            op.kind = DELETE
        if op.kind in (PUT, CAS):
            self.seq += 1
            op.value = f"{self.process}:{self.seq}".encode()
        return op

    def request(self, op: Op) -> Tuple[str, tuple, Dict[str, Any]]:
        """The client method, its arguments and keywords."""
        timeout = op.deadline
        if op.kind == PUT:
            return "put", (op.key, op.value), {"timeout": timeout}
        if op.kind == DELETE:
            return "delete", (op.key,), {"timeout": timeout}
        if op.kind == CAS:
            compare = (
                Compare.create_revision(op.key) == 0
                if op.expect is None
                else Compare.value(op.key) == op.expect
            )
            put = TxnOp.put(op.key, op.value or b"")
            return "txn", ([compare], [put]), {"timeout": timeout}
        return "get", (op.key,), {"serializable": op.serializable, "timeout": timeout}

    def finish(self, op: Op, response: Any) -> None:
        op.end = time.monotonic()
        op.outcome = OK
        op.revision = response.header.revision
        if op.kind == GET:
            op.result = response.kvs[0].value if response.kvs else None
            self.seen[op.key] = op.result
        elif op.kind == CAS:
            op.succeeded = response.succeeded
            if response.succeeded:
                self.seen[op.key] = op.value
        elif op.kind == PUT:
            self.seen[op.key] = op.value
        else:
            op.succeeded = response.deleted > 0
            self.seen[op.key] = None

    def failed(self, op: Op, exc: BaseException, recorder: Recorder) -> None:
        op.end = time.monotonic()
        op.error = type(exc).__name__
        if op.deadline is not None and op.end - op.start > op.deadline:
            # Late: what the error says (where it waited) goes with the record.
            op.error = f"{op.error}: {exc}"[:200]
        if isinstance(exc, etcd.EtcdError):
            op.outcome = FAIL if exc.outcome_known else UNKNOWN
        else:
            op.outcome = UNKNOWN
            where = traceback.format_exception(type(exc), exc, exc.__traceback__)
            recorder.violation(
                "typed-errors",
                f"{self.process} {op.kind} {op.key!r}: {exc!r} at"
                f" {' | '.join(line.strip() for line in where[-4:-1])}",
            )
        # Whatever a failed write did, the value is no longer known.
        self.seen.pop(op.key, None)


def run_queue_seconds() -> float:
    """How long the calling thread has waited, runnable, for a CPU (Linux's
    /proc/thread-self/schedstat; 0 elsewhere)."""
    try:
        with open("/proc/thread-self/schedstat") as stats:
            return int(stats.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def sync_worker(
    client: etcd.Client, plan: Plan, recorder: Recorder, stop: Stop
) -> None:
    while not stop.is_set():
        op = plan.next()
        method, args, kwargs = plan.request(op)
        recorder.add(op)
        queued, cpu = run_queue_seconds(), time.thread_time()
        op.start = time.monotonic()
        try:
            response = getattr(client, method)(*args, **kwargs)
        except Exception as exc:
            plan.failed(op, exc, recorder)
            op.runnable = run_queue_seconds() - queued
            op.cpu = time.thread_time() - cpu
            stop.wait(0.05)  # not a busy loop while a member is down
        else:
            plan.finish(op, response)
            op.runnable = run_queue_seconds() - queued
            op.cpu = time.thread_time() - cpu


async def async_worker(
    client: etcd.AsyncClient, plan: Plan, recorder: Recorder, stop: Stop
) -> None:
    while not stop.is_set():
        op = plan.next()
        method, args, kwargs = plan.request(op)
        recorder.add(op)
        queued, cpu = run_queue_seconds(), time.thread_time()
        op.start = time.monotonic()
        try:
            response = await getattr(client, method)(*args, **kwargs)
        except Exception as exc:
            plan.failed(op, exc, recorder)
            op.runnable = run_queue_seconds() - queued
            op.cpu = time.thread_time() - cpu
            await asyncio.sleep(0.05)
        else:
            plan.finish(op, response)
            op.runnable = run_queue_seconds() - queued
            op.cpu = time.thread_time() - cpu


# --- watchers ------------------------------------------------------------------


class WatchRecorder:
    """Turns Watch responses into a WatchLog."""

    def __init__(self, log: WatchLog) -> None:
        self.log = log
        self.responses = 0
        # The highest revision of an event taken: progress notifications do
        # not count (see `mark_end`).
        self.last_event = 0

    def take(self, response: Any) -> None:
        self.responses += 1
        log = self.log
        if not response.events:
            if response.header.revision:
                log.progress.append(response.header.revision)
                log.progress_responses.append(self.responses)
                log.last_revision = max(log.last_revision, response.header.revision)
            return
        for event in response.events:
            kv = event.kv
            has_prev = event.HasField("prev_kv")
            log.events.append(
                WatchEvent(
                    revision=kv.mod_revision,
                    key=kv.key,
                    type="delete" if event.type == 1 else "put",
                    value=None if event.type == 1 else kv.value,
                    create_revision=kv.create_revision,
                    version=kv.version,
                    prev_value=event.prev_kv.value if has_prev else None,
                    prev_mod_revision=event.prev_kv.mod_revision if has_prev else None,
                    response=self.responses,
                )
            )
            log.last_revision = max(log.last_revision, kv.mod_revision)
            self.last_event = max(self.last_event, kv.mod_revision)


def sync_watcher(
    client: etcd.Client,
    name: str,
    recorder: Recorder,
    stop: Stop,
    rng: random.Random,
    first_revision: int,
) -> None:
    """Watch PREFIX with prev_kv from `first_revision`; now and then cancel
    and resume from the revision after the last one seen (a new WatchLog)."""
    start = first_revision
    segment = 0
    while not stop.is_set():
        log = WatchLog(f"{name}.{segment}", PREFIX, start, prev_kv=True)
        recorder.add_watch(log)
        segment += 1
        taker = WatchRecorder(log)
        until = time.monotonic() + rng.uniform(5.0, 30.0)
        try:
            with client.watch(
                PREFIX,
                prefix=True,
                start_revision=start,
                prev_kv=True,
                progress_notify=True,
                timeout=10.0,
            ) as watch:
                while not stop.is_set() and time.monotonic() < until:
                    response = watch.get(timeout=0.5)
                    if response is not None:
                        taker.take(response)
                if stop.is_set():
                    _drain_to_end(client, watch, taker, stop)
        except Exception as exc:
            log.error = f"{type(exc).__name__}: {exc}"[:300]
            if not isinstance(exc, etcd.EtcdError):
                recorder.violation("typed-errors", f"watch {log.name}: {exc!r}")
            stop.wait(0.5)
        start = max(log.last_revision + 1, start)


def _drain_to_end(
    client: etcd.Client, watch: Any, taker: WatchRecorder, stop: Stop
) -> None:
    """After the workload stopped: read on until the end mark's event
    (`mark_end`) comes; events come in revision order, so every one before
    it has come too."""
    stop.end_known.wait(60.0)
    deadline = time.monotonic() + 30.0
    while taker.last_event < stop.end_revision and time.monotonic() < deadline:
        response = watch.get(timeout=1.0)
        if response is not None:
            taker.take(response)


async def async_watcher(
    client: etcd.AsyncClient,
    name: str,
    recorder: Recorder,
    stop: Stop,
    first_revision: int,
) -> None:
    log = WatchLog(name, PREFIX, first_revision, prev_kv=True)
    recorder.add_watch(log)
    taker = WatchRecorder(log)
    try:
        watch = client.watch(
            PREFIX,
            prefix=True,
            start_revision=first_revision,
            prev_kv=True,
            progress_notify=True,
            timeout=10.0,
        )
        async with watch:
            while not stop.is_set():
                response = await watch.get(timeout=0.5)
                if response is not None:
                    taker.take(response)
            while not stop.end_known.is_set():
                await asyncio.sleep(0.1)
            deadline = time.monotonic() + 30.0
            while taker.last_event < stop.end_revision and time.monotonic() < deadline:
                response = await watch.get(timeout=1.0)  # up to the end mark
                if response is not None:
                    taker.take(response)
    except Exception as exc:
        log.error = f"{type(exc).__name__}: {exc}"[:300]
        if not isinstance(exc, etcd.EtcdError):
            recorder.violation("typed-errors", f"watch {log.name}: {exc!r}")


def mark_end(client: etcd.Client, key: bytes) -> int:
    """Put an end mark and return its revision: a reader of the history is
    done once it has the mark's *event*.  A progress notification is no
    proof: etcd before 3.4.25 and 3.5.8 answers a progress request with the
    store's revision at once, ahead of events it still owes a watch that is
    catching up (etcd-io/etcd#15220).  A drain that trusted one stopped short
    and counted the events in between as missed."""
    for _ in range(4):
        try:
            return int(client.put(key, b"", timeout=5.0).header.revision)
        except etcd.EtcdError:  # a second mark is harmless: the last one counts
            time.sleep(0.5)
    return int(client.put(key, b"", timeout=5.0).header.revision)


def read_reference(client: etcd.Client, end_revision: int) -> List[WatchEvent]:
    """etcd's whole event history, revision 1 to `end_revision` (an end
    mark's, `mark_end`), as one watch from revision 1 delivers it (compaction
    is off)."""
    log = WatchLog("reference", b"\0", 1)
    taker = WatchRecorder(log)
    deadline = time.monotonic() + 120.0
    with client.watch(b"\0", from_key=True, start_revision=1, timeout=10.0) as watch:
        while taker.last_event < end_revision:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the reference read stopped at revision {taker.last_event}"
                    f" of {end_revision}"
                )
            response = watch.get(timeout=1.0)
            if response is not None:
                taker.take(response)
    return [event for event in log.events if event.revision <= end_revision]


# --- the workload as a whole -------------------------------------------------------


class Workload:
    """Starts every worker; `stop()` ends them and waits."""

    def __init__(
        self,
        endpoints: List[str],
        seed: int,
        recorder: Recorder,
        first_revision: int,
        *,
        admin: Callable[[], etcd.Client],
        seconds: float,
    ) -> None:
        self.endpoints = endpoints
        self.admin = admin
        self.seconds = seconds
        self.lease_stats = LeaseStats()
        self.election_leaders: List[Tuple[float, int, bytes]] = []
        self.recipe_processes: List[subprocess.Popen[str]] = []
        self.recipe_summaries: List[Dict[str, Any]] = []
        self.recorder = recorder
        self.rng = random.Random(seed)
        self.first_revision = first_revision
        self.stop_event = Stop()
        self.clients: List[etcd.Client] = []
        self.threads: List[threading.Thread] = []
        self.writers: List[threading.Thread] = []
        self._async_writers_done = threading.Event()
        self._loop_thread: Optional[threading.Thread] = None

    def _client(self) -> etcd.Client:
        client = etcd.Client(
            self.endpoints,
            dial_timeout=2.0,
            timeout=5.0,
            keepalive_time=1.0,
            keepalive_timeout=1.0,
        )
        self.clients.append(client)
        return client

    def _thread(
        self,
        name: str,
        target: Callable[..., None],
        *args: Any,
        writer: bool = False,
    ) -> None:
        """Start a worker thread (`writer`: one of those `stop` waits for
        before the last revision is known)."""
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)
        if writer:
            self.writers.append(thread)

    def start(self) -> None:
        rng, recorder, stop = self.rng, self.recorder, self.stop_event
        first, second = self._client(), self._client()
        for i, client in enumerate((first, first, second)):
            plan = Plan(f"w{i}", random.Random(rng.random()), serializable=False)
            self._thread(
                f"chaos-w{i}", sync_worker, client, plan, recorder, stop, writer=True
            )
        for i, client in enumerate((first, second)):
            plan = Plan(f"r{i}", random.Random(rng.random()), serializable=True)
            self._thread(
                f"chaos-r{i}", sync_worker, client, plan, recorder, stop, writer=True
            )
        for i, client in enumerate((first, second)):
            self._thread(
                f"chaos-watch{i}",
                sync_watcher,
                client,
                f"watch{i}",
                recorder,
                stop,
                random.Random(rng.random()),
                self.first_revision,
            )
        self._thread("chaos-asyncio", self._run_async, random.Random(rng.random()))
        self._thread(
            "chaos-lease",
            lease_worker,
            self._client(),
            self.admin,
            recorder,
            stop,
            random.Random(rng.random()),
            self.lease_stats,
        )
        self._thread("chaos-observer", self._observe, second)
        self._start_recipes()

    def _start_recipes(self) -> None:
        here = Path(__file__).resolve().parent
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(here.parent), str(here.parent.parent), env.get("PYTHONPATH", "")]
        )
        endpoints = ",".join(self.endpoints)
        roles = [("lock", f"lock{i}") for i in range(3)]
        roles += [("election", f"candidate{i}") for i in range(2)]
        for role, name in roles:
            self.recipe_processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "fault_campaign.recipe_worker",
                        role,
                        name,
                        endpoints,
                        str(self.seconds),
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                )
            )

    def _observe(self, client: etcd.Client) -> None:
        """Poll the election's leader: a leader, once replaced, never comes
        back (its key's create revision never goes down)."""
        stop = self.stop_event
        while not stop.is_set():
            try:
                with Session(client, ttl=10) as session:
                    election = Election(session, ELECTION_NAME)
                    while not stop.is_set() and not session.lost:
                        try:
                            kv = election.leader(timeout=2.0).kvs[0]
                        except etcd.EtcdError:
                            stop.wait(0.2)
                            continue
                        except IndexError:
                            kv = None
                        if kv is not None:
                            seen = (time.monotonic(), kv.create_revision, kv.value)
                            self.election_leaders.append(seen)
                        stop.wait(0.1)
            except etcd.EtcdError:
                stop.wait(0.5)
            except Exception as exc:
                self.recorder.violation("typed-errors", f"election observer: {exc!r}")
                stop.wait(0.5)

    def _finish_recipes(self) -> None:
        for process in self.recipe_processes:
            try:
                out, err = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = process.communicate()
                self.recorder.violation("hang", f"recipe worker {process.args[4]} hung")
            lines = [line for line in out.splitlines() if line.startswith("{")]
            if process.returncode != 0 or not lines:
                self.recorder.violation(
                    "recipe-worker",
                    f"{process.args[4]} exited {process.returncode}: {err[-400:]}",
                )
                continue
            summary = json.loads(lines[-1])
            self.recipe_summaries.append(summary)
            for untyped in summary["untyped"]:
                self.recorder.violation("typed-errors", untyped)

    def _run_async(self, rng: random.Random) -> None:
        asyncio.run(self._async_main(rng))

    async def _async_main(self, rng: random.Random) -> None:
        client = etcd.AsyncClient(
            self.endpoints,
            dial_timeout=2.0,
            timeout=5.0,
            keepalive_time=1.0,
            keepalive_timeout=1.0,
        )
        recorder, stop = self.recorder, self.stop_event
        try:
            writer = Plan("a0", random.Random(rng.random()), serializable=False)
            reader = Plan("a1", random.Random(rng.random()), serializable=True)
            watcher = asyncio.ensure_future(
                async_watcher(client, "awatch", recorder, stop, self.first_revision)
            )
            try:
                await asyncio.gather(
                    async_worker(client, writer, recorder, stop),
                    async_worker(client, reader, recorder, stop),
                )
            finally:
                self._async_writers_done.set()
            await watcher
        finally:
            self._async_writers_done.set()
            await client.aclose()

    def stop(self, end_revision: Callable[[], int]) -> None:
        """Stop the writers, then let the watchers catch up with the last
        revision, then close every client."""
        self.stop_event.set()
        # The writers stop within a deadline; only then is the end known.
        for thread in self.writers:
            thread.join(30)
        self._async_writers_done.wait(30)
        self.stop_event.finish(end_revision())
        for thread in self.threads:
            thread.join(60)
            if thread.is_alive():
                self.recorder.violation("hang", f"{thread.name} did not stop in 60 s")
        for client in self.clients:
            client.close()
        self._finish_recipes()

    def election_violations(self) -> List[Violation]:
        found = []
        highest = 0
        for _at, revision, value in self.election_leaders:
            if revision < highest:
                found.append(
                    Violation(
                        "election-one-leader",
                        f"leader {value!r} (created at revision {revision}) seen again"
                        f" after a leader created at {highest}",
                    )
                )
            highest = max(highest, revision)
        return found[:20]


# --- leases ----------------------------------------------------------------------

LEASE_TTL = 10
# How late past its TTL a revoked lease may be reported lost: the renewal
# that finds it gone goes out every TTL/3 and gets its answer within a
# round trip; 1 s covers a loaded machine's scheduling and one reconnect.
LEASE_LOST_SLACK = 1.0


class LeaseStats:
    def __init__(self) -> None:
        self.counts: Dict[str, int] = {}

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1


def lease_worker(
    client: etcd.Client,
    admin: Callable[[], etcd.Client],
    recorder: Recorder,
    stop: Stop,
    rng: random.Random,
    stats: LeaseStats,
) -> None:
    """Grant a lease, keep it alive with a TTL-bound key on it, and watch
    that (a) the client never says it is lost while etcd still has it
    (asked through the campaign's own client), (b) once revoked, the client
    says so within TTL + slack."""
    while not stop.is_set():
        try:
            lease_id = client.grant(LEASE_TTL, timeout=5.0).ID
            keep = client.keep_alive(lease_id, timeout=5.0)
        except etcd.EtcdError as exc:
            stats.count(f"grant-{type(exc).__name__}")
            stop.wait(0.5)
            continue
        except Exception as exc:
            recorder.violation("typed-errors", f"lease grant/keep_alive: {exc!r}")
            stop.wait(0.5)
            continue
        stats.count("granted")
        try:
            client.put(
                PREFIX + b"lease/%x" % lease_id, b"bound", lease=lease_id, timeout=5.0
            )
        except etcd.EtcdError:
            stats.count("bound-key-failed")
        hold_until = time.monotonic() + rng.uniform(5.0, 20.0)
        while not stop.is_set() and time.monotonic() < hold_until and not keep.lost:
            stop.wait(0.25)
        if keep.lost:
            _lost_unasked(admin(), lease_id, keep.lost_reason, recorder, stats)
        elif not stop.is_set() and rng.random() < 0.5:
            _revoke_and_wait(admin(), lease_id, keep, recorder, stats)
        keep.close()
        # Already gone, or it expires by itself.
        with contextlib.suppress(etcd.EtcdError):
            client.revoke(lease_id, timeout=5.0)


def _lost_unasked(
    admin: etcd.Client,
    lease_id: int,
    reason: str,
    recorder: Recorder,
    stats: LeaseStats,
) -> None:
    """The client says the lease is lost though nobody revoked it: etcd
    must not have it any more."""
    try:
        ttl = admin.time_to_live(lease_id, timeout=5.0).TTL
    except etcd.EtcdError:
        stats.count("lost-unconfirmed")
        return
    if ttl > 0:
        recorder.violation(
            "lease-kept",
            f"lease {lease_id:x} reported lost ({reason}) while etcd still has it"
            f" ({ttl} s left)",
        )
    else:
        stats.count("expired-under-faults")


def _revoke_and_wait(
    admin: etcd.Client, lease_id: int, keep: Any, recorder: Recorder, stats: LeaseStats
) -> None:
    try:
        admin.revoke(lease_id, timeout=5.0)
    except etcd.EtcdError:
        stats.count("revoke-failed")
        return
    revoked = time.monotonic()
    limit = LEASE_TTL + LEASE_LOST_SLACK
    while not keep.lost and time.monotonic() - revoked < limit + 5.0:
        time.sleep(0.05)
    took = time.monotonic() - revoked
    if not keep.lost or took > limit:
        recorder.violation(
            "lease-lost-reported",
            f"lease {lease_id:x} revoked, reported lost after {took:.2f} s"
            f" (TTL {LEASE_TTL} s + {LEASE_LOST_SLACK} s)",
        )
    else:
        stats.count("revoked-seen")
