"""LeaseManager (`_managers/leases.py`) in memory: fake streams, a manual
clock, no socket and no thread (fakes.py).  Each test drives the manager as a
driver's loop does (`tend`, `read`, `next_wakeup`) and looks at the renewals
sent and what reached the subscriptions."""

from __future__ import annotations

from typing import Optional

import pytest

from pyetcd_wire._core.lease import LostReason
from pyetcd_wire._managers.ports import StreamNotReadyError
from pyetcd_wire._policy.resume import BACKOFF_FIRST
from pyetcd_wire.errors import (
    AuthFailedError,
    ConnectionLostError,
    DeadlineExceededError,
    EtcdError,
    InternalError,
    InvalidAuthTokenError,
    KeepAliveHaltedError,
    LeaseExpiredError,
    LeaseNotFoundError,
    NoLeaderError,
    PermissionDeniedError,
    RemoteProtocolError,
    UnavailableError,
)

from .fakes import LEASE_METADATA, LEASE_PATH, LeaseRig, MemKeepAlive, renewal

TIMEOUT = LeaseRig.FIRST_RESPONSE_TIMEOUT


def loss(box: MemKeepAlive) -> Optional[EtcdError]:
    """What ended the subscription, after the responses it queued."""
    try:
        while box.take() is not None:
            pass
    except EtcdError as exc:
        return exc
    return None


def renewed(rig: LeaseRig, lease_id: int, ttl: int) -> None:
    """The server answers the renewal in flight for `lease_id`."""
    rig.stream.push(renewal(lease_id, ttl))
    assert rig.read() is True


def at(rig: LeaseRig, now: float) -> None:
    rig.now = now
    rig.tend()


# --- the stream's life ---------------------------------------------------------------


def test_no_lease_no_stream() -> None:
    rig = LeaseRig()
    rig.tend()
    assert rig.open.opened == []
    assert rig.read() is False
    assert rig.wake_time() is None


def test_the_first_lease_opens_the_stream_and_is_renewed_at_once() -> None:
    rig = LeaseRig()
    rig.keep_alive(7)
    wakeup = rig.wake_time()
    assert wakeup is not None
    assert wakeup <= rig.now  # due now
    rig.tend()
    (stream,) = rig.open.opened
    assert stream.path == LEASE_PATH
    assert stream.metadata == LEASE_METADATA  # require-leader, as Go
    assert stream.lease_requests() == [7]
    rig.tend()
    assert stream.lease_requests() == [7]  # in flight: never twice
    assert rig.wake_time() == rig.now + TIMEOUT  # the first-response deadline
    assert rig.read() is False


def test_renewals_come_at_a_third_of_the_ttl() -> None:
    rig = LeaseRig()
    box = rig.keep_alive(7)
    rig.tend()
    start = rig.now
    renewed(rig, 7, 9)
    response = box.take()
    assert response is not None
    assert (response.ID, response.TTL) == (7, 9)
    assert box.response is response
    assert rig.wake_time() == start + 3
    at(rig, start + 2.9)
    assert rig.stream.lease_requests() == [7]
    at(rig, start + 3)
    assert rig.stream.lease_requests() == [7, 7]
    rig.now = start + 4
    renewed(rig, 7, 9)
    assert rig.wake_time() == start + 7
    assert rig.stream.consumed == 2
    assert not box.lost


def test_a_ttl_of_zero_means_the_lease_is_lost() -> None:
    rig = LeaseRig()
    box = rig.keep_alive(7)
    rig.tend()
    renewed(rig, 7, 0)
    error = loss(box)
    assert isinstance(error, LeaseExpiredError)
    assert error.lease_id == 7
    assert LostReason.NOT_FOUND.value in str(error)
    assert box.lost
    with pytest.raises(LeaseNotFoundError):
        box._first_renewal_outcome()
    assert len(rig.manager) == 0
    with rig.lock:
        assert rig.manager.remove(box) is False  # lost: forgotten already
    rig.tend()
    assert rig.stream.cancelled  # its last lease is gone
    assert rig.wake_time() is None


