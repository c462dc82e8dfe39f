"""Ctrl-C (SIGINT) and SIGTERM in the command line, without KeyboardInterrupt.

Python's default SIGINT handler raises KeyboardInterrupt in the main thread
between any two bytecodes: inside the client's lock-protected sections (a
lock can stay held, and the cleanup that needs it, a watch's cancel or the
session's revoke, then waits for ever), or inside a callback that swallows
it (an importlib weakref callback: the command goes on as if nothing
happened).  No library can be made safe against an exception at any point,
so the commands never get one.  Instead, as with etcdctl (a Go program):

* A signal that the running command does not catch ends the process at
  once, by that signal (SIG_DFL), as a Go program dies of a signal it did
  not ask for with signal.Notify: `watch`, `lease keep-alive`, `snapshot
  save`, a prompt.  etcd ends the streams of a closed connection, and a
  shell sees the status it sees after etcdctl.  This holds while
  `Interrupts` owns the process (`main()` without arguments, as the
  `pyetcd` script and ``python -m pyetcd_wire`` call it); otherwise the
  caller's handlers stay in place outside the blocks below.
* Where etcdctl catches SIGINT and SIGTERM (signal.Notify in its lock and
  elect commands), and in `pyetcd dev`, the command runs in a `catching()`
  block.  There a signal only has the C-level handler write its number to
  a pipe (``signal.set_wakeup_fd``; the Python-level handler does nothing),
  and a helper thread reading the pipe records it (`received`) and runs the
  block's wake-up: a thread-safe call such as closing an observer or
  setting an event, never code that raises in the main thread.  The main
  thread, woken, cleans up itself (resign, unlock, revoke, stop etcd) and
  ends as etcdctl does.
* `wait_for(fn)` runs a blocking call that nothing can cut short from
  another thread (a campaign, a lock acquisition, waiting for a session to
  be lost, etcd becoming healthy) in a worker thread, while the main thread
  waits for it or for a signal.  On a signal the main thread goes on
  (`SignalCaughtError`) and cleans up with the client still open, usually
  by revoking the session's lease, which takes every key the worker may
  still write with it; the worker ends when the client closes.

Signals are handled by the main thread only; elsewhere (`main` called from
another thread) the blocks do nothing and `wait_for` just calls.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    TypeVar,
    cast,
)

T = TypeVar("T")

# etcdctl's signal.Notify set in lock_command.go and elect_command.go (3.5).
CAUGHT = (signal.SIGINT, signal.SIGTERM)
# What the helper thread reads to stop; no signal has the number 0.
_STOP = b"\0"


class SignalCaughtError(Exception):
    """A caught signal came before what the main thread waited for.  Expected:
    the command cleans up and ends as etcdctl does for that signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum


def _ignore(signum: int, frame: Any) -> None:
    """The Python-level handler inside `catching()`: the work is done by the
    helper thread, woken through the wakeup fd."""


