"""When a failed unary call is sent again, and how long to wait first.

Go's rules (client/v3/retry_interceptor.go, clientv3.md §2.2), as data and
two functions:

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
"""

from __future__ import annotations

from typing import Callable

from .._api.methods import RetryClass
from ..errors import (
    ConnectionFailedError,
    ConnectionLostError,
    EtcdError,
    NotSupportedForLearnerError,
    RpcError,
    UnavailableError,
)

#: Attempts in all, the first included (Go's MaxUnaryRetries default).
MAX_ATTEMPTS = 100
#: Go's BackoffWaitBetween and BackoffJitterFraction defaults.
BACKOFF_WAIT = 0.025
BACKOFF_JITTER = 0.10


def never_processed(error: EtcdError) -> bool:
    """True if the request provably did not reach (or was refused unseen by)
    a server, so sending it again cannot apply it twice."""
    if isinstance(error, ConnectionFailedError):
        return True
    if isinstance(error, (ConnectionLostError, RpcError)):
        return error.not_processed
    return False


def may_retry(retry: RetryClass, error: EtcdError, endpoint_count: int) -> bool:
    """May a call of class `retry` that failed with `error` be sent again?"""
    if retry is RetryClass.NONE:
        return False
    if never_processed(error):
        return True
    if isinstance(error, NotSupportedForLearnerError):
        return endpoint_count > 1
    if retry is RetryClass.AT_MOST_ONCE:
        return False
    return isinstance(error, (UnavailableError, ConnectionLostError))


def backoff(attempt: int, endpoint_count: int, rand: Callable[[], float]) -> float:
    """Seconds to wait before attempt number `attempt` (1 = the first retry):
    none within a round through a quorum of endpoints, then a short pause.
    `rand`: a uniform [0, 1) source."""
    quorum = endpoint_count // 2 + 1
    if attempt % quorum:
        return 0.0
    return BACKOFF_WAIT * (1.0 + BACKOFF_JITTER * (2.0 * rand() - 1.0))


__all__ = ["MAX_ATTEMPTS", "backoff", "may_retry", "never_processed"]
