"""Password authentication: the token every call carries, and its refresh.

Go's clientv3: with username and password the client obtains a token
with the Authenticate RPC (an AuthNotEnabledError just means no token), sends
it as ``token`` metadata, and when a call fails because the token is no
longer good (InvalidAuthTokenError once it expired, AuthOldRevisionError
after an auth-store change, UserEmptyError when it was lost) obtains a new
one and sends the call again: it was refused before it ran.

Here the token is obtained at the first call, not in the constructor (which
does no I/O), and a refresh is single-flight: the threads that saw the same
token fail wait for one Authenticate and all use its token.  When to obtain
or replace it is the token rule's (`_policy/auth.py`), the same for every
kind of call; this module keeps the token and does the Authenticate.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

from .. import _log
from .._client.tokens import CallMetadata, TokenState
from ..errors import AuthNotEnabledError, EtcdError


def authenticated(authenticate: Callable[[str, str], str], state: TokenState) -> None:
    """Run a (sync) Authenticate for `state`: AuthNotEnabledError means no
    token to send (Go clears it)."""
    try:
        token: Optional[str] = authenticate(*state.credentials)
    except AuthNotEnabledError:
        token = None
    except EtcdError as exc:
        _log.authenticate_failed(state.credentials[0], exc)
        raise
    state.install(token)


class TokenSource(TokenState):
    """The current token of one client.

    Args:
        authenticate: the Authenticate RPC: (name, password) -> token.
        metadata: where the token goes.
    """

    def __init__(
        self,
        username: str,
        password: str,
        authenticate: Callable[[str, str], str],
        metadata: CallMetadata,
    ) -> None:
        super().__init__(username, password, metadata)
        self._authenticate = authenticate
        self._lock = threading.Lock()

    def after_fork(self) -> None:
        """In a forked child: a new lock (`_fork.py`); the token stays good."""
        self._lock = threading.Lock()

    def refresh(self, seen: int) -> None:
        """Replace the token a call of generation `seen` was refused with;
        a no-op if another thread did already.

        Raises:
            AuthFailedError: wrong name or password.
            EtcdError: Authenticate failed otherwise.
        """
        with self._lock:
            if not self.refreshed_since(seen):
                authenticated(self._authenticate, self)


__all__ = ["TokenSource", "authenticated"]
