"""The after-fork hook without etcd (`pyetcd_wire/_fork.py`): a child never
waits on a lock that was held when the parent forked."""

from __future__ import annotations

import os
import socket
import time

import pytest

import pyetcd_wire as etcd
from tests.helpers import exit_status

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*multi-threaded.*fork.*:DeprecationWarning"
)


def _refused_endpoint() -> str:
    with socket.socket() as sock:  # a port nothing listens on (once closed)
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("client_class", [etcd.Client, etcd.AsyncClient])
def test_child_takes_no_lock_held_at_the_fork(client_class: type) -> None:
    client = client_class(_refused_endpoint(), dial_timeout=1.0, timeout=2.0)
    held = [client._pool._lock]  # as another thread of the parent might
    if isinstance(client, etcd.Client):
        held += [client._worker_lock, client._health_checks_lock]
    for lock in held:
        lock.acquire()
    try:
        pid = os.fork()
        if pid == 0:  # the child: a call fails to dial, without hanging
            code = 1
            try:
                if isinstance(client, etcd.Client):
                    client.get("k")
                else:
                    import asyncio

                    asyncio.run(client.get("k"))
            except etcd.ConnectionFailedError:
                code = 0
            finally:
                os._exit(code)
        assert exit_status(pid, time.monotonic() + 30.0) == 0
    finally:
        for lock in held:
            lock.release()
    assert client._pool._lock.acquire(blocking=False)  # the parent's is its own
    client._pool._lock.release()
    if isinstance(client, etcd.Client):
        client.close()
