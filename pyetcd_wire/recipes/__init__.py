"""Recipes over the public client API, interoperable with Go's
`concurrency` package (clientv3.md §5): sessions, locks, elections, STM,
a namespaced view and a mirror, each as a sync and an asyncio twin (the
asyncio code is the source: scripts/gen_recipes.py writes the sync one)."""

from __future__ import annotations

from ._async.lock import AsyncLock
from ._async.session import AsyncSession
from ._sync.lock import Lock
from ._sync.session import Session

__all__ = ["AsyncLock", "AsyncSession", "Lock", "Session"]
