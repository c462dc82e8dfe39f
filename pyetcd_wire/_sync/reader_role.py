"""Who reads the stream worker's connection now (leader/follower).

The stream connection has one reader at a time: the role.  A user thread
waiting in `Watch.get()` takes it when it is free and reads for itself, so an
event it waits for costs one wake-up (the kernel's), not three (kernel to
worker, worker to user, and back).  While a user thread holds the role, the
others wait as followers: they are woken when an event for them is routed,
or when the role is handed to them.  The background worker takes the role
only when nobody else wants it, and hands it to the first follower after its
current turn.

`Sleeper` is the one-shot signal every waiter sleeps on: a lock created
held, released by whoever wakes it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from typing import Deque, Optional


class Sleeper:
    """A one-shot wake-up: one thread `wait()`s, any number may `wake()` it."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def wake(self) -> None:
        try:  # noqa: SIM105 (a per-event path; suppress() costs a frame)
            self._lock.release()
        except RuntimeError:  # woken already
            pass

    def wait(self, deadline: Optional[float]) -> bool:
        """Sleep until woken (True) or until `deadline` (False)."""
        if deadline is None:
            return self._lock.acquire()
        return self._lock.acquire(timeout=max(0.0, deadline - time.monotonic()))


#: The holder standing for the background worker.
WORKER = Sleeper()


class ReaderRole:
    """The role and its followers; every method is quick and never blocks."""

    __slots__ = ("_claims", "_claims_seen", "_followers", "_lock", "_parked", "holder")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.holder: Optional[Sleeper] = None
        self._followers: Deque[Sleeper] = deque()
        self._parked: Optional[Sleeper] = None  # the worker, waiting for the role
        self._claims = 0  # by user threads, ever
        self._claims_seen = 0  # ... when the worker last parked

    def claim(self, who: Sleeper, *, follow: bool) -> bool:
        """Take the role if it is free (or was handed to `who`): True.  Else,
        with `follow`, queue `who` to be handed it: False."""
        with self._lock:
            if self.holder is None or self.holder is who:
                self.holder = who
                self._claims += 1
                return True
            if follow:
                self._followers.append(who)
            return False

    def unfollow(self, who: Sleeper) -> bool:
        """Stop following; True if the role was handed to `who` meanwhile (it
        holds it now and must `release()` it)."""
        with self._lock:
            if self.holder is who:
                return True
            with contextlib.suppress(ValueError):
                self._followers.remove(who)
            return False

    def release(self, who: Sleeper) -> bool:
        """Give the role up: to the first follower, or free.  Returns True if
        it is free now (nobody reads until someone claims it)."""
        with self._lock:
            if self.holder is not who:
                return False
            if self._followers:
                self.holder = self._followers.popleft()
                self.holder.wake()
                return False
            self.holder = None
            return True

    @property
    def followed(self) -> bool:
        """True if some thread waits to be handed the role."""
        return bool(self._followers)

    def park(self, sleeper: Sleeper, *, eager: bool) -> bool:
        """The worker: take the role if it is free (True), else wait for
        `wake_parked` on `sleeper` (False).  Unless `eager`, a free role is
        left alone if a user thread claimed it since the last `park`: one
        that reads between events will be back for it, and taking it would
        make that thread wait for a hand-over."""
        with self._lock:
            claimed = self._claims != self._claims_seen
            self._claims_seen = self._claims
            if self.holder is None and (eager or not claimed):
                self.holder = WORKER
                return True
            self._parked = sleeper
            return False

    def wake_parked(self) -> None:
        """Wake the worker if it waits for the role."""
        with self._lock:
            parked, self._parked = self._parked, None
        if parked is not None:
            parked.wake()


__all__ = ["WORKER", "ReaderRole", "Sleeper"]
