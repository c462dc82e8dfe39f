"""How pyetcd-wire's cost grows with the work, side by side with grpcio.

Run from the repository root:

    python benchmarks/bench_scale.py [--quick] [--reps R] [--out benchmarks/results]

It starts a throwaway etcd member (pyetcd_wire.testing.etcd) and measures four
things, each at several sizes:

* watches on one client (1, 100, 1,000, 10,000; `--quick` stops at 1,000),
  each on its own key: the time to create them all (until every one is
  confirmed), the RSS they add (bytes per watch), and client CPU per event
  while a writer process puts E events round-robin over the watched keys
  (E = the watch count, at least `--events`).  Each point runs in a fresh
  process holding one client only, so RSS and CPU are that client's.
  Our side: `Client.watch` per key, which returns once etcd confirmed it.
  grpcio: one bidi Watch stream carrying every create, either waiting for
  each confirmation before sending the next create ("grpcio", the same
  pattern as ours) or sending them all at once ("grpcio pipelined");
* threads (1, 4, 16, 64; quick 1, 4, 16) sharing one sync client making
  serializable Ranges: calls/s and client CPU per call, as bench_unary.py;
* asyncio tasks (1, 10, 100, 1,000; quick 1, 10, 100) sharing one
  AsyncClient, grpc.aio likewise: calls/s and client CPU per call;
* the memory of an idle client: RSS of a fresh process after importing the
  library, then after constructing a client and making one call.

Every table gives ours/grpcio per point, and a line per series where the cost
per unit (per watch, per event, per call) grows by more than KNEE times from
one size to the next: the "knee", where the cost grows worse than linearly.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import queue
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

# Nothing heavy is imported at module level: the child processes measure the
# RSS a library adds, so they import it themselves.

KEY = b"/pyetcd-wire-bench/scale/key"
VALUE = bytes(range(100))
WATCH_PREFIX = "/pyetcd-wire-bench/scale/watch"
OURS, GRPCIO, PIPELINED = "pyetcd-wire", "grpcio", "grpcio pipelined"
WATCHDOG_SECONDS = 1500
CHILD_TIMEOUT = 600
KNEE = 1.5  # a cost per unit growing more than this from one size to the next
X = "\u00d7"


def rss() -> int:
    """This process's resident set, in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def settled_rss() -> int:
    gc.collect()
    time.sleep(0.2)  # let background threads finish what the last call started
    gc.collect()
    return rss()


def import_grpcio(stubs: str) -> Tuple[Any, Any, Any]:
    """(grpc, rpc_pb2, rpc_pb2_grpc) from the stubs the parent generated."""
    import grpc  # type: ignore[import-untyped]

    sys.path.insert(0, stubs)
    from etcdbench_grpcio import rpc_pb2, rpc_pb2_grpc  # type: ignore[import-not-found]

    return grpc, rpc_pb2, rpc_pb2_grpc


# --- the writer process (child of a watch point) ----------------------------------


def writer_main(endpoint: str, threads: int) -> int:
    """For each "<prefix> <keys> <events>" line on stdin, put <events> values
    round-robin over <prefix>/00000000 ... <prefix>/<keys - 1>, from `threads`
    threads sharing one Client; print the seconds it took."""
    from pyetcd_wire import Client

    with Client(endpoint) as client:
        client.get(KEY, serializable=True)
        print("ready", flush=True)
        for line in sys.stdin:
            prefix, keys, events = line.split()
            began = time.perf_counter()
            _put_round_robin(client, prefix.encode(), int(keys), int(events), threads)
            print(time.perf_counter() - began, flush=True)
    return 0


def _put_round_robin(
    client: Any, prefix: bytes, keys: int, events: int, threads: int
) -> None:
    import _harness  # the writer process is not measured: its imports do not count

    def work(first: int) -> None:
        for i in range(first, events, threads):
            client.put(b"%s/%08d" % (prefix, i % keys), VALUE)

    _harness.in_threads(threads, work)


class Writer:
    def __init__(self, endpoint: str) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--writer", endpoint]
        self._proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        if self._readline() != "ready":
            raise RuntimeError("the writer did not start")

    def _readline(self) -> str:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the writer process exited ({self._proc.wait()})")
        return line.strip()

    def start(self, prefix: str, keys: int, events: int) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"{prefix} {keys} {events}\n")
        self._proc.stdin.flush()

    def seconds(self) -> float:
        return float(self._readline())

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


