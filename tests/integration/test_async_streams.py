"""What only asyncio code can ask of AsyncClient's watches and keep-alives
(the rest runs through the blocking bridge in the shared modules): await /
async with / async for, task cancellation, many tasks, closing with tasks
still iterating.  Strict: warnings are errors and no task may be left."""

from __future__ import annotations

import asyncio
import uuid

import pytest

import pyetcd_wire as etcd
from pyetcd_wire._async.lease_keepalive import AsyncKeepAlive
from pyetcd_wire.errors import CompactedError, DeadlineExceededError
from tests.aio import run, wait_until
from tests.helpers import keep_alive_subscriptions


def waiting(stream) -> bool:
    """A task waits in the watch's or keep-alive's get()."""
    return bool(stream._waiters._futures)


@pytest.fixture
def prefix() -> str:
    return f"/async-streams/{uuid.uuid4().hex}/"


async def next_event(watch, timeout=5.0):
    response = await watch.get(timeout=timeout)
    assert response is not None, "no response in time"
    return response.events[0]


def test_await_async_with_and_async_for_each_wait_for_creation(etcd_single, prefix):
    async def main():
        async with etcd.AsyncClient(etcd_single.endpoint, timeout=5) as client:
            awaited = await client.watch(prefix + "a")
            assert awaited.created_revision > 0
            await client.put(prefix + "a", "1")
            first = await next_event(awaited)
            awaited.cancel()

            async with client.watch(prefix + "b") as entered:
                assert entered.created_revision > 0
                await client.put(prefix + "b", "2")
                second = await next_event(entered)
            assert entered.ended  # leaving the block cancelled it

            iterated = client.watch(prefix + "c")
            assert iterated.created_revision == 0  # nothing awaited yet
            seen = []

            async def consume():
                async for response in iterated:
                    seen.extend(e.kv.value for e in response.events)
                    if len(seen) == 2:
                        return

            consumer = asyncio.ensure_future(consume())
            await wait_until(lambda: iterated.created_revision)  # its first step
            await client.put(prefix + "c", "3")
            await client.put(prefix + "c", "4")
            await asyncio.wait_for(consumer, 5)
            iterated.cancel()
            return first.kv.value, second.kv.value, seen

    assert run(main()) == (b"1", b"2", [b"3", b"4"])
    shown = etcd_single.etcdctl("get", prefix, "--prefix", "--print-value-only")
    assert shown.stdout.split() == ["1", "2", "4"]


def test_cancelling_one_waiting_task_leaves_the_watch_to_the_others(
    etcd_single, prefix
):
    async def main():
        async with etcd.AsyncClient(etcd_single.endpoint, timeout=5) as client:
            watch = await client.watch(prefix, prefix=True)
            doomed = asyncio.ensure_future(watch.get())
            survivor = asyncio.ensure_future(watch.get())
            await wait_until(lambda: len(watch._waiters._futures) == 2)  # both wait
            doomed.cancel()
            with pytest.raises(asyncio.CancelledError):
                await doomed
            await client.put(prefix + "k", "v")
            response = await asyncio.wait_for(survivor, 5)
            await client.put(prefix + "k", "w")
            later = await next_event(watch)
            watch.cancel()
            return response.events[0].kv.value, later.kv.value

    assert run(main()) == (b"v", b"w")


def test_a_cancelled_creation_cancels_the_watch_and_the_client_goes_on(
    etcd_single, prefix
):
    async def main():
        async with etcd.AsyncClient(etcd_single.endpoint, timeout=5) as client:
            watch = client.watch(prefix + "x")
            creating = asyncio.ensure_future(watch._confirm())
            await asyncio.sleep(0)  # it waits for the server now
            creating.cancel()
            with pytest.raises(asyncio.CancelledError):
                await creating
            assert watch.ended  # cancelled with its task
            again = await client.watch(prefix + "x")
            await client.put(prefix + "x", "1")
            event = await next_event(again)
            again.cancel()
            return event.kv.value

    assert run(main()) == b"1"


def test_a_compacted_start_revision_ends_async_for(etcd_single, prefix):
    async def main():
        async with etcd.AsyncClient(etcd_single.endpoint, timeout=5) as client:
            first = await client.put(prefix + "k", "1")
            last = await client.put(prefix + "k", "2")
            await client.compact(last.header.revision)
            watch = client.watch(prefix + "k", start_revision=first.header.revision)
            with pytest.raises(CompactedError) as info:
                async for _ in watch:
                    pass
            assert watch.ended
            return info.value.compact_revision, last.header.revision

    compact_revision, last = run(main())
    assert compact_revision == last


def test_creation_past_its_deadline_raises_and_cancels(etcd_single, prefix):
    async def main():
        async with etcd.AsyncClient(etcd_single.endpoint, timeout=5) as client:
            watch = client.watch(prefix + "k", timeout=0.000001)
            with pytest.raises(DeadlineExceededError):
                await watch
            return watch.ended

    assert run(main())


def test_64_tasks_each_with_a_watch_on_one_stream(etcd_single, prefix):
    async def main():
        async with etcd.AsyncClient(etcd_single.endpoint, timeout=10) as client:

            async def one(i):
                async with client.watch(f"{prefix}{i}") as watch:
                    await client.put(f"{prefix}{i}", str(i))
                    event = await next_event(watch)
                    return int(event.kv.value)

            values = await asyncio.gather(*(one(i) for i in range(64)))
            manager = client._worker._watches
            # Closed with its last watch, as Go does (the worker looks on the
            # next loop turn).
            await wait_until(lambda: manager.stream is None)
            reopened = await one(64)  # a new stream for a new watch
            return [*values, reopened]

    assert run(main()) == list(range(65))


