"""Helpers shared by the test modules."""

from __future__ import annotations

import threading
import time
from typing import Callable, List

from pyetcd_wire.testing._etcd_process import _free_ports


def wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll `condition` until it is true; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        time.sleep(0.005)


def in_threads(work: Callable[[int], None], count: int) -> List[BaseException]:
    """Run `work(0)` … `work(count - 1)` on `count` threads at once and wait
    for them; returns what they raised (so a test can assert it is empty)."""
    errors: List[BaseException] = []

    def run(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:  # reported to the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now (the test kit's pick)."""
    return _free_ports(1)[0]
