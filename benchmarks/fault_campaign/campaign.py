"""The campaign from start to end: cluster, workload, faults, read-back,
checks, figures.  `main` is benchmarks/chaos.py's."""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from . import checks, inject, report
from .cluster import ChaosCluster
from .faults import MEMBER_FAULTS, NETWORK_FAULTS, Schedule
from .proxy import ProxyHub
from .recipe_worker import ELECTION_FENCE, LOCK_FENCE
from .workload import KV_PREFIX, PREFIX, Recorder, Workload, mark_end, read_reference

# Past the run, how long the heal, the read-back and the checks may take
# before the watchdog dumps every thread's stack, kills the members and exits.
WATCHDOG_MARGIN = 600.0
WATCHDOG_EXIT_STATUS = 3


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chaos.py", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--faults",
        default=",".join(MEMBER_FAULTS + NETWORK_FAULTS),
        help="the fault kinds to use, comma-separated (default: all)",
    )
    parser.add_argument("--keep", action="store_true", help="keep data dirs and logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each fault")
    parser.add_argument(
        "--inject-bug", choices=inject.BUGS, help=argparse.SUPPRESS
    )  # corrupt the records: shows the checks catch it
    parser.add_argument(
        "--watchdog", type=float, help=argparse.SUPPRESS
    )  # seconds from the cluster's start to the watchdog (default: --seconds + 600)
    return parser.parse_args(list(argv))


def main(argv: Sequence[str]) -> int:
    args = parse(argv)
    kinds = tuple(k for k in args.faults.split(",") if k)
    unknown = set(kinds) - set(MEMBER_FAULTS + NETWORK_FAULTS)
    if unknown:
        print(f"chaos.py: unknown fault kinds {sorted(unknown)}", file=sys.stderr)
        return 2
    log = _logger(args.verbose)
    if args.keep:  # the recipe workers' traces, beside the members' logs
        os.environ["CHAOS_TRACE_DIR"] = tempfile.mkdtemp(prefix="chaos-trace-")
    hub = ProxyHub()
    cluster = ChaosCluster(hub)
    member = next(iter(cluster.members.values()))
    version = ".".join(map(str, member.version))
    if (3, 5, 0) <= member.version < (3, 5, 3) and "kill" in kinds:
        print(
            f"chaos.py: etcd {version} ({member.binary}) can corrupt a member"
            " SIGKILLed under load (etcd-io/etcd#13766, fixed in 3.5.3); the"
            " members-agree check says when it did.  ETCD_BIN picks another etcd.",
            file=sys.stderr,
        )
    watchdog: Optional[threading.Timer] = None
    try:
        cluster.start()  # each member's start is bounded by the test kit
        watchdog = _watchdog(args.watchdog or args.seconds + WATCHDOG_MARGIN, cluster)
        log(
            f"cluster up: clients {cluster.endpoints},"
            f" members {cluster.direct_endpoints}"
        )
        data = run(args, cluster, kinds, log)
        data["etcd"] = version
    finally:
        if args.keep:
            kept = [*cluster.keep(), os.environ["CHAOS_TRACE_DIR"]]
            print("kept:", " ".join(kept), file=sys.stderr)
            for member in cluster.members.values():
                member.kill()
            cluster.close_admin()
        else:
            cluster.close()
        hub.close()
        if watchdog is not None:
            watchdog.cancel()
    print(report.table(data))
    if args.json is not None:
        args.json.write_text(json.dumps(data, indent=1) + "\n")
    return 1 if data["violations"] else 0


