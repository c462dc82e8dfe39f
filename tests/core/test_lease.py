"""KeepAliveState: cadence, loss, wakeups and stream resets, with time as numbers."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyetcd_wire._core.lease import (
    FIRST_RESPONSE_TIMEOUT,
    TRANSITIONS,
    KeepAliveState,
    LeaseStatus,
    LostReason,
)
from pyetcd_wire.errors import LocalProtocolError


def run_until(
    state: KeepAliveState, now: float, until: float
) -> Tuple[float, List[Tuple[float, str, List[int]]]]:
    """Plays the driver's timer: wake at each next_wakeup up to `until`."""
    log: List[Tuple[float, str, List[int]]] = []
    while True:
        wakeup = state.next_wakeup(now)
        if wakeup is None or wakeup > until:
            return until, log
        now = max(now, wakeup)
        log.append((now, "lost", state.expired(now)))
        log.append((now, "send", state.due(now)))
        after = state.next_wakeup(now)
        assert after is None or after > now, "the timer would spin"


# --- first send, cadence ---------------------------------------------------------


def test_first_send_is_immediate() -> None:
    state = KeepAliveState()
    assert state.add(7, 100.0) is True
    assert state.next_wakeup(100.0) == 100.0
    assert state.due(100.0) == [7]
    snap = state.lease(7)
    assert snap is not None
    assert snap.status is LeaseStatus.PENDING
    assert snap.in_flight
    assert snap.deadline == 100.0 + FIRST_RESPONSE_TIMEOUT


def test_in_flight_request_is_not_sent_again() -> None:
    state = KeepAliveState()
    state.add(7, 0.0)
    assert state.due(0.0) == [7]
    assert state.due(0.0) == []
    assert state.due(4.9) == []
    # Only the deadline remains to wake for.
    assert state.next_wakeup(0.0) == FIRST_RESPONSE_TIMEOUT


@pytest.mark.parametrize("ttl", [1, 2, 3, 9, 10, 60, 3600])
def test_cadence_is_ttl_over_three_for_many_rounds(ttl: int) -> None:
    state = KeepAliveState()
    state.add(1, 0.0)
    now = 0.0
    sends: List[float] = []
    for _ in range(200):
        wakeup = state.next_wakeup(now)
        assert wakeup is not None
        now = wakeup
        assert state.expired(now) == []
        assert state.due(now) == [1]
        sends.append(now)
        delivery = state.received(1, ttl, now)  # answered at once
        assert delivery is not None
        assert delivery.status is LeaseStatus.ALIVE
        assert not delivery.lost
        assert delivery.deadline == now + ttl
        assert delivery.ttl == ttl
    gaps = [b - a for a, b in zip(sends, sends[1:])]
    assert gaps == pytest.approx([ttl / 3] * len(gaps))
    assert sends[0] == 0.0


def test_response_delay_shifts_schedule_and_deadline() -> None:
    state = KeepAliveState()
    state.add(1, 0.0)
    state.due(0.0)
    state.received(1, 30, 2.5)
    snap = state.lease(1)
    assert snap is not None
    assert snap.status is LeaseStatus.ALIVE
    assert snap.ttl == 30
    assert snap.next_send == 12.5
    assert snap.deadline == 32.5
    assert state.due(12.4) == []
    assert state.due(12.5) == [1]


# --- subscribers ------------------------------------------------------------------


def test_duplicate_add_shares_one_entry() -> None:
    state = KeepAliveState()
    assert state.add(5, 0.0) is True
    assert state.due(0.0) == [5]
    assert state.add(5, 1.0) is False
    assert len(state) == 1
    snap = state.lease(5)
    assert snap is not None
    assert snap.subscribers == 2
    assert snap.in_flight  # joining does not resend
    assert state.due(1.0) == []
    delivery = state.received(5, 9, 1.0)
    assert delivery is not None
    assert delivery.subscribers == 2


def test_joining_a_renewed_lease_renews_it_now() -> None:
    """A new subscriber's first renewal comes soon, not at the next TTL/3."""
    state = KeepAliveState()
    state.add(5, 0.0)
    assert state.due(0.0) == [5]
    assert state.received(5, 30, 0.5) is not None  # next due at 10.5
    assert state.add(5, 2.0) is False
    snap = state.lease(5)
    assert snap is not None
    assert snap.next_send == 2.0
    assert snap.deadline == 30.5  # unchanged
    assert state.next_wakeup(2.0) == 2.0
    assert state.due(2.0) == [5]


