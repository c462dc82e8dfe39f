"""Fixtures of the python-etcd3 compatibility tests: the integration
tests' etcd servers (tests/integration/conftest.py), and a compat client of
one of them.  Tests that use an etcd server get the ``integration`` marker;
the others need none."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest

import pyetcd_wire.compat.etcd3 as etcd3
from pyetcd_wire.testing import EtcdMember
from tests.integration.conftest import etcd_binary, etcd_cluster3, etcd_single

__all__ = ["etcd_binary", "etcd_cluster3", "etcd_single"]

#: Fixtures that start etcd: a test using one is an integration test.
_SERVERS = {"etcd_binary", "etcd_single", "etcd_cluster3"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _SERVERS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def compat_client(member: EtcdMember, **kwargs: object) -> etcd3.Etcd3Client:
    """A compat client of `member` (keywords: the client's)."""
    host, port = member.endpoint.rsplit(":", 1)
    return etcd3.client(host=host, port=int(port), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def etcd(etcd_single: EtcdMember) -> Iterator[etcd3.Etcd3Client]:
    """A compat client of the session's etcd, timeout 10 s."""
    with compat_client(etcd_single, timeout=10) as client:
        yield client


@pytest.fixture
def prefix() -> str:
    """A fresh key prefix per test (the session's etcd is shared)."""
    return f"/compat/{uuid.uuid4().hex}/"
