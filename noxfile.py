"""The single source of truth for checks and tests (STYLE.md §7).

`scripts/test` (the README's test command, and .ci/run) runs every session
below.  Sessions:

* lint       ruff check + ruff format --check
* typecheck  mypy --strict on the package
* proto      generated code is current: the protobuf modules
             (scripts/gen_proto.py --check), the asyncio facades
             (scripts/gen_async.py --check) and the sync recipes
             (scripts/gen_recipes.py --check)
* tests      unit, fake-peer and integration tests (real etcd) on CPython
* tests_pypy the same on PyPy 3.9
* oldest_deps  unit and fake-peer tests on the oldest protobuf and hpack we claim
* gevent     the sync Client under gevent (issue 15): tests/gevent and the
             sync variants of the watch, lease, failover and lock/election
             recipe integration tests, in a pytest monkey-patched first
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
DEV = nox.project.dependency_groups(PYPROJECT, "dev")
TEST_DEPS = ["pytest>=7", "pytest-timeout>=2"]
# The oldest protobuf runtime we claim (pyproject.toml: protobuf>=4.21).
PROTOBUF_OLDEST = "protobuf==4.21.12"
HPACK_OLDEST = "hpack==4.0.0"


@nox.session(python="python3")
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="python3")
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[testing]", *DEV)
    session.run("mypy")


@nox.session(python="python3")
def proto(session: nox.Session) -> None:
    session.install("grpcio-tools>=1.60", "ruff>=0.6")
    session.run("python", "scripts/gen_proto.py", "--check")
    session.run("python", "scripts/gen_async.py", "--check")
    session.run("python", "scripts/gen_recipes.py", "--check")


@nox.session(python="python3")
def tests(session: nox.Session) -> None:
    session.install("-e", ".[testing]", *DEV)
    # The plugin's fixtures fail, not skip, without etcd: scripts/test installs it.
    session.run("python", "-m", "pytest", "--etcd-required", *session.posargs)


@nox.session(python="pypy3")
def tests_pypy(session: nox.Session) -> None:
    session.install("-e", ".[testing]", *TEST_DEPS)
    session.run("python", "-m", "pytest", "--etcd-required", *session.posargs)


@nox.session(python="python3")
def oldest_deps(session: nox.Session) -> None:
    session.install("-e", ".[testing]", *TEST_DEPS, PROTOBUF_OLDEST, HPACK_OLDEST)
    session.run("python", "-m", "pytest", "-m", "not integration", *session.posargs)


# Integration modules whose sync `Client` variants also run under gevent.
GEVENT_INTEGRATION = [
    "tests/integration/test_watch.py",
    "tests/integration/test_lease.py",
    "tests/integration/test_failover.py",
    "tests/integration/test_recipes_lock.py",
    "tests/integration/test_recipes_election.py",
]


@nox.session(python="python3")
def gevent(session: nox.Session) -> None:
    session.install("-e", ".[testing]", *TEST_DEPS, "gevent")
    # `python -m gevent.monkey` patches before pytest imports anything (the
    # README's rule for users: patch first); the plugin checks that it did
    # and leaves out the AsyncClient variants.
    session.run(
        *("python", "-m", "gevent.monkey", "--module", "pytest"),
        *("-p", "tests.gevent.plugin", "--etcd-required"),
        *("tests/gevent", *GEVENT_INTEGRATION),
        *session.posargs,
    )