def test_remove_decrements_then_forgets() -> None:
    state = KeepAliveState()
    for _ in range(3):
        state.add(5, 0.0)
    assert state.remove(5) is False
    assert state.remove(5) is False
    assert 5 in state
    assert state.remove(5) is True
    assert 5 not in state
    assert state.lease(5) is None
    assert state.next_wakeup(0.0) is None
    assert state.remove(5) is False  # unknown: nothing to do


def test_response_after_remove_is_dropped() -> None:
    state = KeepAliveState()
    state.add(5, 0.0)
    state.due(0.0)
    assert state.remove(5) is True
    assert state.received(5, 10, 0.1) is None
    assert state.received(99, 10, 0.1) is None


def test_leases_are_independent() -> None:
    state = KeepAliveState()
    state.add(1, 0.0)
    state.add(2, 1.0)
    assert state.lease_ids() == [1, 2]
    assert state.due(0.5) == [1]
    assert state.due(1.0) == [2]
    state.received(1, 3, 1.0)  # next send at 2.0
    state.received(2, 30, 1.0)  # next send at 11.0
    assert state.next_wakeup(1.0) == 2.0
    assert state.due(2.0) == [1]
    assert state.next_wakeup(2.0) == 4.0  # lease 1's deadline
    assert state.expired(4.0) == [1]
    assert state.lease_ids() == [2]


# --- loss -------------------------------------------------------------------------


@pytest.mark.parametrize("ttl", [0, -1])
@pytest.mark.parametrize("renewed_before", [False, True])
def test_ttl_zero_or_below_is_lost(ttl: int, renewed_before: bool) -> None:
    state = KeepAliveState()
    state.add(3, 0.0)
    state.add(3, 0.0)
    state.due(0.0)
    now = 0.0
    if renewed_before:
        state.received(3, 6, 0.0)
        now = 2.0
        assert state.due(now) == [3]
    delivery = state.received(3, ttl, now)
    assert delivery is not None
    assert delivery.lost
    assert delivery.status is LeaseStatus.LOST
    assert delivery.reason is LostReason.NOT_FOUND
    assert "expired or was revoked" in delivery.reason.value
    assert delivery.subscribers == 2
    assert delivery.ttl == ttl
    assert 3 not in state
    assert state.next_wakeup(now) is None
    assert state.expired(1e9) == []  # reported once
    assert state.received(3, ttl, now) is None


def test_missed_first_deadline_is_lost() -> None:
    state = KeepAliveState(first_response_timeout=2.0)
    state.add(4, 10.0)
    assert state.due(10.0) == [4]
    assert state.next_wakeup(10.0) == 12.0
    assert state.expired(11.99) == []
    assert state.expired(12.0) == [4]
    assert 4 not in state
    assert state.expired(13.0) == []


def test_missed_deadline_after_renewals_is_lost() -> None:
    state = KeepAliveState()
    state.add(4, 0.0)
    state.due(0.0)
    state.received(4, 6, 0.0)
    assert state.due(2.0) == [4]  # sent; the answer never comes
    assert state.next_wakeup(2.0) == 6.0
    assert state.expired(5.999) == []
    assert state.expired(6.0) == [4]
    assert state.received(4, 6, 6.5) is None  # too late: already reported


def test_readd_after_loss_starts_fresh() -> None:
    state = KeepAliveState()
    state.add(4, 0.0)
    state.due(0.0)
    state.received(4, 0, 0.1)
    assert state.add(4, 1.0) is True
    snap = state.lease(4)
    assert snap is not None
    assert snap.status is LeaseStatus.PENDING
    assert snap.subscribers == 1
    assert state.due(1.0) == [4]


def test_transition_table() -> None:
    assert set(TRANSITIONS.values()) <= {LeaseStatus.ALIVE, LeaseStatus.LOST}
    assert not any(status is LeaseStatus.LOST for status, _ in TRANSITIONS)
    from pyetcd_wire._core import lease as core_lease

    with pytest.raises(LocalProtocolError, match="no transition from LOST"):
        core_lease._transition(LeaseStatus.LOST, core_lease._Input.RENEWED)