def test_aclose_ends_iteration_in_other_tasks(etcd_single, prefix):
    async def main():
        client = etcd.AsyncClient(etcd_single.endpoint, timeout=5)
        watch = await client.watch(prefix, prefix=True)
        lease = await client.grant(30)
        keep_alive = client.keep_alive(lease.ID)

        watched, renewed = [], []

        async def drain(iterable, into):
            async for item in iterable:
                into.append(item)

        watching = asyncio.ensure_future(drain(watch, watched))
        renewing = asyncio.ensure_future(drain(keep_alive, renewed))
        await client.put(prefix + "k", "v")
        # Each task has what it gets and waits for more (the put's event may
        # come well after the put's answer).
        await wait_until(lambda: watched and renewed)
        await wait_until(lambda: waiting(watch) and waiting(keep_alive))
        await client.aclose()
        await asyncio.wait_for(asyncio.gather(watching, renewing), 5)
        with pytest.raises(etcd.ClientClosedError, match="closed"):
            client.watch(prefix)
        with pytest.raises(etcd.ClientClosedError, match="closed"):
            client.keep_alive(lease.ID)
        return watched, renewed, keep_alive.closed, keep_alive.lost

    watched, renewed, closed, lost = run(main())
    assert [r.events[0].kv.value for r in watched] == [b"v"]
    assert renewed
    assert renewed[0].TTL > 0
    assert closed
    assert not lost


def test_a_client_made_outside_the_loop_works_in_it(etcd_single, prefix):
    client = etcd.AsyncClient(etcd_single.endpoint, timeout=5)

    async def main():
        async with client:
            await client.put(prefix + "k", "v")
            return (await client.get(prefix + "k")).kvs[0].value

    assert run(main()) == b"v"


def test_keep_alive_renews_and_a_revoke_is_seen_as_lost(etcd_single):
    async def main():
        async with etcd.AsyncClient(etcd_single.endpoint, timeout=5) as client:
            lease = await client.grant(3)
            async with client.keep_alive(lease.ID) as keep_alive:
                first = await keep_alive.get(timeout=5)
                await asyncio.sleep(3.5)  # past the TTL: renewed meanwhile
                alive = await client.time_to_live(lease.ID)
                await client.revoke(lease.ID)
                with pytest.raises(etcd.LeaseExpiredError):
                    async for _ in keep_alive:
                        pass
                return first.TTL, alive.TTL, keep_alive.lost

    first_ttl, ttl_later, lost = run(main())
    assert first_ttl == 3
    assert ttl_later > 0
    assert lost


def test_await_async_with_and_async_for_each_wait_for_the_first_renewal(
    etcd_single,
):
    async def main():
        async with etcd.AsyncClient(etcd_single.endpoint, timeout=5) as client:
            lease = (await client.grant(30)).ID
            awaited = await client.keep_alive(lease)  # issue 14: was a TypeError
            assert isinstance(awaited, AsyncKeepAlive)
            first = awaited.response
            assert first is not None
            assert lease == first.ID
            assert first.TTL == 30
            assert await awaited.get(timeout=5) == first  # still yielded
            assert await awaited is awaited  # once confirmed, at once
            awaited.close()

            async with client.keep_alive(lease) as entered:
                assert entered.response is not None
                assert entered.response.TTL == 30
            assert entered.closed  # leaving the block closed it

            iterated = client.keep_alive(lease)
            assert iterated.response is None  # nothing awaited yet
            async for response in iterated:  # the first step confirms it
                assert response.TTL == 30
                break
            iterated.close()
            await client.revoke(lease)
            return keep_alive_subscriptions(client, lease)

    assert run(main()) == 0


@pytest.mark.parametrize("gone", ["never-existed", "revoked", "expired"])
def test_awaiting_keep_alive_of_a_missing_lease_raises_lease_not_found(
    etcd_single, gone
):
    async def main():
        async with etcd.AsyncClient(etcd_single.endpoint, timeout=5) as client:
            if gone == "never-existed":
                lease = 0x7EAD_0000 + uuid.uuid4().int % 0x1_0000
            else:
                lease = (await client.grant(1)).ID
                if gone == "revoked":
                    await client.revoke(lease)
                else:
                    while (await client.time_to_live(lease)).TTL != -1:
                        await asyncio.sleep(0.1)  # until etcd expired it
            with pytest.raises(etcd.LeaseNotFoundError):
                await client.keep_alive(lease)
            with pytest.raises(etcd.LeaseNotFoundError):
                async with client.keep_alive(lease):
                    pytest.fail("entered")
            iterated = client.keep_alive(lease)
            with pytest.raises(etcd.LeaseNotFoundError):
                await iterated.__anext__()  # the first step of `async for`
            assert iterated.closed  # and nothing is left of it
            return keep_alive_subscriptions(client, lease)

    assert run(main()) == 0


def test_a_cancelled_wait_for_the_first_renewal_closes_the_subscription(
    etcd_single,
):
    async def main():
        async with etcd.AsyncClient(etcd_single.endpoint, timeout=5) as client:
            lease = (await client.grant(30)).ID
            keep_alive = client.keep_alive(lease)
            waiting = asyncio.ensure_future(keep_alive._confirm())
            await asyncio.sleep(0)  # it waits for the server now
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert keep_alive.closed  # closed with its task
            assert not keep_alive.lost
            left = keep_alive_subscriptions(client, lease)
            again = await client.keep_alive(lease)  # the client goes on
            renewed = again.response.TTL
            again.close()
            await client.revoke(lease)
            return left, renewed

    assert run(main()) == (0, 30)
