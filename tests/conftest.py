"""Every test leaves the process as it found it: a socket, transport, file or
thread the test made and did not close fails that test, not a later one.

The process's open descriptors (/proc/self/fd) and live threads are taken
as each test starts (`_leak_check`, the first function-scoped fixture, so
the last torn down) and compared at the end of its teardown.

* A new descriptor may be held by garbage: an object dropped with its
  socket open (a socket, an asyncio transport, a file), which warns when it
  is collected, and the warning is an error (``filterwarnings = error``).
  When that happens is the collector's business: on PyPy often a few tests
  later, so a later test paid for the leak (issue 14).  So the collector
  runs then, in the teardown of the test that dropped it, where pytest
  reports the warning.  (And after each module- or session-scoped
  fixture's teardown, for what that drops.)
* A descriptor still open after that, or a new thread still running after
  `THREAD_GRACE` seconds (a thread the test stopped may be on its way out),
  fails the test, unless it belongs to a module- or session-scoped fixture
  still in use (an etcd cluster that the test restarted a member of, a
  shared client that dialed or started its stream worker during the test):
  reachable from the fixture's value through object references.

And the suite's child processes start with Ctrl-C as a terminal gives it
(`pytest_configure`), however the suite itself was started.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import select
import signal
import socket
import sys
import threading
import time
import types
from collections import deque
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Set, Tuple

import pytest

from tests import missing

#: Collections per check: PyPy may need more than one to run every finalizer
#: (an object's finalizer can keep another alive until the next one).
GC_PASSES = 3 if sys.implementation.name == "pypy" else 1
#: Seconds a thread the test started may take to end after the test.
THREAD_GRACE = 10.0
#: Objects visited at most when looking for what a fixture owns.
WALK_LIMIT = 500_000

_FDS = "/proc/self/fd"
_TRACKED = os.path.isdir(_FDS)
# Not followed when looking for what a fixture value owns: code and classes
# lead to every module's globals, which own nothing of a fixture's.
_OPAQUE = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.CodeType,
    types.FrameType,
    str,
    bytes,
    bytearray,
    int,
    float,
)

# What holds a descriptor; select.epoll only where it exists (gevent's
# monkey-patching removes it: `nox -s gevent`).
_HOLDS_FD = (
    socket.socket,
    io.IOBase,
    *([select.epoll] if hasattr(select, "epoll") else []),
)


class _Snapshot(NamedTuple):
    fds: Dict[int, str]  # descriptor -> what it points at
    threads: Set[threading.Thread]


def _collect_garbage() -> None:
    for _ in range(GC_PASSES):
        gc.collect()


def _open_fds() -> Dict[int, str]:
    fds = {}
    for name in os.listdir(_FDS):
        # OSError: closed meanwhile (the listing's own descriptor).
        with contextlib.suppress(OSError):
            fds[int(name)] = os.readlink(f"{_FDS}/{name}")
    return fds


def _live_fixture_values(item: pytest.Item) -> List[Any]:
    """Values of the test's fixtures that outlive it (and are still set up)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    values = []
    for fixturedefs in info.name2fixturedefs.values():
        for fixturedef in fixturedefs:
            cached = fixturedef.cached_result
            if fixturedef.scope != "function" and cached is not None:
                values.append(cached[0])
    return values


def _owned(roots: Iterable[Any]) -> Tuple[Set[int], Set[threading.Thread]]:
    """Descriptors and threads reachable from `roots`."""
    fds: Set[int] = set()
    threads: Set[threading.Thread] = set()
    seen: Set[int] = set()
    todo = deque(roots)
    while todo and len(seen) < WALK_LIMIT:
        obj = todo.popleft()
        if id(obj) in seen or isinstance(obj, _OPAQUE):
            continue
        if type(obj).__module__.split(".")[0] in ("_pytest", "pluggy"):
            continue
        seen.add(id(obj))
        if isinstance(obj, threading.Thread):
            threads.add(obj)
        elif isinstance(obj, _HOLDS_FD):
            with contextlib.suppress(OSError, ValueError):  # closed
                fds.add(obj.fileno())
        todo.extend(gc.get_referents(obj))
    fds.discard(-1)
    return fds, threads


def _leaks(item: pytest.Item, before: _Snapshot) -> List[str]:
    new_fds = _new_fds(before)
    if new_fds:
        _collect_garbage()  # the garbage's warnings are the test's errors
        new_fds = _new_fds(before)
    new_threads = set(threading.enumerate()) - before.threads
    if not new_fds and not new_threads:
        return []
    owned_fds, owned_threads = _owned(_live_fixture_values(item))
    leaks = [
        f"file descriptor {fd} ({what})"
        for fd, what in sorted(new_fds.items())
        if fd not in owned_fds
    ]
    deadline = time.monotonic() + THREAD_GRACE
    for thread in new_threads - owned_threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            leaks.append(f"thread {thread.name!r} (daemon={thread.daemon})")
    return leaks


def _new_fds(before: _Snapshot) -> Dict[int, str]:
    return {fd: what for fd, what in _open_fds().items() if before.fds.get(fd) != what}


@pytest.fixture(autouse=True)
def _leak_check(request: pytest.FixtureRequest) -> Iterator[None]:
    if not _TRACKED:
        yield
        return
    before = _Snapshot(_open_fds(), set(threading.enumerate()))
    yield
    leaks = _leaks(request.node, before)
    if leaks:
        pytest.fail("the test left open: " + "; ".join(leaks), pytrace=False)


def pytest_fixture_post_finalizer(fixturedef: Any, request: Any) -> None:
    # A module- or session-scoped fixture's teardown: its garbage is its own.
    if fixturedef.scope != "function":
        _collect_garbage()


def pytest_configure(config: pytest.Config) -> None:
    # A suite started in the background of a non-interactive shell (`scripts/test
    # &`) has SIGINT ignored, and a child inherits that: etcdctl and `pyetcd`,
    # which the command-line tests interrupt as a user would, would keep running.
    # A Python-level handler is reset to the default in a child at exec.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    missing.configure(config)
    _hypothesis_without_clocks()


def _hypothesis_without_clocks() -> None:
    """Hypothesis's property tests judge nothing by the clock: its default
    200 ms `deadline` per example and its `too_slow` health check (input
    generation under a second) are timing assertions, which a loaded machine
    or PyPy's JIT warming up fails at random (one draw of an 8-byte key took
    1.0 s on PyPy in a loaded CI-like run).  The properties stay as strict."""
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # a session without the testing extra
        return
    settings.register_profile(
        "pyetcd-wire",
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile("pyetcd-wire")
