"""The gevent tests run only in a gevent-patched session (``nox -s gevent``:
``python -m gevent.monkey --module pytest -p tests.gevent.plugin``); any
other session leaves them out, as it cannot patch before pyetcd_wire is
imported."""

from __future__ import annotations

from typing import Iterator

import pytest

from pyetcd_wire.testing import EtcdMember, find_etcd_binary
from tests.gevent.plugin import patched

if not patched():
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def etcd_binary() -> str:
    return find_etcd_binary("etcd")


@pytest.fixture(scope="module")
def member(etcd_binary: str) -> Iterator[EtcdMember]:
    """One etcd member for the module's tests; they leave it running."""
    with EtcdMember("gevent", binary=etcd_binary) as running:
        yield running
