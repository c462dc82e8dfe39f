"""Recipes over the public client API, interoperable with Go's
`concurrency` package (client/v3/concurrency): sessions, locks, elections, STM,
a namespaced view and a mirror, each as a sync and an asyncio twin (the
asyncio code is the source: scripts/unasync.py writes the sync one)."""

from __future__ import annotations

from typing import Union, overload

from .._async.client import AsyncClient
from .._sync.client import Client
from ._async.election import AsyncElection
from ._async.lock import AsyncLock
from ._async.mirror import AsyncMirror
from ._async.namespace import AsyncNamespace
from ._async.namespace import namespace as _async_namespace
from ._async.session import AsyncSession
from ._async.stm import AsyncSTM, async_stm
from ._isolation import Isolation
from ._sync.election import Election
from ._sync.lock import Lock
from ._sync.mirror import Mirror
from ._sync.namespace import Namespace
from ._sync.namespace import namespace as _sync_namespace
from ._sync.session import Session
from ._sync.stm import STM, stm

Key = Union[str, bytes]


@overload
def namespace(client: AsyncClient, prefix: Key) -> AsyncNamespace: ...


@overload
def namespace(client: Client, prefix: Key) -> Namespace: ...


def namespace(
    client: Union[Client, AsyncClient], prefix: Key
) -> Union[Namespace, AsyncNamespace]:
    """A view of `client` in which every key is under `prefix` (Go's
    namespace package): the asyncio view for an `AsyncClient`."""
    if isinstance(client, AsyncClient):
        return _async_namespace(client, prefix)
    return _sync_namespace(client, prefix)


__all__ = [
    "STM",
    "AsyncElection",
    "AsyncLock",
    "AsyncMirror",
    "AsyncNamespace",
    "AsyncSTM",
    "AsyncSession",
    "Election",
    "Isolation",
    "Lock",
    "Mirror",
    "Namespace",
    "Session",
    "async_stm",
    "namespace",
    "stm",
]
