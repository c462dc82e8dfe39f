"""Every check of a campaign, by name: the pure checkers (linearizability.py,
watch_checks.py, writes.py, fencing.py, deadlines.py) over the records, and
the ones that need what only the live run knew (outages, threads, fds).
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Sequence, Set, Tuple

import pyetcd_wire as etcd

from .faults import Outage
from .history import OK, Op, Violation, WatchEvent, WatchLog

# A member back from an outage is not usable at once: the client dials it
# again only after its quarantine (up to ~1 s) and a dial; 3 s covers that
# on a loaded machine.
OUTAGE_GRACE = 3.0


def _checker(name: str) -> Any:
    return importlib.import_module(f"{__package__}.{name}")


def call_checker(name: str, run: Callable[[Any], List[Violation]]) -> List[Violation]:
    """Run one pure checker; a missing or crashing one is a violation (the
    campaign never passes unchecked)."""
    try:
        module = _checker(name)
    except ImportError as exc:
        return [Violation(f"{name}-missing", f"cannot import {name}: {exc}")]
    try:
        return list(run(module))
    except Exception as exc:
        return [Violation(f"{name}-crashed", f"{type(exc).__name__}: {exc}"[:600])]


def serializable_reads(ops: Sequence[Op], outages: Sequence[Outage]) -> List[Violation]:
    """A serializable read may only fail while two or more members were out
    of the client's reach (one out: the client has time to go elsewhere
    within the read's 5 s deadline)."""
    found: List[Violation] = []
    for op in ops:
        if not op.serializable or op.outcome == OK:
            continue
        end = op.end if op.end is not None else float("inf")
        out = {
            outage.member
            for outage in outages
            if outage.start < end and outage.end + OUTAGE_GRACE > op.start
        }
        if len(out) <= 1:
            found.append(
                Violation(
                    "serializable-read-available",
                    f"{op.process} serializable get {op.key!r} failed"
                    f" ({op.error}) after {end - op.start:.2f} s of {op.deadline} s"
                    f" while only {sorted(out) or 'no member'} was out",
                )
            )
    return found


# How long a member may take to apply up to the last revision (a member
# just back from a fault catches up from its peers).
CATCH_UP = 10.0


def members_agree(
    admin: Any, endpoints: Sequence[str], revision: int
) -> List[Violation]:
    """etcd's own members hold one history: each member's hash of its
    key-value history up to `revision` (HashKV) is the same.  When they
    differ, the client checks read a history etcd itself does not agree
    on (etcd 3.5.0 to 3.5.2 can corrupt a member killed under load:
    etcd-io/etcd#13766, fixed in 3.5.3)."""
    hashes: Dict[str, Any] = {}
    for endpoint in endpoints:
        deadline = time.monotonic() + CATCH_UP
        while True:
            try:
                hashes[endpoint] = admin.hash_kv(endpoint, revision, timeout=5.0).hash
                break
            except etcd.ConnectionFailedError:
                # Down at the end (a fault's heal failed): nothing to compare;
                # the run's figures name it (`unreachable`).
                break
            except etcd.EtcdError as exc:  # a member behind (FutureRevisionError)
                if time.monotonic() > deadline:
                    hashes[endpoint] = f"{type(exc).__name__}: {exc}"[:120]
                    break
                time.sleep(0.2)
    if len(set(hashes.values())) <= 1:
        return []
    return [
        Violation(
            "members-agree",
            f"etcd's members disagree on their history up to revision {revision}"
            f" (HashKV): {hashes}",
        )
    ]


def unreachable(admin: Any, endpoints: Sequence[str]) -> List[str]:
    """The members that do not answer at the end (a heal that failed)."""
    down = []
    for endpoint in endpoints:
        try:
            admin.status(endpoint, timeout=5.0)
        except etcd.EtcdError:
            down.append(endpoint)
    return down


