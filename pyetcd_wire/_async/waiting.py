"""Waiting in asyncio for news of a watch or a keep-alive: one future per
waiting task, so that cancelling one task never disturbs another (a shared
future would be cancelled with the first task that stops waiting)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Callable, List, Optional, Tuple, TypeVar

T = TypeVar("T")

#: The mutex of an asyncio box or manager: the loop runs one callback at a time.
NO_LOCK = contextlib.nullcontext()


class Waiters:
    """Futures of the tasks waiting for news of one object."""

    __slots__ = ("_futures",)

    def __init__(self) -> None:
        self._futures: List[asyncio.Future[None]] = []

    def wake_all(self) -> None:
        for future in self._futures:
            if not future.done():
                future.set_result(None)
        self._futures.clear()

    async def next(
        self,
        take: Callable[[], Tuple[bool, Optional[T]]],
        ready: Callable[[], bool],
        timeout: Optional[float],
    ) -> Optional[T]:
        """`take()`'s item once it has one (its first element True), else
        None once `timeout` seconds passed; waits for `ready()` between."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            done, item = take()
            if done:
                return item
            if deadline is not None and time.monotonic() >= deadline:
                return None
            await self.wait(ready, deadline)

    async def wait(self, ready: Callable[[], bool], deadline: Optional[float]) -> None:
        """Return once `ready()` or at `deadline` (monotonic).

        The deadline is a timer that completes the future, not
        `asyncio.wait_for`, which before Python 3.12 can swallow a
        cancellation that arrives with the result (gh-86296)."""
        loop = asyncio.get_running_loop()
        while not ready():
            timer = None
            future = loop.create_future()
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                timer = loop.call_later(remaining, _complete, future)
            self._futures.append(future)
            try:
                await future
            finally:
                if timer is not None:
                    timer.cancel()
                if future in self._futures:
                    self._futures.remove(future)

    async def confirm(
        self,
        ready: Callable[[], bool],
        deadline: Optional[float],
        give_up: Callable[[], None],
    ) -> None:
        """`wait()` for the server's confirmation of a new object (a watch's
        creation, a keep-alive's first renewal); a task cancelled meanwhile
        gives the object up (`give_up()`: cancel, close) with it, so nothing
        it asked for is left behind."""
        try:
            await self.wait(ready, deadline)
        except BaseException:
            give_up()
            raise


def _complete(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


__all__ = ["NO_LOCK", "Waiters"]
