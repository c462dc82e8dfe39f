"""Fixtures for the `pyetcd` command line: one etcd for the session, the
real etcdctl next to it, and runners for both.

Most tests call `pyetcd_wire.cli.main(argv)` in-process (fast); a few spawn
`python -m pyetcd_wire`.  Tests that touch etcd get the `integration`
marker, like tests/integration.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import uuid
from typing import Callable, Iterator, NamedTuple, Sequence

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.cli import main
from pyetcd_wire.testing import EtcdBinaryNotFoundError, EtcdMember, find_etcd_binary
from tests.missing import missing


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "cli_etcd" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


def _binary(name: str) -> str:
    try:
        return find_etcd_binary(name)
    except EtcdBinaryNotFoundError as exc:
        missing(str(exc))


@pytest.fixture(scope="session")
def cli_etcd() -> Iterator[EtcdMember]:
    """One etcd member for every command line test."""
    with EtcdMember("cli", binary=_binary("etcd")) as member:
        yield member


@pytest.fixture
def key() -> str:
    """A fresh key prefix per test."""
    return f"/cli/{uuid.uuid4().hex[:12]}/"


@pytest.fixture(scope="session")
def etcdctl_binary() -> str:
    return _binary("etcdctl")


class Result(NamedTuple):
    code: int
    out: bytes
    err: str


# etcdctl's zap logger writes JSON lines on stderr ("retrying of unary
# invoker failed", snapshot progress); they are not part of its interface.
LOG_LINE = re.compile(r'^\{"level":.*\n', re.MULTILINE)


def run_in_process(argv: Sequence[str], stdin: bytes = b"") -> Result:
    """`pyetcd argv...` through `main`, with stdio replaced."""
    saved = sys.stdin, sys.stdout, sys.stderr
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.StringIO()
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    sys.stdout, sys.stderr = out, err
    try:
        code = main(list(argv))
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    out.flush()
    return Result(code, out.buffer.getvalue(), err.getvalue())  # type: ignore[attr-defined]


Runner = Callable[..., Result]


@pytest.fixture
def ours(cli_etcd: EtcdMember) -> Runner:
    """Our command line against the session's etcd."""

    def run(*argv: str, stdin: bytes = b"") -> Result:
        return run_in_process([f"--endpoints={cli_etcd.endpoint}", *argv], stdin)

    return run


@pytest.fixture
def theirs(cli_etcd: EtcdMember, etcdctl_binary: str) -> Runner:
    """The real etcdctl against the same etcd."""

    def run(*argv: str, stdin: bytes = b"") -> Result:
        done = subprocess.run(
            [etcdctl_binary, f"--endpoints={cli_etcd.endpoint}", *argv],
            input=stdin,
            capture_output=True,
            timeout=30,
            env={**os.environ, "ETCDCTL_API": "3"},
            check=False,
        )
        err = LOG_LINE.sub("", done.stderr.decode("utf-8", "replace"))
        return Result(done.returncode, done.stdout, err)

    return run


@pytest.fixture(scope="session")
def client(cli_etcd: EtcdMember) -> Iterator[etcd.Client]:
    """One client of the same etcd, to set up and check what commands do."""
    shared = etcd.Client(cli_etcd.endpoint, timeout=10)
    yield shared
    shared.close()