# --- next_wakeup ------------------------------------------------------------------


def test_next_wakeup_is_earliest_of_sends_and_deadlines() -> None:
    state = KeepAliveState(first_response_timeout=100.0)
    assert state.next_wakeup(0.0) is None
    state.add(1, 0.0)
    state.add(2, 0.0)
    state.due(0.0)
    assert state.next_wakeup(0.0) == 100.0  # both in flight: deadlines only
    state.received(1, 60, 1.0)  # send 21, deadline 61
    assert state.next_wakeup(1.0) == 21.0
    state.due(21.0)
    assert state.next_wakeup(21.0) == 61.0  # 1 in flight again: deadline 61
    state.received(2, 3, 22.0)  # send 23, deadline 25
    assert state.next_wakeup(22.0) == 23.0


def test_next_wakeup_is_past_now_after_servicing() -> None:
    state = KeepAliveState()
    state.add(1, 0.0)
    state.add(2, 0.0)
    now, _ = run_until(state, 0.0, 0.0)
    wakeup = state.next_wakeup(now)
    assert wakeup is not None
    assert wakeup > now


# --- stream reset -----------------------------------------------------------------


def test_stream_reset_resends_in_flight_and_keeps_deadlines() -> None:
    state = KeepAliveState()
    state.add(1, 0.0)
    state.add(2, 0.0)
    state.add(3, 0.0)
    assert state.due(0.0) == [1, 2, 3]
    state.received(2, 30, 0.5)  # 2 answered: next send 10.5, not in flight
    state.received(3, 9, 0.5)
    assert state.due(3.5) == [3]  # 3 in flight again
    before = {i: state.lease(i) for i in (1, 2, 3)}

    assert state.stream_reset(4.0) == [1, 3]
    assert state.due(4.0) == [1, 3]
    assert state.due(4.0) == []
    for lease_id in (1, 2, 3):
        snap, old = state.lease(lease_id), before[lease_id]
        assert snap is not None
        assert old is not None
        assert snap.deadline == old.deadline
    snap2 = state.lease(2)
    assert snap2 is not None
    assert snap2.next_send == 10.5


def test_stream_reset_cannot_save_a_lease_past_its_deadline() -> None:
    state = KeepAliveState(first_response_timeout=1.0)
    state.add(1, 0.0)
    state.due(0.0)
    state.stream_reset(0.5)
    assert state.due(0.5) == [1]
    assert state.expired(1.0) == [1]


def test_halt_forgets_everything() -> None:
    state = KeepAliveState()
    state.add(1, 0.0)
    state.add(2, 0.0)
    assert state.halt() == [1, 2]
    assert len(state) == 0
    assert state.next_wakeup(0.0) is None


def test_first_response_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="first_response_timeout must be > 0"):
        KeepAliveState(first_response_timeout=0)


def test_reprs() -> None:
    state = KeepAliveState()
    state.add(1, 0.0)
    assert "PENDING" in repr(state.lease(1))
    state.due(0.0)
    assert "ALIVE" in repr(state.received(1, 5, 0.0))


# --- the invariant over random runs -----------------------------------------------

IDS = st.integers(min_value=1, max_value=4)
OPS = st.one_of(
    st.tuples(st.just("add"), IDS),
    st.tuples(st.just("remove"), IDS),
    st.tuples(st.just("advance"), st.floats(min_value=0.0, max_value=8.0)),
    st.tuples(st.just("respond"), IDS, st.integers(min_value=-1, max_value=12)),
    st.tuples(st.just("reset"), st.just(0)),
)


