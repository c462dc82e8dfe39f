"""Unary calls against a real etcd: pyetcd-wire versus grpcio, in one run.

Run from the repository root:

    python benchmarks/bench_unary.py [--calls N] [--threads 16] [--quick]
                                     [--out benchmarks/results] [--check-budgets]

It starts a throwaway single etcd member (pyetcd_wire.testing.etcd), puts one
100-byte value, and measures, interleaving the variants rep by rep:

* sequential serializable Range of that key, and sequential Put of a 100-byte
  value: calls/s (wall) and client CPU per call (`time.process_time` less
  the other client's own threads, `_harness.OtherThreads`: grpcio's C-core
  threads count for grpcio);
* the same calls by the floor (benchmarks/_floor.py): the request's bytes,
  encoded once, over a plain blocking socket, reading frame headers only
  until the call's trailers: what Python and the kernel alone cost;
* the same calls by etcd's Go client, if `go` is there (benchmarks/_go_peer.py);
* send, recv and setsockopt calls per call of our client and of the floor,
  over 2,000 sequential Ranges on sockets of their own (`--syscall-calls`);
* the same with T threads sharing one client (`--threads`, default 16);
* in-process, no sockets: our sans-IO `GrpcConnection` against canned
  etcd-shaped response bytes (benchmarks/_canned.py): µs per unary call,
  transport alone and with protobuf encode/decode; and the transport alone
  with a blocking round trip per call to an echo process (benchmarks/_echo.py),
  beside the round trips alone as its floor: the same code between blocking
  reads, as a real call runs it.

grpcio's stubs are generated from our proto/*.proto at run time into a temp
dir (benchmarks/_grpcio_stubs.py).  Without grpcio (e.g. on PyPy) only our
side is measured.  See benchmarks/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

import _canned  # noqa: E402
import _counting  # noqa: E402
import _echo  # noqa: E402
import _floor  # noqa: E402
import _go_peer  # noqa: E402
import _harness  # noqa: E402
import _report  # noqa: E402
from _harness import Meter, ServerCpu  # noqa: E402

from pyetcd_wire import Client  # noqa: E402
from pyetcd_wire._core.grpc import events as ge  # noqa: E402
from pyetcd_wire._core.grpc.status import StatusCode  # noqa: E402
from pyetcd_wire._proto import rpc_pb2  # noqa: E402
from pyetcd_wire._sync.channel import Channel  # noqa: E402

KEY = b"/pyetcd-wire-bench/key"
VALUE = bytes(range(100))  # the 100-byte value Range reads and Put writes
KEY_RANGE_REQUEST = rpc_pb2.RangeRequest(key=KEY, serializable=True).SerializeToString()
RANGE_PATH = "/etcdserverpb.KV/Range"
PUT_PATH = "/etcdserverpb.KV/Put"
OURS, GRPCIO, FLOOR = _report.OURS, _report.GRPCIO, _report.FLOOR
# A run that hangs is dumped (all threads' tracebacks) and killed after this.
WATCHDOG_SECONDS = 900

Op = Callable[[], object]
Runner = Callable[[int], "_report.Sample"]


# --- the clients ------------------------------------------------------------------


def our_ops(channel: Channel, timeout: Optional[float]) -> Dict[str, Op]:
    """Range and Put through pyetcd-wire: protobuf in, Channel.unary, protobuf out."""
    unary = channel.unary
    range_request, range_response = rpc_pb2.RangeRequest, rpc_pb2.RangeResponse
    put_request, put_response = rpc_pb2.PutRequest, rpc_pb2.PutResponse

    def range_() -> bytes:
        request = range_request(key=KEY, serializable=True).SerializeToString()
        reply = unary(RANGE_PATH, request, timeout=timeout)
        value: bytes = range_response.FromString(reply).kvs[0].value
        return value

    def put() -> int:
        request = put_request(key=KEY, value=VALUE).SerializeToString()
        reply = unary(PUT_PATH, request, timeout=timeout)
        revision: int = put_response.FromString(reply).header.revision
        return revision

    return {"range": range_, "put": put}


def client_ops(client: Client, timeout: Optional[float]) -> Dict[str, Op]:
    """Range and Put through the public API: `Client.get` / `Client.put`."""
    get, put_ = client.get, client.put

    def range_() -> bytes:
        value: bytes = get(KEY, serializable=True, timeout=timeout).kvs[0].value
        return value

    def put() -> int:
        revision: int = put_(KEY, VALUE, timeout=timeout).header.revision
        return revision

    return {"range": range_, "put": put}


def grpcio_ops(stub: Any, pb2: ModuleType, timeout: Optional[float]) -> Dict[str, Op]:
    """Range and Put through a plain grpcio sync stub (it does the protobuf)."""
    kv_range, kv_put = stub.Range, stub.Put
    range_request, put_request = pb2.RangeRequest, pb2.PutRequest

    def range_() -> bytes:
        reply = kv_range(range_request(key=KEY, serializable=True), timeout=timeout)
        value: bytes = reply.kvs[0].value
        return value

    def put() -> int:
        reply = kv_put(put_request(key=KEY, value=VALUE), timeout=timeout)
        revision: int = reply.header.revision
        return revision

    return {"range": range_, "put": put}


# --- measuring --------------------------------------------------------------------


def sequential(op: Op, meter: Meter) -> Runner:
    def run(calls: int) -> _report.Sample:
        clock = meter.clock()
        for _ in range(calls):
            op()
        return clock.sample(calls)

    return run


def floor_sequential(floor: _floor.Floor, meter: Meter) -> Runner:
    """The floor's calls, their bytes encoded before the clock starts."""

    def run(calls: int) -> _report.Sample:
        requests = floor.requests(calls)
        call = floor.call
        clock = meter.clock()
        for stream_id, request in requests:
            call(stream_id, request)
        return clock.sample(calls)

    return run


