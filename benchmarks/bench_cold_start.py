"""Why watch replay costs more per message than its work suggests: the same
work, hot and after the 100 ms pause etcd's watch sync loop puts between
replay messages.

Run from the repository root:

    python benchmarks/bench_cold_start.py [--messages 20] [--pause 0.1]

It feeds our sans-IO `GrpcConnection` the bytes of a watch replay, 20
`WatchResponse` messages of 1,000 events (about 150 KB each, in 16 KiB DATA
frames, made by python-hyper's `h2` server side), one message per "read",
and times each read with `time.thread_time()`: back to back (hot), then with
`--pause` seconds of sleep before each (cold).  For scale it times the same
way a 150 KB copy and a few hundred Python operations.  No etcd, no sockets.
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
from pathlib import Path
from typing import Callable, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

import h2.config  # noqa: E402
import h2.connection  # noqa: E402

from pyetcd_wire._core.grpc import events as ge  # noqa: E402
from pyetcd_wire._core.grpc.call import Call  # noqa: E402
from pyetcd_wire._core.grpc.connection import GrpcConnection  # noqa: E402
from pyetcd_wire._proto import kv_pb2, rpc_pb2  # noqa: E402

EVENTS_PER_MESSAGE = 1000  # etcd's watchBatchMaxRevs


def replay_message(first_revision: int) -> bytes:
    response = rpc_pb2.WatchResponse(
        header=rpc_pb2.ResponseHeader(revision=10**6, cluster_id=1, member_id=2),
        watch_id=1,
    )
    for rev in range(first_revision, first_revision + EVENTS_PER_MESSAGE):
        kv = kv_pb2.KeyValue(
            key=f"/bench/replay/{rev:06d}".encode(),
            value=b"x" * 100,
            create_revision=rev,
            mod_revision=rev,
            version=1,
        )
        response.events.add(type=kv_pb2.Event.PUT, kv=kv)
    return response.SerializeToString()


def connected() -> Tuple[GrpcConnection, h2.connection.H2Connection, Call]:
    """Our client with one open Watch call, and h2's server side of it."""
    client = GrpcConnection(authority="bench", endpoint="bench")
    client.initiate()
    config = h2.config.H2Configuration(client_side=False)
    server = h2.connection.H2Connection(config)
    server.initiate_connection()
    call = client.start_call("/etcdserverpb.Watch/Watch")
    client.send_message(call, b"")
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())
    assert call.stream_id is not None
    headers = [(b":status", b"200"), (b"content-type", b"application/grpc")]
    server.send_headers(call.stream_id, headers)
    client.receive_data(server.data_to_send())
    return client, server, call


def reads(
    server: h2.connection.H2Connection, stream_id: int, count: int
) -> List[bytes]:
    """The bytes of `count` replay messages, one read each, in 16 KiB frames."""
    out = []
    for k in range(count):
        message = replay_message(2 + k * EVENTS_PER_MESSAGE)
        framed = struct.pack(">BI", 0, len(message)) + message
        for i in range(0, len(framed), 16384):
            server.send_data(stream_id, framed[i : i + 16384])
        out.append(server.data_to_send())
    return out


def per_call(fn: Callable[[int], None], count: int, pause: float) -> float:
    """Median thread CPU of fn(i), in µs, with `pause` s of sleep before each."""
    samples = []
    for i in range(count):
        if pause:
            time.sleep(pause)
        start = time.thread_time()
        fn(i)
        samples.append(time.thread_time() - start)
    samples.sort()
    return samples[len(samples) // 2] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.1)
    args = parser.parse_args()

    def core_run(pause: float) -> float:
        client, server, call = connected()
        server.increment_flow_control_window(1 << 30)
        server.update_settings({})
        data = reads(server, call.stream_id or 1, args.messages)

        def feed(i: int) -> None:
            for event in client.receive_data(data[i]):
                if type(event) is ge.MessageReceived:
                    client.message_consumed(call)
            client.data_to_send()

        return per_call(feed, args.messages, pause)

    blob = bytes(150_000)

    def copy(_: int) -> None:
        bytes(blob[5:])

    def python_ops(_: int) -> None:
        table = {}
        for i in range(200):
            table[i] = i * 2

    print(f"{sys.implementation.name} {sys.version.split()[0]}; median µs per read")
    print(f"{'work':44} {'hot':>8} {'after ' + str(args.pause) + ' s':>12}")
    rows = [
        ("core: one 1,000-event replay message", core_run(0.0), core_run(args.pause)),
        ("copy 150 KB", per_call(copy, 20, 0.0), per_call(copy, 20, args.pause)),
        (
            "200 dict stores (plain Python)",
            per_call(python_ops, 20, 0.0),
            per_call(python_ops, 20, args.pause),
        ),
    ]
    for name, hot, cold in rows:
        print(f"{name:44} {hot:8.1f} {cold:12.1f}  ({cold / hot:.1f}x)")


if __name__ == "__main__":
    main()
