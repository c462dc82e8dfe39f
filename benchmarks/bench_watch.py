"""Watch event delivery from a real etcd: pyetcd-wire versus grpcio, in one run.

Run from the repository root:

    python benchmarks/bench_watch.py [--replay-events N] [--live-events M]
                                     [--quick] [--out benchmarks/results]
                                     [--check-budgets]

It starts a throwaway single etcd member (pyetcd_wire.testing.etcd) and a
writer process, and measures, interleaving the variants rep by rep:

* replay: N keys under a prefix are written once, before measuring; each
  variant opens a watch on the prefix from the first of those revisions and
  consumes exactly N events (etcd sends them 1000 to a message);
* live: a watch on another prefix is open while the writer process puts M
  keys under it; the variant consumes all M events (one to a message).

For both: events/s (wall) and client CPU per event (`time.process_time` of
this process less the other client's own threads, `_harness.OtherThreads`:
grpcio's C-core threads count for grpcio, our background thread for us; the
writer is another process and is not counted).

grpcio's side is a plain bidirectional `Watch` call on a stub generated from
our proto/*.proto at run time (benchmarks/_grpcio_stubs.py).  Without grpcio
(e.g. on PyPy) only our side is measured.  See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import queue
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

import _harness  # noqa: E402
import _report  # noqa: E402
import _watch_report  # noqa: E402
from _harness import Meter  # noqa: E402

from pyetcd_wire import Client, prefix_range_end  # noqa: E402
from pyetcd_wire._api.watch import watch_create_request  # noqa: E402
from pyetcd_wire._proto import rpc_pb2  # noqa: E402

REPLAY_PREFIX = b"/pyetcd-wire-bench/watch/replay/"
LIVE_PREFIX = b"/pyetcd-wire-bench/watch/live/"
VALUE = bytes(range(100))  # every key gets this 100-byte value
WATCH_PATH = "/etcdserverpb.Watch/Watch"
OURS, GRPCIO = _report.OURS, _report.GRPCIO
# A run that hangs (a watch that never gets its events) is dumped and killed.
WATCHDOG_SECONDS = 600

# (responses, close): the responses of a created watch, and how to end it.
Opened = Tuple[Iterator[Any], Callable[[], None]]
OpenWatch = Callable[[bytes, int], Opened]
Runner = Callable[[int], _report.Sample]


# --- the clients ------------------------------------------------------------------


def our_watch(client: Client) -> OpenWatch:
    """A watch through the public API: `Client.watch`, which returns once created."""

    def open_watch(prefix: bytes, start_revision: int) -> Opened:
        watch = client.watch(prefix, prefix=True, start_revision=start_revision)
        return iter(watch), watch.cancel

    return open_watch


def channel_watch(client: Client) -> OpenWatch:
    """A watch on a raw bidi `Channel` stream of our transport (`--layer channel`):
    no watch driver, one stream per watch, protobuf parsed here."""
    channel = client._channel
    parse = rpc_pb2.WatchResponse.FromString

    def open_watch(prefix: bytes, start_revision: int) -> Opened:
        request = watch_create_request(
            prefix, prefix=True, start_revision=start_revision
        )
        stream = channel.bidi_stream(WATCH_PATH)
        stream.send(request.SerializeToString())
        responses = (parse(message) for message in stream)
        _expect_created(next(responses))
        return responses, stream.cancel

    return open_watch


def grpcio_watch(stub: Any, pb2: ModuleType) -> OpenWatch:
    """A watch through a grpcio stub, as etcd3-style clients do it: the request
    iterator reads a queue, so the stream stays open for more requests."""
    watch_request, create_request = pb2.WatchRequest, pb2.WatchCreateRequest

    def open_watch(prefix: bytes, start_revision: int) -> Opened:
        requests: queue.Queue[Any] = queue.Queue()
        create = create_request(
            key=prefix,
            range_end=prefix_range_end(prefix),
            start_revision=start_revision,
        )
        requests.put(watch_request(create_request=create))
        call = stub.Watch(iter(requests.get, None))
        _expect_created(next(call))

        def close() -> None:
            call.cancel()
            requests.put(None)

        return call, close

    return open_watch


def _expect_created(response: Any) -> None:
    if not response.created or response.canceled:
        raise RuntimeError(f"the watch was not created: {response}")


# --- the writer process -----------------------------------------------------------


def writer_main(endpoint: str, threads: int) -> int:
    """The writer process: for each "<prefix> <count>" line on stdin, put
    <prefix>00000000 ... with `threads` threads sharing one Client, then
    print "<lowest revision> <highest revision> <seconds>"."""
    with Client(endpoint) as client:
        for line in sys.stdin:
            prefix, count = line.split()
            print(*put_keys(client, prefix.encode(), int(count), threads), flush=True)
    return 0


def put_keys(
    client: Client, prefix: bytes, count: int, threads: int
) -> Tuple[int, int, float]:
    revisions: List[int] = []

    def work(first: int) -> None:
        put = client.put
        got = [
            put(b"%s%08d" % (prefix, i), VALUE).header.revision
            for i in range(first, count, threads)
        ]
        revisions.extend((min(got), max(got)))

    began = time.perf_counter()
    _harness.in_threads(threads, work)
    return min(revisions), max(revisions), time.perf_counter() - began


class Writer:
    """The parent's end of the writer process."""

    def __init__(self, endpoint: str, threads: int) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--writer"]
        command += [endpoint, "--writer-threads", str(threads)]
        self.threads = threads
        self.seconds: List[float] = []  # per batch, for the report
        self._proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def start(self, prefix: bytes, count: int) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"{prefix.decode()} {count}\n")
        self._proc.stdin.flush()

    def result(self) -> Tuple[int, int]:
        """(lowest, highest) revision of the batch started last."""
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the writer process exited ({self._proc.wait()})")
        low, high, seconds = line.split()
        self.seconds.append(float(seconds))
        return int(low), int(high)

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


