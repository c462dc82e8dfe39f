"""A plaintext connection that a TLS-only port closes before the server's
HTTP/2 preface is a TLSError ("the server expects TLS"), not a lost
connection to retry: also when it ends between the dial and the call's
start, as a loaded event loop may let it (the async driver checked the
dead connection with a ConnectionLostError, and the call dialed again)."""

from __future__ import annotations

import logging
from typing import Iterator

import pytest

from pyetcd_wire._async.channel import AsyncChannel
from pyetcd_wire._sync.channel import Channel
from pyetcd_wire.errors import TLSError
from tests.aio import run
from tests.async_bridge import ClientClass
from tests.helpers import Acceptor, wait_for


@pytest.fixture
def closing() -> Iterator[Acceptor]:
    """A port that closes every connection at once, answering nothing (as a
    TLS-only port answers a client that does not start a handshake)."""
    acceptor = Acceptor(lambda conn: None)  # the connection is closed after
    yield acceptor
    acceptor.close()


def test_a_connection_ended_before_the_call_starts_is_a_tls_error(
    closing: Acceptor,
) -> None:
    async def main() -> None:
        channel = AsyncChannel(closing.address)
        try:
            conn = await channel.connection(timeout=10)
            await conn.socket_closed  # the port closed it before any call
            with pytest.raises(TLSError, match="the server expects TLS"):
                await conn.unary("/svc/Echo", b"x", timeout=10)
        finally:
            channel.close()
            await channel.wait_closed()

    run(main())


def test_a_sync_call_on_a_connection_ended_before_it_starts_dials_no_more(
    closing: Acceptor,
) -> None:
    """The sync driver's twin of the test above: the call raises the
    TLSError, and does not start again on a new connection (a dead
    connection retired the call to a second dial, which a write's probe of
    the socket made the usual case: 28 of 30 Client.put calls dialed twice)."""
    with Channel(closing.address) as channel:
        conn = channel.connection(None)
        wait_for(lambda: not conn.pump())  # the port closed it before any call
        with pytest.raises(TLSError, match="the server expects TLS"):
            channel.unary("/svc/Echo", b"x", timeout=10)
    assert closing.count == 1


def test_the_lost_connection_is_logged_with_the_tls_error(
    closing: Acceptor,
    client_class: ClientClass,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Both drivers log the connection a TLS-only port closed with the
    TLSError's words (docs/logging.md), not just "the server closed the
    connection" (the asyncio driver logged the bare reason)."""
    caplog.set_level(logging.WARNING, logger="pyetcd_wire")
    endpoint = closing.address
    with client_class(endpoint, timeout=10) as client, pytest.raises(TLSError):
        client.get(b"k")
    lost = [
        r.getMessage()
        for r in caplog.records
        if r.name == "pyetcd_wire.connection"
        and r.getMessage().startswith(f"connection to {endpoint} lost: ")
    ]
    assert lost
    assert all("the server expects TLS" in message for message in lost)
