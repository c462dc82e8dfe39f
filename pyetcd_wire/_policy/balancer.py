"""Which endpoint the next call goes to: round robin over the healthy ones.

Go's clientv3 hands this to grpc-go's `round_robin`: each
call to the next READY connection, with no notion of a member that answers
TCP but not requests (etcd issue 16216).  Here each endpoint also has a
health record: a failure on it (no connection, connection lost, a frozen
member's silence, a member without leader) puts it in quarantine for a
while, growing with each failure in a row, and a success clears it.  Calls
skip quarantined endpoints while any other is healthy; when none is, they go
to the one whose quarantine ends first (a cluster that is all down is still
tried, never refused by the client alone).

When a quarantine ends, the endpoint gets no call until it passed a *health
check* (`health_checks_due`, `health_checked`): the driver asks its member
for its Status, off the calls' path, bounded by HEALTH_CHECK_TIMEOUT.  A
member that answers, and has a leader, is healthy again; one that is still
frozen, down or leaderless goes back to quarantine, for longer.  So a frozen
member costs only the calls that met it as it froze: before health checks,
one call at the end of each quarantine went to it and waited there.  (With a
single endpoint nothing is checked: its calls go to it anyway, and their
outcome decides.)

The health check is a unary Status call rather than an HTTP/2 PING, because:

* a PING is answered by the member's HTTP/2 transport, not by etcd: a member
  whose server is stuck, or has no leader, still answers PINGs.  Status is
  answered by etcd itself, locally (no raft round trip, no key permission
  needed), and says whether the member has a leader;
* etcd (grpc-go) counts a PING on a connection without open streams as a
  strike unless it has sent HEADERS or DATA since the previous PING, and
  answers a third strike with GOAWAY "too_many_pings" (grpc-go's
  keepalive enforcement policy).  Health-check PINGs queued at a frozen
  member, one per quarantine, would all be counted when it resumes.  A call
  sends no PING at all.

Sans-IO: the caller passes `now` (monotonic seconds) and `rand` (a uniform
[0, 1) source, for the jitter).
"""

from __future__ import annotations

from typing import (
    Any,
    Callable,
    Collection,
    Dict,
    List,
    Optional,
    Sequence,
    Tuple,
)

from ..errors import EtcdError, RpcError, UnavailableError
from .endpoints import Endpoint
from .growth import capped_exponential
from .retry import AttemptShares

#: Quarantine after the first failure in a row, its growth and its cap (s).
#: grpc-go's reconnect backoff is 1 s x 1.6 up to 120 s; a member that comes
#: back should not wait two minutes for traffic, so the cap is lower.
QUARANTINE_FIRST = 1.0
QUARANTINE_FACTOR = 1.6
QUARANTINE_MAX = 30.0
QUARANTINE_JITTER = 0.2
#: The bound on a health check (s): a member that serves answers Status in
#: milliseconds, even on a loaded machine.
HEALTH_CHECK_TIMEOUT = 1.0


class Health:
    """One endpoint's record."""

    __slots__ = ("checking", "failures", "last_error", "until")

    def __init__(self) -> None:
        self.failures = 0  # in a row
        self.until = 0.0  # quarantined before this time
        self.checking = False  # quarantine over, health check under way: no calls
        self.last_error = ""