def test_no_first_response_before_the_timeout_loses_the_lease() -> None:
    rig = LeaseRig()
    box = rig.keep_alive(7)
    start = rig.now
    rig.tend()
    at(rig, start + TIMEOUT - 0.01)
    assert not box.lost
    assert rig.wake_time() == start + TIMEOUT
    at(rig, start + TIMEOUT)
    error = loss(box)
    assert isinstance(error, LeaseExpiredError)
    assert LostReason.DEADLINE.value in str(error)
    with pytest.raises(LeaseExpiredError) as raised:
        box._first_renewal_outcome()
    assert not isinstance(raised.value, LeaseNotFoundError)
    assert len(rig.manager) == 0
    assert rig.stream.cancelled
    assert rig.stream.lease_requests() == [7]


def test_a_deadline_passed_without_a_renewal_loses_the_lease() -> None:
    rig = LeaseRig()
    box = rig.keep_alive(7)
    other = rig.keep_alive(8)
    start = rig.now
    rig.tend()
    renewed(rig, 7, 9)
    renewed(rig, 8, 60)
    at(rig, start + 3)
    assert rig.stream.lease_requests() == [7, 8, 7]  # unanswered
    assert rig.wake_time() == start + 9
    at(rig, start + 8.99)
    assert not box.lost
    at(rig, start + 9)
    assert box.take() is not None  # the renewal queued before
    assert isinstance(loss(box), LeaseExpiredError)
    assert not other.lost
    assert len(rig.manager) == 1
    assert not rig.stream.cancelled


# --- the stream fails ----------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ConnectionLostError("connection reset"),
        UnavailableError(),
        NoLeaderError(),  # keep-alive retries (a watch would end)
        None,  # the server ended the stream with OK
    ],
    ids=["lost", "unavailable", "no-leader", "ended-ok"],
)
def test_a_stream_reset_resends_the_requests_in_flight(
    error: Optional[EtcdError],
) -> None:
    rig = LeaseRig()
    answered, waiting = rig.keep_alive(7), rig.keep_alive(8)
    start = rig.now
    rig.tend()
    renewed(rig, 7, 30)  # next renewal at +10
    first = rig.stream
    first.end(error)
    assert rig.read() is True
    ((failed, reported, held),) = rig.failed
    assert failed is first
    assert held is False
    if error is not None:
        assert reported is error
    else:
        assert isinstance(reported, InternalError)
    assert rig.wake_time() == pytest.approx(start + BACKOFF_FIRST)
    rig.tend()
    assert rig.open.opened == [first]
    at(rig, start + BACKOFF_FIRST)
    second = rig.stream
    assert second is not first
    assert second.lease_requests() == [8]  # 7 keeps its time
    at(rig, start + 10)
    assert second.lease_requests() == [8, 7]
    # The deadline of 8 was kept: the new stream did not answer in time.
    at(rig, start + TIMEOUT)
    assert isinstance(loss(waiting), LeaseExpiredError)
    assert not answered.lost


@pytest.mark.parametrize(
    "error",
    [RemoteProtocolError("bad frame"), PermissionDeniedError(), AuthFailedError()],
    ids=["protocol", "denied", "auth-failed"],
)
def test_a_halting_end_ends_every_subscription(error: EtcdError) -> None:
    rig = LeaseRig()
    a, b = rig.keep_alive(7), rig.keep_alive(8)
    rig.tend()
    renewed(rig, 7, 30)
    lose = rig.stream
    lose.end(error)
    assert rig.read() is True
    assert a.take() is not None
    for box, lease_id in ((a, 7), (b, 8)):
        halted = loss(box)
        assert isinstance(halted, KeepAliveHaltedError)
        assert halted.reason == str(error)
        assert halted.lease_id == lease_id
    assert len(rig.manager) == 0
    assert rig.wake_time() is None
    rig.tend()
    assert rig.open.opened == [lose]


def test_an_open_failure_backs_off_and_tries_again_or_halts() -> None:
    rig = LeaseRig()
    box = rig.keep_alive(7)
    start = rig.now
    rig.open.fail_next(UnavailableError(), UnavailableError())
    rig.tend()
    at(rig, start + BACKOFF_FIRST - 0.001)
    assert rig.open.failures  # the backoff first
    at(rig, start + BACKOFF_FIRST)
    assert not rig.open.failures
    at(rig, start + 3 * BACKOFF_FIRST - 0.001)
    assert rig.open.opened == []
    at(rig, start + 3 * BACKOFF_FIRST)  # 0.025, then 0.05
    assert rig.stream.lease_requests() == [7]
    assert not box.lost
    rig.stream.end(ConnectionLostError("reset"))
    rig.read()
    error = AuthFailedError()
    rig.open.fail_next(error)
    at(rig, rig.now + 4 * BACKOFF_FIRST)  # the third failure in a row
    halted = loss(box)
    assert isinstance(halted, KeepAliveHaltedError)
    assert halted.reason == str(error)


