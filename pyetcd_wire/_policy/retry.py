"""When a failed unary call is sent again, and how long to wait first.

Go's rules (client/v3/retry_interceptor.go), as data,
functions, and `UnaryRetry`, the plan both drivers follow:

* REPEATABLE calls (Range, the Lease calls, MemberList, Status ...) are
  retried on Unavailable: a transport failure, or the server's Unavailable
  errors (NoLeader, LeaderChanged, request timed out ...); not on a typed
  error of another code (Compacted, NoSpace, PermissionDenied ...).
* AT_MOST_ONCE calls (Put, DeleteRange, Txn, Compact, the admin writes) are
  retried only when the request provably never reached a server: no
  connection could be made, or the connection ended with the server saying
  it did not process the stream (GOAWAY below its id, REFUSED_STREAM).  Go
  ends up never retrying them; the proof makes these retries safe.
* Any call is retried when a learner refused it and there are other
  endpoints (Go: ErrGRPCNotSupportedForLearner), as it never ran.

Between attempts, Go's `roundRobinQuorumBackoff`: no wait while cycling
through a quorum of endpoints, then 25 ms +/- 10 %; at most 100 attempts.
The caller's deadline bounds it all.

Unlike Go (where an attempt may take the whole deadline), an attempt of a
REPEATABLE call gets only its share of what is left of the deadline while
other endpoints remain to be tried (`attempt_timeout`): a member that
answers nothing (frozen by SIGSTOP, cut off by a partition that drops
packets) then costs a read that share, not the whole deadline, and the rest
goes to the others.  A read's attempt that runs out of its share is sent
again elsewhere, as any Unavailable read is: to an endpoint the call has not
tried yet while a healthy one is left (`Balancer.pick_untried`), whatever
other calls did to the round robin meanwhile.  An AT_MOST_ONCE call's attempt
always gets all that is left: once sent, it is never sent again.  The price:
a read that needs longer than its share on every member (a third of the
deadline each, with 3 endpoints) runs out of time where one attempt with the
whole deadline would have made it; MIN_ATTEMPT_SHARE keeps ordinary reads
far from that, and a deadline of 1 s or less is never shared.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional

from .._api.methods import RetryClass
from ..errors import (
    AuthOldRevisionError,
    ConnectionFailedError,
    ConnectionLostError,
    DeadlineExceededError,
    EtcdError,
    InvalidAuthTokenError,
    NotSupportedForLearnerError,
    RpcError,
    TLSError,
    TransportError,
    UnavailableError,
    UserEmptyError,
)

#: Attempts in all, the first included (Go's MaxUnaryRetries default).
MAX_ATTEMPTS = 100
#: Go's BackoffWaitBetween and BackoffJitterFraction defaults.
BACKOFF_WAIT = 0.025
BACKOFF_JITTER = 0.10
#: The least a shared attempt gets (s).  A healthy member answers a read in
#: milliseconds, even on a loaded machine; one that has not answered in a
#: second is frozen, cut off, or stuck behind a leader election (etcd's
#: default election timeout is 1 s).  Deadlines up to this are not shared.
MIN_ATTEMPT_SHARE = 1.0


def never_processed(error: EtcdError) -> bool:
    """True if the request provably did not reach (or was refused unseen by)
    a server, so sending it again cannot apply it twice."""
    if isinstance(error, ConnectionFailedError):
        return True
    if isinstance(error, (ConnectionLostError, RpcError)):
        return error.not_processed
    return False


def may_retry(retry: RetryClass, error: EtcdError, endpoint_count: int) -> bool:
    """May a call of class `retry` that failed with `error` be sent again?

    Never on an error that says another attempt cannot change the answer
    (`retryable` False): a refusal of our own before anything was sent (a
    message over max_send_message_size, a closed client), or one of etcd's
    typed refusals.  A learner's refusal (NotSupportedForLearnerError) is
    the exception: it is retried when there is another endpoint, a voting
    member that will not refuse.  grpc refuses an oversized message locally with
    RESOURCE_EXHAUSTED, and Go's client does not retry it either.
    """
    if retry is RetryClass.NONE:
        return False
    if isinstance(error, NotSupportedForLearnerError):
        return endpoint_count > 1
    if not error.retryable:
        return False
    if never_processed(error):
        return True
    if retry is RetryClass.AT_MOST_ONCE:
        return False
    return isinstance(error, (UnavailableError, ConnectionLostError))


def attempt_timeout(remaining: float, untried: int) -> float:
    """How long the next attempt of a REPEATABLE call may take: an equal
    share of the `remaining` seconds of its deadline among the `untried`
    endpoints, but at least MIN_ATTEMPT_SHARE; all of it when no other
    endpoint is left to try (one endpoint configured, or every other one
    tried already)."""
    if untried > 1:
        share = remaining / untried
        if share < MIN_ATTEMPT_SHARE:
            share = MIN_ATTEMPT_SHARE
        if share < remaining:
            return share
    return remaining


#: Deadlines an `AttemptShares` remembers at most (a caller whose deadlines
#: all differ gets a recomputation now and then, not a leak).
ATTEMPT_SHARES_KEPT = 64


class AttemptShares(Dict[Optional[float], Optional[float]]):
    """`attempt_timeout(timeout, endpoint_count)` of each call's deadline
    (`timeout` seconds; None: none, and so no share), remembered: the first
    attempt of every read looks its timeout up here, a dict lookup on the
    unary hot path instead of a computation.  Replaced when the endpoints
    change."""

    __slots__ = ("endpoint_count",)

    def __init__(self, endpoint_count: int) -> None:
        super().__init__()
        self.endpoint_count = endpoint_count

    def __missing__(self, timeout: Optional[float]) -> Optional[float]:
        if len(self) >= ATTEMPT_SHARES_KEPT:
            self.clear()
        share = None
        if timeout is not None:
            share = attempt_timeout(timeout, self.endpoint_count)
        self[timeout] = share
        return share


def backoff(attempt: int, endpoint_count: int, rand: Callable[[], float]) -> float:
    """Seconds to wait before attempt number `attempt` (1 = the first retry):
    none within a round through a quorum of endpoints, then a short pause.
    `rand`: a uniform [0, 1) source."""
    quorum = endpoint_count // 2 + 1
    if attempt % quorum:
        return 0.0
    return BACKOFF_WAIT * (1.0 + BACKOFF_JITTER * (2.0 * rand() - 1.0))


#: The errors that mean "get a new token and send the call again" (Go's
#: token refresh conditions, retry_interceptor.go): the call was refused before
#: it ran, so it is sent again whatever its retry class.
TOKEN_ERRORS = (InvalidAuthTokenError, AuthOldRevisionError, UserEmptyError)
#: Token refreshes per call at most.
MAX_TOKEN_REFRESHES = 3


def needs_new_token(error: EtcdError) -> bool:
    return isinstance(error, TOKEN_ERRORS)


def endpoint_at_fault(error: EtcdError, *, silent: bool) -> bool:
    """Does `error` say the endpoint is unwell (calls should avoid it for a
    while)?  No connection, a lost one, a member without leader, or a
    deadline that passed while the connection stayed `silent` (a frozen
    member: alive on TCP, answering nothing)."""
    if isinstance(error, (TransportError, UnavailableError)):
        return True
    return silent and isinstance(error, DeadlineExceededError)


class Step:
    """What a driver does after a failed attempt (see `UnaryRetry`)."""

    __slots__ = ("give_up", "quarantine", "refresh_token", "timeout", "wait")

    def __init__(
        self,
        *,
        give_up: bool = False,
        quarantine: bool = False,
        refresh_token: bool = False,
        wait: float = 0.0,
        timeout: Optional[float] = None,
    ) -> None:
        self.give_up = give_up  # raise the error
        self.quarantine = quarantine  # mark the endpoint failed first
        self.refresh_token = refresh_token  # get a new token first
        self.wait = wait  # seconds to sleep before the next attempt
        self.timeout = timeout  # the next attempt's timeout (None: none)


class UnaryRetry:
    """The decisions after each failed attempt of one unary call, for the
    sync and asyncio drivers alike (they do the I/O: mark the endpoint,
    refresh the token, sleep, pick the next endpoint, send).

    Args:
        retry: the method's retry class.
        deadline: the call's (monotonic seconds), or None.
        auth: the client has username/password (tokens can be refreshed).
        rand: a uniform [0, 1) source, for the backoff jitter.
        shared: the first attempt had only a share of the deadline
            (`attempt_timeout`), so its running out is no reason to give up.
    """

    __slots__ = (
        "_auth",
        "_deadline",
        "_rand",
        "_retry",
        "_shared",
        "_tls_failures",
        "_unreached",
        "attempt",
        "refreshes",
    )

    def __init__(
        self,
        retry: RetryClass,
        deadline: Optional[float],
        *,
        auth: bool,
        rand: Callable[[], float],
        shared: bool = False,
    ) -> None:
        self._retry = retry
        self._deadline = deadline
        self._auth = auth
        self._rand = rand
        # Only a read's attempt is ever cut short: a write's is never resent.
        self._shared = shared and retry is RetryClass.REPEATABLE
        self.attempt = 1  # attempts failed so far
        self.refreshes = 0
        # Why the call has had no connection since (see `surfaced`).
        self._unreached: Optional[ConnectionFailedError] = None
        # Endpoint -> why TLS failed with it, for `_tls_step` and `surfaced`.
        self._tls_failures: Dict[str, str] = {}

    def after(
        self, error: EtcdError, now: float, endpoint_count: int, *, silent: bool
    ) -> Step:
        """The attempt failed with `error` (`silent`: its connection heard
        nothing since it was sent)."""
        if isinstance(error, TLSError):
            return self._tls_step(error, now, endpoint_count)
        refresh = (
            self._auth
            and needs_new_token(error)
            and self.refreshes < MAX_TOKEN_REFRESHES
        )
        if isinstance(error, ConnectionFailedError):
            self._unreached = error
        elif not _while_connecting(error):
            self._unreached = None
        quarantine = False
        if refresh:
            self.refreshes += 1
        else:
            quarantine = endpoint_at_fault(error, silent=silent)
            share_ran_out = self._shared and isinstance(error, DeadlineExceededError)
            if self.attempt >= MAX_ATTEMPTS or not (
                share_ran_out or may_retry(self._retry, error, endpoint_count)
            ):
                return Step(give_up=True, quarantine=quarantine)
        wait = backoff(self.attempt, endpoint_count, self._rand)
        timeout = None
        if self._deadline is not None:
            remaining = self._deadline - now - wait
            if remaining <= 0:
                return Step(give_up=True, quarantine=quarantine)
            timeout = remaining
            if self._retry is RetryClass.REPEATABLE:
                timeout = attempt_timeout(remaining, endpoint_count - self.attempt)
            self._shared = timeout < remaining
        self.attempt += 1
        return Step(
            quarantine=quarantine, refresh_token=refresh, wait=wait, timeout=timeout
        )

    def _tls_step(self, error: TLSError, now: float, endpoint_count: int) -> Step:
        """TLS failed with an endpoint: that endpoint will not do better on a
        second try, but another may be configured differently (Go's
        balancer, too, fails a call only once no endpoint is usable).  The
        call gives up, with every endpoint's reason (`surfaced`), once each
        endpoint failed this way; until then it tries the next one at once."""
        for endpoint, why in error.failures:
            self._tls_failures[endpoint] = why
        if len(self._tls_failures) >= endpoint_count or self.attempt >= MAX_ATTEMPTS:
            return Step(give_up=True, quarantine=True)
        timeout = None
        if self._deadline is not None:
            timeout = self._deadline - now
            if timeout <= 0:
                return Step(give_up=True, quarantine=True)
        self.attempt += 1
        return Step(quarantine=True, timeout=timeout)

    def surfaced(self, error: EtcdError) -> EtcdError:
        """What the caller gets when the plan gives up after `error`: the
        error itself, but for a deadline that passed while connecting again
        after a connection failed: a ConnectionFailedError with that failure
        first, which says why the call never reached etcd (a refused port, say;
        the deadline cut the last dial only because the retries ran out of
        time).  TLS failures met on the way are named as well: every one of
        them when all endpoints failed so (a TLSError).  etcd's "user name is
        empty" to a client without credentials says what to do."""
        if not self._auth and isinstance(error, UserEmptyError):
            add_hint(error, NO_CREDENTIALS_HINT)
        tls = list(self._tls_failures.items())
        if isinstance(error, TLSError):
            return TLSError(tls) if len(tls) > len(error.failures) else error
        unreached = self._unreached
        if unreached is None or not _while_connecting(error):
            if tls and isinstance(error, ConnectionFailedError):
                return ConnectionFailedError([*tls, *error.failures])
            return error
        assert isinstance(error, DeadlineExceededError)
        cut_short = (error.endpoint, "the call's deadline passed while connecting")
        return ConnectionFailedError([*tls, *unreached.failures, cut_short])


#: Added to etcd's "user name is empty" (and to a watch's "permission
#: denied") when the client has no credentials: the cluster has auth enabled
#: and takes no anonymous calls.
NO_CREDENTIALS_HINT = (
    "auth is enabled on this cluster: give the client username= and password="
)


def add_hint(error: EtcdError, hint: str) -> None:
    """Add `hint` to the message of `error` (its attributes stay as etcd sent
    them), once."""
    text = str(error)
    if not text.endswith(f"({hint})"):
        error.args = (f"{text} ({hint})",)


def _while_connecting(error: EtcdError) -> bool:
    return isinstance(error, DeadlineExceededError) and error.connecting


__all__ = [
    "MAX_ATTEMPTS",
    "MIN_ATTEMPT_SHARE",
    "NO_CREDENTIALS_HINT",
    "AttemptShares",
    "Step",
    "UnaryRetry",
    "add_hint",
    "attempt_timeout",
    "backoff",
    "endpoint_at_fault",
    "may_retry",
    "needs_new_token",
    "never_processed",
]
