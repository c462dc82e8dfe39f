"""System calls per sequential unary call, counted on a socket wrapper (not
timed): one `send` per call, the control replies riding with the next
request; reads no more than the server's writes need; no `setsockopt` per
call, with or without a deadline (the kernel timeout is quantized, and
lingers)."""

from __future__ import annotations

from typing import Any, List, Optional, Union

import pytest

from pyetcd_wire import Client
from pyetcd_wire._sync import transport
from pyetcd_wire.testing import EtcdMember

CALLS = 300


class CountingSocket:
    """A socket whose send, recv and setsockopt calls are counted."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self.sends = self.recvs = self.setsockopts = 0

    def send(self, data: Union[bytes, memoryview], /) -> int:
        self.sends += 1
        sent: int = self._sock.send(data)
        return sent

    def sendall(self, data: Union[bytes, memoryview], /) -> None:
        self.sends += 1
        self._sock.sendall(data)

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        self.recvs += 1
        data: bytes = self._sock.recv(bufsize, flags)
        return data

    def setsockopt(self, *args: Any) -> None:
        self.setsockopts += 1
        self._sock.setsockopt(*args)

    def reset(self) -> None:
        self.sends = self.recvs = self.setsockopts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@pytest.fixture
def sockets(monkeypatch: pytest.MonkeyPatch) -> List[CountingSocket]:
    """Every socket the sync driver dials, wrapped as it is dialed."""
    dialed: List[CountingSocket] = []
    connect = transport.connect

    def counted_connect(*args: Any, **kwargs: Any) -> Any:
        dialed.append(CountingSocket(connect(*args, **kwargs)))
        return dialed[-1]

    monkeypatch.setattr(transport, "connect", counted_connect)
    return dialed


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
