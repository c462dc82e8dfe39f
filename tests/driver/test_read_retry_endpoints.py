"""A read whose attempt ran out of its share of the deadline is sent again
to an endpoint this call has not tried yet, whatever other calls did to the
round robin meanwhile.

The attempt shares (`_policy/retry.py: attempt_timeout`) split what is left
of a read's deadline among the endpoints still untried; the share is only
right if the next attempt really goes to one of them.  A member that is slow
but not silent (a connection that trickles, so the endpoint is not
quarantined) used to get the retry again whenever other threads' calls had
moved the shared round robin back to it, and the read then spent its whole
deadline there.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Iterator, List

import h2.exceptions
import pytest

from pyetcd_wire._proto import rpc_pb2
from pyetcd_wire.testing.fake_peer import FakeEtcdPeer
from pyetcd_wire.testing.peer_events import PeerEvent, RequestReceived
from pyetcd_wire.testing.peer_server import PeerServer, canned_reply_handler
from tests.async_bridge import ClientClass
from tests.helpers import wait_for

RANGE = "/etcdserverpb.KV/Range"


class Trickling:
    """A member that takes every request and answers none, but keeps its
    connection busy: a PING every 50 ms, so the client hears from it (a slow
    member, not a frozen one)."""

    def __init__(self) -> None:
        self.ranges = 0
        self.server = PeerServer(self.handle, listen=True)
        self._stop = threading.Event()
        self._pinger = threading.Thread(target=self._ping, daemon=True)
        self._pinger.start()

    def handle(self, peer: FakeEtcdPeer, event: PeerEvent) -> None:
        if isinstance(event, RequestReceived) and event.path == RANGE:
            self.ranges += 1

    def _ping(self) -> None:
        while not self._stop.wait(0.05):
            for connection in list(self.server.connections):
                if connection.closed.is_set():
                    continue
                # The client may close it between the check and the PING.
                try:
                    with connection.script() as peer:
                        peer.ping()
                except (h2.exceptions.ProtocolError, OSError):
                    pass

    def close(self) -> None:
        self._stop.set()
        self._pinger.join(5.0)
        self.server.close()


def _endpoint(server: PeerServer) -> str:
    assert server.address is not None
    host, port = server.address
    return f"{host}:{port}"


@pytest.fixture
def members() -> Iterator[Dict[str, Any]]:
    slow = Trickling()
    answer = rpc_pb2.RangeResponse(header=rpc_pb2.ResponseHeader(revision=7))
    good = PeerServer(canned_reply_handler(answer.SerializeToString()), listen=True)
    yield {"slow": slow, "good": good}
    good.close()
    slow.close()


def test_a_read_retries_on_an_endpoint_it_has_not_tried(
    members: Dict[str, Any], client_class: ClientClass
) -> None:
    slow, good = members["slow"], members["good"]
    # The slow member first: the client's round robin starts there.
    with client_class(
        [_endpoint(slow.server), _endpoint(good)], dial_timeout=2.0
    ) as client:
        outcome: List[object] = []

        def read() -> None:
            try:
                outcome.append(client.get(b"k", timeout=2.4))
            except Exception as exc:  # the test reports it
                outcome.append(exc)

        reader = threading.Thread(target=read)
        reader.start()
        wait_for(lambda: slow.ranges == 1)
        # Another caller's read goes to the good member and moves the round
        # robin back to the slow one, before the first read's share runs out.
        assert client.get(b"k").header.revision == 7
        reader.join(10.0)
        assert not reader.is_alive()
        # Its share (1.2 s) ran out on the slow member; the rest of its
        # deadline went to the good one, never to the slow member again.
        assert len(outcome) == 1
        assert not isinstance(outcome[0], Exception), outcome[0]
        assert slow.ranges == 1
