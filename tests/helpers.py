"""Helpers shared by the test modules."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import Any, Callable, List, Optional, Sequence, TypeVar

from pyetcd_wire._sync.lease_keepalive import KeepAlive
from pyetcd_wire._sync.reader_role import WORKER
from pyetcd_wire._sync.watch import Watch
from pyetcd_wire.testing import EtcdMember
from pyetcd_wire.testing._etcd_process import _free_ports
from tests.async_bridge import BlockingAsyncClient, BlockingStream, gather, on_loop

T = TypeVar("T")


def wait_for(
    condition: Callable[[], object], timeout: float = 5.0, *, every: float = 0.005
) -> None:
    """Poll `condition` (each `every` seconds) until it is true; fail the test
    after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        time.sleep(every)


def exit_status(pid: int, deadline: float) -> int:
    """The exit status of child process `pid`; one still running at
    `deadline` (monotonic) is killed and reported as -9 (hung)."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return -9
        time.sleep(0.02)


def in_threads(work: Callable[[int], None], count: int) -> List[BaseException]:
    """Run `work(0)` … `work(count - 1)` on `count` threads at once and wait
    for them; returns what they raised (so a test can assert it is empty)."""
    errors: List[BaseException] = []

    def run(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:  # reported to the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def at_once(client: Any, calls: Sequence[Callable[[Any], T]], workers: int) -> List[T]:
    """Each of `calls` applied to `client`, by `workers` callers at once, in
    each client's own way: threads for the sync client, tasks on its loop
    for a bridged AsyncClient (see `tests.async_bridge.gather`).  Returns
    the results in the order of `calls`; raises the first error."""
    if isinstance(client, BlockingAsyncClient):
        return gather(client, calls, workers)
    results: List[Any] = [None] * len(calls)

    def work(first: int) -> None:
        for i in range(first, len(calls), workers):
            results[i] = calls[i](client)

    errors = in_threads(work, workers)
    if errors:
        raise errors[0]
    return results


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now (the test kit's pick)."""
    return _free_ports(1)[0]


def current_connections(client: Any) -> List[Any]:
    """The connection each channel of a Client or AsyncClient gives new calls
    now (None: none yet), its calls' and its stream worker's: a lost or
    refused connection is replaced, so a list that stays the same means none
    was."""
    pools = [client._pool]
    if client._worker is not None:
        pools.append(client._worker._pool)
    return [
        getattr(channel, "current", None) or getattr(channel, "_current", None)
        for pool in pools
        for channel in pool.channels()
    ]


def internal(obj: Any, read: Callable[[Any], T]) -> T:
    """`read(obj)`, for either client (or a watch or keep-alive of one): a
    sync object is read as it is; for one behind the blocking bridge `read`
    gets the AsyncClient (AsyncWatch, ...) itself and runs on its event
    loop, where its internals change (as `client._worker._watches.stream`)."""
    if isinstance(obj, (BlockingAsyncClient, BlockingStream)):
        return on_loop(obj, read)
    return read(obj)


def waiting_in_get(stream: Any) -> bool:
    """True while a thread (behind the bridge: a task) waits for news in
    `get()` or iteration of a watch or keep-alive subscription, of either
    client: what a test that stops one there waits for, instead of a sleep
    that under load may end before the waiter got there.

    A sync watch's waiter sleeps as a follower or holds the reader role
    (reader_role.py): with one waiter and no other reader, a role held by a
    user thread is held by it."""

    def waiting(s: Any) -> bool:
        if isinstance(s, Watch):
            holder = s._stream_worker._role.holder
            return bool(s._sleepers) or holder not in (None, WORKER)
        if isinstance(s, KeepAlive):
            return bool(s._cond._waiters)  # threading.Condition's own list
        return bool(s._waiters._futures)  # AsyncWatch, AsyncKeepAlive

    return internal(stream, waiting)


def token_deleted(member: EtcdMember, token: str) -> bool:
    """True once etcd deleted a simple token, as its log says at level info
    (etcd 3.4 and 3.5: "deleted a simple token"): it expired unused, at etcd's
    once-a-second sweep after its TTL.  What a test of expiry waits for: a
    sleep past the TTL ends too soon if the sweep is late, and a call that
    tries the token renews it."""
    with open(member.log_path, encoding="utf-8", errors="replace") as log:
        return any(
            "deleted a simple token" in line and f'"token":"{token}"' in line
            for line in log
        )


def keep_alive_subscriptions(client: Any, lease_id: int) -> int:
    """How many keep-alive subscriptions a client (either, bridged or not)
    has for a lease: 0 once none is left behind."""

    def count(c: Any) -> int:
        lease = c._worker and c._worker._leases._core.lease(lease_id)
        return lease.subscribers if lease else 0

    return internal(client, count)


class Acceptor:
    """A listener (by default TCP on 127.0.0.1, a free port) whose thread
    accepts connections and runs `handle(conn)` on a thread of its own for
    each; the connection is closed when `handle` returns.  What `handle`
    raises is not caught: pytest reports a thread's exception as an error.

    `close()` wakes the accept (shutdown(): close() alone leaves the thread
    blocked in accept() for good), shuts down every connection it accepted
    and every socket given to `track` (waking a `handle` blocked reading
    one), and joins every thread, so that their sockets are closed before
    the leak check looks (on a loaded machine a thread could still be about
    to close one)."""

    def __init__(
        self,
        handle: Callable[[socket.socket], None],
        listener: Optional[socket.socket] = None,
    ) -> None:
        self.listener = listener or socket.create_server(("127.0.0.1", 0))
        #: "127.0.0.1:PORT" (None for a unix socket).
        self.address: Optional[str] = None
        if self.listener.family != socket.AF_UNIX:
            host, port = self.listener.getsockname()[:2]
            self.address = f"{host}:{port}"
        #: Connections accepted so far.
        self.count = 0
        self._handle = handle
        self._sockets: List[socket.socket] = []
        self._threads: List[threading.Thread] = []
        self._spawn(self._accept)

    def track(self, sock: socket.socket) -> None:
        """Shut `sock` down too on `close()` (a handler's own socket)."""
        self._sockets.append(sock)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.count += 1
            self.track(conn)
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            self._handle(conn)

    def close(self, timeout: float = 10.0) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        self._threads[0].join(timeout)
        self.listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):  # closed, or detached (TLS)
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads[1:]:
            thread.join(timeout)
        alive = [thread for thread in self._threads if thread.is_alive()]
        assert not alive, f"a connection's handler never ended: {alive}"


def count_dialed_sockets(monkeypatch: Any) -> List[Any]:
    """Every socket the sync driver dials from now on, wrapped as it is dialed
    in a `CountingSocket` (benchmarks/_counting.py) that counts its syscalls."""
    from benchmarks._counting import CountingSocket
    from pyetcd_wire._sync import transport

    dialed: List[Any] = []
    connect = transport.connect

    def counted_connect(*args: Any, **kwargs: Any) -> Any:
        dialed.append(CountingSocket(connect(*args, **kwargs)))
        return dialed[-1]

    monkeypatch.setattr(transport, "connect", counted_connect)
    return dialed
