"""Processes that contend for a `Lock`, for tests/integration/test_recipes_lock.py.

Each runs in a process of its own (``python -m tests.recipes_lock_worker
COMMAND ENDPOINTS ...``), so that the lock is contended by independent
clients and sessions, and a holder can be SIGKILLed like a crashed program:

* ``increment ENDPOINTS NAME COUNTER TIMES``: once a line comes on stdin,
  TIMES read-modify-writes of the integer at COUNTER, each under the lock
  NAME; prints "ready" before and "done" after.
* ``hold ENDPOINTS NAME TTL``: take the lock on a session of TTL seconds,
  print its key, then sleep until killed.
"""

from __future__ import annotations

import sys
import time

import pyetcd_wire as etcd
from pyetcd_wire.recipes._sync.lock import Lock
from pyetcd_wire.recipes._sync.session import Session


def increment(endpoints: str, name: str, counter: str, times: int) -> None:
    """Unsafe without the lock: a get and a put of the counter, with a gap
    between them that another process would slip into.  Prints "ready" once
    connected and starts on a line from stdin, so that the processes run
    at the same time instead of one after the other as they start."""
    client = etcd.Client(endpoints.split(","), timeout=10)
    with client, Session(client, ttl=10) as session:
        lock = Lock(session, name)
        print("ready", flush=True)
        sys.stdin.readline()
        for _ in range(times):
            with lock:
                got = client.get(counter)
                value = int(got.kvs[0].value) if got.kvs else 0
                time.sleep(0.001)
                client.put(counter, str(value + 1))
    print("done", flush=True)


def hold(endpoints: str, name: str, ttl: int) -> None:
    """Hold the lock until killed; the lease keeps being renewed until then."""
    client = etcd.Client(endpoints.split(","), timeout=10)
    lock = Lock(Session(client, ttl=ttl), name)
    lock.acquire()
    print(lock.key.decode(), flush=True)
    time.sleep(3600)


def main(argv: list[str]) -> None:
    command, endpoints, name, *rest = argv
    if command == "increment":
        increment(endpoints, name, rest[0], int(rest[1]))
    elif command == "hold":
        hold(endpoints, name, int(rest[0]))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
