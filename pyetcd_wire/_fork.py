"""What a forked child does with the clients it inherited (README.md,
"Forked processes").

Theory of operation.

* `os.fork()` copies the whole process but only the thread that called it.
  A lock another thread held at that moment stays held in the child for
  ever, and every socket (TLS state included) is shared with the parent:
  a child that reads or writes one steals or corrupts the parent's
  HTTP/2 frames, and a shutdown() ends the parent's connection.
* So every `Client` and `AsyncClient` registers here when made (a weak
  reference), and one `os.register_at_fork(after_in_child=...)` hook runs
  `_after_fork_in_child()` of each in the child, before any of the child's
  own code.  There each client:
  - replaces every lock of its own and of its pool, channels, token
    source and stream worker with a new one, acquiring no inherited lock;
  - forgets the inherited connections: it closes the child's copy of each
    descriptor and nothing more (no shutdown, TLS close_notify or GOAWAY:
    the parent's copy stays open and its connection goes on unharmed);
  - drops its background machinery (the stream worker, health checks, the
    auto-sync thread or task: the threads do not exist in the child, the
    tasks belong to the parent's loop); each starts again when needed;
  - leaves the parent's watches and keep-alives to the parent: in the child
    reading one raises `ParentProcessError` (cancelling one does nothing).
  The next call dials afresh.
* Nothing is done per call (no pid check): the hook runs once per fork, in
  the child only.  It takes no lock and logs nothing; threading's own hook,
  registered before ours (threading is imported first), has already made
  new locks and threads possible.
* A process without `os.register_at_fork` (Windows) has no fork either.
"""

from __future__ import annotations

import os
import weakref
from typing import List, Protocol


class Inherited(Protocol):
    """A client as the hook sees it."""

    def _after_fork_in_child(self) -> None: ...


_CLIENTS: weakref.WeakSet[Inherited] = weakref.WeakSet()


def track(client: Inherited) -> None:
    """Make `client` safe to use in children forked from now on."""
    _CLIENTS.add(client)


def _after_fork_in_child() -> None:
    """The hook (see the module docstring).  One client's failure does not
    leave the others sharing the parent's connections."""
    errors: List[BaseException] = []
    for client in list(_CLIENTS):
        try:
            client._after_fork_in_child()
        except BaseException as exc:  # re-raised below, once the others are done
            errors.append(exc)
    if errors:
        raise errors[0]  # os.fork reports it (an unraisable error)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


__all__ = ["Inherited", "track"]