# --- one watch point (a child process) --------------------------------------------


def watch_point(args: argparse.Namespace) -> int:
    """Create `args.watches` watches on one client, then consume `args.events`
    events; print one JSON line of what it measured."""
    count, events, prefix = args.watches, args.events, args.prefix
    keys = [b"%s/%08d" % (prefix.encode(), i) for i in range(count)]
    writer = Writer(args.endpoint)
    try:
        if args.watch_point == OURS:
            result = _our_watches(args.endpoint, keys, events, writer, prefix)
        else:
            pipelined = args.watch_point == PIPELINED
            result = _grpcio_watches(args, keys, events, writer, pipelined)
    finally:
        writer.close()
    print(json.dumps(result), flush=True)
    return 0


def _our_watches(
    endpoint: str, keys: List[bytes], events: int, writer: Writer, prefix: str
) -> Dict[str, Any]:
    from pyetcd_wire import Client

    client = Client(endpoint)
    client.get(KEY, serializable=True)
    before = settled_rss()
    wall, cpu = time.perf_counter(), time.process_time()
    watches = [client.watch(key) for key in keys]
    create = time.perf_counter() - wall, time.process_time() - cpu
    after = settled_rss()
    each = events // len(keys)
    wall, cpu = time.perf_counter(), time.process_time()
    writer.start(prefix, len(keys), events)
    for watch in watches:
        seen = 0
        while seen < each:
            response = watch.get(timeout=CHILD_TIMEOUT)
            if response is None:
                raise RuntimeError(f"a watch ended after {seen} of {each} events")
            seen += len(response.events)
    delivery = time.perf_counter() - wall, time.process_time() - cpu
    writer.seconds()
    for watch in watches:
        watch.cancel()
    client.close()
    return _point(create, before, after, events, delivery)


def _grpcio_watches(
    args: argparse.Namespace,
    keys: List[bytes],
    events: int,
    writer: Writer,
    pipelined: bool,
) -> Dict[str, Any]:
    grpc, pb2, services = import_grpcio(args.stubs)
    channel = grpc.insecure_channel(args.endpoint)
    services.KVStub(channel).Range(pb2.RangeRequest(key=KEY, serializable=True))
    stub = services.WatchStub(channel)
    request, create_request = pb2.WatchRequest, pb2.WatchCreateRequest
    requests: queue.Queue[Any] = queue.Queue()
    before = settled_rss()
    wall, cpu = time.perf_counter(), time.process_time()
    call = stub.Watch(iter(requests.get, None))
    if pipelined:
        for key in keys:
            requests.put(request(create_request=create_request(key=key)))
        _await_created(call, len(keys))
    else:
        for key in keys:
            requests.put(request(create_request=create_request(key=key)))
            _await_created(call, 1)
    create = time.perf_counter() - wall, time.process_time() - cpu
    after = settled_rss()
    wall, cpu = time.perf_counter(), time.process_time()
    writer.start(args.prefix, len(keys), events)
    seen = 0
    while seen < events:
        seen += len(next(call).events)
    delivery = time.perf_counter() - wall, time.process_time() - cpu
    writer.seconds()
    call.cancel()
    requests.put(None)
    channel.close()
    return _point(create, before, after, events, delivery)


def _await_created(call: Any, count: int) -> None:
    created = 0
    while created < count:
        response = next(call)
        if response.canceled or response.events:
            raise RuntimeError(f"unexpected while creating watches: {response}")
        created += response.created


def _point(
    create: Tuple[float, float],
    before: int,
    after: int,
    events: int,
    delivery: Tuple[float, float],
) -> Dict[str, Any]:
    return {
        "create_s": create[0],
        "create_cpu_s": create[1],
        "rss_before": before,
        "rss_after": after,
        "events": events,
        "event_wall_s": delivery[0],
        "event_cpu_s": delivery[1],
    }


# --- the idle client (a child process) --------------------------------------------


