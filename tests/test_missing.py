"""tests/missing.py: a test that needs what this machine lacks skips on a
developer's machine and fails under --etcd-required (every nox session that
runs real-etcd tests) or in CI, so a skip never hides a broken setup."""

from __future__ import annotations

import pytest

from tests import missing


def test_it_skips_saying_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(missing._state, "required", False)
    with pytest.raises(pytest.skip.Exception, match="no openssl here"):
        missing.missing("no openssl here")


def test_it_fails_where_every_test_must_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(missing._state, "required", True)
    with pytest.raises(pytest.fail.Exception, match="no openssl here"):
        missing.missing("no openssl here")


@pytest.mark.parametrize(
    ("etcd_required", "ci", "required"),
    [(False, "", False), (True, "", True), (False, "true", True), (True, "1", True)],
)
def test_every_test_must_run_under_etcd_required_or_in_ci(
    monkeypatch: pytest.MonkeyPatch, etcd_required: bool, ci: str, required: bool
) -> None:
    monkeypatch.setenv("CI", ci)
    assert missing.every_test_must_run(etcd_required) is required


def test_this_session_was_configured(pytestconfig: pytest.Config) -> None:
    """tests/conftest.py read this session's --etcd-required (and CI): the
    state is a bool, not the None of a session that never configured it."""
    etcd_required = bool(pytestconfig.getoption("etcd_required", default=False))
    assert missing._state["required"] is missing.every_test_must_run(etcd_required)
