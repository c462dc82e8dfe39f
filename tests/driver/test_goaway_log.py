"""The GOAWAY record (docs/logging.md): etcd sends GOAWAY when it stops or
restarts, which a real etcd does not do on demand; both drivers log it once,
at INFO on ``pyetcd_wire.connection``, naming the endpoint and the debug data."""

from __future__ import annotations

import logging
from typing import Iterator

import pytest

from pyetcd_wire._async.channel import AsyncChannel
from pyetcd_wire._sync.channel import Channel
from pyetcd_wire.testing.fake_peer import FakeEtcdPeer
from pyetcd_wire.testing.peer_events import PeerEvent, RequestEnded
from pyetcd_wire.testing.peer_server import PeerServer
from tests.aio import run, wait_until
from tests.helpers import wait_for


@pytest.fixture
def server() -> Iterator[PeerServer]:
    """A fake etcd that, on the first call, says GOAWAY ("restarting") and
    then answers it."""

    def handler(peer: FakeEtcdPeer, event: PeerEvent) -> None:
        if isinstance(event, RequestEnded):
            peer.goaway(last_stream_id=event.stream_id, debug_data=b"restarting")
            peer.reply(event.stream_id, b"done")

    with PeerServer(handler, listen=True) as server:
        yield server


def _went_away(caplog: pytest.LogCaptureFixture, endpoint: str) -> list:
    expected = (
        f"{endpoint} sent GOAWAY (error code 0, 'restarting'): calls in flight"
        " finish there, new calls go to a new connection"
    )
    return [
        r
        for r in caplog.records
        if r.name == "pyetcd_wire.connection"
        and r.levelno == logging.INFO
        and r.getMessage() == expected
    ]


def test_goaway_is_logged_by_the_sync_driver(server, caplog):
    caplog.set_level(logging.INFO, logger="pyetcd_wire")
    host, port = server.address
    endpoint = f"{host}:{port}"
    with Channel(endpoint) as channel:
        assert channel.unary("/svc/Echo", b"x", timeout=10) == b"done"
        wait_for(lambda: _went_away(caplog, endpoint))
    assert len(_went_away(caplog, endpoint)) == 1


def test_goaway_is_logged_by_the_asyncio_driver(server, caplog):
    caplog.set_level(logging.INFO, logger="pyetcd_wire")
    host, port = server.address
    endpoint = f"{host}:{port}"

    async def main() -> bytes:
        channel = AsyncChannel(endpoint)
        try:
            reply = await channel.unary("/svc/Echo", b"x", timeout=10)
            await wait_until(lambda: _went_away(caplog, endpoint))
            return reply
        finally:
            channel.close()
            await channel.wait_closed()

    assert run(main()) == b"done"
    assert len(_went_away(caplog, endpoint)) == 1