def _watchdog(seconds: float, cluster: ChaosCluster) -> threading.Timer:
    """After `seconds`: every thread's stack on stderr, the members killed
    (by PID: they would outlive us), and exit status 3 at once."""

    def fire() -> None:
        print(f"chaos.py: still running after {seconds:.0f} s", file=sys.stderr)
        faulthandler.dump_traceback(all_threads=True)
        for member in cluster.members.values():
            try:
                pid = member.pid  # RuntimeError if it never started
                print(f"chaos.py: killing {member.name}, pid {pid}", file=sys.stderr)
                member.kill()
            except Exception as exc:  # the others must die all the same
                print(f"chaos.py: killing {member.name}: {exc!r}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(WATCHDOG_EXIT_STATUS)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def _logger(verbose: bool) -> Any:
    began = time.monotonic()

    def log(line: str) -> None:
        if verbose:
            print(
                f"[{time.monotonic() - began:7.1f}] {line}", file=sys.stderr, flush=True
            )

    return log


def run(
    args: argparse.Namespace, cluster: ChaosCluster, kinds: tuple, log: Any
) -> Dict[str, Any]:
    monitor = checks.StallMonitor(others=[cluster.hub.thread])
    monitor.start()
    before = checks.resources()
    cluster.open_admin()
    admin = cluster.admin
    first_revision = admin.get(PREFIX, timeout=5.0).header.revision + 1
    recorder = Recorder()
    workload = Workload(
        cluster.endpoints,
        args.seed,
        recorder,
        first_revision,
        admin=lambda: cluster.admin,
        seconds=args.seconds,
    )
    schedule = Schedule(cluster, args.seed, kinds=kinds, log=log)
    began = time.monotonic()
    workload.start()
    schedule.start()
    time.sleep(args.seconds)
    schedule.stop()
    log("faults stopped; stopping the workload")
    cluster.wait_healthy(30.0)
    # The watchers drain up to an end mark under the watched prefix, and the
    # reference read up to another once the recipe workers are done too.
    workload.stop(lambda: mark_end(admin, PREFIX + b"~drained"))
    seconds = time.monotonic() - began
    end_revision = mark_end(admin, PREFIX + b"~end")
    log(f"reading back etcd's history up to revision {end_revision}")
    reference = read_reference(admin, end_revision)
    agree = checks.members_agree(admin, cluster.direct_endpoints, end_revision)
    down = checks.unreachable(admin, cluster.direct_endpoints)
    cluster.close_admin()
    found = {
        "members": agree,
        "leaks": checks.leaks(before, cluster.hub.fds),
        "workload": list(recorder.violations),
        "election": workload.election_violations(),
    }
    injected: Optional[str] = None
    if args.inject_bug:
        injected = inject.inject(
            args.inject_bug,
            recorder.ops,
            recorder.watches,
            reference,
            random.Random(args.seed),
        )
        log(f"injected: {injected}")
    log(f"checking {len(recorder.ops)} ops, {len(recorder.watches)} watch logs")
    found.update(
        checks.run_all(
            recorder.ops,
            recorder.watches,
            reference,
            schedule.outages,
            kv_prefix=KV_PREFIX,
            fenced={
                key.decode(): [
                    e.value or b""
                    for e in reference
                    if e.key == key and e.type == "put"
                ]
                for key in (LOCK_FENCE, ELECTION_FENCE)
            },
            stalls=monitor.stalls,
        )
    )
    monitor.stop()
    fault_errors = [
        f"{r.kind} {r.member}: {r.error}" for r in schedule.records if r.error
    ]
    lock_counts: Dict[str, int] = {}
    election_counts: Dict[str, int] = {}
    for summary in workload.recipe_summaries:
        into = lock_counts if summary["role"] == "lock" else election_counts
        for what, count in summary["counts"].items():
            into[what] = into.get(what, 0) + count
    extra: Dict[str, Any] = {
        "end_revision": end_revision,
        "leases": workload.lease_stats.counts,
        "lock": lock_counts,
        "election": {**election_counts, "leaders_seen": len(workload.election_leaders)},
        "stalls": monitor.figures(),
        "members_down_at_end": down,
    }
    if injected:
        extra["injected_bug"] = injected
    return report.figures(
        seconds=seconds,
        seed=args.seed,
        faults=schedule.counts(),
        fault_errors=fault_errors,
        ops=recorder.ops,
        watches=recorder.watches,
        reference_events=len(reference),
        checks=found,
        extra=extra,
    )


__all__: List[str] = ["main"]
