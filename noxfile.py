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
* bundle     `pyetcd bundle` once; the unit tests with pyetcd_wire from it; the
             builder's tests; a real-etcd smoke with `-S -E` on CPython 3.9,
             3.13 and PyPy 3, and beside a user's protobuf 7 (upb)
"""

from __future__ import annotations

import os
import shutil
import subprocess
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


# Fetches the wheels pinned in pyetcd_wire/_bundle/pins.py into sys.argv[1].
FETCH_PINNED_WHEELS = """
import shlex, subprocess, sys
from pyetcd_wire._bundle.pins import download_command
subprocess.run([sys.executable, "-m", *shlex.split(download_command(sys.argv[1]))],
               check=True)
"""
# The interpreters the bundle's smoke runs on, without site-packages.
BUNDLE_PYTHONS = ("python3.9", "python3.13", "pypy3")


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
    pythons = [_interpreter(session, name) for name in BUNDLE_PYTHONS]
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


def _interpreter(session: nox.Session, name: str) -> str:
    """The real executable behind `name` on PATH; pyenv's shims may offer
    every installed version, not only the selected ones."""
    env = {}
    if shutil.which("pyenv"):
        versions = subprocess.run(
            ["pyenv", "versions", "--bare"], capture_output=True, text=True
        ).stdout.split()
        env["PYENV_VERSION"] = ":".join(versions)
    command = (name, "-c", "import sys; print(sys.executable)")
    return str(session.run(*command, silent=True, external=True, env=env)).strip()