class Balancer:
    """Round robin over `endpoints`, skipping quarantined ones."""

    def __init__(
        self, endpoints: Sequence[Endpoint], *, rand: Callable[[], float]
    ) -> None:
        self._rand = rand
        self._endpoints: Tuple[Endpoint, ...] = ()
        self._health: Dict[Endpoint, Health] = {}
        self._next = 0
        #: The first attempt's share of a read's deadline, for these endpoints.
        self.attempt_shares = AttemptShares(1)
        #: How many records have `until` set.  0 (the usual case): `succeeded`
        #: has nothing to clear, and `next` needs no clock.
        self.quarantined_count = 0
        self.set_endpoints(endpoints)

    @property
    def endpoints(self) -> Tuple[Endpoint, ...]:
        return self._endpoints

    def next(self) -> Endpoint:
        """The next endpoint in turn: `pick` when nothing is quarantined
        (the per-call fast path: no clock read)."""
        start = self._next
        self._next = (start + 1) % len(self._endpoints)
        return self._endpoints[start]

    def set_endpoints(self, endpoints: Sequence[Endpoint]) -> None:
        """Replace the list; records of endpoints kept are kept."""
        unique = tuple(dict.fromkeys(endpoints))
        if not unique:
            raise ValueError("endpoints: give at least one endpoint")
        self._health = {e: self._health.get(e) or Health() for e in unique}
        self._endpoints = unique
        self.attempt_shares = AttemptShares(len(unique))
        self.quarantined_count = sum(1 for h in self._health.values() if h.until)
        self._next %= len(unique)

    def pick(self, now: float) -> Endpoint:
        """The endpoint for the next call."""
        if not self.quarantined_count:
            return self.next()
        endpoints = self._endpoints
        count = len(endpoints)
        start = self._next
        self._next = (start + 1) % count
        soonest: Tuple[float, Endpoint] | None = None
        for i in range(count):
            endpoint = endpoints[(start + i) % count]
            health = self._health[endpoint]
            if health.until <= now and not health.checking:
                self._next = (start + i + 1) % count
                return endpoint
            if soonest is None or health.until < soonest[0]:
                soonest = (health.until, endpoint)
        assert soonest is not None
        return soonest[1]

    def pick_untried(self, now: float, tried: Collection[Endpoint]) -> Endpoint:
        """The endpoint for a call's next attempt: the next healthy one in
        turn that the call has not `tried` yet; `pick` when none is left.
        Not `pick` alone: other calls move the round robin meanwhile, and
        could bring the attempt back to the endpoint that just failed it
        (a read's shares of its deadline count on untried endpoints)."""
        endpoints = self._endpoints
        count = len(endpoints)
        start = self._next
        for i in range(count):
            endpoint = endpoints[(start + i) % count]
            if endpoint in tried:
                continue
            health = self._health[endpoint]
            if health.until <= now and not health.checking:
                self._next = (start + i + 1) % count
                return endpoint
        return self.pick(now)

    def failed(self, endpoint: Endpoint, now: float, why: str) -> Optional[Health]:
        """A failure on `endpoint`: quarantine it (longer if it keeps failing).
        Returns its record, for the caller to report (None: the endpoint was
        removed meanwhile)."""
        health = self._health.get(endpoint)
        if health is None:  # removed meanwhile
            return None
        delay = capped_exponential(
            QUARANTINE_FIRST, QUARANTINE_FACTOR, QUARANTINE_MAX, health.failures
        )
        delay *= 1.0 + QUARANTINE_JITTER * (2.0 * self._rand() - 1.0)
        if not health.until:
            self.quarantined_count += 1
        health.failures += 1
        health.until = now + delay
        health.checking = False
        health.last_error = why
        return health

    def succeeded(self, endpoint: Endpoint) -> bool:
        """A call on `endpoint` went through: it is healthy again.  True if
        that ended its quarantine."""
        health = self._health.get(endpoint)
        if health is None or not (health.failures or health.until):
            return False
        ended = bool(health.until)
        if ended:
            self.quarantined_count -= 1
        health.failures = 0
        health.until = 0.0
        health.checking = False
        return ended

    def health_checks_due(self, now: float) -> List[Endpoint]:
        """The endpoints whose quarantine is over, for the driver to check
        now; they get no call until `health_checked` (or until every
        endpoint is out of service: see `pick`).  None with a single
        endpoint."""
        if len(self._endpoints) < 2:
            return []
        due = []
        for endpoint, health in self._health.items():
            if health.until and health.until <= now and not health.checking:
                health.checking = True
                due.append(endpoint)
        return due

    def health_checked(
        self, endpoint: Endpoint, now: float, why: Optional[str]
    ) -> Optional[Health]:
        """A health check of `endpoint` ended: `why` it is still unwell, or
        None (see `health_check_failure`).  Ignored if a call's outcome came
        first.  Returns the record it changed (None if ignored)."""
        health = self._health.get(endpoint)
        if health is None or not health.checking:
            return None
        if why is None:
            self.succeeded(endpoint)
            return health
        return self.failed(endpoint, now, why)

    def all_quarantined(self, now: float) -> bool:
        """True if no endpoint may be tried before a quarantine or a health
        check ends."""
        return all(h.until > now or h.checking for h in self._health.values())

    def quarantined(self, now: float) -> List[Tuple[Endpoint, float, str]]:
        """(endpoint, seconds left, last error) of each endpoint in quarantine
        (0 seconds left: being checked)."""
        return [
            (e, max(0.0, h.until - now), h.last_error)
            for e, h in self._health.items()
            if h.until > now or h.checking
        ]


def health_check_failure(error: Optional[EtcdError], leader: int) -> Optional[str]:
    """What a health check's outcome says: None if the member serves (it
    answered Status with a `leader`, or refused it with an error that is not
    about its health, such as PermissionDenied), else why it stays in
    quarantine (no connection, no answer within HEALTH_CHECK_TIMEOUT,
    Unavailable, no leader)."""
    if error is None:
        return None if leader else "health check: the member has no leader"
    if isinstance(error, RpcError) and not isinstance(error, UnavailableError):
        return None
    return f"health check: {error}"


def member_endpoints(members: Sequence[Any]) -> List[str]:
    """Go's Sync: the client URLs of the started (named) voting members of a
    MemberListResponse's `.members` (learners serve no client traffic)."""
    return [
        url
        for member in members
        if member.name and not member.isLearner
        for url in member.clientURLs
    ]


__all__ = [
    "HEALTH_CHECK_TIMEOUT",
    "Balancer",
    "Health",
    "health_check_failure",
    "member_endpoints",
]
