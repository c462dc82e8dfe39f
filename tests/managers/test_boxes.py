"""The user's end of a watch and of a keep-alive (`_managers/boxes.py`): the
queue, the end, and what each tells its worker; without a driver (the boxes
of fakes.py wake nobody, and their worker records)."""

from __future__ import annotations

import os

import pytest

from pyetcd_wire._core.lease import LostReason
from pyetcd_wire._core.watch import WatchStream
from pyetcd_wire._managers.boxes import MAX_QUEUED
from pyetcd_wire.errors import (
    CompactedError,
    DeadlineExceededError,
    KeepAliveHaltedError,
    LeaseExpiredError,
    LeaseNotFoundError,
    ParentProcessError,
    PermissionDeniedError,
)

from .fakes import (
    CheckedLock,
    MemKeepAlive,
    MemWatch,
    Owner,
    create,
    events_at,
    renewal,
    revisions,
)


def new_watch() -> MemWatch:
    return MemWatch(Owner(CheckedLock()), WatchStream().add(create()))


def new_keep_alive(lease_id: int = 7) -> MemKeepAlive:
    return MemKeepAlive(Owner(CheckedLock()), lease_id)


# --- WatchBox ---------------------------------------------------------------------


def test_a_watch_queues_responses_in_order_and_reports_their_bytes_as_taken() -> None:
    worker = Owner(CheckedLock())
    box = MemWatch(worker, WatchStream().add(create()))
    assert box.watch_id == 1
    assert box._take() == (False, None)  # nothing yet: wait
    assert box._on_response(events_at(1, 11), 100)
    assert box._on_response(events_at(1, 12), 0)  # no backlog bytes (progress)
    assert box._on_response(events_at(1, 13), 50)
    assert box.notified == 3
    assert [revisions(r) for r in box.take_all()] == [[11], [12], [13]]
    assert worker.taken == [100, 50]


def test_created_is_confirmed_and_repr_says_so() -> None:
    box = new_watch()
    assert "creating" in repr(box)
    assert not box._created_or_ended()
    box._on_created(42)
    assert box.created_revision == 42
    assert box._created_or_ended()
    box._creation_outcome()  # created: returns
    assert "created" in repr(box)


def test_the_error_that_ended_a_watch_comes_after_the_queued_responses() -> None:
    box = new_watch()
    box._on_response(events_at(1, 11), 10)
    error = CompactedError(compact_revision=9)
    box._on_end(error)
    box._on_end(None)  # the first end stands
    assert box.ended
    assert box.error is error
    assert revisions(box.take()) == [11]
    with pytest.raises(CompactedError):
        box.take()
    with pytest.raises(CompactedError):  # and again
        box.take()


def test_a_watch_ended_without_error_just_stops() -> None:
    box = new_watch()
    box._on_response(events_at(1, 11), 10)
    box._on_end(None)
    assert box._has_news()
    assert [revisions(r) for r in box.take_all()] == [[11]]
    assert box._take() == (True, None)
    assert "ended" in repr(box)


def test_cancel_drops_the_queue_gives_its_bytes_back_and_is_idempotent() -> None:
    worker = Owner(CheckedLock())
    watcher = WatchStream().add(create())
    box = MemWatch(worker, watcher)
    box._on_response(events_at(1, 11), 100)
    box._on_response(events_at(1, 12), 20)
    box.cancel()
    box.cancel()
    assert worker.taken == [120]
    assert worker.cancelled == [box]  # once
    assert box.ended
    assert box._take() == (True, None)
    assert box._on_response(events_at(1, 13), 5) is False  # not queued
    assert worker.taken == [120]


def test_a_cancel_with_nothing_queued_reports_no_bytes() -> None:
    worker = Owner(CheckedLock())
    box = MemWatch(worker, WatchStream().add(create()))
    box.cancel()
    assert worker.taken == []
    assert len(worker.cancelled) == 1


def test_a_creation_refused_raises_the_refusal_and_cancels() -> None:
    worker = Owner(CheckedLock())
    box = MemWatch(worker, WatchStream().add(create()))
    box._on_end(PermissionDeniedError())
    with pytest.raises(PermissionDeniedError):
        box._creation_outcome()
    assert len(worker.cancelled) == 1


