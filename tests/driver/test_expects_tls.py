"""A plaintext connection the server ends before its HTTP/2 preface: a
TLS-only port, or a proxy whose member is gone.  The client asks the port
for a TLS handshake on a second connection to tell which: a TLSError ("the
server expects TLS"), not retried, if it answers; else a ConnectionFailedError
that is retried like any failed dial (a TLSError there failed every call to
a member behind a TCP proxy while the member was down).  Also when the
connection ends between the dial and the call's start, as a loaded event
loop may let it."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Iterator

import pytest

import pyetcd_wire as etcd
from pyetcd_wire._async.channel import AsyncChannel
from pyetcd_wire._client.dial_errors import ClosedBeforeAnswerError
from pyetcd_wire._sync.channel import Channel
from pyetcd_wire.errors import ConnectionFailedError, DeadlineExceededError, TLSError
from tests.aio import run
from tests.async_bridge import ClientClass
from tests.helpers import Acceptor, wait_for
from tests.tls_certs import Certs, make_certs


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(Path(tmp_path_factory.mktemp("certs")))


@pytest.fixture
def closing() -> Iterator[Acceptor]:
    """A port that closes every connection at once, answering nothing: a
    TCP proxy whose member is down (it answers no TLS either)."""
    acceptor = Acceptor(lambda conn: None)  # the connection is closed after
    yield acceptor
    acceptor.close()


@pytest.fixture
def tls_only(certs: Certs) -> Iterator[Acceptor]:
    """A TLS-only port: it closes a connection that does not start a TLS
    handshake, as etcd with client TLS does, and completes one that does."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    context.set_alpn_protocols(["h2"])

    def handle(conn) -> None:  # type: ignore[no-untyped-def]
        conn.settimeout(10)
        try:
            with context.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass  # not TLS: closed, as the test wants

    acceptor = Acceptor(handle)
    yield acceptor
    acceptor.close()


def test_an_async_connection_ended_before_the_call_starts_fails_the_call_as_a_dial(
    closing: Acceptor,
) -> None:
    async def main() -> None:
        channel = AsyncChannel(closing.address)
        try:
            conn = await channel.connection(timeout=10)
            await conn.socket_closed  # the port closed it before any call
            with pytest.raises(ClosedBeforeAnswerError, match="before answering"):
                await conn.unary("/svc/Echo", b"x", timeout=10)
        finally:
            channel.close()
            await channel.wait_closed()

    run(main())


def test_a_sync_call_on_a_connection_ended_before_it_starts_dials_no_more(
    closing: Acceptor,
) -> None:
    """The sync driver's twin of the test above: the call raises the
    connection's error, and does not start again on a new connection (the
    client decides: a dead connection retired the call to a second dial,
    which a write's probe of the socket made the usual case)."""
    with Channel(closing.address) as channel:
        conn = channel.connection(None)
        wait_for(lambda: not conn.pump())  # the port closed it before any call
        with pytest.raises(ClosedBeforeAnswerError, match="before answering"):
            channel.unary("/svc/Echo", b"x", timeout=10)
    assert closing.count == 1


def test_the_next_call_on_a_sync_channel_dials_again(closing: Acceptor) -> None:
    """A channel whose connection the server ended before answering dials a
    new one for its next call: the member behind a proxy may be back (the
    dead connection's error, raised to every later call, made a member once
    down unusable for unary calls; found by the fault campaign)."""
    with Channel(closing.address) as channel:
        conn = channel.connection(None)
        wait_for(lambda: not conn.pump())
        with pytest.raises(ClosedBeforeAnswerError, match="before answering"):
            channel.unary("/svc/Echo", b"x", timeout=10)
        assert closing.count == 1
        with pytest.raises(ClosedBeforeAnswerError, match="before answering"):
            channel.unary("/svc/Echo", b"x", timeout=10)
        assert closing.count == 2


def test_a_tls_only_port_fails_the_call_at_once(
    tls_only: Acceptor, client_class: ClientClass
) -> None:
    raises = pytest.raises(TLSError, match="the server expects TLS")
    with client_class(tls_only.address, timeout=None) as client, raises as info:
        client.get(b"k")
    assert not info.value.retryable
    assert info.value.failures[0][0] == tls_only.address
    assert tls_only.count == 2  # the call's connection, and the probe's


def test_a_port_that_answers_no_tls_either_is_retried_until_the_deadline(
    closing: Acceptor, client_class: ClientClass
) -> None:
    raises = pytest.raises((ConnectionFailedError, DeadlineExceededError))
    with client_class(closing.address, timeout=1.0) as client, raises as info:
        client.get(b"k")
    assert not isinstance(info.value, TLSError)
    assert info.value.retryable
    # Each attempt is a dial and a probe; Go's backoff allows many in 1 s.
    assert closing.count >= 4


def test_the_lost_connection_is_logged_with_what_the_server_did(
    closing: Acceptor,
    client_class: ClientClass,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Both drivers log the connection the port closed with the error's
    words (docs/logging.md), not just "the server closed the connection"
    (the asyncio driver logged the bare reason)."""
    caplog.set_level(logging.WARNING, logger="pyetcd_wire")
    endpoint = closing.address
    with client_class(endpoint, timeout=0.5) as client, pytest.raises(etcd.EtcdError):
        client.get(b"k")
    lost = [
        r.getMessage()
        for r in caplog.records
        if r.name == "pyetcd_wire.connection"
        and r.getMessage().startswith(f"connection to {endpoint} lost: ")
    ]
    assert lost
    assert all("closed the connection before answering HTTP/2" in m for m in lost)
