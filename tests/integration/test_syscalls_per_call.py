"""System calls per sequential unary call, counted on a socket wrapper (not
timed): one `send` per call, the control replies riding with the next
request; reads no more than the server's writes need; no `setsockopt` per
call, with or without a deadline (the kernel timeout is quantized, and
lingers)."""

from __future__ import annotations

from typing import List, Optional

import pytest

from benchmarks._counting import CountingSocket
from pyetcd_wire import Client
from pyetcd_wire.testing import EtcdMember
from tests.helpers import count_dialed_sockets

CALLS = 300


@pytest.fixture
def sockets(monkeypatch: pytest.MonkeyPatch) -> List[CountingSocket]:
    """Every socket the sync driver dials, wrapped as it is dialed."""
    return count_dialed_sockets(monkeypatch)


@pytest.mark.parametrize("timeout", [None, 60.0], ids=["no-deadline", "deadline"])
def test_a_sequential_call_costs_one_send_and_no_setsockopt(
    etcd_single: EtcdMember, sockets: List[CountingSocket], timeout: Optional[float]
) -> None:
    with Client(etcd_single.endpoint, timeout=timeout) as client:
        client.put("/syscalls/key", "v" * 100)
        for _ in range(50):  # settled: prefaces, SETTINGS and their ACKs
            client.get("/syscalls/key", serializable=True)
        assert len(sockets) == 1
        counted = sockets[0]
        counted.reset()
        for _ in range(CALLS):
            assert client.get("/syscalls/key", serializable=True).kvs
        sends, recvs, setsockopts = (
            counted.sends,
            counted.recvs,
            counted.setsockopts,
        )
    # One send per request.  A PING ACK or WINDOW_UPDATE that a call's last
    # read brought rides with the next request; one sent on its own answers a
    # read that did not end the call (the server's PING came ahead of the
    # response's end), at most one per such read.
    assert sends >= CALLS
    assert sends - CALLS <= recvs - CALLS
    # etcd writes a response in one or a few pieces.
    assert recvs <= 3 * CALLS
    # Kernel timeouts are set once per direction at most, not per call: a
    # deadline's remaining time is rounded down to a power of two
    # milliseconds, and a timeout set for a control reply sent on its own
    # (within 5 s) stays for the calls after it.
    assert setsockopts <= 2
