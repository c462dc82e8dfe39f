"""Running asyncio tests strictly: every warning an error (an unclosed
transport, a task destroyed while pending, a coroutine never awaited), and
no task left behind by the code under test."""

from __future__ import annotations

import asyncio
import gc
import inspect
import time
import warnings
from typing import Any, Callable, Coroutine, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(coro), strictly (see above)."""

    async def checked() -> T:
        result = await coro
        await asyncio.sleep(0)  # let closing transports run their callbacks
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not left, f"tasks left running: {left}"
        return result

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = asyncio.run(checked())
        gc.collect()
    return result


async def wait_until(
    condition: Callable[[], object], timeout: float = 10.0, *, every: float = 0.005
) -> None:
    """`tests.helpers.wait_for` for a coroutine: poll `condition` (its result
    awaited if awaitable, as a call to etcd) each `every` seconds until it is
    true; fail the test after `timeout` (which only bounds a hang)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        await asyncio.sleep(every)


__all__ = ["run", "wait_until"]
