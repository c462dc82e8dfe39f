"""Loopback TCP proxies whose behaviour the campaign switches at run time.

Every member of the campaign's cluster is reached only through proxies: one
in front of its client port (the clients' traffic), one in front of its peer
port (the member advertises that proxy's address, so every raft message *to*
it passes through it).  A proxy's mode is one of:

* ``pass``: bytes flow as they come.
* ``blackhole``: connections stay up but no byte moves, either way (what a
  dead link looks like to TCP: the sender's buffers fill, nothing errs).  The
  bytes held back flow again once the mode changes, as after a partition heals.
* ``reset``: every connection is reset (RST, not FIN), new ones too.
* ``latency``: every chunk is delivered ``latency`` seconds after it came.
* ``drip``: at most ``rate`` bytes a second, each way.

A peer proxy also learns which member opened each connection (etcd's peer
requests carry ``X-Server-From: <member id>``), so that the connections *from*
one member can be held back too: a member cut from its peers is a hold on its
own peer proxy plus a hold on its connections to every other peer proxy.

All proxies run on one event loop in a thread of their own (`ProxyHub`), so
the workload's asyncio client never shares a loop with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from dataclasses import dataclass
from typing import Any, Awaitable, Optional, Set, TypeVar

T = TypeVar("T")

PASS = "pass"
BLACKHOLE = "blackhole"
RESET = "reset"
LATENCY = "latency"
DRIP = "drip"

_CHUNK = 65536
_HEADER_LIMIT = 16384
_SOURCE_HEADER = b"\r\nx-server-from:"
# How long a new connection may take to show its request head, and to reach
# its target: longer means a fault, and the connection is dropped.
_DIAL_TIMEOUT = 2.0


@dataclass(frozen=True)
class Mode:
    kind: str = PASS
    latency: float = 0.0  # LATENCY: seconds added to every chunk
    rate: int = 0  # DRIP: bytes per second, each way

    def __str__(self) -> str:
        if self.kind == LATENCY:
            return f"latency {self.latency * 1000:.0f} ms"
        if self.kind == DRIP:
            return f"drip {self.rate} B/s"
        return self.kind


class _Link:
    """One proxied connection: the two transports and who opened it."""

    def __init__(self, source: Optional[str]) -> None:
        self.source = source
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: list[asyncio.Task[None]] = []

    def abort(self) -> None:
        for writer in self.writers:
            _abort(writer)
        for task in self.tasks:
            task.cancel()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with RST: SO_LINGER 0, then close."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            linger = struct.pack("ii", 1, 0)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    writer.transport.abort()


class Proxy:
    """127.0.0.1:`port` -> 127.0.0.1:`target`; runs on `ProxyHub`'s loop."""

    def __init__(self, name: str, port: int, target: int, *, peer: bool) -> None:
        self.name = name
        self.port = port
        self.target = target
        self.peer = peer
        self.mode = Mode()
        self.held_sources: Set[str] = set()  # peer: members whose bytes stop
        self.links: Set[_Link] = set()
        self.connections = 0
        self._server: Optional[asyncio.AbstractServer] = None
        self._changed: Optional[asyncio.Event] = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._changed = asyncio.Event()
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self.links):
            link.abort()
        self.links.clear()

    # --- switching (on the hub's loop) ---------------------------------------

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        if mode.kind == RESET:
            for link in list(self.links):
                link.abort()
        self._notify()

    def hold_source(self, source: str, held: bool) -> None:
        if held:
            self.held_sources.add(source)
        else:
            self.held_sources.discard(source)
        self._notify()

    def _notify(self) -> None:
        assert self._changed is not None
        self._changed.set()
        self._changed = asyncio.Event()

    def _held(self, link: _Link) -> bool:
        return self.mode.kind == BLACKHOLE or link.source in self.held_sources

    async def _until_flowing(self, link: _Link) -> None:
        while self._held(link):
            assert self._changed is not None
            await self._changed.wait()

    # --- connections -----------------------------------------------------------

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        if self.mode.kind == RESET:
            _abort(writer)
            return
        head = b""
        source = None
        try:
            if self.peer:
                head, source = await asyncio.wait_for(_read_head(reader), _DIAL_TIMEOUT)
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.target), _DIAL_TIMEOUT
            )
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            _abort(writer)
            return
        if self.mode.kind == RESET:
            _abort(writer)
            _abort(up_writer)
            return
        link = _Link(source)
        link.writers = [writer, up_writer]
        self.links.add(link)
        loop = asyncio.get_running_loop()
        link.tasks = [
            loop.create_task(self._pipe(link, reader, up_writer, head)),
            loop.create_task(self._pipe(link, up_reader, writer, b"")),
        ]
        try:
            await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.links.discard(link)
            link.abort()

    async def _pipe(
        self,
        link: _Link,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        first: bytes,
    ) -> None:
        """One direction: read, wait out holds and latency, write (dripping)."""
        loop = asyncio.get_running_loop()
        data = first
        try:
            while True:
                if not data:
                    await self._until_flowing(link)
                    data = await reader.read(_CHUNK)
                    if not data:
                        return
                arrived = loop.time()
                await self._until_flowing(link)
                mode = self.mode
                if mode.kind == LATENCY:
                    delay = arrived + mode.latency - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if mode.kind == DRIP and mode.rate > 0:
                    step = max(1, mode.rate // 20)
                    while data:
                        await self._until_flowing(link)
                        writer.write(data[:step])
                        data = data[step:]
                        await writer.drain()
                        await asyncio.sleep(0.05)
                else:
                    writer.write(data)
                    data = b""
                    await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            return


async def _read_head(reader: asyncio.StreamReader) -> tuple[bytes, Optional[str]]:
    """The first bytes of a peer connection, up to the end of its request
    head, and the member ID in its X-Server-From header (None: not there)."""
    head = b""
    while b"\r\n\r\n" not in head and len(head) < _HEADER_LIMIT:
        chunk = await reader.read(_CHUNK)
        if not chunk:
            break
        head += chunk
    lower = head.lower()
    at = lower.find(_SOURCE_HEADER)
    if at < 0:
        return head, None
    end = lower.find(b"\r\n", at + 2)
    return head, lower[at + len(_SOURCE_HEADER) : end].strip().decode(
        "ascii", "replace"
    )


class ProxyHub:
    """The thread and event loop every proxy runs on; switch them from any
    thread with `call`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.proxies: list[Proxy] = []
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="chaos-proxies", daemon=True
        )
        self.thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 10.0) -> T:
        async def wrapped() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout)

    def call(self, function: Any, *args: Any) -> None:
        """Run `function(*args)` on the hub's loop and wait for it."""

        async def wrapped() -> None:
            function(*args)

        self.run(wrapped())

    def add(self, name: str, port: int, target: int, *, peer: bool) -> Proxy:
        proxy = Proxy(name, port, target, peer=peer)
        self.run(proxy.start())
        self.proxies.append(proxy)
        return proxy

    def fds(self) -> Set[str]:
        """The file descriptors the proxies hold now (their listening and
        proxied sockets): the campaign's, not the clients'."""

        async def collect() -> Set[str]:
            found: Set[str] = set()
            for proxy in self.proxies:
                if proxy._server is not None:
                    found.update(str(s.fileno()) for s in proxy._server.sockets)
                for link in proxy.links:
                    for writer in link.writers:
                        sock = writer.get_extra_info("socket")
                        if sock is not None:
                            found.add(str(sock.fileno()))
            return found

        return self.run(collect())

    def close(self) -> None:
        for proxy in self.proxies:
            self.run(proxy.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
