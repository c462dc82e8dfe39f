"""A socket wrapper that counts the calls that are system calls (send, recv,
setsockopt): the per-call counts `bench_unary.py` prints, and what
tests/integration/test_syscalls_per_call.py asserts.  Imports nothing from
the other benchmark modules, so tests can import it as
``benchmarks._counting``."""

from __future__ import annotations

from typing import Any, Union


class CountingSocket:
    """A socket whose send, recv and setsockopt calls are counted; the rest
    is the socket's."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self.sends = self.recvs = self.setsockopts = 0

    def send(self, data: Union[bytes, memoryview], /) -> int:
        self.sends += 1
        sent: int = self._sock.send(data)
        return sent

    def sendall(self, data: Union[bytes, memoryview], /) -> None:
        # One syscall unless the kernel takes part of it (never, here: a
        # request is a few hundred bytes).
        self.sends += 1
        self._sock.sendall(data)

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        self.recvs += 1
        data: bytes = self._sock.recv(bufsize, flags)
        return data

    def setsockopt(self, level: int, optname: int, value: Any, /) -> None:
        self.setsockopts += 1
        self._sock.setsockopt(level, optname, value)

    def reset(self) -> None:
        self.sends = self.recvs = self.setsockopts = 0

    def per_call(self, calls: int) -> str:
        return (
            f"{self.sends / calls:.2f} send, {self.recvs / calls:.2f} recv,"
            f" {self.setsockopts / calls:.2f} setsockopt"
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
