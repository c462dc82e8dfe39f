"""Password authentication: the token every call carries, and its refresh.

Go (clientv3.md §1.8): with username and password the client obtains a token
with the Authenticate RPC (an AuthNotEnabledError just means no token), sends
it as ``token`` metadata, and when a call fails because the token is no
longer good (InvalidAuthTokenError once it expired, AuthOldRevisionError
after an auth-store change, UserEmptyError when it was lost) obtains a new
one and sends the call again: it was refused before it ran.

Here the token is obtained at the first call, not in the constructor (which
does no I/O), and a refresh is single-flight: the threads that saw the same
token fail wait for one Authenticate and all use its token.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

from .._core.grpc.metadata import Metadata
from .._policy.retry import needs_new_token
from ..errors import AuthNotEnabledError


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


class TokenSource:
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
        self._username = username
        self._password = password
        self._authenticate = authenticate
        self._metadata = metadata
        self._lock = threading.Lock()
        #: Bumped by every refresh: a caller passes the value it sent with.
        self.generation = 0
        self.ready = False  # a token (or "auth is off") has been obtained

    def ensure(self) -> None:
        """Obtain the first token if no thread has yet."""
        if not self.ready:
            self.refresh(self.generation)

    def refresh(self, seen: int) -> None:
        """Replace the token a call of generation `seen` was refused with;
        a no-op if another thread did already.

        Raises:
            AuthFailedError: wrong name or password.
            EtcdError: Authenticate failed otherwise.
        """
        with self._lock:
            if self.ready and self.generation != seen:
                return  # refreshed while we waited for the lock
            try:
                token: Optional[str] = self._authenticate(
                    self._username, self._password
                )
            except AuthNotEnabledError:
                token = None  # nothing to send (Go clears the token)
            self._metadata.set_token(token)
            self.generation += 1
            self.ready = True


__all__ = ["CallMetadata", "TokenSource", "needs_new_token"]
