"""What a client sees while members of a 3-member cluster die, freeze and
come back: failed calls, slow calls, the longest call, and when the member
is used again.  Not a race against grpcio: a measurement for the record.

Run from the repository root:

    python benchmarks/bench_failover.py [--deadline 1.0] [--phase-seconds 3]

For each event (kill a follower, kill the leader, freeze a follower with
SIGSTOP, and bring it back) one thread calls, one call after the other,
alternating a serializable Range and a Put, each with `--deadline`; the
table says, per phase of `--phase-seconds`, how many calls there were, how
many failed (and with what), how many took over half the deadline, and the
longest.  A fresh cluster for each event.
"""

from __future__ import annotations

import argparse
import collections
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

import pyetcd_wire as etcd  # noqa: E402
from pyetcd_wire.testing import EtcdCluster, EtcdMember  # noqa: E402

# An event on a cluster: its name, the member it hits, and how.
Event = Callable[[EtcdCluster], Tuple[str, EtcdMember, Callable[[], None]]]


class Calls:
    """One thread's calls, recorded as (start, seconds, error name or "")."""

    def __init__(self, client: etcd.Client) -> None:
        self.client = client
        self.records: List[Tuple[float, float, str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            i += 1
            kind = "get" if i % 2 else "put"
            started = time.monotonic()
            error = ""
            try:
                if kind == "get":
                    self.client.get(b"bench/failover", serializable=True)
                else:
                    self.client.put(b"bench/failover", str(i).encode())
            except etcd.EtcdError as exc:
                error = type(exc).__name__
            self.records.append((started, time.monotonic() - started, kind, error))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def kill_follower(cluster: EtcdCluster) -> Tuple[str, EtcdMember, Callable[[], None]]:
    victim = cluster.followers()[0]
    return "kill a follower", victim, victim.kill


def kill_leader(cluster: EtcdCluster) -> Tuple[str, EtcdMember, Callable[[], None]]:
    victim = cluster.leader()
    return "kill the leader", victim, victim.kill


def freeze_follower(
    cluster: EtcdCluster,
) -> Tuple[str, EtcdMember, Callable[[], None]]:
    victim = cluster.followers()[0]
    return "freeze a follower", victim, victim.pause


def summarize(
    records: List[Tuple[float, float, str, str]],
    t0: float,
    phase: float,
    deadline: float,
) -> List[str]:
    rows = []
    by_phase: Dict[int, list] = collections.defaultdict(list)
    for started, seconds, kind, error in records:
        by_phase[int((started - t0) // phase)].append((seconds, kind, error))
    for index in sorted(by_phase):
        calls = by_phase[index]
        errors = collections.Counter(f"{k}:{e}" for _, k, e in calls if e)
        slow = sum(1 for s, _, _ in calls if s > deadline / 2)
        longest = max(s for s, _, _ in calls)
        rows.append(
            f"| {index * phase:+.0f}..{(index + 1) * phase:+.0f} s | {len(calls)} |"
            f" {sum(errors.values())} {dict(errors) or ''} | {slow} |"
            f" {longest * 1000:.0f} ms |"
        )
    return rows


def run_event(event: Event, args: argparse.Namespace) -> None:
    with EtcdCluster(3) as cluster:
        name, victim, act = event(cluster)
        with etcd.Client(
            cluster.endpoints,
            timeout=args.deadline,
            keepalive_time=5,
            keepalive_timeout=1,
        ) as client:
            client.put(b"bench/failover", b"0")
            calls = Calls(client)
            calls.start()
            time.sleep(args.phase_seconds)
            t0 = time.monotonic()
            act()
            time.sleep(2 * args.phase_seconds)
            back = ""
            if act == victim.pause:
                victim.resume()
                resumed = time.monotonic()
                victim_id = client.status(victim.endpoint).header.member_id
                while time.monotonic() - resumed < 60:
                    reply = client.get(b"bench/failover", serializable=True)
                    if reply.header.member_id == victim_id:
                        after = time.monotonic() - resumed
                        back = f"; the resumed member served again after {after:.1f} s"
                        break
                    time.sleep(0.05)
            time.sleep(args.phase_seconds)
            calls.stop()
        print(f"\n### {name} at 0 s (deadline {args.deadline:g} s){back}\n")
        print("| phase | calls | failed | slow (> deadline/2) | longest |")
        print("|---|--:|---|--:|--:|")
        for row in summarize(calls.records, t0, args.phase_seconds, args.deadline):
            print(row)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--deadline", type=float, default=1.0)
    parser.add_argument("--phase-seconds", type=float, default=3.0)
    args = parser.parse_args()
    for event in (kill_follower, kill_leader, freeze_follower):
        run_event(event, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