def idle_point(args: argparse.Namespace) -> int:
    """RSS at start, after importing the library, after a client and one call."""
    start = settled_rss()
    if args.idle_point == OURS:
        from pyetcd_wire import Client

        imported = settled_rss()
        client = Client(args.endpoint)
        client.get(KEY, serializable=True)
        used = settled_rss()
        client.close()
    else:
        grpc, pb2, services = import_grpcio(args.stubs)
        imported = settled_rss()
        channel = grpc.insecure_channel(args.endpoint)
        services.KVStub(channel).Range(pb2.RangeRequest(key=KEY, serializable=True))
        used = settled_rss()
        channel.close()
    print(json.dumps({"start": start, "imported": imported, "client": used}))
    return 0


# --- the parent: running the children ---------------------------------------------


def run_child(flags: List[str]) -> Dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), *flags]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=CHILD_TIMEOUT
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(flags)} failed:\n{done.stderr}")
    result: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def watch_points(
    args: argparse.Namespace, endpoint: str, stubs: Optional[str]
) -> Dict[str, Dict[int, List[Dict[str, Any]]]]:
    variants = [OURS] + ([GRPCIO, PIPELINED] if stubs else [])
    results: Dict[str, Dict[int, List[Dict[str, Any]]]] = {
        v: {n: [] for n in args.watch_counts} for v in variants
    }
    for rep in range(args.reps):
        for count in args.watch_counts:
            events = max(count, args.events // count * count)
            order = variants[::-1] if rep % 2 else variants
            for variant in order:
                prefix = f"{WATCH_PREFIX}/{variant.replace(' ', '-')}/{count}/{rep}"
                flags = ["--watch-point", variant, "--endpoint", endpoint]
                flags += ["--watches", str(count), "--events", str(events)]
                flags += ["--prefix", prefix, "--stubs", stubs or ""]
                began = time.perf_counter()
                results[variant][count].append(run_child(flags))
                print(
                    f"  watches rep {rep + 1}: {variant}, {count:,} watches,"
                    f" {events:,} events in {time.perf_counter() - began:.1f} s"
                )
    return results


def idle_points(
    args: argparse.Namespace, endpoint: str, stubs: Optional[str]
) -> Dict[str, List[Dict[str, Any]]]:
    variants = [OURS] + ([GRPCIO] if stubs else [])
    results: Dict[str, List[Dict[str, Any]]] = {v: [] for v in variants}
    for _ in range(args.reps):
        for variant in variants:
            flags = ["--idle-point", variant, "--endpoint", endpoint]
            results[variant].append(run_child([*flags, "--stubs", stubs or ""]))
    return results


def threads_runners(harness: Any, counts: List[int]) -> List[Tuple[Any, Any]]:
    import _report
    from _harness import Meter
    from bench_unary import client_ops, grpcio_ops, threaded

    ours = client_ops(harness.client, None)["range"]
    stub = harness.grpcio_stub("KV")
    theirs = grpcio_ops(stub, harness.grpcio_pb2, None)["range"] if stub else None
    plan = []
    for threads in counts:
        runners = {OURS: threaded(ours, threads, Meter(harness.server_cpu, OURS))}
        if theirs is not None:
            meter = Meter(harness.server_cpu, GRPCIO)
            runners[GRPCIO] = threaded(theirs, threads, meter)
        kind = f"{threads} thread{'s' if threads > 1 else ''}"
        plan.append((_report.Scenario(f"threads{threads}", kind, "range", 0), runners))
    return plan


def tasks_runner(open_client: Callable[[], Any], tasks: int, meter: Any) -> Any:
    """`tasks` tasks share one client in a fresh event loop; each makes two
    calls to warm up before the clock starts, then `calls // tasks`."""

    def run(calls: int) -> Any:
        async def main() -> Any:
            _, ops, close = open_client()
            call = ops["range"]
            try:
                each = max(1, calls // tasks)

                async def worker(n: int) -> None:
                    for _ in range(n):
                        await call()

                await asyncio.gather(*(worker(2) for _ in range(tasks)))
                clock = meter.clock()
                await asyncio.gather(*(worker(each) for _ in range(tasks)))
                return clock.sample(each * tasks)
            finally:
                await close()

        return asyncio.run(main())

    return run


def tasks_runners(harness: Any, counts: List[int]) -> List[Tuple[Any, Any]]:
    import _report
    from _harness import Meter
    from bench_async import ours, theirs

    endpoint = harness.member.endpoint
    variants = {OURS: ours(endpoint)}
    if harness.grpc is not None:
        stubs = (harness.grpcio_pb2, harness._grpcio_services)
        variants[GRPCIO] = theirs(harness.grpc, endpoint, stubs)
    plan = []
    for tasks in counts:
        runners = {
            c: tasks_runner(v, tasks, Meter(harness.server_cpu, c))
            for c, v in variants.items()
        }
        kind = f"{tasks} task{'s' if tasks > 1 else ''}"
        plan.append((_report.Scenario(f"tasks{tasks}", kind, "range", 0), runners))
    return plan


def run_calls(
    plan: List[Tuple[Any, Any]], calls: Callable[[Any], int], reps: int
) -> Dict[str, Dict[str, List[Any]]]:
    """Warm every variant up (a whole rep on PyPy, for its JIT), then run
    each once per rep, the order flipping."""
    from _harness import warm_fraction

    results: Dict[str, Dict[str, List[Any]]] = {}
    for scenario, runners in plan:
        results[scenario.name] = {client: [] for client in runners}
        for runner in runners.values():
            runner(max(200, int(calls(scenario) * warm_fraction())))
    for rep in range(reps):
        began = time.perf_counter()
        for scenario, runners in plan:
            for client in list(runners)[:: -1 if rep % 2 else 1]:
                sample = runners[client](calls(scenario))
                results[scenario.name][client].append(sample)
        print(
            f"  calls rep {rep + 1}/{reps} done in {time.perf_counter() - began:.1f} s"
        )
    return results


# --- the report -------------------------------------------------------------------


def _median(values: Sequence[Optional[float]]) -> Optional[float]:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _fmt(value: Optional[float], digits: int = 1) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _ratio(a: Optional[float], b: Optional[float]) -> str:
    return "—" if a is None or not b else f"{a / b:.2f}{X}"


def knees(label: str, points: List[Tuple[int, Optional[float]]]) -> List[str]:
    """A line for each step where the cost per unit grows more than KNEE times."""
    found = []
    for (a, x), (b, y) in zip(points, points[1:]):
        if x and y and y / x > KNEE:
            found.append(
                f"- knee: {label} grows {y / x:.1f}{X} per unit from {a:,} to {b:,}"
                f" ({_fmt(x)} → {_fmt(y)})"
            )
    return found


WATCH_METRICS = (
    ("create", "create all, ms"),
    ("create_each", "create, µs/watch"),
    ("create_cpu", "create CPU, µs/watch"),
    ("rss", "RSS, bytes/watch"),
    ("event_cpu", "CPU µs/event"),
    ("event_rate", "events/s"),
)


def watch_value(metric: str, point: Dict[str, Any], count: int) -> float:
    if metric == "create":
        return float(point["create_s"] * 1e3)
    if metric == "create_each":
        return float(point["create_s"] / count * 1e6)
    if metric == "create_cpu":
        return float(point["create_cpu_s"] / count * 1e6)
    if metric == "rss":
        return float((point["rss_after"] - point["rss_before"]) / count)
    if metric == "event_cpu":
        return float(point["event_cpu_s"] / point["events"] * 1e6)
    return float(point["events"] / point["event_wall_s"])


def watch_section(
    results: Dict[str, Dict[int, List[Dict[str, Any]]]], counts: List[int]
) -> Tuple[List[str], Dict[str, Any]]:
    variants = list(results)
    medians: Dict[str, Any] = {}
    lines = [
        "## Watches on one client, each on its own key",
        "",
        "Medians over reps, each point a fresh process. ours/grpcio compares with"
        " grpcio creating one watch at a time (as our sync `Client.watch` does).",
        "",
        "| watches | metric | " + " | ".join(variants) + " | ours/grpcio |",
        "|--:|---|" + "--:|" * (len(variants) + 1),
    ]
    for count in counts:
        for key, label in WATCH_METRICS:
            row = {
                v: _median([watch_value(key, p, count) for p in results[v][count]])
                for v in variants
            }
            medians.setdefault(key, {})[count] = row
            lines.append(
                f"| {count:,} | {label} | "
                + " | ".join(_fmt(row[v]) for v in variants)
                + f" | {_ratio(row[OURS], row.get(GRPCIO))} |"
            )
    growth = {
        v: {n: _median([_rss_growth(p) for p in results[v][n]]) for n in counts}
        for v in variants
    }
    for a, b in zip(counts, counts[1:]):
        row = {v: _marginal(growth[v][a], growth[v][b], b - a) for v in variants}
        lines.append(
            f"| {a:,} → {b:,} | RSS, bytes per added watch | "
            + " | ".join(_fmt(row[v]) for v in variants)
            + f" | {_ratio(row[OURS], row.get(GRPCIO))} |"
        )
        medians.setdefault("rss_marginal", {})[b] = row
    notes: List[str] = []
    per_unit = (("create_each", "create time"), ("create_cpu", "create CPU"))
    per_unit += (("rss", "RSS"), ("event_cpu", "CPU per event"))
    for key, label in per_unit:
        for v in variants:
            series = [(n, medians[key][n][v]) for n in counts]
            notes += knees(f"{v} {label} per watch/event", series)
    lines += ["", *(notes or [f"- no knee (no per-unit cost grew > {KNEE}{X})"])]
    return lines, medians


def _rss_growth(point: Dict[str, Any]) -> float:
    return float(point["rss_after"] - point["rss_before"])


def _marginal(a: Optional[float], b: Optional[float], added: int) -> Optional[float]:
    """Bytes per watch the larger point added over the smaller one."""
    return None if a is None or b is None else (b - a) / added


def idle_section(results: Dict[str, List[Dict[str, Any]]]) -> List[str]:
    lines = [
        "## An idle client",
        "",
        "RSS of a fresh process (MiB, medians): what importing the library adds,"
        " then constructing a client and one Range.",
        "",
        "| client | import adds | client + 1 call adds | total |",
        "|---|--:|--:|--:|",
    ]
    mib = 1 << 20
    for variant, points in results.items():
        imp = _median([(p["imported"] - p["start"]) / mib for p in points])
        use = _median([(p["client"] - p["imported"]) / mib for p in points])
        total = _median([(p["client"] - p["start"]) / mib for p in points])
        lines.append(f"| {variant} | {_fmt(imp)} | {_fmt(use, 2)} | {_fmt(total)} |")
    return lines


def calls_knees(report: Any) -> List[str]:
    notes: List[str] = []
    for prefix, unit in (("threads", "thread"), ("tasks", "task")):
        rows = [
            r
            for r in report.rows
            if r["scenario"].name.startswith(prefix) and r["metric"].key == "cpu_us"
        ]
        for client in (OURS, GRPCIO):
            series = [
                (int(r["scenario"].name[len(prefix) :]), r[client][1]) for r in rows
            ]
            notes += knees(f"{client} client CPU per call ({unit}s)", series)
    return notes or [f"- no knee in CPU per call (none grew > {KNEE}{X})"]


def make_report(
    env: Dict[str, Any],
    scenarios: List[Any],
    results: Dict[str, Any],
    extra_json: Dict[str, Any],
) -> Any:
    """The report: the threads/tasks table (`_report.Report`), then the lines
    the caller puts in `report.extra_lines` (knees, watches, idle memory)."""
    import _report

    class ScaleReport(_report.Report):
        name = "scale"
        title = f"Scale: {OURS} vs grpcio as the work grows"
        rate = "calls/s"
        chart_bar_inches = 1.0
        chart_label_fontsize = 6

        def metrics(self, scenario: Any) -> Sequence[Any]:
            return _report.SOCKET_METRICS

        def run_lines(self) -> List[str]:
            run = self.env["run"]
            return [
                f"- {run['reps']} reps; threads/tasks: {run['calls']} serializable"
                f" Ranges per point (at least 2 per task); watches: {run['watches']},"
                f" events per point max(watches, {run['events']});"
                f" {self.env['date']}; run took {self.env['seconds']} s",
                f"- {self.env['grpcio_note']}",
            ]

        def chart_title(self) -> str:
            return (
                f"scale: {OURS} / grpcio on {self.env['interpreter']} (blue:"
                " calls/s, higher is better; orange: CPU, lower is better)"
            )

        def markdown(self) -> str:
            text = super().markdown().split("\nBudgets:")[0]
            return "\n".join([text.rstrip(), "", *self.extra_lines]) + "\n"

        def to_json(self) -> Dict[str, Any]:
            return {**super().to_json(), **extra_json}

    report = ScaleReport(env, scenarios, results)
    report.extra_lines = []
    return report


# --- the run ----------------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (~2 min)")
    parser.add_argument("--out", default=str(HERE / "results"), help="output dir")
    parser.add_argument("--reps", type=int, help="reps (3; quick 2)")
    parser.add_argument("--calls", type=int, help="calls per thread/task point")
    parser.add_argument("--events", type=int, help="least events per watch point")
    parser.add_argument("--watches", help="watch counts, comma-separated")
    parser.add_argument("--threads", help="thread counts, comma-separated")
    parser.add_argument("--tasks", help="task counts, comma-separated")
    parser.add_argument("--skip", default="", help="e.g. watches,idle,threads,tasks")
    # The children.
    parser.add_argument("--writer", metavar="ENDPOINT", help=argparse.SUPPRESS)
    parser.add_argument("--watch-point", help=argparse.SUPPRESS)
    parser.add_argument("--idle-point", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--stubs", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick

    def counts(given: Optional[str], short: str, full: str) -> List[int]:
        return [int(n) for n in (given or (short if quick else full)).split(",")]

    args.watch_counts = counts(args.watches, "1,100,1000", "1,100,1000,10000")
    args.thread_counts = counts(args.threads, "1,4,16", "1,4,16,64")
    args.task_counts = counts(args.tasks, "1,10,100", "1,10,100,1000")
    args.reps = args.reps or (2 if quick else 3)
    args.calls = args.calls or (1500 if quick else 5000)
    args.events = args.events or (1000 if quick else 3000)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.writer:
        return writer_main(args.writer, 4)
    if args.watch_point:
        args.watches = int(args.watches)
        args.events = int(args.events)
        return watch_point(args)
    if args.idle_point:
        return idle_point(args)
    import _harness

    with _harness.etcd_run("scale", WATCHDOG_SECONDS) as harness:
        try:
            return run_against(args, harness)
        finally:
            harness.close()


def run_against(args: argparse.Namespace, harness: Any) -> int:
    import _harness
    import bench_async
    import bench_unary

    endpoint = harness.member.endpoint
    for key in (KEY, bench_unary.KEY, bench_async.KEY):  # the keys their ops read
        harness.client.put(key, VALUE)
    pb2 = harness.grpcio_pb2
    stubs = str(Path(pb2.__file__).parent.parent) if pb2 is not None else None
    skip = set(args.skip.split(","))
    print(f"etcd {harness.etcd_version} at {endpoint}; {args.reps} reps")
    extra: List[str] = []
    extra_json: Dict[str, Any] = {}
    if "idle" not in skip:
        idle = idle_points(args, endpoint, stubs)
        extra += ["", *idle_section(idle)]
        extra_json["idle"] = idle
    plan: List[Tuple[Any, Any]] = []
    if "threads" not in skip:
        plan += threads_runners(harness, args.thread_counts)
    if "tasks" not in skip:
        plan += tasks_runners(harness, args.task_counts)

    def calls(scenario: Any) -> int:
        tasks = int(scenario.name[5:]) if scenario.name.startswith("tasks") else 0
        return max(args.calls, 2 * tasks)

    results = run_calls(plan, calls, args.reps)
    if "watches" not in skip:
        watches = watch_points(args, endpoint, stubs)
        lines, medians = watch_section(watches, args.watch_counts)
        extra = ["", *lines, *extra]
        extra_json["watches"] = {
            "raw": {v: {str(n): p for n, p in c.items()} for v, c in watches.items()},
            "medians": {
                k: {str(n): row for n, row in m.items()} for k, m in medians.items()
            },
        }
    env = harness.environment(
        {},
        {
            "reps": args.reps,
            "calls": args.calls,
            "events": args.events,
            "watches": ", ".join(f"{n:,}" for n in args.watch_counts),
        },
    )
    env["versions"]["pyetcd-wire"] += f" ({_harness.git_state()})"
    scenarios = [s for s, _ in plan]
    report = make_report(env, scenarios, results, extra_json)
    knee_lines = ["## Knees in CPU per call", "", *calls_knees(report)]
    report.extra_lines = knee_lines + extra
    report.write(Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
