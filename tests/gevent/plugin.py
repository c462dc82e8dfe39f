"""Pytest plugin for a session under gevent (``nox -s gevent``).

Load it with ``-p tests.gevent.plugin`` in a pytest run started by
``python -m gevent.monkey --module pytest``, which monkey-patches the
standard library before anything (pytest, the conftests, pyetcd_wire) is
imported: patching must come first, as the README says for users.

It refuses a session that is not patched (the tests would pass without
testing gevent), and leaves out the AsyncClient variants of the integration
tests (the `client_class` fixture's "async" parameter): asyncio under gevent
is not supported.
"""

from __future__ import annotations

from typing import Any, Iterator, List

import pytest


def patched() -> bool:
    """True if gevent has monkey-patched the socket module (never imports
    gevent: a session without it is not patched)."""
    import sys

    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("socket"))


def pytest_configure(config: pytest.Config) -> None:
    if not patched():
        raise pytest.UsageError(
            "tests.gevent.plugin needs a gevent-patched session: run"
            " python -m gevent.monkey --module pytest -p tests.gevent.plugin ..."
        )


def pytest_collection_modifyitems(
    config: pytest.Config, items: List[pytest.Item]
) -> None:
    kept: List[pytest.Item] = []
    dropped: List[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("client_class") == "async":
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_sessionstart(session: pytest.Session) -> None:
    import gevent

    # The event loop's own descriptors (epoll, eventfd) exist before the
    # first test's leak-check snapshot (tests/conftest.py), not during it.
    gevent.get_hub()
    gevent.idle()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    yield
    _closes_done()


def pytest_fixture_post_finalizer(fixturedef: Any, request: Any) -> None:
    _closes_done()


def _closes_done() -> None:
    """Let gevent finish the closes it deferred: its os.close closes a
    directory's or socket's descriptor on the event loop's next turn (the
    test kit's rmtree of a member's data dir), which the leak check would
    report as left open."""
    import gevent

    gevent.idle()