def test_a_creation_not_confirmed_in_time_raises_deadline_exceeded() -> None:
    worker = Owner(CheckedLock())
    box = MemWatch(worker, WatchStream().add(create()))
    with pytest.raises(DeadlineExceededError, match="watch 1 to be created"):
        box._creation_outcome()
    assert box.ended
    assert len(worker.cancelled) == 1


def test_an_orphaned_watch_belongs_to_the_parent() -> None:
    worker = Owner(CheckedLock())
    box = MemWatch(worker, WatchStream().add(create()))
    box._on_response(events_at(1, 11), 10)
    box._orphan()
    with pytest.raises(ParentProcessError) as raised:
        box.take()
    assert raised.value.owner_pid == os.getppid()
    box.cancel()
    assert worker.taken == []
    assert worker.cancelled == []


# --- KeepAliveBox -------------------------------------------------------------------


def test_a_keep_alive_keeps_only_the_newest_responses_and_counts_the_others() -> None:
    box = new_keep_alive()
    for ttl in range(1, MAX_QUEUED + 4):
        box._on_response(renewal(7, ttl))
    assert box.skipped == 3
    assert box.response is not None
    assert box.response.TTL == MAX_QUEUED + 3
    ttls = []
    while (response := box.take()) is not None:
        ttls.append(response.TTL)
    assert ttls == list(range(4, MAX_QUEUED + 4))
    assert box._take_locked() == (False, None)


def test_a_lost_lease_raises_after_the_queued_responses() -> None:
    box = new_keep_alive()
    box._on_response(renewal(7, 9))
    error = LeaseExpiredError("gone", lease_id=7)
    box._on_lost(error, LostReason.DEADLINE)
    box._on_lost(KeepAliveHaltedError("later"))  # the first loss stands
    assert box.lost
    assert box.lost_reason == "gone"
    assert "lost" in repr(box)
    assert box.take() is not None
    with pytest.raises(LeaseExpiredError):
        box.take()


@pytest.mark.parametrize(
    ("reason", "raised"),
    [
        (LostReason.NOT_FOUND, LeaseNotFoundError),
        (LostReason.DEADLINE, LeaseExpiredError),
        (None, KeepAliveHaltedError),
    ],
)
def test_the_first_renewal_outcome_says_why_there_is_none(
    reason: LostReason, raised: type
) -> None:
    worker = Owner(CheckedLock())
    box = MemKeepAlive(worker, 7)
    error = (
        KeepAliveHaltedError("halted")
        if reason is None
        else LeaseExpiredError("lost", lease_id=7)
    )
    box._on_lost(error, reason)
    with pytest.raises(raised) as caught:
        box._first_renewal_outcome()
    if raised is LeaseNotFoundError:
        assert caught.value.__cause__ is error
    else:
        assert caught.value is error
    assert worker.removed == [box]  # closed


def test_the_first_renewal_came() -> None:
    worker = Owner(CheckedLock())
    box = MemKeepAlive(worker, 7)
    box._on_response(renewal(7, 9))
    assert box._answered_or_over()
    box._first_renewal_outcome()
    assert worker.removed == []


def test_no_first_renewal_in_time_raises_deadline_exceeded_and_closes() -> None:
    worker = Owner(CheckedLock())
    box = MemKeepAlive(worker, 0x2A)
    assert not box._answered_or_over()
    with pytest.raises(DeadlineExceededError, match="lease 2a"):
        box._first_renewal_outcome()
    assert box.closed
    assert worker.removed == [box]


def test_close_stops_reading_once_and_stopped_is_no_loss() -> None:
    worker = Owner(CheckedLock())
    box = MemKeepAlive(worker, 7)
    box._on_response(renewal(7, 9))
    box.close()
    box.close()
    assert worker.removed == [box]
    assert box._take_locked() == (True, None)
    assert "closed" in repr(box)
    stopped = new_keep_alive()
    stopped._on_stopped()
    assert stopped.closed
    assert not stopped.lost
    assert stopped._has_news()
    stopped._first_renewal_outcome()  # closed without error: returns


def test_an_orphaned_keep_alive_belongs_to_the_parent() -> None:
    worker = Owner(CheckedLock())
    box = MemKeepAlive(worker, 7)
    box._orphan()
    assert box.lost
    with pytest.raises(ParentProcessError):
        box.take()
    box.close()
    assert worker.removed == []
