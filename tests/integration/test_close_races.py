"""Connections closed under the calls using them (issue 14): whatever thread
closes a connection, and whenever, the calls on it end with the typed
ConnectionLostError (reads are retried and succeed), never with an OSError
of a socket pulled from under them, and no socket is left open."""

from __future__ import annotations

import contextlib
import random
import threading
import uuid
from typing import Any, Callable, Iterator, List

import pytest

from pyetcd_wire.errors import EtcdError
from pyetcd_wire.testing import EtcdMember
from tests.async_bridge import AnyClient, ClientClass
from tests.helpers import current_connections, internal

#: Connections the test closes under the calls.
CLOSES = 2000
READERS = 3
WRITERS = 2


@pytest.fixture
def client(etcd_single: EtcdMember, client_class: ClientClass) -> Iterator[AnyClient]:
    with client_class(etcd_single.endpoint, timeout=30) as c:
        yield c


def close_one(rand: random.Random) -> Callable[[Any], bool]:
    """Close one open connection, as the client does (the client closing
    it, or giving it up as keepalive does); False if none is open."""

    def close(client: Any) -> bool:
        conns = [c for c in current_connections(client) if c is not None and c.usable]
        if not conns:
            return False
        conn = rand.choice(conns)
        if rand.random() < 0.5:
            conn.close()
        else:
            conn._lost("closed by the test")
        return True

    return close


class Progress:
    """Calls done so far; the closer waits for one more before each close,
    so every close meets calls in flight, and calls still get through."""

    def __init__(self) -> None:
        self._done = 0
        self._changed = threading.Condition()
        self.stop = False

    def one_done(self) -> None:
        with self._changed:
            self._done += 1
            self._changed.notify_all()

    def wait_beyond(self, seen: int) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self._done > seen or self.stop, 30)
            if self._done <= seen and not self.stop:
                raise AssertionError("no call got through in 30 s")
            return self._done


def test_closing_connections_under_calls_and_watches(client: AnyClient) -> None:
    base = f"/close-races/{uuid.uuid4().hex}/"
    client.put(f"{base}read", "v")
    progress = Progress()
    failures: List[BaseException] = []
    revisions: List[int] = []

    def guarded(work: Callable[[int], None]) -> Callable[[int], None]:
        def run(n: int) -> None:
            try:
                while not progress.stop:
                    work(n)
                    progress.one_done()
            except BaseException as exc:  # reported by the test
                failures.append(exc)
                progress.stop = True
                progress.one_done()

        return run

    def read(n: int) -> None:
        assert client.get(f"{base}read").kvs[0].value == b"v"

    def write(n: int) -> None:
        # A typed error is fine: a write is not retried once it may have run.
        with contextlib.suppress(EtcdError):
            client.put(f"{base}w{n}", "x")

    with client.watch(base, prefix=True) as watch:

        def follow(n: int) -> None:
            response = watch.get(timeout=30)
            assert response is not None, "no watch event in 30 s"
            revisions.extend(e.kv.mod_revision for e in response.events)

        threads = [
            threading.Thread(target=guarded(work), args=(n,))
            for work, count in ((read, READERS), (write, WRITERS), (follow, 1))
            for n in range(count)
        ]
        for thread in threads:
            thread.start()
        rand = random.Random(14)
        closer = close_one(rand)
        closed = seen = 0
        try:
            while closed < CLOSES and not progress.stop:
                seen = progress.wait_beyond(seen)
                if internal(client, closer):
                    closed += 1
        finally:
            progress.stop = True
            with contextlib.suppress(EtcdError):
                client.put(f"{base}end", "x")  # the watching thread's last event
            for thread in threads:
                thread.join()
    assert not failures, failures
    assert closed == CLOSES
    assert revisions == sorted(set(revisions)), "the watch lost its order"
    assert client.get(f"{base}read").kvs[0].value == b"v"
