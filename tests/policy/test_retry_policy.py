"""Which failed unary calls are sent again (Go's retry classes), and the wait."""

from __future__ import annotations

import pytest

from pyetcd_wire._api.methods import KV_PUT, KV_RANGE, LEASE_KEEP_ALIVE, RetryClass
from pyetcd_wire._policy import retry
from pyetcd_wire.errors import (
    ClientClosedError,
    CompactedError,
    ConnectionFailedError,
    ConnectionLostError,
    DeadlineExceededError,
    InvalidAuthTokenError,
    LeaderChangedError,
    NoLeaderError,
    NotSupportedForLearnerError,
    PermissionDeniedError,
    RemoteProtocolError,
    ResourceExhaustedError,
    TLSError,
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


# --- UnaryRetry: the steps a driver takes after each failed attempt -------------


def plan(retry_class=REPEATABLE, deadline=None, auth=False, shared=False):
    return retry.UnaryRetry(
        retry_class, deadline, auth=auth, rand=lambda: 0.5, shared=shared
    )


def test_a_read_moves_on_and_quarantines_the_endpoint_on_unavailable():
    step = plan().after(NoLeaderError(), 0.0, 3, silent=False)
    assert (step.give_up, step.quarantine, step.refresh_token) == (False, True, False)
    assert step.wait == 0.0  # first retry within the quorum round
    assert step.timeout is None


def test_a_write_gives_up_on_unavailable_but_still_reports_the_endpoint():
    step = plan(AT_MOST_ONCE).after(LeaderChangedError(), 0.0, 3, silent=False)
    assert (step.give_up, step.quarantine) == (True, True)


def test_a_deadline_met_with_silence_quarantines_but_is_final():
    error = DeadlineExceededError("x")
    silent = plan().after(error, 0.0, 3, silent=True)
    assert (silent.give_up, silent.quarantine) == (True, True)
    slow = plan().after(error, 0.0, 3, silent=False)
    assert (slow.give_up, slow.quarantine) == (True, False)


def test_a_deadline_that_passes_while_reconnecting_surfaces_the_connection_failure():
    # One endpoint with the wrong CA: every dial fails at once, the retries
    # go on, and the deadline ends one of them half-way.
    refused = ConnectionFailedError(
        [("https://127.0.0.1:1", "certificate verify failed")]
    )
    cut_short = DeadlineExceededError(
        "deadline exceeded connecting", endpoint="https://127.0.0.1:1", connecting=True
    )
    p = plan(deadline=1.5)
    assert not p.after(refused, 0.1, 1, silent=True).give_up
    assert p.after(cut_short, 1.5, 1, silent=True).give_up
    surfaced = p.surfaced(cut_short)
    assert isinstance(surfaced, ConnectionFailedError)
    assert surfaced.failures == [
        *refused.failures,
        ("https://127.0.0.1:1", "the call's deadline passed while connecting"),
    ]


def test_other_deadlines_surface_as_they_are():
    refused = ConnectionFailedError([("127.0.0.1:1", "connection refused")])
    connected_then_slow = DeadlineExceededError("deadline exceeded")
    p = plan(deadline=1.5)
    p.after(refused, 0.1, 1, silent=True)
    p.after(connected_then_slow, 1.5, 1, silent=False)
    assert p.surfaced(connected_then_slow) is connected_then_slow
    # No connection failed before: the deadline is the story.
    cut_short = DeadlineExceededError("deadline exceeded connecting", connecting=True)
    fresh = plan(deadline=1.5)
    fresh.after(cut_short, 1.5, 1, silent=True)
    assert fresh.surfaced(cut_short) is cut_short
    # A connection that worked in between (a reset, then a slow dial).
    lost = ConnectionLostError("connection reset")
    p = plan(deadline=1.5)
    p.after(refused, 0.1, 3, silent=True)
    p.after(lost, 0.2, 3, silent=False)
    p.after(cut_short, 1.5, 3, silent=True)
    assert p.surfaced(cut_short) is cut_short


def test_the_next_attempt_gets_what_is_left_of_the_deadline_after_the_wait():
    p = plan(deadline=10.0)
    first = p.after(NoLeaderError(), 4.0, 1, silent=False)  # one endpoint: waits
    assert first.wait == retry.BACKOFF_WAIT
    assert first.timeout == pytest.approx(6.0 - retry.BACKOFF_WAIT)
    assert p.after(NoLeaderError(), 9.99, 1, silent=False).give_up


def test_a_stale_token_is_refreshed_for_any_class_a_few_times_only_with_auth():
    error = InvalidAuthTokenError()
    p = plan(AT_MOST_ONCE, auth=True)
    steps = [p.after(error, 0.0, 3, silent=False) for _ in range(4)]
    assert [s.refresh_token for s in steps] == [True, True, True, False]
    assert steps[-1].give_up
    assert not any(s.quarantine for s in steps)
    assert plan(AT_MOST_ONCE, auth=False).after(error, 0.0, 3, silent=False).give_up


def test_attempts_are_bounded():
    p = plan()
    steps = [p.after(NoLeaderError(), 0.0, 3, silent=False) for _ in range(200)]
    assert sum(not s.give_up for s in steps) == retry.MAX_ATTEMPTS - 1


# --- a read's attempt gets its share of the deadline -----------------------------


@pytest.mark.parametrize(
    ("remaining", "untried", "share"),
    [
        (5.0, 3, 5.0 / 3),  # an equal share per endpoint left to try
        (5.0, 2, 2.5),
        (5.0, 1, 5.0),  # one endpoint (or the last one left): all of it
        (5.0, 0, 5.0),
        (1.5, 3, retry.MIN_ATTEMPT_SHARE),  # never less than the floor...
        (0.8, 3, 0.8),  # ...nor more than what is left
        (retry.MIN_ATTEMPT_SHARE, 5, retry.MIN_ATTEMPT_SHARE),
    ],
)
def test_attempt_timeout_shares_what_is_left_among_the_endpoints(
    remaining, untried, share
):
    assert retry.attempt_timeout(remaining, untried) == pytest.approx(share)


def test_a_read_whose_share_ran_out_moves_on_with_the_rest():
    """5 s, 3 endpoints: 1.67 s on a frozen member (quarantined), 1.67 s on a
    slow one (not quarantined: it spoke), then the rest on the last one,
    after which the deadline is the call's own and final."""
    timeout = 5.0
    first = retry.attempt_timeout(timeout, 3)
    p = plan(deadline=timeout, shared=first < timeout)
    error = DeadlineExceededError("x")
    frozen = p.after(error, first, 3, silent=True)
    assert (frozen.give_up, frozen.quarantine, frozen.wait) == (False, True, 0.0)
    assert frozen.timeout == pytest.approx((timeout - first) / 2)
    now = first + frozen.timeout
    slow = p.after(error, now, 3, silent=False)
    assert (slow.give_up, slow.quarantine) == (False, False)
    assert slow.timeout == pytest.approx(timeout - now - slow.wait)  # the last
    assert p.after(error, timeout, 3, silent=False).give_up


def test_a_read_with_the_whole_deadline_gives_up_when_it_passes():
    p = plan(deadline=0.8, shared=False)
    assert p.after(DeadlineExceededError("x"), 0.79, 3, silent=True).give_up


def test_a_write_gets_the_whole_deadline_and_is_never_resent_when_it_passes():
    p = plan(AT_MOST_ONCE, deadline=5.0, shared=True)  # `shared` has no effect
    assert p.after(DeadlineExceededError("x"), 1.0, 3, silent=True).give_up
    never_sent = ConnectionFailedError([("127.0.0.1:1", "connection refused")])
    p = plan(AT_MOST_ONCE, deadline=5.0)
    step = p.after(never_sent, 1.0, 3, silent=False)
    assert not step.give_up
    assert step.timeout == pytest.approx(4.0)  # all that is left
    assert p.after(DeadlineExceededError("x"), 5.0, 3, silent=True).give_up


def test_a_read_retried_on_unavailable_gets_a_share_of_what_is_left():
    p = plan(deadline=6.0)
    step = p.after(NoLeaderError(), 0.0, 3, silent=False)
    assert step.timeout == pytest.approx(3.0)  # two endpoints left to try
    step = p.after(NoLeaderError(), 0.1, 3, silent=False)
    assert step.timeout == pytest.approx(5.9 - step.wait)  # the last one


def test_attempt_shares_remember_each_deadline_and_forget_many():
    shares = retry.AttemptShares(3)
    assert shares[5.0] == pytest.approx(5.0 / 3)
    assert shares[0.5] == 0.5
    assert dict(shares) == {5.0: pytest.approx(5.0 / 3), 0.5: 0.5}
    for i in range(retry.ATTEMPT_SHARES_KEPT * 2):
        assert shares[10.0 + i] == pytest.approx((10.0 + i) / 3)
    assert len(shares) <= retry.ATTEMPT_SHARES_KEPT
    assert shares[None] is None  # no deadline, no share
    assert retry.AttemptShares(1)[5.0] == 5.0  # one endpoint: all of it


# --- refusals a retry cannot change -------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ResourceExhaustedError(None, "larger than max", not_processed=True),
        ClientClosedError(),
        TLSError([("https://127.0.0.1:1", "certificate verify failed")]),
    ],
    ids=repr,
)
def test_a_refusal_that_would_repeat_is_never_retried(error):
    assert not retry.may_retry(REPEATABLE, error, 3)
    assert not retry.may_retry(AT_MOST_ONCE, error, 3)
    assert plan(deadline=None).after(error, 0.0, 1, silent=False).give_up


