"""A blocking bridge to `AsyncClient`, so that the sync integration tests run
against the asyncio client too (issue 6), with the very same test bodies.

`BlockingAsyncClient` owns an event loop running in a daemon thread of its
own ("async-bridge-loop") and builds the `AsyncClient` on it.  Every call
goes to the loop thread, so the client only ever runs where it would in an
asyncio program: attributes are read there, callables called there, and an
awaitable result is awaited there while the calling thread blocks.  Results
with ``__aiter__`` (AsyncWatch, AsyncKeepAlive, the snapshot's async
generator) come back as a `BlockingStream`, the blocking interface of their
sync twins.  What the client raises reaches the caller unchanged (the same
object), so ``pytest.raises(SomeEtcdError)`` means the same for both clients.

The rules are generic on purpose: nothing here names a method of the client,
so the bridge follows `AsyncClient` as it grows.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from typing import (
    Any,
    Callable,
    ClassVar,
    Dict,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from pyetcd_wire import Client
from pyetcd_wire._async.client import AsyncClient

#: The name of the bridge's loop thread (tests look for leftovers by it).
LOOP_THREAD_NAME = "async-bridge-loop"


async def _awaited(fn: Callable[..., Any], args: Tuple[Any, ...], kwargs: Any) -> Any:
    """`fn(*args, **kwargs)`, awaited if the result is awaitable."""
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


async def _plain(fn: Callable[..., Any], args: Tuple[Any, ...], kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` as it is, even if awaitable (``__aiter__``)."""
    return fn(*args, **kwargs)


def _finish(loop: asyncio.AbstractEventLoop) -> List[str]:
    """What `asyncio.run` does after its main coroutine: cancel the tasks
    still pending and wait for them, then close the async generators and the
    default executor.  Returns the cancelled tasks' reprs (for diagnosis)."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    return sorted(repr(task) for task in tasks)


class LoopThread:
    """An event loop running forever in a daemon thread, and calls into it
    from other threads.  `stop()` closes the loop and joins the thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        #: Tasks still pending at `stop()` and therefore cancelled there.
        self.cancelled_at_stop: List[str] = []
        self._stopped = False
        self._lock = threading.Lock()  # orders submissions before the stop
        self._thread = threading.Thread(
            target=self._serve, name=LOOP_THREAD_NAME, daemon=True
        )
        self._thread.start()

    def _serve(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            self.cancelled_at_stop = _finish(loop)
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` in the loop thread, its result awaited there
        if awaitable; raises what `fn` raises.  After `stop()` the call runs
        on a one-shot loop in this thread instead, so that a closed client
        still answers for itself (as the sync one does: ConnectionLostError)."""
        return self._submit(_awaited, fn, args, kwargs)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` in the loop thread, its result not awaited."""
        if self._stopped:
            return fn(*args)
        return self._submit(_plain, fn, args, {})

    def _submit(
        self,
        runner: Callable[..., Any],
        fn: Callable[..., Any],
        args: Tuple[Any, ...],
        kwargs: Dict[str, Any],
    ) -> Any:
        if threading.current_thread() is self._thread:
            raise RuntimeError("a blocking call from the bridge's own loop thread")
        with self._lock:
            future = None
            if not self._stopped:
                future = asyncio.run_coroutine_threadsafe(
                    runner(fn, args, kwargs), self.loop
                )
        if future is None:
            return asyncio.run(runner(fn, args, kwargs))
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt: do not leave the call running
            raise

    def stop(self) -> None:
        """Cancel what still runs, close the loop, join the thread; idempotent."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("the bridge's loop cannot stop itself")
        with self._lock:
            if not self._stopped:
                self._stopped = True
                self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()


class _Proxy:
    """Blocking access to an object of the loop: callables run (and are
    awaited) in the loop thread; other attributes, classes included, are
    returned as they are."""

    __slots__ = ("_loop", "_target")

    def __init__(self, loop: LoopThread, target: Any) -> None:
        self._loop = loop
        self._target = target

    def __getattr__(self, name: str) -> Any:
        if name in _Proxy.__slots__:  # not set yet: no lookup on the target
            raise AttributeError(name)
        loop = self._loop
        value = loop.call(getattr, self._target, name)
        if not callable(value) or isinstance(value, type):
            return value

        @functools.wraps(value)
        def blocking(*args: Any, **kwargs: Any) -> Any:
            return _blocking(loop, loop.run(value, *args, **kwargs))

        return blocking

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._target!r}>"


def _blocking(loop: LoopThread, result: Any) -> Any:
    """`result`, or a `BlockingStream` over it if it is an async stream."""
    if hasattr(result, "__aiter__"):
        return BlockingStream(loop, result)
    return result