# --- measuring --------------------------------------------------------------------


def consume(responses: Iterator[Any], count: int) -> int:
    """Read responses until `count` events; the mod_revision of the last one.
    This is all the work the benchmark does per response, on either client."""
    seen = 0
    for response in responses:
        events = response.events
        seen += len(events)
        if seen >= count:
            return int(events[len(events) - 1 - (seen - count)].kv.mod_revision)
    raise RuntimeError(f"the watch ended after {seen} of {count} events")


def replay(open_watch: OpenWatch, first: int, meter: Meter) -> Runner:
    """Open a watch from revision `first` and consume `events` events (the
    open is timed: its created reply and the first batch may overlap)."""

    def run(events: int) -> _report.Sample:
        clock = meter.clock()
        responses, close = open_watch(REPLAY_PREFIX, first)
        try:
            last = consume(responses, events)
            sample = clock.sample(events)
        finally:
            close()
        if last != first + events - 1:
            raise RuntimeError(f"replay ended at {last}, not {first + events - 1}")
        return sample

    return run


def live(open_watch: OpenWatch, writer: Writer, meter: Meter) -> Runner:
    """Open a watch, then time from telling the writer to go to the last event."""

    def run(events: int) -> _report.Sample:
        responses, close = open_watch(LIVE_PREFIX, 0)
        try:
            clock = meter.clock()
            writer.start(LIVE_PREFIX, events)
            last = consume(responses, events)
            sample = clock.sample(events)
            _, high = writer.result()
        finally:
            close()
        if last != high:
            raise RuntimeError(f"live ended at revision {last}, the writer at {high}")
        return sample

    return run


