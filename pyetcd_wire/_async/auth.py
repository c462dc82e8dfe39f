"""Password auth for asyncio: the token, obtained at the first call and
refreshed once for every task that saw it fail (`_sync/auth.py` has the
rules; this is its single-flight with an `asyncio.Lock`)."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Optional

from .. import _log
from .._client.tokens import CallMetadata, TokenState
from ..errors import AuthNotEnabledError, EtcdError


class AsyncTokenSource(TokenState):
    """The current token of one `AsyncClient`."""

    def __init__(
        self,
        username: str,
        password: str,
        authenticate: Callable[[str, str], Awaitable[str]],
        metadata: CallMetadata,
    ) -> None:
        super().__init__(username, password, metadata)
        self._authenticate = authenticate
        self._lock: Optional[asyncio.Lock] = None  # made in the client's loop

    def after_fork(self) -> None:
        """In a forked child: a lock of the child's loop (`_fork.py`)."""
        self._lock = None

    async def refresh(self, seen: int) -> None:
        """Replace the token a call of generation `seen` was refused with;
        a no-op if another task did already."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.refreshed_since(seen):
                return
            try:
                token: Optional[str] = await self._authenticate(*self.credentials)
            except AuthNotEnabledError:
                token = None
            except EtcdError as exc:
                _log.authenticate_failed(self.credentials[0], exc)
                raise
            self.install(token)


__all__ = ["AsyncTokenSource"]
