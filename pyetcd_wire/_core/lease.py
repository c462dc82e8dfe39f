"""Keep-alive bookkeeping for every lease renewed on one LeaseKeepAlive stream.

Theory of operation (the parts of Go's lessor, client/v3/lease.go, we keep,
and the one we fix):

* One bidirectional stream renews every kept-alive lease.  `KeepAliveState`
  knows, per lease, when its next LeaseKeepAliveRequest is due and by when a
  response must have come (its deadline).  The driver owns the stream, the
  clock and the timer; it calls in with `now` and does what the return values
  say.  Nothing here sends, sleeps or reads a clock.
* Several `add()`s of one lease share one entry, counted; `remove()` takes one
  subscriber away and forgets the lease when none is left.  An `add()` that
  joins an entry makes its next request due at once (unless one is in
  flight, whose response serves it too): every subscriber hears from the
  server soon after it came (the first renewal a `keep_alive()` waits for).
* The first request is due at once.  A response with TTL > 0 makes the next
  request due at ``now + TTL/3`` and moves the deadline to ``now + TTL``.
  Until the first response the deadline is ``now + first_response_timeout``
  (Go: ``DialTimeout + 1 s``, or 5 s without a dial timeout).
* A request, once `due()` has handed it out, is *in flight* until its response
  arrives or the stream breaks; it is never handed out twice meanwhile.  A
  gRPC stream does not lose messages, so resending on the same stream would
  only double the load.  `stream_reset()` (a new stream) makes every in-flight
  request due again at once; deadlines are kept, so a lease the new stream
  cannot renew in time is reported lost instead of being kept on trust.
* A lease is LOST when the server answers TTL <= 0 (it has expired, was
  revoked or never existed: etcd sends TTL 0 rather than an error) or when its
  deadline passes without a response.  Go closes the subscribers' channels
  without saying why, and drops responses a slow subscriber has no room for;
  here loss is a value with a reason (`LostReason`), reported exactly once,
  and every response is handed back to the driver (`Delivery`) to pass on.
  A lost lease is forgotten at once: its subscriptions are over, and the
  driver must not `remove()` them afterwards (an `add()` of the same ID
  starts a new entry).
* Deadlines use ``<=``: `next_wakeup()` returns the earliest due time or
  deadline, and `due()` plus `expired()` at that instant act on it, so a
  driver that sleeps until `next_wakeup()` never wakes for nothing and never
  spins.

Per-lease status is a table::

    PENDING --response TTL>0--> ALIVE --response TTL>0--> ALIVE
    PENDING|ALIVE --response TTL<=0 | deadline passed--> LOST   (terminal)

Scans are linear in the number of leases; a process keeps few leases alive
(one per session), and each call is a handful of float comparisons per lease.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ..errors import LocalProtocolError
from .state import _Enum

#: Go lease.go ``defaultTTL``: the first-response deadline when the client has
#: no dial timeout (otherwise ``DialTimeout + 1 s``), in seconds.
FIRST_RESPONSE_TIMEOUT = 5.0


class LeaseStatus(_Enum):
    PENDING = "PENDING"  # added, no response yet
    ALIVE = "ALIVE"  # renewed at least once; next renewal scheduled
    LOST = "LOST"  # expired or revoked; forgotten (terminal)


class LostReason(_Enum):
    """Why a lease was lost; the value reads as a message."""

    NOT_FOUND = "the server answered TTL <= 0: the lease expired or was revoked"
    DEADLINE = "no keep-alive response before the lease's deadline"


class _Input(_Enum):
    RENEWED = "RENEWED"  # response with TTL > 0
    GONE = "GONE"  # response with TTL <= 0
    DEADLINE_PASSED = "DEADLINE_PASSED"


_S = LeaseStatus
_I = _Input
TRANSITIONS: Dict[Tuple[LeaseStatus, _Input], LeaseStatus] = {
    (_S.PENDING, _I.RENEWED): _S.ALIVE,
    (_S.ALIVE, _I.RENEWED): _S.ALIVE,
    (_S.PENDING, _I.GONE): _S.LOST,
    (_S.ALIVE, _I.GONE): _S.LOST,
    (_S.PENDING, _I.DEADLINE_PASSED): _S.LOST,
    (_S.ALIVE, _I.DEADLINE_PASSED): _S.LOST,
}


class Delivery:
    """What one keep-alive response means: hand it to `subscribers` callers.

    Attributes:
        lease_id: the lease renewed, or lost.
        ttl: the TTL the server answered (<= 0 when lost).
        status: ALIVE, or LOST when the server no longer knows the lease.
        reason: why it was lost (`LostReason.NOT_FOUND`), else None.
        subscribers: how many `add()`s were waiting for it.
        deadline: when the lease expires unless renewed again (ALIVE only;
            the response time when lost).
    """

    __slots__ = ("deadline", "lease_id", "reason", "status", "subscribers", "ttl")

    def __init__(
        self,
        *,
        lease_id: int,
        ttl: int,
        status: LeaseStatus,
        reason: Optional[LostReason],
        subscribers: int,
        deadline: float,
    ) -> None:
        self.lease_id = lease_id
        self.ttl = ttl
        self.status = status
        self.reason = reason
        self.subscribers = subscribers
        self.deadline = deadline

    @property
    def lost(self) -> bool:
        return self.status is LeaseStatus.LOST

    def __repr__(self) -> str:
        return (
            f"Delivery(lease_id={self.lease_id}, ttl={self.ttl}, "
            f"status={self.status.name}, reason={self.reason}, "
            f"subscribers={self.subscribers})"
        )


class LeaseSnapshot:
    """One kept-alive lease as `KeepAliveState.lease()` sees it now.

    Attributes:
        lease_id: the lease.
        status: PENDING or ALIVE (LOST leases are forgotten).
        subscribers: how many `add()`s share it.
        ttl: the last TTL the server granted, 0 before the first response.
        next_send: when its next request is due, None while one is in flight.
        deadline: when it is lost unless a response comes first.
    """

    __slots__ = ("deadline", "lease_id", "next_send", "status", "subscribers", "ttl")

    def __init__(
        self,
        *,
        lease_id: int,
        status: LeaseStatus,
        subscribers: int,
        ttl: int,
        next_send: Optional[float],
        deadline: float,
    ) -> None:
        self.lease_id = lease_id
        self.status = status
        self.subscribers = subscribers
        self.ttl = ttl
        self.next_send = next_send
        self.deadline = deadline

    @property
    def in_flight(self) -> bool:
        return self.next_send is None

    def __repr__(self) -> str:
        return (
            f"LeaseSnapshot(lease_id={self.lease_id}, status={self.status.name}, "
            f"subscribers={self.subscribers}, ttl={self.ttl}, "
            f"next_send={self.next_send}, deadline={self.deadline})"
        )


class _Lease:
    # next_send None: a request is in flight.
    __slots__ = ("deadline", "next_send", "status", "subscribers", "ttl")

    def __init__(self, now: float, first_response_timeout: float) -> None:
        self.status = LeaseStatus.PENDING
        self.subscribers = 1
        self.ttl = 0
        self.next_send: Optional[float] = now
        self.deadline = now + first_response_timeout


def _transition(status: LeaseStatus, event: _Input) -> LeaseStatus:
    try:
        return TRANSITIONS[status, event]
    except KeyError:
        raise LocalProtocolError(
            f"lease keep-alive: no transition from {status.name} on {event.name}"
        ) from None


class KeepAliveState:
    """Schedules keep-alive requests and detects lost leases; see the module.

    Args:
        first_response_timeout: seconds a newly added lease may wait for its
            first response before it is lost.
    """

    __slots__ = ("_first_response_timeout", "_leases")

    def __init__(self, first_response_timeout: float = FIRST_RESPONSE_TIMEOUT) -> None:
        if not first_response_timeout > 0:
            raise ValueError(
                f"first_response_timeout must be > 0, got {first_response_timeout}"
            )
        self._first_response_timeout = first_response_timeout
        self._leases: Dict[int, _Lease] = {}

    def __len__(self) -> int:
        return len(self._leases)

    def __contains__(self, lease_id: object) -> bool:
        return lease_id in self._leases

    def lease_ids(self) -> List[int]:
        """Every lease being kept alive, in the order they were added."""
        return list(self._leases)

    def lease(self, lease_id: int) -> Optional[LeaseSnapshot]:
        """A snapshot of one lease, or None if it is not kept alive."""
        entry = self._leases.get(lease_id)
        if entry is None:
            return None
        return LeaseSnapshot(
            lease_id=lease_id,
            status=entry.status,
            subscribers=entry.subscribers,
            ttl=entry.ttl,
            next_send=entry.next_send,
            deadline=entry.deadline,
        )

    def add(self, lease_id: int, now: float) -> bool:
        """Starts keeping `lease_id` alive for one more subscriber.

        Returns:
            True if the lease is new here (its first request is due at `now`),
            False if it joined an existing entry (its next request is due at
            `now` too, unless one is in flight; the deadline is unchanged).
        """
        entry = self._leases.get(lease_id)
        if entry is not None:
            entry.subscribers += 1
            if entry.next_send is not None and entry.next_send > now:
                entry.next_send = now
            return False
        self._leases[lease_id] = _Lease(now, self._first_response_timeout)
        return True

    def remove(self, lease_id: int) -> bool:
        """Takes one subscriber away from `lease_id`.

        Returns:
            True if that was the last one: the lease is no longer renewed (a
            response still in flight for it will be ignored).  False if other
            subscribers remain, or the lease is not kept alive (already lost).
        """
        entry = self._leases.get(lease_id)
        if entry is None:
            return False
        entry.subscribers -= 1
        if entry.subscribers > 0:
            return False
        del self._leases[lease_id]
        return True

    def due(self, now: float) -> List[int]:
        """The leases whose request must be sent now; they become in flight.

        Send one LeaseKeepAliveRequest per returned ID on the stream.
        """
        sent: List[int] = []
        for lease_id, entry in self._leases.items():
            next_send = entry.next_send
            if next_send is not None and next_send <= now:
                entry.next_send = None
                sent.append(lease_id)
        return sent

    def received(self, lease_id: int, ttl: int, now: float) -> Optional[Delivery]:
        """Takes one LeaseKeepAliveResponse (its ID and TTL) received at `now`.

        TTL > 0 renews the lease: next request at ``now + ttl/3``, deadline
        ``now + ttl``.  TTL <= 0 means the lease is gone: it is forgotten and
        the delivery says LOST with `LostReason.NOT_FOUND`.

        Returns:
            What to hand to the lease's subscribers, or None if the lease is no
            longer kept alive here (removed, or lost, while the request was in
            flight): drop the response.
        """
        entry = self._leases.get(lease_id)
        if entry is None:
            return None
        if ttl > 0:
            entry.status = _transition(entry.status, _Input.RENEWED)
            entry.ttl = ttl
            entry.next_send = now + ttl / 3.0
            entry.deadline = now + ttl
            reason = None
        else:
            entry.status = _transition(entry.status, _Input.GONE)
            del self._leases[lease_id]
            entry.deadline = now
            reason = LostReason.NOT_FOUND
        return Delivery(
            lease_id=lease_id,
            ttl=ttl,
            status=entry.status,
            reason=reason,
            subscribers=entry.subscribers,
            deadline=entry.deadline,
        )

    def expired(self, now: float) -> List[int]:
        """The leases whose deadline has passed (``deadline <= now``): LOST.

        They are forgotten; their reason is `LostReason.DEADLINE`.  Each lease
        is reported once.
        """
        lost = [
            lease_id
            for lease_id, entry in self._leases.items()
            if entry.deadline <= now
        ]
        for lease_id in lost:
            entry = self._leases.pop(lease_id)
            entry.status = _transition(entry.status, _Input.DEADLINE_PASSED)
        return lost

    def next_wakeup(self, now: float, *, sending: bool = True) -> Optional[float]:
        """When the driver must next call `due()` and `expired()`.

        The earliest of every due time (of leases not in flight) and every
        deadline; None when no lease is kept alive (sleep until an `add()`).
        Right after `due(now)` and `expired(now)` the result is > `now`; a
        result <= `now` means "call them now".  Without `sending` (no
        stream to send on: due times stay past until it opens), deadlines
        only.
        """
        wakeup: Optional[float] = None
        for entry in self._leases.values():
            at = entry.deadline
            next_send = entry.next_send
            if sending and next_send is not None and next_send < at:
                at = next_send
            if wakeup is None or at < wakeup:
                wakeup = at
        return wakeup

    def stream_reset(self, now: float) -> List[int]:
        """The stream broke and a new one is open: resend what was in flight.

        Every in-flight request becomes due at `now`; leases waiting for their
        next due time keep it, and every deadline is kept.

        Returns:
            The leases whose request was in flight (now due again).
        """
        resent: List[int] = []
        for lease_id, entry in self._leases.items():
            if entry.next_send is None:
                entry.next_send = now
                resent.append(lease_id)
        return resent

    def halt(self) -> List[int]:
        """Forgets every lease (the client is closing, or keep-alive halted).

        Returns:
            The leases that were kept alive; their subscribers should be told
            (KeepAliveHaltedError).
        """
        halted = list(self._leases)
        self._leases.clear()
        return halted