class StallMonitor:
    """Measures how long the clients' threads could not run for reasons not
    their own: a thread sleeps `TICK` s at a time, and a wake-up that came
    late by more than the CPU the clients' threads used meanwhile was kept
    waiting by the machine (other processes) or by the campaign's own
    `others` threads holding the GIL (the proxies: every byte the clients
    send or receive is moved in this process, by Python code).  CPU the
    clients used themselves excuses nothing.  Each stall is (start, end,
    starved seconds); deadlines.py excuses an overrun by no more than the
    stalls between the deadline and the end."""

    TICK = 0.01
    NOTED = 0.005  # shorter stalls are not kept (the slack covers them)

    def __init__(self, others: Sequence[threading.Thread] = ()) -> None:
        self.stalls: List[Tuple[float, float, float]] = []
        self._others = others
        self._clocks: List[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="chaos-stalls", daemon=True
        )

    def _clients_cpu(self) -> float:
        """CPU seconds of every thread of the process but `others`."""
        return time.process_time() - sum(map(time.clock_gettime, self._clocks))

    def start(self) -> None:
        self._clocks = [
            time.pthread_getcpuclockid(thread.ident)
            for thread in self._others
            if thread.ident is not None
        ]
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not all(thread.is_alive() for thread in self._others):
                return  # their clocks are gone
            began, cpu = time.monotonic(), self._clients_cpu()
            time.sleep(self.TICK)
            now = time.monotonic()
            starved = now - began - self.TICK - (self._clients_cpu() - cpu)
            if starved > self.NOTED:
                self.stalls.append((began, now, starved))

    def figures(self) -> Dict[str, float]:
        starved = [stall[2] for stall in self.stalls]
        return {
            "count": len(starved),
            "starved_s": round(sum(starved), 3),
            "longest_s": round(max(starved, default=0.0), 3),
        }


@dataclass
class Resources:
    threads: Set[int]
    names: Dict[int, str]
    fds: Set[str]


def resources() -> Resources:
    threads = {t.ident: t.name for t in threading.enumerate() if t.ident is not None}
    try:
        fds = set(os.listdir("/proc/self/fd"))
    except OSError:
        fds = set()
    return Resources(set(threads), threads, fds)


def leaks(
    before: Resources, others: Callable[[], Set[str]], settle: float = 10.0
) -> List[Violation]:
    """Threads and file descriptors back to `before` (within `settle` s:
    closing clients join their threads), but for the fds `others()` names
    (the proxies')."""
    deadline = time.monotonic() + settle
    while True:
        now = resources()
        threads = now.threads - before.threads
        fds = now.fds - before.fds - others()
        if (not threads and not fds) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    found = []
    if threads:
        names = sorted(now.names[t] for t in threads)
        found.append(Violation("threads-back", f"{len(names)} threads left: {names}"))
    if fds:
        targets = []
        for fd in sorted(fds, key=int)[:10]:
            try:
                targets.append(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                targets.append("?")
        found.append(Violation("fds-back", f"{len(fds)} fds left: {targets}"))
    return found


def run_all(
    ops: Sequence[Op],
    watches: Sequence[WatchLog],
    reference: Sequence[WatchEvent],
    outages: Sequence[Outage],
    *,
    kv_prefix: bytes,
    fenced: Dict[str, List[bytes]],
    stalls: Sequence[Tuple[float, float, float]] = (),
) -> Dict[str, List[Violation]]:
    """Each check's violations, by check family."""
    results: Dict[str, List[Violation]] = {}
    results["linearizability"] = call_checker(
        "linearizability", lambda m: m.check(list(ops))
    )
    results["watch"] = call_checker(
        "watch_checks", lambda m: m.check_all(watches, reference)
    )
    results["writes"] = call_checker(
        "writes", lambda m: m.check(list(ops), reference, kv_prefix)
    )
    results["deadlines"] = call_checker(
        "deadlines", lambda m: m.check(list(ops), slack=0.1, stalls=stalls)
    )
    for key, values in fenced.items():
        results[f"fencing {key}"] = call_checker(
            "fencing", lambda m, values=values: m.check([m.decode(v) for v in values])
        )
    results["serializable"] = serializable_reads(ops, outages)
    return results
