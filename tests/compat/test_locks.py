"""python-etcd3's `Lock` over our client, against a real etcd: its contract
(one key ``/locks/<name>`` holding the holder's uuid, on a lease of `ttl`)
and the fixes over python-etcd3: ``acquire(timeout)`` under contention,
``with lock:`` never running without the lock, no lease lost or leaked."""

from __future__ import annotations

import itertools
import threading
import time
import types
import uuid
from typing import List

import pytest

import pyetcd_wire.compat.etcd3 as etcd3
from pyetcd_wire.compat.etcd3 import locks
from tests.helpers import in_threads, wait_for

#: Seconds that only bound a hang (what must not wait ends far sooner).
HANG_BOUND = 30


@pytest.fixture
def name() -> str:
    return f"compat-{uuid.uuid4().hex}"


def test_the_lock_is_one_key_holding_its_uuid(etcd, name) -> None:
    lock = etcd.lock(name, ttl=10)
    assert isinstance(lock, etcd3.Lock)
    assert lock.key == f"/locks/{name}"
    assert lock.is_acquired() is False
    assert lock.acquire() is True
    assert etcd.get(lock.key)[0] == lock.uuid
    assert lock.is_acquired() is True
    assert lock.release() is True
    assert etcd.get(lock.key) == (None, None)
    assert lock.release() is False


def test_acquire_gives_up_when_its_timeout_passes(etcd, name) -> None:
    """python-etcd3 0.12.0 waited through tenacity, which broke with
    tenacity 7: acquire(timeout) under contention raised instead."""
    holder = etcd.lock(name, ttl=30)
    assert holder.acquire() is True
    other = etcd.lock(name, ttl=30)
    assert other.acquire(timeout=0) is False
    assert other.acquire(timeout=0.5) is False
    assert holder.is_acquired() is True
    holder.release()
    assert other.acquire(timeout=0) is True
    other.release()


def test_a_waiter_takes_the_lock_once_it_is_released(etcd, name) -> None:
    holder = etcd.lock(name, ttl=30)
    holder.acquire()
    waiter = etcd.lock(name, ttl=30)
    results: List[bool] = []
    thread = threading.Thread(target=lambda: results.append(waiter.acquire(None)))
    thread.start()
    wait_for(lambda: waiter.revision != 0, timeout=HANG_BOUND)  # it tried once
    holder.release()
    thread.join(HANG_BOUND)
    assert results == [True]
    assert waiter.is_acquired() is True
    waiter.release()


def test_a_release_before_the_wait_starts_is_not_missed(etcd, name) -> None:
    """python-etcd3 0.12.0 watched from "now": a release between its failed
    try and its watch went unseen, and acquire() waited for good.  The wait
    starts at the revision after the one at which the key was seen held."""
    holder = etcd.lock(name, ttl=30)
    holder.acquire()
    waiter = etcd.lock(name, ttl=30)
    seen = waiter._try_acquire()
    assert seen
    holder.release()  # before the waiter watches
    thread = threading.Thread(target=waiter._wait_for_delete, args=(seen, None))
    thread.start()
    thread.join(HANG_BOUND)
    assert not thread.is_alive()
    assert waiter.acquire(timeout=0) is True
    waiter.release()


def test_with_never_runs_the_block_without_the_lock(etcd, name, monkeypatch) -> None:
    """python-etcd3's __enter__ ignored what acquire() returned, and
    acquire() gives up after 10 s: past that, the block ran unlocked.  The
    locks module's clock jumps 1000 s at each reading here, so any deadline
    in __enter__ would pass at once."""
    clock = itertools.count(time.monotonic(), 1000)
    monkeypatch.setattr(
        locks, "time", types.SimpleNamespace(monotonic=lambda: next(clock))
    )
    holder = etcd.lock(name, ttl=30)
    holder.acquire()
    released = threading.Event()
    observed: List[bool] = []
    waiter = etcd.lock(name, ttl=30)

    def block() -> None:
        with waiter:
            observed.append(released.is_set() and waiter.is_acquired())

    thread = threading.Thread(target=block)
    thread.start()
    wait_for(lambda: waiter.revision != 0, timeout=HANG_BOUND)  # it tried once
    assert observed == []
    released.set()
    holder.release()
    thread.join(HANG_BOUND)
    assert observed == [True]
    assert waiter.is_acquired() is False  # released on the way out


def test_with_keeps_the_lock_past_its_ttl(etcd, name) -> None:
    with etcd.lock(name, ttl=2) as lock:
        for _ in range(4):  # renewals every ttl/3: past the ttl
            assert lock._keep_alive.get(timeout=HANG_BOUND) is not None
        assert lock.is_acquired() is True
    assert lock.is_acquired() is False


def test_acquire_alone_keeps_python_etcd3s_ttl(etcd, name) -> None:
    """Outside ``with``, a lock not refreshed ends after its ttl, as before."""
    lock = etcd.lock(name, ttl=2)
    lock.acquire()
    wait_for(lambda: not lock.is_acquired(), timeout=HANG_BOUND, every=0.2)


def test_a_failed_try_keeps_the_held_lease(etcd, name) -> None:
    """python-etcd3 cleared the lease on a failed try, even of a held lock:
    refresh() then raised."""
    lock = etcd.lock(name, ttl=10)
    assert lock.acquire(0) is True
    assert lock.acquire(0) is False
    [renewed] = lock.refresh()
    assert renewed.TTL == 10
    assert lock.release() is True


def test_no_lease_is_left_behind(etcd, name) -> None:
    def leases() -> set:
        return {lease.ID for lease in etcd._client.leases().leases}

    holder = etcd.lock(name, ttl=30)
    holder.acquire()
    before = leases()
    assert etcd.lock(name, ttl=30).acquire(timeout=0) is False
    assert leases() <= before  # the failed try revoked its own
    lease = holder.lease
    holder.release()
    assert etcd.get_lease_info(lease.id).TTL == -1


def test_refresh_needs_the_lock(etcd, name) -> None:
    with pytest.raises(ValueError, match="No lease associated"):
        etcd.lock(name).refresh()


def test_bytes_names(etcd) -> None:
    lock = etcd.lock(uuid.uuid4().hex.encode(), ttl=10)
    assert lock.key.startswith(b"/locks/")
    assert lock.acquire() is True
    assert lock.release() is True


def test_the_lock_excludes(etcd, name) -> None:
    """Read-modify-write increments under the lock from several threads:
    none is lost."""
    key = f"/compat-count/{name}"
    etcd.put(key, "0")

    def work(_: int) -> None:
        for _ in range(3):
            with etcd.lock(name, ttl=10):
                value, _meta = etcd.get(key)
                etcd.put(key, str(int(value) + 1))

    assert in_threads(work, 4) == []
    assert etcd.get(key)[0] == b"12"
