"""The token rule (`_policy/auth.py`): the first token before any call, one
new token and one more attempt after a refusal for a stale one."""

from __future__ import annotations

import pytest

from pyetcd_wire._core.grpc.status import Status, StatusCode
from pyetcd_wire._policy.auth import TokenPlan, first_token
from pyetcd_wire.errors import (
    AuthOldRevisionError,
    InvalidAuthTokenError,
    PermissionDeniedError,
    UnavailableError,
    UserEmptyError,
    error_from_status,
)


class Token:
    """A `TokenView` whose installs the test makes."""

    def __init__(self) -> None:
        self.ready = False
        self.generation = 0

    def install(self) -> None:
        self.generation += 1
        self.ready = True


STALE = [
    InvalidAuthTokenError(),
    AuthOldRevisionError(),
    UserEmptyError(),
    # etcd 3.4/3.5 Maintenance calls (Snapshot's status too): the auth store's
    # own text, as UNKNOWN.
    error_from_status(Status(StatusCode.UNKNOWN, "auth: user name is empty")),
    error_from_status(Status(StatusCode.UNKNOWN, "auth: invalid auth token")),
]


def test_without_password_auth_nothing_is_fetched_or_refreshed():
    assert first_token(None) is None
    plan = TokenPlan(None)
    assert plan.before() is None
    assert plan.after(InvalidAuthTokenError()) is None


def test_the_first_call_fetches_the_token_then_every_call_sends_it():
    token = Token()
    assert first_token(token) == 0
    plan = TokenPlan(token)
    assert plan.before() == 0  # fetch over generation 0 first
    token.install()
    assert plan.before() is None  # then send
    assert first_token(token) is None  # and so does every later call


@pytest.mark.parametrize("error", STALE, ids=repr)
def test_a_refusal_for_the_token_replaces_the_one_sent_and_sends_once_more(error):
    token = Token()
    token.install()
    token.install()  # generation 2 goes out
    plan = TokenPlan(token)
    assert plan.before() is None
    token.install()  # another thread replaced it meanwhile
    assert plan.after(error) == 2  # replace the one we sent (a no-op now)
    assert plan.before() is None
    assert plan.after(error) is None  # once only: the error stands


@pytest.mark.parametrize(
    "error", [PermissionDeniedError(), UnavailableError()], ids=repr
)
def test_other_errors_stand(error):
    token = Token()
    token.install()
    plan = TokenPlan(token)
    assert plan.before() is None
    assert plan.after(error) is None


def test_refreshes_is_the_number_of_attempts_more():
    token = Token()
    token.install()
    plan = TokenPlan(token, refreshes=2)
    for _ in range(2):
        assert plan.before() is None
        assert plan.after(UserEmptyError()) == token.generation
        token.install()
    assert plan.before() is None
    assert plan.after(UserEmptyError()) is None