def test_the_backoff_resets_once_a_response_arrives() -> None:
    rig = LeaseRig()
    rig.keep_alive(7)
    rig.open.fail_next(UnavailableError(), UnavailableError())
    rig.tend()
    at(rig, rig.now + BACKOFF_FIRST)
    at(rig, rig.now + 2 * BACKOFF_FIRST)
    renewed(rig, 7, 60)
    rig.stream.end(ConnectionLostError("reset"))
    rig.read()
    assert rig.wake_time() == pytest.approx(rig.now + BACKOFF_FIRST)


def test_a_stream_not_ready_yet_is_opened_on_a_later_tend_without_backoff() -> None:
    rig = LeaseRig()
    rig.keep_alive(7)
    rig.open.fail_next(StreamNotReadyError())
    rig.tend()
    assert rig.open.opened == []
    rig.tend()
    assert rig.stream.lease_requests() == [7]


@pytest.mark.parametrize("refreshed", [True, False])
def test_a_stream_ended_for_its_stale_token_opens_again_with_a_new_one(
    refreshed: bool,
) -> None:
    rig = LeaseRig()
    box = rig.keep_alive(7)
    rig.tend()
    rig.refresh_answers = [refreshed]
    rig.stream.end(InvalidAuthTokenError())
    rig.read()
    assert rig.refreshed_locked == [False]  # Authenticate: no lock held
    if not refreshed:
        assert isinstance(loss(box), KeepAliveHaltedError)
        return
    at(rig, rig.now + BACKOFF_FIRST)
    assert rig.stream.metadata == (*LEASE_METADATA, ("token", "t1"))
    assert rig.stream.lease_requests() == [7]
    assert not box.lost


def test_a_lease_added_while_the_stream_waits_out_its_backoff_waits_too() -> None:
    rig = LeaseRig()
    rig.keep_alive(7)
    start = rig.now
    rig.tend()
    renewed(rig, 7, 60)
    rig.stream.end(ConnectionLostError("reset"))
    rig.read()
    rig.keep_alive(8)
    rig.tend()
    assert len(rig.open.opened) == 1
    at(rig, start + BACKOFF_FIRST)
    assert rig.stream.lease_requests() == [8]  # 7 keeps its time


def test_a_malformed_response_closes_the_connection_and_halts() -> None:
    rig = LeaseRig()
    box = rig.keep_alive(7)
    rig.tend()
    rig.stream.push(b"\x0a\xff", renewal(7, 30))
    assert rig.read() is True
    (error,) = rig.stream.connection.closed_with
    assert isinstance(error, RemoteProtocolError)
    assert str(error).startswith("LeaseKeepAlive stream: ")
    assert box.take() is not None  # the rest was routed
    halted = loss(box)
    assert isinstance(halted, KeepAliveHaltedError)
    assert halted.reason == str(error)


# --- several subscriptions -----------------------------------------------------------


def test_every_subscription_of_a_lease_gets_each_response() -> None:
    rig = LeaseRig()
    a = rig.keep_alive(7)
    rig.tend()
    b = rig.keep_alive(7)  # joins while the first request is in flight
    rig.tend()
    assert rig.stream.lease_requests() == [7]
    renewed(rig, 7, 30)
    assert [box.take() is not None for box in (a, b)] == [True, True]
    c = rig.keep_alive(7)  # joins a renewed lease: renewed again at once
    rig.tend()
    assert rig.stream.lease_requests() == [7, 7]
    renewed(rig, 7, 30)
    for box in (a, b, c):
        response = box.take()
        assert response is not None
        assert response.TTL == 30
    at(rig, rig.now + 10)
    assert rig.stream.lease_requests() == [7, 7, 7]
    renewed(rig, 7, 0)
    for box in (a, b, c):
        assert isinstance(loss(box), LeaseExpiredError)


