"""Events the HTTP/2 client connection emits from `receive_data`.

Events are values: slotted, keyword-only, and never changed after
construction.  They are plain slotted classes rather than frozen dataclasses
because a frozen dataclass costs ~0.7 µs to build on CPython against ~0.15 µs,
and a unary call produces several.
Control frames (PING, SETTINGS, WINDOW_UPDATE) are handled inside the
connection and produce no event unless the caller must act.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple, Union

from ...errors import ProtocolError

HeaderList = Tuple[Tuple[bytes, bytes], ...]
Buffer = Union[bytes, bytearray, memoryview]


class H2Event:
    __slots__ = ()

    def _fields(self) -> Tuple[Any, ...]:
        names: Tuple[str, ...] = self.__slots__
        return tuple(getattr(self, name) for name in names)

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return False
        assert isinstance(other, H2Event)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((type(self), self._fields()))

    def __repr__(self) -> str:
        names: Tuple[str, ...] = self.__slots__
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__name__}({args})"


class HeadersReceived(H2Event):
    """A complete header block (HEADERS plus any CONTINUATION) on a stream."""

    __slots__ = ("end_stream", "headers", "stream_id")

    def __init__(self, *, stream_id: int, headers: HeaderList, end_stream: bool):
        self.stream_id = stream_id
        self.headers = headers
        self.end_stream = end_stream


class DataReceived(H2Event):
    """DATA payloads (padding removed) of one or more consecutive DATA frames
    on one stream: a large response arrives as a run of 16 KiB frames, and
    one event per run instead of per frame is most of the receive path's
    cost saved (the connection extends the event while it parses the run,
    before returning it).  ``length`` (the octets of `chunks`) octets of stream window
    are held until the receiver calls `acknowledge_received` (padding is
    credited at once).

    `chunks` may be memoryviews of the buffer given to `receive_data`: copy
    what you keep before that buffer is reused."""

    __slots__ = ("chunks", "end_stream", "length", "stream_id")

    def __init__(
        self, *, stream_id: int, chunks: List[Buffer], length: int, end_stream: bool
    ) -> None:
        self.stream_id = stream_id
        self.chunks = chunks
        self.length = length
        self.end_stream = end_stream

    @property
    def data(self) -> bytes:
        """All of the payload, joined (a copy)."""
        return b"".join(self.chunks)


class StreamReset(H2Event):
    """The server sent RST_STREAM."""

    __slots__ = ("error_code", "stream_id")

    def __init__(self, *, stream_id: int, error_code: int) -> None:
        self.stream_id = stream_id
        self.error_code = error_code


class GoAwayReceived(H2Event):
    """The server sent GOAWAY.  Streams in `refused_stream_ids` (above
    last_stream_id) were never processed and are now closed."""

    __slots__ = ("debug_data", "error_code", "last_stream_id", "refused_stream_ids")

    def __init__(
        self,
        *,
        last_stream_id: int,
        error_code: int,
        debug_data: bytes,
        refused_stream_ids: Tuple[int, ...],
    ) -> None:
        self.last_stream_id = last_stream_id
        self.error_code = error_code
        self.debug_data = debug_data
        self.refused_stream_ids = refused_stream_ids


class PingAcknowledged(H2Event):
    """The server answered one of our PINGs."""

    __slots__ = ("data",)

    def __init__(self, *, data: bytes) -> None:
        self.data = data


class ConnectionTerminated(H2Event):
    """The connection is over: a protocol error (`error` is set) or a local
    close / loss.  Every open stream is closed with it."""

    __slots__ = ("error", "stream_ids")

    def __init__(
        self, *, error: Optional[ProtocolError], stream_ids: Tuple[int, ...]
    ) -> None:
        self.error = error
        self.stream_ids = stream_ids
