"""asyncio: pyetcd-wire's AsyncClient versus grpc.aio, in one run.

Run from the repository root:

    python benchmarks/bench_async.py [--tasks 64] [--calls N] [--reps R]
                                     [--quick] [--out benchmarks/results]
                                     [--check-budgets]

It starts a throwaway etcd member (pyetcd_wire.testing.etcd), puts one
100-byte value, and measures, interleaving the variants rep by rep, `--tasks`
concurrent tasks on one client making serializable Ranges (and Puts), N
calls in all: calls/s (wall) and client CPU per call (`time.process_time`
less the other client's threads, as in bench_unary.py).  Each sample opens
its client in a fresh event loop and warms it up before the clock starts.

grpc.aio's side is a stub generated from our proto/*.proto at run time
(benchmarks/_grpcio_stubs.py).  etcd's Go client is a third variant if `go`
is there: `--tasks` goroutines sharing one client (benchmarks/_go_peer.py).
Budgets (issue 6): calls/s >= 1.0x and client CPU <= 0.5x grpc.aio's, for
Range.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

import _go_peer  # noqa: E402
import _harness  # noqa: E402
import _report  # noqa: E402
from _harness import Meter, ServerCpu  # noqa: E402

from pyetcd_wire import AsyncClient  # noqa: E402

KEY = b"/pyetcd-wire-bench/async/key"
VALUE = bytes(range(100))
OURS, GRPCIO = _report.OURS, _report.GRPCIO
WATCHDOG_SECONDS = 600

Op = Callable[[], Awaitable[Any]]
Runner = Callable[[int], _report.Sample]

BUDGETS = (
    _report.Budget("tasks_range", "cpu_us", "<=", 0.5, "64-task Range client CPU"),
    _report.Budget("tasks_range", "calls_per_s", ">=", 1.0, "64-task Range calls/s"),
)


class AsyncReport(_report.Report):
    name = "async"
    title = f"asyncio, concurrent tasks on one client: {OURS} vs grpc.aio"
    rate = "calls/s"
    budgets = BUDGETS
    lead_columns = ("scenario", "op")

    def metrics(self, scenario: _report.Scenario) -> Sequence[_report.Metric]:
        return _report.SOCKET_METRICS

    def run_lines(self) -> List[str]:
        env, run = self.env, self.env["run"]
        return [
            f"- {run['reps']} reps, variants interleaved; {run['calls']} calls per"
            f" variant per rep from {run['tasks']} tasks; {env['date']}; run took"
            f" {env['seconds']} s",
            f"- {env['grpcio_note']}",
        ]

    def lead_cells(self, scenario: _report.Scenario) -> List[str]:
        return [scenario.kind, scenario.op]

    def chart_label(self, scenario: _report.Scenario, metric: _report.Metric) -> str:
        return f"{scenario.kind} {scenario.op}\n{metric.label}"

    def chart_title(self) -> str:
        return (
            f"{OURS} / grpc.aio on {self.env['interpreter']} (blue: calls/s, higher"
            " is better; orange: CPU, lower is better; red: budget)"
        )


# --- the clients ------------------------------------------------------------------


def ours(endpoint: str) -> Callable[[], Any]:
    def open_client() -> Any:
        client = AsyncClient(endpoint, timeout=10)

        async def range_() -> Any:
            return await client.get(KEY, serializable=True)

        async def put() -> Any:
            return await client.put(KEY, VALUE)

        return client, {"range": range_, "put": put}, client.aclose

    return open_client


def theirs(grpc: Any, endpoint: str, stubs: Any) -> Callable[[], Any]:
    pb2, services = stubs

    def open_client() -> Any:
        channel = grpc.aio.insecure_channel(endpoint)
        stub = services.KVStub(channel)
        range_request = pb2.RangeRequest(key=KEY, serializable=True)
        put_request = pb2.PutRequest(key=KEY, value=VALUE)

        async def range_() -> Any:
            return await stub.Range(range_request, timeout=10)

        async def put() -> Any:
            return await stub.Put(put_request, timeout=10)

        return channel, {"range": range_, "put": put}, channel.close

    return open_client


# --- measuring --------------------------------------------------------------------


def tasks_runner(
    open_client: Callable[[], Any], op: str, tasks: int, meter: Meter
) -> Runner:
    def run(calls: int) -> _report.Sample:
        async def main() -> _report.Sample:
            _, ops, close = open_client()
            call = ops[op]
            try:
                each = max(1, calls // tasks)

                async def worker(n: int) -> None:
                    for _ in range(n):
                        await call()

                await asyncio.gather(*(worker(20) for _ in range(tasks)))  # warm
                clock = meter.clock()
                await asyncio.gather(*(worker(each) for _ in range(tasks)))
                return clock.sample(each * tasks)
            finally:
                await close()

        return asyncio.run(main())

    return run


def run_plan(
    plan: List[Tuple[_report.Scenario, Dict[str, Runner]]], reps: int
) -> _report.Results:
    results: _report.Results = {s.name: {c: [] for c in r} for s, r in plan}
    for rep in range(reps):
        started = time.perf_counter()
        for scenario, runners in plan:
            for client in list(runners)[:: -1 if rep % 2 else 1]:
                sample = runners[client](scenario.calls)
                results[scenario.name][client].append(sample)
        print(f"  rep {rep + 1}/{reps} done in {time.perf_counter() - started:.1f} s")
    return results


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=64, help="concurrent tasks (64)")
    parser.add_argument("--calls", type=int, help="calls per variant per rep")
    parser.add_argument("--reps", type=int, help="interleaved reps (5; quick 3)")
    parser.add_argument("--no-put", action="store_true", help="skip the Put scenario")
    _go_peer.add_argument(parser)
    _harness.add_run_arguments(parser, quick="< 30 s")
    args = parser.parse_args(argv)
    args.calls = args.calls or (4000 if args.quick else 20000)
    args.reps = args.reps or (3 if args.quick else 5)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    with _harness.etcd_run("async", WATCHDOG_SECONDS) as harness:
        endpoint = harness.member.endpoint
        harness.client.put(KEY, VALUE)
        server_cpu: ServerCpu = harness.server_cpu
        variants = {OURS: ours(endpoint)}
        if harness.grpc is not None:
            stubs = (harness.grpcio_pb2, harness._grpcio_services)
            variants[GRPCIO] = theirs(harness.grpc, endpoint, stubs)
        ops = ["range"] if args.no_put else ["range", "put"]
        plan = [
            (
                _report.Scenario(f"tasks_{op}", f"{args.tasks} tasks", op, args.calls),
                {
                    c: tasks_runner(v, op, args.tasks, Meter(server_cpu, c))
                    for c, v in variants.items()
                },
            )
            for op in ops
        ]
        go, go_note = _go_peer.for_run(args, harness)
        for scenario, runners in plan:
            if go:  # the same warm-up (20 calls a task) and 10 s deadline
                runners[_go_peer.GO] = go.runner(
                    scenario.op, args.tasks, 20 * args.tasks, KEY, VALUE, timeout=10
                )
        print(f"etcd {harness.etcd_version} at {endpoint}; {args.reps} reps")
        results = run_plan(plan, args.reps)
        env = harness.environment(
            {"go_note": go_note},
            {"reps": args.reps, "calls": args.calls, "tasks": args.tasks},
        )
        harness.close()
    report = AsyncReport(env, [s for s, _ in plan], results)
    failed = report.write(Path(args.out))
    return 1 if failed and args.check_budgets else 0


if __name__ == "__main__":
    sys.exit(main())