# --- the run ----------------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--replay-events", type=int, help="events per replay")
    parser.add_argument("--live-events", type=int, help="events per live run")
    parser.add_argument("--reps", type=int, help="interleaved reps (7; quick 3)")
    parser.add_argument(
        "--writer-threads", type=int, default=4, help="threads putting keys (4)"
    )
    _harness.add_run_arguments(parser, quick="< 30 s")
    parser.add_argument(
        "--layer",
        choices=["client", "channel"],
        default="client",
        help="our side through Client.watch (default) or a raw channel stream",
    )
    parser.add_argument("--writer", metavar="ENDPOINT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    args.replay_events = args.replay_events or (5000 if quick else 20000)
    args.live_events = args.live_events or (3000 if quick else 20000)
    args.reps = args.reps or (3 if quick else 7)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.writer:
        return writer_main(args.writer, args.writer_threads)
    with _harness.etcd_run("watch", WATCHDOG_SECONDS) as harness:
        return run_against(args, harness)


def run_against(args: argparse.Namespace, harness: _harness.Harness) -> int:
    endpoint = harness.member.endpoint
    writer = Writer(endpoint, args.writer_threads)
    try:
        writer.start(REPLAY_PREFIX, args.replay_events)
        first, last = writer.result()
        if last - first + 1 != args.replay_events:
            raise RuntimeError(f"replay keys span revisions {first}..{last}")
        client = harness.client
        ours = channel_watch(client) if args.layer == "channel" else our_watch(client)
        variants = {OURS: ours}
        stub = harness.grpcio_stub("Watch")
        if stub is not None:
            variants[GRPCIO] = grpcio_watch(stub, harness.grpcio_pb2)
        replay_messages = count_messages(variants[OURS], first, args.replay_events)
        server_cpu = harness.server_cpu
        plan = [
            (
                _report.Scenario("replay", "replay", "watch", args.replay_events),
                {
                    c: replay(w, first, Meter(server_cpu, c))
                    for c, w in variants.items()
                },
            ),
            (
                _report.Scenario("live", "live", "watch", args.live_events),
                {c: live(w, writer, Meter(server_cpu, c)) for c, w in variants.items()},
            ),
        ]
        print(
            f"etcd {harness.etcd_version} at {endpoint}; {args.reps} reps; replay"
            f" {args.replay_events} events, live {args.live_events} events per"
            f" variant; writer: {_threads(args.writer_threads)}"
        )
        results = run_plan(plan, args.reps, _harness.warm_fraction())
        live_runs = writer.seconds[-args.reps * len(variants) :]
    finally:
        harness.close()
        writer.close()
    measured = _harness.git_state()
    env = harness.environment(
        {"writer": writer_summary(live_runs, args)},
        {
            "reps": args.reps,
            "replay": args.replay_events,
            "live": args.live_events,
            "writer_threads": args.writer_threads,
            "layer": "Client.watch" if args.layer == "client" else "a Channel stream",
            "replay_messages": replay_messages,
        },
    )
    env["versions"]["pyetcd-wire"] += f" ({measured})"
    report = _watch_report.WatchReport(env, [s for s, _ in plan], results)
    failed = report.write(Path(args.out))
    return 1 if failed and args.check_budgets else 0


def run_plan(
    plan: List[Tuple[_report.Scenario, Dict[str, Runner]]], reps: int, warm: float
) -> _report.Results:
    """Per scenario: warm every variant up, then run every variant once per
    rep, the client order flipping every rep (as in bench_unary.py).

    Scenario after scenario, not interleaved as in bench_unary.py: an etcd
    watcher that replays history reads every revision from its start to the
    head on each 100 ms sync, so the live writes would make later replays
    slower, for etcd, rep by rep."""
    results: _report.Results = {}
    for scenario, runners in plan:
        results[scenario.name] = {client: [] for client in runners}
        for runner in runners.values():
            runner(max(1000, int(scenario.calls * warm)))
        for rep in range(reps):
            started = time.perf_counter()
            for client in list(runners)[:: -1 if rep % 2 else 1]:
                results[scenario.name][client].append(runners[client](scenario.calls))
            print(
                f"  {scenario.name} rep {rep + 1}/{reps} done in"
                f" {time.perf_counter() - started:.1f} s"
            )
    return results


def count_messages(open_watch: OpenWatch, first: int, events: int) -> str:
    """How etcd batched the replay: messages and events per message (untimed)."""
    responses, close = open_watch(REPLAY_PREFIX, first)
    sizes: List[int] = []
    try:
        for response in responses:
            if response.events:
                sizes.append(len(response.events))
            if sum(sizes) >= events:
                break
    finally:
        close()
    return f"{len(sizes)} messages of up to {max(sizes)} events"


def writer_summary(seconds: List[float], args: argparse.Namespace) -> str:
    """The writer's put rate over the measured live reps."""
    rate = args.live_events / statistics.median(seconds)
    return (
        f"another process, {_threads(args.writer_threads)} sharing one {OURS} Client;"
        f" median {rate:,.0f} puts/s"
    )


def _threads(count: int) -> str:
    return f"{count} thread{'s' if count != 1 else ''}"


if __name__ == "__main__":
    sys.exit(main())
