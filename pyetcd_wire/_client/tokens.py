"""The token a client with a password sends, kept for both drivers: the
metadata calls carry (`CallMetadata`) and the token's bookkeeping
(`TokenState`); each driver adds the Authenticate call and its single-flight
lock (`_sync/auth.py`, `_async/auth.py`).  When to obtain or replace it is
the token rule's (`_policy/auth.py`)."""

from __future__ import annotations

from typing import Optional

from .. import _log
from .._core.grpc.metadata import Metadata


class CallMetadata:
    """The metadata calls send: `calls` for unary calls and the Watch stream,
    `lease` for the LeaseKeepAlive stream.  Replaced whole (never changed in
    place) when the token changes, so a reader always sees a consistent one."""

    __slots__ = ("_base", "_lease_base", "calls", "lease")

    def __init__(self, base: Metadata, lease_base: Metadata) -> None:
        self._base = base
        self._lease_base = lease_base
        self.calls = base
        self.lease = lease_base

    @property
    def without_token(self) -> Metadata:
        return self._base

    def set_token(self, token: Optional[str]) -> None:
        extra: Metadata = (("token", token),) if token else ()
        self.calls = (*self._base, *extra)
        self.lease = (*self._lease_base, *extra)


class TokenState:
    """The token's bookkeeping, shared by the sync and asyncio sources (which
    add the lock and the Authenticate call)."""

    def __init__(self, username: str, password: str, metadata: CallMetadata) -> None:
        self.credentials = (username, password)
        self._metadata = metadata
        #: Bumped by every refresh: a caller passes the value it sent with.
        self.generation = 0
        self.ready = False  # a token (or "auth is off") has been obtained

    def refreshed_since(self, seen: int) -> bool:
        """True if a refresh happened after a call of generation `seen` was
        sent: its new token is the one to try (no second Authenticate)."""
        return self.ready and self.generation != seen

    def install(self, token: Optional[str]) -> None:
        self._metadata.set_token(token)
        self.generation += 1
        self.ready = True
        _log.token_installed(self.credentials[0], self.generation, token is not None)


__all__ = ["CallMetadata", "TokenState"]
