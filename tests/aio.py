"""Running asyncio tests strictly: every warning an error (an unclosed
transport, a task destroyed while pending, a coroutine never awaited), and
no task left behind by the code under test."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any, Coroutine, TypeVar

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


__all__ = ["run"]
