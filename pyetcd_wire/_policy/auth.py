"""The token rule: when a call of a client with password auth first needs a
token fetched, and when a call refused for its token is sent again.

One rule for every kind of call (unary, server stream, bidi, the stream
workers' Watch and LeaseKeepAlive streams) and both drivers: each driver only
carries out what `first_token` and `TokenPlan` decide (an Authenticate over a
token generation, a send again), as it carries out `UnaryRetry`'s steps
(retry.py).  A driver that opens a call without asking is the bug this
module exists to prevent (issue 14: a Snapshot as a client's first call went
without a token, and etcd said "user name is empty").

Theory of operation (Go's clientv3: client.go's token handling, retry_interceptor.go):

* No call goes out without the token once the client has credentials.  Go
  authenticates in `New`, and again before each stream it opens; our
  constructors do no I/O, so whichever call comes first, of any kind,
  fetches the token (single-flight: the threads or tasks that start together
  wait for one Authenticate), and every later call and stream sends it.
  Authenticate itself goes without one.
* A call refused for its token was refused before it ran (`TOKEN_ERRORS`:
  InvalidAuthTokenError once it expired, AuthOldRevisionError after an
  auth-store change, UserEmptyError when the server saw none), so it is sent
  again with a new token whatever its retry class: a unary call within its
  retry plan (`UnaryRetry`, up to `MAX_TOKEN_REFRESHES` times), any other
  call once, if it delivered nothing yet (a Snapshot before its first chunk;
  the Watch and LeaseKeepAlive streams reopen through their managers).
* A refresh replaces the token the refused call carried: `generation`
  counts the tokens installed, and replacing one that another thread has
  replaced already is a no-op (the call goes again with the newer token).
"""

from __future__ import annotations

from typing import Optional, Protocol

from ..errors import EtcdError
from .retry import needs_new_token


class TokenView(Protocol):
    """What the rule reads of a client's token (`TokenState`)."""

    @property
    def ready(self) -> bool:
        """A token (or "auth is off") has been obtained."""

    @property
    def generation(self) -> int:
        """Bumped by every token installed."""


def first_token(state: Optional[TokenView]) -> Optional[int]:
    """Before any call: None to send it now (no password auth, or the token
    is in place), else the generation to fetch the first token over."""
    if state is None or state.ready:
        return None
    return state.generation


class TokenPlan:
    """The token decisions of one call that is not unary (a unary call's are
    part of its `UnaryRetry`).

    Ask `before()` before each attempt and `after(error)` when one failed
    having delivered nothing; each answers None (go on: send, or raise the
    error) or the generation to replace the token over first
    (`TokenSource.refresh(generation)`), after which the driver asks
    `before()` again.

    Args:
        state: the client's token, or None without password auth.
        refreshes: how many times the call may be sent again.
    """

    __slots__ = ("_carried", "_refreshes", "_state")

    def __init__(self, state: Optional[TokenView], *, refreshes: int = 1) -> None:
        self._state = state
        self._refreshes = refreshes
        self._carried = 0  # the generation the attempt is sent with

    def before(self) -> Optional[int]:
        fetch = first_token(self._state)
        if fetch is None and self._state is not None:
            self._carried = self._state.generation
        return fetch

    def after(self, error: EtcdError) -> Optional[int]:
        if self._state is None or self._refreshes <= 0 or not needs_new_token(error):
            return None
        self._refreshes -= 1
        return self._carried


__all__ = ["TokenPlan", "TokenView", "first_token"]