def threaded(op: Op, threads: int, meter: Meter) -> Runner:
    """`threads` threads share one client; `calls` is the total over all."""

    def run(calls: int) -> _report.Sample:
        each = max(1, calls // threads)
        barrier = threading.Barrier(threads + 1)
        errors: List[BaseException] = []

        def worker() -> None:
            barrier.wait()
            try:
                for _ in range(each):
                    op()
            except BaseException as exc:
                errors.append(exc)

        pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
        for thread in pool:
            thread.start()
        clock = meter.clock()
        barrier.wait()
        for thread in pool:
            thread.join()
        sample = clock.sample(each * threads)
        if errors:
            raise RuntimeError(f"{len(errors)} thread(s) failed") from errors[0]
        return sample

    return run


def in_process(
    canned: _canned.Canned, with_protobuf: bool, echo: Optional[_echo.Echo] = None
) -> Runner:
    """Our GrpcConnection against canned bytes: call, write, feed reply, events.

    With `echo`, a blocking round trip to it between write and reply, as a
    real call has: the same code run between blocking reads, which come back
    to cold caches."""
    path, canned_request = canned.path, canned.request
    range_request, range_response = rpc_pb2.RangeRequest, rpc_pb2.RangeResponse
    message_received, call_ended = ge.MessageReceived, ge.CallEnded
    prepared: Dict[int, List[bytes]] = {}

    def run(calls: int) -> _report.Sample:
        replies = prepared.get(calls)
        if replies is None:
            replies = prepared[calls] = canned.responses(calls)
        conn = canned.fresh_connection()
        unary, to_send, receive = conn.unary, conn.data_to_send, conn.receive_data
        ok, message, status, request = 0, b"", None, canned_request
        clock = Meter(None, OURS).clock()
        for reply in replies:
            if with_protobuf:
                request = range_request(key=KEY, serializable=True).SerializeToString()
            unary(path, request)
            to_send()
            if echo is not None:
                echo.round_trip()
            for event in receive(reply):
                if type(event) is message_received:
                    message = event.message
                elif type(event) is call_ended:
                    status = event.status
                    ok += status.code is StatusCode.OK
            if with_protobuf:
                range_response.FromString(message).kvs[0].value  # noqa: B018
        sample = clock.sample(calls)
        if ok != calls or message != canned.message:
            raise RuntimeError(f"in-process: {ok}/{calls} calls ended OK ({status})")
        return sample

    return run


def round_trips(echo: _echo.Echo) -> Runner:
    """The round trips of `in_process(..., echo)` alone: its row's floor."""
    round_trip = echo.round_trip

    def run(calls: int) -> _report.Sample:
        clock = Meter(None, FLOOR).clock()
        for _ in range(calls):
            round_trip()
        return clock.sample(calls)

    return run


# --- the run ----------------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--calls", type=int, help="calls per variant per rep")
    parser.add_argument(
        "--threads", default="16", help="thread counts, comma-separated (16)"
    )
    parser.add_argument("--reps", type=int, help="interleaved reps (5; quick 3)")
    parser.add_argument("--inproc-calls", type=int, help="in-process calls per rep")
    _harness.add_run_arguments(parser, quick="< 40 s")
    parser.add_argument(
        "--call-timeout", type=float, help="per-call deadline in s (none)"
    )
    parser.add_argument("--no-put", action="store_true", help="skip the Put scenarios")
    parser.add_argument(
        "--fsync", action="store_true", help="let etcd fsync (default: off)"
    )
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the floor variant"
    )
    _go_peer.add_argument(parser)
    parser.add_argument(
        "--syscall-calls",
        type=int,
        default=2000,
        help="sequential Ranges whose syscalls are counted (2000; 0: none)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile our side instead"
    )
    parser.add_argument(
        "--layer",
        choices=["client", "channel"],
        default="client",
        help="our side through the public Client (default) or the raw channel",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.calls = args.calls or (1500 if quick else 10000)
    args.reps = args.reps or (3 if quick else 5)
    args.inproc_calls = args.inproc_calls or (10000 if quick else 50000)
    args.thread_counts = [int(t) for t in str(args.threads).split(",") if t.strip()]
    return args


def build_runners(
    args: argparse.Namespace,
    ours: Dict[str, Op],
    theirs: Optional[Dict[str, Op]],
    canned: Optional[_canned.Canned],
    server_cpu: ServerCpu,
    floors: Optional[Dict[str, _floor.Floor]] = None,
    go: Optional[_go_peer.GoPeer] = None,
    echo: Optional[_echo.Echo] = None,
) -> List[Tuple[_report.Scenario, Dict[str, Runner]]]:
    """Every scenario with its runner per client, in run order."""
    ops = ["range"] if args.no_put else ["range", "put"]
    plan: List[Tuple[_report.Scenario, Dict[str, Runner]]] = []
    for op in ops:
        runners = {OURS: sequential(ours[op], Meter(server_cpu, OURS))}
        if theirs:
            runners[GRPCIO] = sequential(theirs[op], Meter(server_cpu, GRPCIO))
        if floors:
            runners[FLOOR] = floor_sequential(floors[op], Meter(server_cpu, FLOOR))
        if go:
            warmup = max(50, int(args.calls * _harness.warm_fraction()))
            runners[_go_peer.GO] = go.runner(
                op, 1, warmup, KEY, VALUE, args.call_timeout
            )
        plan.append(
            (_report.Scenario(f"seq_{op}", "sequential", op, args.calls), runners)
        )
    for threads in args.thread_counts:
        for op in ops:
            runners = {OURS: threaded(ours[op], threads, Meter(server_cpu, OURS))}
            if theirs:
                meter = Meter(server_cpu, GRPCIO)
                runners[GRPCIO] = threaded(theirs[op], threads, meter)
            name = f"threads{threads}_{op}"
            kind = f"{threads} thread{'s' if threads > 1 else ''}"
            plan.append((_report.Scenario(name, kind, op, args.calls), runners))
    if canned is not None:
        for name, pb in (("inproc_transport", False), ("inproc_full", True)):
            kind = "in-process" + (" + protobuf" if pb else " transport")
            scenario = _report.Scenario(name, kind, "range", args.inproc_calls)
            plan.append((scenario, {OURS: in_process(canned, pb)}))
        if echo is not None:
            scenario = _report.Scenario(
                "inproc_round_trip", "in-process + round trip", "range", args.calls
            )
            runners = {
                OURS: in_process(canned, False, echo),
                FLOOR: round_trips(echo),
            }
            plan.append((scenario, runners))
    return plan


def run_plan(
    plan: List[Tuple[_report.Scenario, Dict[str, Runner]]], reps: int, warm: float
) -> Dict[str, Dict[str, List[_report.Sample]]]:
    """Warm every variant up, then run every variant once per rep."""
    results: Dict[str, Dict[str, List[_report.Sample]]] = {}
    for scenario, runners in plan:
        results[scenario.name] = {client: [] for client in runners}
        for runner in runners.values():
            runner(max(50, int(scenario.calls * warm)))
    for rep in range(reps):
        began = time.perf_counter()
        for scenario, runners in plan:
            order = list(runners)
            if rep % 2:
                order.reverse()
            for client in order:
                results[scenario.name][client].append(runners[client](scenario.calls))
        print(f"  rep {rep + 1}/{reps} done in {time.perf_counter() - began:.1f} s")
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    etcd_args = () if args.fsync else ("--unsafe-no-fsync",)
    with _harness.etcd_run("unary", WATCHDOG_SECONDS, etcd_args) as harness:
        return run_against(args, harness)


def run_against(args: argparse.Namespace, harness: _harness.Harness) -> int:
    channel = Channel(harness.member.endpoint)
    floors: Dict[str, _floor.Floor] = {}
    syscalls: Dict[str, str] = {}
    echo: Optional[_echo.Echo] = None
    try:
        if args.layer == "client":
            ours = client_ops(harness.client, args.call_timeout)
        else:
            ours = our_ops(channel, args.call_timeout)
        ours["put"]()
        if ours["range"]() != VALUE:
            raise RuntimeError("Range did not return the value just put")
        request = rpc_pb2.RangeRequest(key=KEY, serializable=True).SerializeToString()
        reply = channel.unary(RANGE_PATH, request)
        canned = make_canned(request, reply)
        if args.profile:
            return _report.profile(
                args, ours["range"], in_process(canned, True) if canned else None
            )
        theirs = None
        stub = harness.grpcio_stub("KV")
        if stub is not None:
            theirs = grpcio_ops(stub, harness.grpcio_pb2, args.call_timeout)
            if theirs["range"]() != VALUE:
                raise RuntimeError("grpcio's Range did not return the value")
        if not args.no_floor:
            floors = make_floors(harness.member.endpoint)
        go, go_note = _go_peer.for_run(args, harness)
        if canned is not None and not args.no_floor:
            echo = _echo.Echo()
        plan = build_runners(
            args, ours, theirs, canned, harness.server_cpu, floors, go, echo
        )
        print(
            f"etcd {harness.etcd_version} at {harness.member.endpoint}; {args.reps}"
            f" reps, {args.calls} calls per variant (in-process {args.inproc_calls})"
        )
        results = run_plan(plan, args.reps, _harness.warm_fraction())
        if args.syscall_calls > 0:
            syscalls = count_syscalls(
                harness.member.endpoint, args.syscall_calls, args.call_timeout
            )
    finally:
        channel.close()
        for floor in floors.values():
            floor.close()
        if echo is not None:
            echo.close()
        harness.close()
    env = harness.environment(
        {
            "canned_frames": canned.frame_names() if canned else None,
            "syscalls_per_call": syscalls,
            "go_note": go_note,
        },
        {
            "reps": args.reps,
            "calls": args.calls,
            "inproc_calls": args.inproc_calls,
            "threads": args.thread_counts,
            "call_timeout": args.call_timeout,
            "layer": args.layer,
            "syscall_calls": args.syscall_calls,
        },
    )
    report = _report.UnaryReport(env, [s for s, _ in plan], results)
    failed = report.write(Path(args.out))
    return 1 if failed and args.check_budgets else 0


def make_floors(endpoint: str) -> Dict[str, _floor.Floor]:
    """A floor per op, each on a socket of its own; checked once."""
    floors = {}
    for op, path, request in (
        ("range", RANGE_PATH, KEY_RANGE_REQUEST),
        ("put", PUT_PATH, rpc_pb2.PutRequest(key=KEY, value=VALUE).SerializeToString()),
    ):
        floor = _floor.Floor(_floor.dial(endpoint), endpoint, path, request)
        floors[op] = floor
        for stream_id, data in floor.requests(2):
            floor.call(stream_id, data)
        check_floor(floor, op)
    return floors


def check_floor(floor: _floor.Floor, op: str) -> None:
    """Raise unless the floor's last call of `op` got the answer ours gets."""
    message = _floor.last_message(floor)
    if op == "range":
        if rpc_pb2.RangeResponse.FromString(message).kvs[0].value != VALUE:
            raise RuntimeError("the floor's Range did not return the value")
    elif rpc_pb2.PutResponse.FromString(message).header.revision <= 1:
        raise RuntimeError("the floor's Put got no revision")


def count_syscalls(
    endpoint: str, calls: int, timeout: Optional[float]
) -> Dict[str, str]:
    """Send, recv and setsockopt calls per sequential Range: our Client (the
    public API, on a socket of its own, wrapped in a `CountingSocket` as it
    is dialed) and the floor; both warmed up first, not counted."""
    from pyetcd_wire._sync import transport

    sockets: List[_counting.CountingSocket] = []
    connect = transport.connect

    def counted_connect(*args: Any, **kwargs: Any) -> Any:
        sockets.append(_counting.CountingSocket(connect(*args, **kwargs)))
        return sockets[-1]

    transport.connect = counted_connect
    try:
        client = Client(endpoint)
        get = client_ops(client, timeout)["range"]
        get()
    finally:
        transport.connect = connect
    counted = _counting.CountingSocket(_floor.dial(endpoint))
    floor = _floor.Floor(counted, endpoint, RANGE_PATH, KEY_RANGE_REQUEST)
    try:
        for _ in range(max(50, calls // 4)):
            get()
        if len(sockets) != 1:
            raise RuntimeError(f"our client dialed {len(sockets)} sockets, not 1")
        sockets[0].reset()
        for _ in range(calls):
            get()
        for stream_id, data in floor.requests(max(50, calls // 4)):
            floor.call(stream_id, data)
        counted.reset()
        for stream_id, data in floor.requests(calls):
            floor.call(stream_id, data)
        check_floor(floor, "range")
    finally:
        client.close()
        floor.close()
    found = {OURS: sockets[0].per_call(calls), FLOOR: counted.per_call(calls)}
    print(
        f"syscalls per call over {calls} sequential Ranges: "
        + "; ".join(f"{who} {what}" for who, what in found.items())
    )
    return found


def make_canned(request: bytes, reply: bytes) -> Optional[_canned.Canned]:
    try:
        return _canned.Canned(RANGE_PATH, request, reply)
    except ImportError as exc:
        print(f"in-process scenarios skipped: h2 unavailable ({exc})")
        return None


if __name__ == "__main__":
    sys.exit(main())