class Interrupts:
    """The signal handling of one command line run; a context manager.

    Args:
        owns_process: outside `catching()` blocks, let a signal end the
            process (SIG_DFL; kept ignored if it was ignored), and let
            `die()` end it by the signal received.
        signals: the signals caught in `catching()` blocks (and defaulted
            outside them when owning the process).

    Attributes:
        received: the first signal caught, or None.
    """

    def __init__(self, *, owns_process: bool, signals: Sequence[int] = CAUGHT) -> None:
        self.received: Optional[int] = None
        self._active = threading.current_thread() is threading.main_thread()
        self._owns = owns_process and self._active
        self._signals = tuple(signals)
        self._lock = threading.Lock()
        self._wake: Optional[Callable[[], None]] = None
        self._depth = 0
        self._saved: Dict[int, Any] = {}
        self._outside: Dict[int, Any] = {}
        self._pipe: Optional[List[int]] = None
        self._saved_fd = -1
        self._helper: Optional[threading.Thread] = None

    def __enter__(self) -> Interrupts:
        if not self._active:
            return self
        self._saved = {s: signal.getsignal(s) for s in self._signals}
        self._outside = dict(self._saved)
        if self._owns:
            for signum, handler in self._saved.items():
                if handler is not signal.SIG_IGN:
                    self._outside[signum] = signal.SIG_DFL
                    signal.signal(signum, signal.SIG_DFL)
        read, write = os.pipe()
        os.set_blocking(write, False)  # set_wakeup_fd requires it
        self._pipe = [read, write]
        self._helper = threading.Thread(
            target=self._listen, args=(read,), name="pyetcd-signals", daemon=True
        )
        self._helper.start()
        self._saved_fd = signal.set_wakeup_fd(write)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pipe is None:
            return
        if not self._owns:  # else keep SIG_DFL: the process is ending
            for signum, handler in self._saved.items():
                signal.signal(signum, handler)
        signal.set_wakeup_fd(self._saved_fd)
        read, write = self._pipe
        self._pipe = None
        os.set_blocking(write, True)
        os.write(write, _STOP)
        assert self._helper is not None
        self._helper.join()
        os.close(read)
        os.close(write)

    def _listen(self, read: int) -> None:
        """The helper thread: each signal number written to the pipe by the
        C-level handler, until `_STOP`."""
        while True:
            data = os.read(read, 64)
            for signum in data:
                if signum == 0:
                    return
                if signum in self._signals:
                    self._caught(signum)

    def _caught(self, signum: int) -> None:
        with self._lock:
            if self.received is None:
                self.received = signum
            wake = self._wake
        if wake is not None:
            wake()

    @contextlib.contextmanager
    def catching(self, wake: Optional[Callable[[], None]] = None) -> Iterator[None]:
        """While the block runs, a signal is recorded in `received` and calls
        `wake` on the helper thread (at once if one was received already),
        instead of ending the process.  Blocks nest: the inner one's `wake`
        replaces the outer one's until it ends.

        `wake` must be thread-safe and quick: it runs while the main thread
        is anywhere in the block.
        """
        if not self._active:
            yield
            return
        with self._lock:
            outer, self._wake = self._wake, wake
            pending = self.received is not None
        if self._depth == 0:  # as Go's signal.Notify, also over SIG_IGN
            for signum in self._signals:
                signal.signal(signum, _ignore)
        self._depth += 1
        try:
            if pending and wake is not None:
                wake()
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                for signum in self._signals:
                    signal.signal(signum, self._outside[signum])
            with self._lock:
                self._wake = outer

    def check(self) -> None:
        """Raise `SignalCaughtError` if a signal was caught.

        Raises:
            SignalCaughtError: one was.
        """
        if self.received is not None:
            raise SignalCaughtError(self.received)

    def wait_for(self, fn: Callable[[], T]) -> T:
        """`fn()`, run in a worker thread, unless a signal comes first (or
        came already).  On a signal the worker is left running: make what it
        waits on end (revoke the session, close the client).

        Raises:
            SignalCaughtError: a signal came first.
            BaseException: what `fn` raised.
        """
        if not self._active:
            return fn()
        done = threading.Event()
        outcome: List[Any] = []

        def work() -> None:
            try:
                outcome.append((True, fn()))
            except BaseException as exc:  # handed to the main thread, or dropped
                outcome.append((False, exc))
            finally:
                done.set()

        worker = threading.Thread(target=work, name="pyetcd-wait", daemon=True)
        with self.catching(done.set):
            self.check()
            worker.start()
            done.wait()
        self.check()
        worker.join()
        finished, value = outcome[0]
        if not finished:
            raise value
        return cast(T, value)

    def die(self) -> None:
        """End the process by the signal received, as etcdctl is ended by a
        signal it does not catch; a no-op unless owning the process."""
        signum = self.received
        if signum is None or not self._owns:
            return
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
