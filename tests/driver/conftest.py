"""Fixtures of the stream-worker driver tests (test_watch_driver.py,
test_keepalive_driver.py): a `FakeEtcd` behind a `PeerServer`, and a client
of it, of each kind.

Every test runs against `Client` and against `AsyncClient` behind the
blocking bridge (tests/async_bridge.py), the same body checking both
drivers; a test about the sync driver's own machinery (its worker thread,
the reader role) parametrizes `client_class` to `Client` alone.
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple, Union

import pytest

from pyetcd_wire import Client
from pyetcd_wire.testing.peer_server import PeerServer
from tests.async_bridge import AnyClient, BlockingAsyncClient, ClientClass
from tests.driver.fake_etcd import FakeEtcd


@pytest.fixture(params=["sync", "async"])
def client_class(request: pytest.FixtureRequest) -> ClientClass:
    """The client under test: `Client`, then `AsyncClient` (bridged)."""
    if request.param == "sync":
        return Client
    return BlockingAsyncClient


@pytest.fixture
def etcd(client_class: ClientClass) -> Iterator[object]:
    """``etcd(unix_path=None, **client_kwargs) -> (fake, server, client)``:
    a FakeEtcd listening on loopback (or on `unix_path`) and a client of
    `client_class` connected to it; all closed after the test."""
    made: List[Union[PeerServer, AnyClient]] = []

    def start(
        *, unix_path: Optional[str] = None, **client_kwargs: object
    ) -> Tuple[FakeEtcd, PeerServer, AnyClient]:
        fake = FakeEtcd()
        server = PeerServer(fake, listen=True, unix_path=unix_path)
        fake.server = server
        made.append(server)
        if unix_path:
            endpoint = f"unix://{unix_path}"
        else:
            assert server.address is not None
            host, port = server.address
            endpoint = f"{host}:{port}"
        client_kwargs.setdefault("dial_timeout", 2.0)
        client = client_class(endpoint, **client_kwargs)
        made.append(client)
        return fake, server, client

    yield start
    for thing in reversed(made):
        thing.close()
