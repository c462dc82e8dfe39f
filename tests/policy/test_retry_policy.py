"""Which failed unary calls are sent again (Go's retry classes), and the wait."""

from __future__ import annotations

import pytest

from pyetcd_wire._api.methods import KV_PUT, KV_RANGE, LEASE_KEEP_ALIVE, RetryClass
from pyetcd_wire._policy import retry
from pyetcd_wire.errors import (
    CompactedError,
    ConnectionFailedError,
    ConnectionLostError,
    DeadlineExceededError,
    LeaderChangedError,
    NoLeaderError,
    NotSupportedForLearnerError,
    PermissionDeniedError,
    RemoteProtocolError,
    UnavailableError,
)

REPEATABLE, AT_MOST_ONCE = RetryClass.REPEATABLE, RetryClass.AT_MOST_ONCE

never_reached = [
    ConnectionFailedError([("127.0.0.1:1", "connection refused")]),
    ConnectionLostError("GOAWAY before the stream", not_processed=True),
    UnavailableError(None, "refused stream", not_processed=True),
]
maybe_reached = [
    ConnectionLostError("connection reset", not_processed=False),
    UnavailableError(None, "transport is closing"),
    NoLeaderError(),
    LeaderChangedError(),
]
final = [
    CompactedError(),
    PermissionDeniedError(),
    DeadlineExceededError("deadline passed"),
    RemoteProtocolError("bad frame"),
]


def test_the_catalogue_assigns_go_classes():
    assert KV_RANGE.retry is REPEATABLE
    assert KV_PUT.retry is AT_MOST_ONCE
    assert LEASE_KEEP_ALIVE.retry is RetryClass.NONE


@pytest.mark.parametrize("error", never_reached, ids=repr)
def test_a_request_that_never_reached_a_server_is_retried_whatever_its_class(error):
    assert retry.never_processed(error)
    assert retry.may_retry(REPEATABLE, error, 3)
    assert retry.may_retry(AT_MOST_ONCE, error, 3)
    assert not retry.may_retry(RetryClass.NONE, error, 3)


@pytest.mark.parametrize("error", maybe_reached, ids=repr)
def test_unavailable_retries_reads_but_never_writes(error):
    assert not retry.never_processed(error)
    assert retry.may_retry(REPEATABLE, error, 3)
    assert not retry.may_retry(AT_MOST_ONCE, error, 3)


@pytest.mark.parametrize("error", final, ids=repr)
def test_other_errors_are_final(error):
    assert not retry.may_retry(REPEATABLE, error, 3)
    assert not retry.may_retry(AT_MOST_ONCE, error, 3)


def test_a_learner_refusal_is_retried_only_with_another_endpoint():
    error = NotSupportedForLearnerError()
    assert retry.may_retry(AT_MOST_ONCE, error, 2)
    assert not retry.may_retry(REPEATABLE, error, 1)


@pytest.mark.parametrize(
    ("endpoints", "waits"),
    [(1, [1, 1, 1, 1]), (3, [0, 1, 0, 1]), (5, [0, 0, 1, 0])],
)
def test_backoff_pauses_after_each_round_through_a_quorum(endpoints, waits):
    got = [retry.backoff(k, endpoints, lambda: 0.5) for k in range(1, 5)]
    assert got == [w * retry.BACKOFF_WAIT for w in waits]
    assert retry.backoff(1, 1, lambda: 0.0) == pytest.approx(
        retry.BACKOFF_WAIT * (1 - retry.BACKOFF_JITTER)
    )
