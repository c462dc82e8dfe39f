"""Helpers shared by the test modules."""

from __future__ import annotations

import threading
from typing import Callable, List


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
