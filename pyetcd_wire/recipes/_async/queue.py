"""Waiting for one's turn in a queue of keys ordered by create revision,
the step Go's Mutex and Election share (concurrency/key.go: waitDeletes);
one copy for `AsyncLock` and `AsyncElection`."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Optional, TypeVar

from ..._api.compare import Compare
from ..._api.op import Op
from ..._async.client import AsyncClient
from ..._proto import rpc_pb2
from ...errors import (
    ClientClosedError,
    CompactedError,
    DeadlineExceededError,
    SessionExpiredError,
)

T = TypeVar("T")


async def settled(write: Awaitable[T]) -> T:
    """Await `write`, the Txn that puts a contender's key, to its end even
    if the awaiting task is cancelled meanwhile (the cancellation is raised
    after it).  Whoever gives up deletes the key, and that delete must come
    after the put: sent while the put is still in flight, it may reach etcd
    first, and the key the put then leaves holds up every contender behind
    it until its lease ends.  The caller sends the Txn with the client's
    own timeout, not a shorter deadline, for the same reason."""
    # unasync: async only (begin)
    task = asyncio.ensure_future(write)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # retrieved: the cancellation is what we raise
        raise
    # unasync: async only (end)
    # unasync: sync only: return write


async def wait_predecessors(
    client: AsyncClient,
    prefix: bytes,
    key: bytes,
    revision: int,
    deadline: Optional[float] = None,
) -> rpc_pb2.ResponseHeader:
    """Wait until no key under `prefix` created before `revision` is left:
    the turn of `key` (created at `revision`) in a queue ordered by create
    revision, as Go's Mutex and Election wait (key.go: waitDeletes).

    Each round reads the newest older key and waits for its deletion, so
    every waiter watches only its immediate predecessor.  Unlike Go, the
    read is a transaction guarded by `key` still existing with `revision`,
    so a waiter whose key expired hears of it.

    Args:
        deadline: a `time.monotonic()` value to give up at (None: never).

    Returns:
        The header of the read that found no predecessor.

    Raises:
        SessionExpiredError: `key` is gone (its lease expired or was revoked).
        DeadlineExceededError: `deadline` passed.
        ClientClosedError: the client was closed while waiting.
    """
    mine = Compare.create_revision(key) == revision
    newest_older = Op.get(  # Go's WithLastCreate + WithMaxCreateRev
        prefix,
        prefix=True,
        sort_target="create",
        sort_order="descend",
        limit=1,
        max_create_revision=revision - 1,
    )
    while True:
        response = await client.txn(
            compare=[mine], success=[newest_older], timeout=remaining(deadline)
        )
        if not response.succeeded:
            raise SessionExpiredError()
        kvs = response.responses[0].response_range.kvs
        if not kvs:
            return response.header
        await _wait_deleted(client, kvs[0].key, response.header.revision + 1, deadline)


async def _wait_deleted(
    client: AsyncClient, key: bytes, start: int, deadline: Optional[float]
) -> None:
    """Wait for a DELETE of `key` at or after revision `start` (Go's
    waitDelete); or for `start` to be compacted away, which the caller's
    next read makes up for."""
    try:
        async with client.watch(
            key, start_revision=start, filter_put=True, timeout=remaining(deadline)
        ) as watch:
            while True:
                response = await watch.get(timeout=remaining(deadline))
                if response is None:
                    if watch.ended:
                        raise ClientClosedError("watch ended: the client is closed")
                    raise DeadlineExceededError(
                        f"deadline exceeded waiting for {key!r}"
                    )
                if response.events:  # every event is a DELETE (filter_put)
                    return
    except CompactedError:
        return


def remaining(
    deadline: Optional[float], what: str = "deadline exceeded"
) -> Optional[float]:
    """Seconds left until `deadline` (None: no deadline), for a call's
    `timeout=`, which must be above 0.

    Raises:
        DeadlineExceededError: none are left (its message `what`).
    """
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceededError(what)
    return left


__all__ = ["remaining", "wait_predecessors"]