def test_a_tls_failure_with_the_only_endpoint_fails_the_call_at_once():
    error = TLSError([("https://a:1", "certificate verify failed")])
    p = plan()
    step = p.after(error, 0.0, 1, silent=False)
    assert (step.give_up, step.quarantine) == (True, True)
    assert p.surfaced(error) is error


def test_tls_failing_with_every_endpoint_fails_the_call_naming_each():
    a = TLSError([("http://a:1", "the server expects TLS")])
    b = TLSError([("http://b:1", "the server expects TLS")])
    p = plan(deadline=10.0)
    first = p.after(a, 1.0, 2, silent=False)
    assert (first.give_up, first.quarantine, first.wait) == (False, True, 0.0)
    assert first.timeout == pytest.approx(9.0)
    assert p.after(b, 2.0, 2, silent=False).give_up
    surfaced = p.surfaced(b)
    assert isinstance(surfaced, TLSError)
    assert surfaced.failures == [*a.failures, *b.failures]


def test_tls_failing_with_some_endpoints_only_names_them_when_the_others_fail():
    tls = TLSError([("http://a:1", "the server expects TLS")])
    refused = ConnectionFailedError([("b:1", "connection refused")])
    p = plan()
    assert not p.after(tls, 0.0, 2, silent=False).give_up
    assert not p.after(refused, 0.0, 2, silent=False).give_up
    assert not p.after(tls, 0.0, 2, silent=False).give_up  # `a` again: still 1 of 2
    surfaced = p.surfaced(refused)
    assert isinstance(surfaced, ConnectionFailedError)
    assert surfaced.failures == [*tls.failures, *refused.failures]