def test_removing_the_last_subscription_stops_renewal_and_closes_the_stream() -> None:
    rig = LeaseRig()
    a, b = rig.keep_alive(7), rig.keep_alive(7)
    other = rig.keep_alive(8)
    start = rig.now
    rig.tend()
    renewed(rig, 7, 30)
    renewed(rig, 8, 30)
    a.close()
    at(rig, start + 10)
    assert rig.stream.lease_requests() == [7, 8, 7, 8]  # b still needs it
    b.close()
    other.close()
    assert len(rig.manager) == 0
    # A response in flight for a lease no longer kept alive is dropped.
    before = b.response
    renewed(rig, 7, 45)
    assert b.response is before
    assert b.take() is None  # closed
    rig.tend()
    assert rig.stream.cancelled
    assert rig.wake_time() is None
    at(rig, start + 20)
    assert len(rig.open.opened) == 1
    assert rig.owner.removed == [a, b, other]


def test_closing_a_lost_subscription_leaves_a_new_one_of_the_same_lease() -> None:
    rig = LeaseRig()
    lost = rig.keep_alive(7)
    rig.tend()
    renewed(rig, 7, 0)
    assert lost.lost
    again = rig.keep_alive(7)  # a new entry for the same ID
    lost.close()
    assert len(rig.manager) == 1
    rig.tend()
    assert rig.stream.lease_requests() == [7, 7]
    renewed(rig, 7, 30)
    assert again.take() is not None


def test_a_subscription_closed_before_the_first_renewal_raises_nothing() -> None:
    rig = LeaseRig()
    box = rig.keep_alive(7)
    box.close()
    box._first_renewal_outcome()  # closed by its owner: not an error
    rig.tend()
    assert rig.open.opened == []


def test_no_first_renewal_before_the_caller_gives_up() -> None:
    rig = LeaseRig()
    box = rig.keep_alive(7)
    rig.tend()
    with pytest.raises(DeadlineExceededError):
        box._first_renewal_outcome()
    assert box.closed
    assert len(rig.manager) == 0


def test_halt_and_stop() -> None:
    rig = LeaseRig()
    a, b = rig.keep_alive(7), rig.keep_alive(7)
    c = rig.keep_alive(8)
    with rig.lock:
        rig.manager.halt("the worker failed")
    for box in (a, b, c):
        halted = loss(box)
        assert isinstance(halted, KeepAliveHaltedError)
        assert halted.reason == "the worker failed"
    assert len(rig.manager) == 0
    d = rig.keep_alive(9)
    with rig.lock:
        assert rig.manager.stop() == [d]
    assert not d.lost  # the driver tells it (_on_stopped)
    assert len(rig.manager) == 0


# --- timers --------------------------------------------------------------------------


def test_next_wakeup_is_the_earliest_of_the_backoff_and_the_lease_timers() -> None:
    rig = LeaseRig()
    rig.keep_alive(7)
    start = rig.now
    rig.tend()
    rig.stream.end(ConnectionLostError("reset"))
    rig.read()  # 7 in flight: its deadline stands, the backoff comes first
    assert rig.wake_time() == pytest.approx(start + BACKOFF_FIRST)
    rig.open.fail_next(*[UnavailableError()] * 9)
    for _ in range(9):
        at(rig, rig.wake_time() or 0.0)
    # The backoff (1 s) now ends after the first-response deadline.
    assert rig.now < start + TIMEOUT
    assert rig.wake_time() == pytest.approx(start + TIMEOUT)


def test_a_renewal_due_while_the_stream_is_down_does_not_make_the_loop_spin() -> None:
    rig = LeaseRig()
    rig.keep_alive(7)
    start = rig.now
    rig.tend()
    renewed(rig, 7, 9)  # next renewal at +3, deadline +9
    rig.stream.end(ConnectionLostError("etcd stopped"))
    rig.read()
    rig.open.fail_next(*[ConnectionLostError("refused")] * 20)
    rig.now = start + 3.0  # the renewal falls due; the stream is still down
    while rig.now < start + 5.0:
        rig.tend()
        wakeup = rig.wake_time()
        assert wakeup is not None
        assert wakeup > rig.now, "tend must not be asked for again at once"
        rig.now = wakeup


def test_a_stream_not_ready_asks_for_no_timer() -> None:
    rig = LeaseRig()
    rig.keep_alive(7)
    start = rig.now
    rig.tend()
    renewed(rig, 7, 9)  # next renewal at +3, deadline +9
    rig.stream.end(ConnectionLostError("reset"))
    rig.read()
    rig.now += 1.0
    rig.open.fail_next(StreamNotReadyError())
    rig.tend()
    # No backoff timer, nor the renewal (no stream to send it on): the deadline.
    assert rig.wake_time() == start + 9
