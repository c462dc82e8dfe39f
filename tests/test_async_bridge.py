"""The blocking bridge the integration tests run AsyncClient through
(tests/async_bridge.py), checked without etcd: against a fake async client,
and against a real AsyncClient that never connects."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, AsyncIterator, Iterator, List, Optional

import pytest

import pyetcd_wire as etcd
from tests.async_bridge import (
    LOOP_THREAD_NAME,
    BlockingAsyncClient,
    BlockingStream,
    gather,
    on_loop,
)
from tests.helpers import in_threads


def on_loop_thread() -> bool:
    return threading.current_thread().name == LOOP_THREAD_NAME


class FakeKeepAlive:
    """As AsyncKeepAlive: an async iterator with a plain `close()`."""

    def __init__(self, items: List[int]) -> None:
        self.items = list(items)
        self.closed = False

    def __aiter__(self) -> FakeKeepAlive:
        return self

    async def __anext__(self) -> int:
        assert on_loop_thread()
        await asyncio.sleep(0)
        if self.closed or not self.items:
            raise StopAsyncIteration
        return self.items.pop(0)

    async def get(self, timeout: Optional[float] = None) -> int:
        return await self.__anext__()

    def close(self) -> None:
        assert on_loop_thread()
        self.closed = True


class FakeWatch(FakeKeepAlive):
    """As AsyncWatch: awaitable (confirms), an async context manager, and
    cancelled by `cancel()`."""

    def __init__(self, items: List[int]) -> None:
        super().__init__(items)
        self.created = False
        self.exited: Optional[type] = None

    def __await__(self) -> Any:
        return self._confirm().__await__()

    async def _confirm(self) -> FakeWatch:
        await asyncio.sleep(0.01)
        self.created = True
        return self

    async def __aenter__(self) -> FakeWatch:
        return await self

    async def __aexit__(self, kind: Optional[type], *rest: object) -> None:
        self.exited = kind
        self.cancel()

    def cancel(self) -> None:
        self.closed = True


class Cancellable(FakeKeepAlive):
    """A stream with `cancel()` but no ``async with``."""

    cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeAsyncClient:
    """Coroutine methods, plain methods, attributes, streams and errors."""

    def __init__(self, endpoint: str, *, fail: Optional[BaseException] = None):
        if fail is not None:
            raise fail
        self.endpoint = endpoint
        self.loop = asyncio.get_running_loop()  # built on the bridge's loop
        self.acloses = 0
        self.running = 0
        self.most_at_once = 0
        self.finalized: List[str] = []
        self.met = 0
        self.all_met = asyncio.Event()
        self.lingering: List[asyncio.Task[None]] = []

    async def echo(self, value: Any, *, delay: float = 0.0) -> Any:
        assert on_loop_thread()
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(delay)
        finally:
            self.running -= 1
        return value

    async def meet(self, count: int) -> None:
        """Return once `count` calls are in here at once: calls that reach the
        loop one after another, each finished before the next, fail at the
        10 s bound."""
        self.met += 1
        if self.met == count:
            self.all_met.set()
        await asyncio.wait_for(self.all_met.wait(), 10)

    async def fail(self, error: BaseException) -> None:
        await asyncio.sleep(0)
        raise error

    def thread_name(self) -> str:
        return threading.current_thread().name

    def watch(self, *items: int) -> FakeWatch:
        return FakeWatch(list(items))

    def keep_alive(self, *items: int) -> FakeKeepAlive:
        return FakeKeepAlive(list(items))

    def cancellable(self) -> Cancellable:
        return Cancellable([1])

    async def chunks(self, count: int) -> AsyncIterator[bytes]:
        try:
            for i in range(count):
                await asyncio.sleep(0)
                yield b"%d" % i
        finally:
            self.finalized.append("chunks")

    def linger(self) -> None:
        """Leave a task running (as a client that forgets one would)."""
        self.lingering.append(asyncio.ensure_future(asyncio.sleep(3600)))

    async def aclose(self) -> None:
        assert on_loop_thread()
        self.acloses += 1


class BlockingFake(BlockingAsyncClient):
    target_class = FakeAsyncClient


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    """Every test must end with the threads it started with."""
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) == before


@pytest.fixture
def fake() -> Iterator[Any]:
    with BlockingFake("e") as client:
        yield client


def test_calls_run_in_the_loop_thread_and_are_awaited(fake):
    assert fake.echo(5) == 5
    assert fake.echo(value="kw", delay=0.01) == "kw"
    assert fake.thread_name() == LOOP_THREAD_NAME  # plain methods too
    assert fake.endpoint == "e"  # attributes as they are
    assert fake.acloses == 0
    assert fake.echo.__name__ == "echo"
    assert "FakeAsyncClient" in repr(fake)


def test_exceptions_propagate_unchanged(fake):
    error = etcd.DeadlineExceededError("too late")
    with pytest.raises(etcd.DeadlineExceededError) as info:
        fake.fail(error)
    assert info.value is error
    with pytest.raises(KeyError):
        fake.fail(KeyError("k"))
    with pytest.raises(AttributeError, match="no_such_method"):
        fake.no_such_method()
    assert fake.echo(1) == 1  # the loop survives its calls' errors


@pytest.mark.parametrize(
    "error", [ValueError("endpoint"), TypeError("tls="), NotImplementedError("x")]
)
def test_constructor_errors_propagate_and_stop_the_loop(error):
    with pytest.raises(type(error)) as info:
        BlockingFake("e", fail=error)
    assert info.value is error
    # no_thread_left: the loop thread is gone


def test_real_async_client_constructor_errors():
    with pytest.raises(ValueError, match="endpoint"):
        BlockingAsyncClient("ftp://x:1")
    with pytest.raises(TypeError, match="tls="):
        BlockingAsyncClient("127.0.0.1:2379", tls=object())


def test_real_async_client_closed_says_so():
    client = BlockingAsyncClient("127.0.0.1:1", dial_timeout=1)
    assert client.endpoints == ("127.0.0.1:1",)
    client.close()
    client.close()
    with pytest.raises(etcd.ClientClosedError, match="closed"):
        client.get("k")


def test_calls_from_several_threads_at_once(fake):
    def work(n: int) -> None:
        for i in range(10):
            assert fake.echo((n, i), delay=0.01) == (n, i)

    assert in_threads(work, 8) == []
    assert in_threads(lambda n: fake.meet(8), 8) == []  # not one at a time


def test_close_awaits_aclose_joins_and_is_idempotent():
    before = set(threading.enumerate())
    client = BlockingFake("e")
    assert len(set(threading.enumerate()) - before) == 1
    target = client._target
    client.close()
    client.close()
    assert target.acloses == 1
    assert target.loop.is_closed()
    assert set(threading.enumerate()) == before
    assert client.loop_thread.cancelled_at_stop == []


class WithoutAclose:
    """As AsyncChannel: a plain `close()` and no `aclose()`."""

    def __init__(self) -> None:
        self.closes = 0

    def close(self) -> None:
        assert on_loop_thread()
        self.closes += 1


class BlockingWithoutAclose(BlockingAsyncClient):
    target_class = WithoutAclose


def test_close_without_aclose_calls_close():
    client = BlockingWithoutAclose()
    target = client._target
    client.close()
    client.close()
    assert target.closes == 1
    assert client.loop_thread.stopped


def test_on_loop_reads_the_target_in_the_loop_thread(fake):
    assert on_loop(fake, lambda c: (c.endpoint, on_loop_thread())) == ("e", True)
    watch = fake.watch(1)
    assert on_loop(watch, lambda w: (w.items, on_loop_thread())) == ([1], True)


def test_gather_runs_calls_as_tasks_at_once_in_order(fake):
    calls = [lambda c, i=i: c.echo(i, delay=0.01) for i in range(12)]
    assert gather(fake, calls, 4) == list(range(12))
    assert fake.most_at_once == 4
    [watch] = gather(fake, [lambda c: c.watch(7)], 1)
    assert isinstance(watch, BlockingStream)
    assert watch.created
    assert list(watch) == [7]


def test_close_from_several_threads_at_once():
    client = BlockingFake("e")
    assert in_threads(lambda n: client.close(), 4) == []
    assert client._target.acloses == 1


def test_tasks_left_running_are_cancelled_at_close():
    client = BlockingFake("e")
    client.linger()
    chunks = client.chunks(5)
    assert next(chunks) == b"0"  # an async generator left half-way
    target = client._target
    client.close()
    [task] = target.lingering
    assert task.cancelled()
    assert len(client.loop_thread.cancelled_at_stop) == 1
    assert target.finalized == ["chunks"]  # loop.shutdown_asyncgens()


def test_calls_after_close_run_on_a_one_shot_loop():
    client = BlockingFake("e")
    client.close()
    with pytest.raises(KeyError):
        client.fail(KeyError("after"))  # awaited there
    assert client.thread_name() == threading.current_thread().name


def test_awaitable_stream_is_confirmed_and_wrapped(fake):
    watch = fake.watch(1, 2, 3)
    assert isinstance(watch, BlockingStream)
    assert watch.created  # awaited before watch() returned
    assert watch.get(timeout=1) == 1
    with watch as entered:
        assert entered is watch
        assert next(iter(watch)) == 2
    assert watch.exited is None
    assert watch.closed  # __aexit__ cancelled it
    assert list(watch) == []


def test_async_with_sees_the_exception(fake):
    watch = fake.watch(1)
    with pytest.raises(KeyError), watch:
        raise KeyError("inside")
    assert watch.exited is KeyError


def test_stream_without_async_with_closes_or_cancels_on_exit(fake):
    with fake.keep_alive(1, 2) as keep:
        assert list(keep) == [1, 2]
        assert not keep.closed
    assert keep.closed
    with fake.cancellable() as cancellable:
        pass
    assert cancellable.cancelled
    assert not cancellable.closed


def test_async_generator_becomes_a_blocking_iterator(fake):
    assert list(fake.chunks(3)) == [b"0", b"1", b"2"]
    chunks = fake.chunks(5)
    assert next(chunks) == b"0"
    chunks.close()  # aclose(): the generator's finally runs
    assert fake.finalized == ["chunks", "chunks"]
    with pytest.raises(StopIteration):
        next(chunks)


def test_a_blocking_call_from_the_loop_thread_is_refused(fake):
    loop_thread = fake.loop_thread

    async def call_back() -> None:
        loop_thread.run(time.sleep, 0)

    with pytest.raises(RuntimeError, match="own loop thread"):
        loop_thread.run(call_back)
