"""Pytest plugin for python-etcd3's ``tests/test_etcd3.py`` run against
`pyetcd_wire.compat.etcd3` (``nox -s etcd3_suite``; tests/etcd3_suite/run.py
loads it).  Loaded nowhere else: a plain ``pytest`` never imports it.

* ``import etcd3`` is ours for this run only: `pyetcd_wire.compat.etcd3` and
  every module under it enter ``sys.modules`` under python-etcd3's names
  (``etcd3``, ``etcd3.client``, ``etcd3.exceptions``, ...) when pytest is
  configured, and leave when it is unconfigured.
* ``etcd3.client()`` without a host or port: upstream ran its suite under
  pifpaf, with a member on localhost:2379, and some tests (the alarms, the
  compaction) call ``etcd3.client()`` bare.  Our cluster has free ports, so
  for this run those two defaults are ``$PYTHON_ETCD_HTTP_URL``'s.
* The tests that need grpc internals or private helpers are deselected by
  name (`DESELECTED`, a reason each).  A name the file does not define is an
  error, so a typo or an upstream rename fails the run instead of leaving a
  test deselected that no longer exists, or running one that should not.
* Hypothesis' ``function_scoped_fixture`` health check is suppressed: newer
  Hypothesis fails the file's ``@given`` tests, which take the
  function-scoped ``etcd`` fixture (one client for all the examples, as the
  file means).  The file itself is run as published.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import os
import pkgutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Set
from urllib.parse import urlsplit

import pytest

#: The package tested, and the name python-etcd3's tests import it by.
PACKAGE = "pyetcd_wire.compat.etcd3"
ALIAS = "etcd3"

_GRPC_ERROR = "mocks a grpc stub to raise grpc.RpcError with a grpc status code"
#: ``Class::test`` of the file: why each is not run.  The rest, every test
#: through the public API, must pass.
DESELECTED: Dict[str, str] = {
    "TestEtcd3::test_new_watch_error": (
        "patches the private condition etcd.watcher._new_watch_cond"
    ),
    "TestEtcd3::test_watch_exception_during_watch": (
        "replaces etcd.watcher with a mock that hands the callback a grpc.RpcError"
        " with a grpc status code (MockedException)"
    ),
    "TestEtcd3::test_watch_timeout_on_establishment": (
        "patches the private grpc stub etcd.watcher._watch_stub"
    ),
    "TestEtcd3::test_internal_exception_on_internal_error": _GRPC_ERROR,
    "TestEtcd3::test_connection_failure_exception_on_connection_failure": (_GRPC_ERROR),
    "TestEtcd3::test_connection_timeout_exception_on_connection_timeout": (_GRPC_ERROR),
    "TestEtcd3::test_grpc_exception_on_unknown_code": _GRPC_ERROR,
    "TestClient::test_user_pwd_auth": (
        "patches the grpc stub etcdrpc.AuthStub and checks client.call_credentials"
        " (token call credentials)"
    ),
}

#: What pytest_unconfigure undoes.
_undo: List[Callable[[], None]] = []


def alias_modules(package: str, alias: str) -> Dict[str, ModuleType]:
    """`package` and every module under it (imported here), keyed by the name
    each has with `alias` in place of `package`."""
    top = importlib.import_module(package)
    own = dict(vars(top))
    modules = {alias: top}
    for info in pkgutil.walk_packages(top.__path__, package + "."):
        modules[alias + info.name[len(package) :]] = importlib.import_module(info.name)
    # Importing a submodule binds it on its package; the package's own names
    # stay (python-etcd3's ``etcd3.client`` is the function, not the module).
    for name, value in own.items():
        if vars(top).get(name) is not value:
            setattr(top, name, value)
    return modules


def with_default_address(
    client: Callable[..., Any], host: str, port: int, takes: Callable[..., Any]
) -> Callable[..., Any]:
    """`client`, with `host` and `port` for the ones a call leaves out; a
    call's arguments are those of `takes` (`client` may pass them on as
    ``*args, **kwargs``)."""
    signature = inspect.signature(takes)

    @functools.wraps(client)
    def pointed(*args: Any, **kwargs: Any) -> Any:
        given = signature.bind_partial(*args, **kwargs).arguments
        if "host" not in given:
            kwargs["host"] = host
        if "port" not in given:
            kwargs["port"] = port
        return client(*args, **kwargs)

    return pointed


def defined_tests(source: str) -> Set[str]:
    """``Class::test`` (or ``test``) of every test a test file defines."""
    names: Set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.update(
                f"{node.name}::{child.name}"
                for child in node.body
                if isinstance(child, ast.FunctionDef) and child.name.startswith("test")
            )
    return names


def unknown_names(deselected: Dict[str, str], source: str) -> List[str]:
    """The names of `deselected` that the file `source` does not define."""
    return sorted(set(deselected) - defined_tests(source))


def _name(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[-1]


def pytest_configure(config: pytest.Config) -> None:
    modules = alias_modules(PACKAGE, ALIAS)
    taken = sorted(
        name
        for name, module in modules.items()
        if sys.modules.get(name, module) is not module
    )
    if taken:
        raise pytest.UsageError(f"already imported, not from {PACKAGE}: {taken}")
    sys.modules.update(modules)
    _undo.append(lambda: [sys.modules.pop(name, None) for name in modules])
    url = os.environ.get("PYTHON_ETCD_HTTP_URL")
    original = getattr(modules[ALIAS], "client", None)
    if url and original is not None:  # without it, the file's imports fail
        top, address = modules[ALIAS], urlsplit(url)
        top.client = with_default_address(
            original, address.hostname, address.port, takes=top.Etcd3Client
        )
        _undo.append(lambda: setattr(top, "client", original))
    suppress_the_fixture_health_check()


def suppress_the_fixture_health_check() -> None:
    """Load a Hypothesis profile without the function_scoped_fixture check.

    Before the file is imported: its ``@given`` tests take their settings
    when they are defined, from the profile the file loads, which it
    registers without a parent, so on top of the profile loaded now.
    """
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "etcd3_suite",
        parent=settings.default,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    settings.load_profile("etcd3_suite")


def pytest_unconfigure(config: pytest.Config) -> None:
    while _undo:
        _undo.pop()()


def pytest_report_header(config: pytest.Config) -> str:
    module = sys.modules[ALIAS]
    url = os.environ.get("PYTHON_ETCD_HTTP_URL", "localhost:2379")
    return f"etcd3 is {PACKAGE} ({module.__file__}); etcd3.client() at {url}"


@pytest.hookimpl(tryfirst=True)  # before -k and -m: the whole file is there
def pytest_collection_modifyitems(
    config: pytest.Config, items: List[pytest.Item]
) -> None:
    for path in sorted({Path(str(item.path)) for item in items}):
        unknown = unknown_names(DESELECTED, path.read_text(encoding="utf-8"))
        if unknown:
            raise pytest.UsageError(
                f"tests/etcd3_suite/plugin.py deselects tests {path.name} does"
                f" not define: {unknown}"
            )
    dropped = [item for item in items if _name(item) in DESELECTED]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if _name(item) not in DESELECTED]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.section("deselected: they need grpc internals or private helpers")
    for name, reason in DESELECTED.items():
        terminalreporter.line(f"{name}: {reason}")