class BlockingStream(_Proxy):
    """An async stream (anything with ``__aiter__``: AsyncWatch, AsyncKeepAlive,
    an async generator) with the blocking interface of its sync twin:
    iteration pulls ``__anext__`` on the loop, ``with`` maps to ``async with``
    (else `cancel()`/`close()` on exit), `close()` to `aclose()` if there is one."""

    __slots__ = ("_iterator",)

    def __init__(self, loop: LoopThread, target: Any) -> None:
        super().__init__(loop, target)
        self._iterator: Any = None

    def __iter__(self) -> BlockingStream:
        return self

    def __next__(self) -> Any:
        if self._iterator is None:
            self._iterator = self._loop.call(self._target.__aiter__)
        try:
            return self._loop.run(self._iterator.__anext__)
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        """As the sync twin's `close()`: the target's `aclose()` (async
        generators) if it has one, else its `close()`."""
        target = self._target
        self._loop.run(getattr(target, "aclose", None) or target.close)

    def __enter__(self) -> Any:
        if not hasattr(self._target, "__aenter__"):
            return self
        entered = self._loop.run(self._target.__aenter__)
        return self if entered is self._target else _blocking(self._loop, entered)

    def __exit__(self, *exc_info: Any) -> Optional[bool]:
        target = self._target
        if hasattr(target, "__aexit__"):
            return bool(self._loop.run(target.__aexit__, *exc_info))
        if hasattr(target, "cancel"):
            self._loop.run(target.cancel)
        else:
            self.close()
        return None


class BlockingAsyncClient(_Proxy):
    """`AsyncClient` behind `Client`'s blocking interface, for the tests.

    The constructor takes `Client`'s arguments and enters the client
    (``async with``: where AsyncClient checks `reject_old_cluster`, which
    the sync constructor does); an error there or in the constructor (as
    ValueError, TypeError, OldClusterError) propagates after the loop
    thread is gone.  `close()` awaits `aclose()` (or calls `close()`, for a
    target without one, as `AsyncChannel`), then stops the loop and joins
    its thread; it is idempotent, and ``with`` calls it on exit.
    """

    __slots__ = ("_closing",)

    #: What the bridge builds (a subclass may bridge a fake, for its tests,
    #: or `AsyncChannel`, for the wire tests).
    target_class: ClassVar[Callable[..., Any]] = AsyncClient

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        loop = LoopThread()
        try:
            target = loop.run(self.target_class, *args, **kwargs)
            enter = getattr(target, "__aenter__", None)
            if enter is not None:
                loop.run(enter)
        except BaseException:
            loop.stop()
            raise
        super().__init__(loop, target)
        self._closing = threading.Lock()  # one aclose() at a time, then the stop

    @property
    def loop_thread(self) -> LoopThread:
        """The loop the client runs on."""
        return self._loop

    def close(self) -> None:
        """Await the client's `aclose()` (else its `close()`), then stop the
        loop; idempotent."""
        with self._closing:
            if self._loop.stopped:
                return
            target = self._target
            try:
                self._loop.run(getattr(target, "aclose", None) or target.close)
            finally:
                self._loop.stop()

    def __enter__(self) -> BlockingAsyncClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def on_loop(
    proxy: Union[BlockingAsyncClient, BlockingStream], fn: Callable[[Any], Any]
) -> Any:
    """`fn(the object behind proxy)`, called in the loop thread and not
    awaited: for a test that reads a client's internals where they change
    (a chain of attribute reads through the proxy would run all but the
    first step in the calling thread)."""
    return proxy._loop.call(fn, proxy._target)


def gather(
    client: BlockingAsyncClient, calls: Sequence[Callable[[Any], Any]], limit: int
) -> List[Any]:
    """Each of `calls`, given the AsyncClient, run as tasks on the client's
    loop, at most `limit` at a time; each result awaited if awaitable and
    returned as a method's would be (async streams as `BlockingStream`), in
    the order of `calls`.  What an asyncio program does to make calls at
    once: callers in threads reach the loop one hop at a time, so their
    calls hardly ever meet in one turn of it."""
    loop = client._loop
    target = client._target

    async def all_of() -> List[Any]:
        results: List[Any] = [None] * len(calls)

        async def worker(first: int) -> None:
            for i in range(first, len(calls), limit):
                results[i] = await _awaited(calls[i], (target,), {})

        await asyncio.gather(*(worker(n) for n in range(limit)))
        return results

    return [_blocking(loop, result) for result in loop.run(all_of)]


#: Either client under test, and what makes one (the `client_class` fixture).
AnyClient = Union[Client, BlockingAsyncClient]
ClientClass = Callable[..., AnyClient]

__all__ = [
    "LOOP_THREAD_NAME",
    "AnyClient",
    "BlockingAsyncClient",
    "BlockingStream",
    "ClientClass",
    "LoopThread",
    "gather",
    "on_loop",
]