class _Model:
    """What a correct keep-alive must look like, tracked independently."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.subscribers: Dict[int, int] = {}
        self.deadline: Dict[int, float] = {}
        self.next_send: Dict[int, Optional[float]] = {}
        self.in_flight: Set[int] = set()  # sent on the current stream, unanswered
        self.lost_events: List[Tuple[int, float]] = []

    def earliest(self) -> Optional[float]:
        times = list(self.deadline.values())
        times += [t for t in self.next_send.values() if t is not None]
        return min(times) if times else None


def _service(state: KeepAliveState, model: _Model, now: float) -> None:
    """The timer fired at `now`: report losses, then send what is due."""
    for lease_id in state.expired(now):
        assert lease_id in model.deadline, "lost twice, or never kept alive"
        assert model.deadline[lease_id] == now, "loss reported late or early"
        model.lost_events.append((lease_id, now))
        _forget(model, lease_id)
    for lease_id in state.due(now):
        assert lease_id not in model.in_flight, "sent twice while in flight"
        due_at = model.next_send[lease_id]
        assert due_at is not None
        assert due_at <= now
        model.in_flight.add(lease_id)
        model.next_send[lease_id] = None
    # Nothing due or expired remains; the timer would sleep past `now`.
    wakeup = state.next_wakeup(now)
    assert wakeup == model.earliest()
    assert wakeup is None or wakeup > now


def _forget(model: _Model, lease_id: int) -> None:
    del model.subscribers[lease_id]
    del model.deadline[lease_id]
    del model.next_send[lease_id]
    model.in_flight.discard(lease_id)


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(OPS, max_size=60),
    timeout=st.sampled_from([0.5, 2.0, FIRST_RESPONSE_TIMEOUT]),
)
def test_every_lease_is_renewed_in_time_or_lost_exactly_once(
    ops: List[Tuple[Any, ...]], timeout: float
) -> None:
    state = KeepAliveState(first_response_timeout=timeout)
    model = _Model(timeout)
    now = 0.0
    for op in ops:
        kind = op[0]
        if kind == "add":
            lease_id = op[1]
            new = state.add(lease_id, now)
            assert new is (lease_id not in model.subscribers)
            if new:
                model.subscribers[lease_id] = 1
                model.deadline[lease_id] = now + timeout
                model.next_send[lease_id] = now
            else:
                model.subscribers[lease_id] += 1
                due_at = model.next_send[lease_id]
                if due_at is not None:  # not in flight: due now, for the joiner
                    model.next_send[lease_id] = min(due_at, now)
        elif kind == "remove":
            lease_id = op[1]
            last = state.remove(lease_id)
            if lease_id in model.subscribers:
                model.subscribers[lease_id] -= 1
                assert last is (model.subscribers[lease_id] == 0)
                if last:
                    _forget(model, lease_id)
            else:
                assert last is False
        elif kind == "advance":
            until = now + op[1]
            while True:  # the driver's timer thread, sleeping exactly enough
                wakeup = state.next_wakeup(now)
                if wakeup is None or wakeup > until:
                    break
                now = max(now, wakeup)
                _service(state, model, now)
            now = until
        elif kind == "respond":
            lease_id, ttl = op[1], op[2]
            if lease_id not in model.in_flight:
                continue  # the server answers only what was sent
            model.in_flight.discard(lease_id)
            delivery = state.received(lease_id, ttl, now)
            assert delivery is not None
            assert delivery.lease_id == lease_id
            assert delivery.subscribers == model.subscribers[lease_id]
            if ttl > 0:
                assert delivery.status is LeaseStatus.ALIVE
                assert model.deadline[lease_id] > now, "renewed after its expiry"
                model.deadline[lease_id] = now + ttl
                model.next_send[lease_id] = now + ttl / 3
            else:
                assert delivery.status is LeaseStatus.LOST
                assert delivery.reason is LostReason.NOT_FOUND
                model.lost_events.append((lease_id, now))
                _forget(model, lease_id)
        else:  # reset: the old stream's requests are gone, resend them
            resent = state.stream_reset(now)
            assert sorted(resent) == sorted(model.in_flight)
            for lease_id in model.in_flight:
                model.next_send[lease_id] = now
            model.in_flight.clear()
        _service(state, model, now)
        # Every lease still kept alive is within its deadline.
        for lease_id, deadline in model.deadline.items():
            assert deadline > now
            snap = state.lease(lease_id)
            assert snap is not None
            assert snap.deadline == deadline
            assert snap.subscribers == model.subscribers[lease_id]
            assert snap.in_flight is (lease_id in model.in_flight)
        assert sorted(state.lease_ids()) == sorted(model.subscribers)

    # Let the clock run out: every remaining lease is lost exactly once.
    remaining = set(model.deadline)
    reported_before = len(model.lost_events)
    _, log = run_until(state, now, now + 10_000.0)
    lost_at_end = [i for _, what, ids in log if what == "lost" for i in ids]
    assert sorted(lost_at_end) == sorted(remaining)
    assert len(model.lost_events) == reported_before
    assert len(state) == 0
