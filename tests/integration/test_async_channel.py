"""The asyncio driver's channel against a real etcd: unary calls, deadlines,
task cancellation on the wire, concurrency, and clean shutdown (warnings are
errors here: an unclosed transport or a pending task fails the test)."""

from __future__ import annotations

import asyncio

import pytest

from pyetcd_wire._api.kv import put_request, range_request
from pyetcd_wire._api.methods import KV_PUT, KV_RANGE
from pyetcd_wire._async.channel import AsyncChannel
from pyetcd_wire._proto import rpc_pb2
from pyetcd_wire.errors import (
    ConnectionFailedError,
    DeadlineExceededError,
    EmptyKeyError,
)
from pyetcd_wire.testing import EtcdMember
from tests.aio import run, wait_until


async def get(channel, key, **kw):
    raw = await channel.unary(
        KV_RANGE.path, range_request(key).SerializeToString(), **kw
    )
    return rpc_pb2.RangeResponse.FromString(raw)


async def put(channel, key, value, **kw):
    raw = await channel.unary(
        KV_PUT.path, put_request(key, value).SerializeToString(), **kw
    )
    return rpc_pb2.PutResponse.FromString(raw)


def test_put_then_get_and_etcdctl_agrees(etcd_single):
    async def main():
        channel = AsyncChannel(etcd_single.endpoint)
        try:
            revision = (await put(channel, b"/async/k", b"v1")).header.revision
            reply = await get(channel, b"/async/k")
            return revision, reply.kvs[0].value
        finally:
            channel.close()

    revision, value = run(main())
    assert value == b"v1"
    assert revision >= 2
    out = etcd_single.etcdctl("get", "/async/k", "--print-value-only").stdout
    assert out.strip() == "v1"


def test_typed_server_error(etcd_single):
    async def main():
        channel = AsyncChannel(etcd_single.endpoint)
        try:
            with pytest.raises(EmptyKeyError):
                await channel.unary(
                    KV_PUT.path, rpc_pb2.PutRequest(key=b"").SerializeToString()
                )
            return (await get(channel, b"/async/none")).count
        finally:
            channel.close()

    assert run(main()) == 0


def test_64_concurrent_tasks_share_one_connection(etcd_single):
    async def main():
        channel = AsyncChannel(etcd_single.endpoint)
        try:
            await put(channel, b"/async/c", b"x")
            replies = await asyncio.gather(
                *(get(channel, b"/async/c") for _ in range(64 * 10))
            )
            return {r.kvs[0].value for r in replies}, channel.current
        finally:
            channel.close()

    values, conn = run(main())
    assert values == {b"x"}
    assert conn is not None


def test_deadline_on_a_frozen_server_and_the_channel_stays_usable(server_binary):
    with EtcdMember("async-frozen", binary=server_binary) as member:

        async def main():
            channel = AsyncChannel(member.endpoint)
            try:
                await put(channel, b"k", b"v")
                member.pause()
                try:
                    loop = asyncio.get_running_loop()
                    started = loop.time()
                    with pytest.raises(DeadlineExceededError, match="Range"):
                        await get(channel, b"k", timeout=0.3)
                    elapsed = loop.time() - started
                finally:
                    member.resume()
                reply = await get(channel, b"k", timeout=10)
                return elapsed, reply.kvs[0].value
            finally:
                channel.close()

        elapsed, value = run(main())
        assert 0.3 <= elapsed < 1.0
        assert value == b"v"


def test_cancelling_the_task_cancels_the_call_and_not_the_connection(etcd_single):
    member = etcd_single

    async def main():
        channel = AsyncChannel(member.endpoint)
        try:
            await put(channel, b"/async/cancel", b"v")
            conn = channel.current
            member.pause()
            try:
                task = asyncio.ensure_future(get(channel, b"/async/cancel"))
                await wait_until(lambda: conn._core.active_calls == 1)  # in flight
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                calls_left = conn._core.active_calls
            finally:
                member.resume()
            reply = await get(channel, b"/async/cancel", timeout=10)
            return calls_left, reply.kvs[0].value, channel.current is conn
        finally:
            channel.close()

    calls_left, value, same = run(main())
    assert calls_left == 0  # RST_STREAM went out; the core forgot the call
    assert value == b"v"
    assert same


def test_unreachable_endpoint_is_named():
    async def main():
        channel = AsyncChannel("127.0.0.1:9", dial_timeout=2)
        try:
            await get(channel, b"k")
        finally:
            channel.close()

    with pytest.raises(ConnectionFailedError, match=r"127\.0\.0\.1:9"):
        run(main())


def test_each_call_expires_at_its_own_deadline(etcd_single):
    """Deadlines share one timer per connection (a heap): each call still
    ends at its own, in order, and a finished call's entry does no harm."""
    member = etcd_single

    async def main():
        channel = AsyncChannel(member.endpoint)
        try:
            await get(channel, b"/async/d", timeout=5)  # connected; done early
            loop = asyncio.get_running_loop()
            member.pause()
            try:
                started = loop.time()

                async def timed(timeout):
                    with pytest.raises(DeadlineExceededError):
                        await get(channel, b"/async/d", timeout=timeout)
                    return loop.time() - started

                ends = await asyncio.gather(*(timed(t) for t in (0.6, 0.2, 0.4)))
            finally:
                member.resume()
            await get(channel, b"/async/d", timeout=5)
            return ends, len(channel.current._deadlines)
        finally:
            channel.close()

    (late, early, middle), left = run(main())
    assert 0.2 <= early < middle < late < 1.2
    assert middle >= 0.4
    assert late >= 0.6
    assert left <= 1  # the last call's entry at most


def test_finished_calls_do_not_pile_up_in_the_deadline_heap(etcd_single):
    """With a long deadline, a finished call's heap entry would wait for its
    deadline to be dropped: at 40,000 calls/s and 30 s that is more than a
    million entries.  They are pruned as the heap grows."""

    async def main():
        channel = AsyncChannel(etcd_single.endpoint)
        try:

            async def many():
                for _ in range(100):
                    await get(channel, b"/async/heap", timeout=60)

            await asyncio.gather(*(many() for _ in range(64)))  # 6,400 calls
            return len(channel.current._deadlines)
        finally:
            channel.close()

    assert run(main()) <= 2 * 1024
