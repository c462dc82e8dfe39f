"""The receive path's properties, checked on one server byte stream.

`drive(scenario)` feeds a `GrpcConnection` the server's bytes in the pieces
the scenario's split points make, carrying out the client's actions (start a
call, send, half-close, cancel, consume a message, ping) where the scenario
places them, and raises `PropertyFailedError` the moment one of these fails:

1. Only typed errors escape.  `receive_data` raises nothing at all: a server
   that breaks HTTP/2 or gRPC is reported as events (`ConnectionClosed` with a
   `RemoteProtocolError`, or a call ended with a status).  Any exception out of
   it, IndexError as much as one of ours, is a violation; a client command may
   raise only an `EtcdError` (see `_command`).
2. Buffered bytes stay within the configured limits: a partial frame is less
   than one frame of our SETTINGS_MAX_FRAME_SIZE, a pending header block is
   within our max header list size, a call's partial message (and every
   message delivered) within its max message size, what a consumer that
   stopped reading holds within two stream windows, and what waits to be
   sent within the flood limit.
3. After a connection error nothing more is delivered: no event follows
   `ConnectionClosed`, in that list or any later one.
4. Every started call ends, once: when the input ends the transport is
   lost, and then every call has had exactly one `CallEnded` (a call we
   cancelled has none), and no message reached a call after its end.

The same module serves the Hypothesis tests (tests/fuzz/) and the long
coverage-guided run (benchmarks/fuzz_receive.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from pyetcd_wire._core.grpc import events as ge
from pyetcd_wire._core.grpc.call import Call
from pyetcd_wire._core.grpc.connection import GrpcConnection
from pyetcd_wire._core.h2 import connection as h2c
from pyetcd_wire._core.h2 import frames as fr
from pyetcd_wire._core.state import CallState
from pyetcd_wire.errors import EtcdError, RemoteProtocolError

_SENDING = (CallState.OPEN, CallState.QUEUED)

PATHS = {
    "unary": "/etcdserverpb.KV/Range",
    "server_streaming": "/etcdserverpb.Maintenance/Snapshot",
    "stream": "/etcdserverpb.Watch/Watch",
}

# Client actions, by name, with their arguments (see `drive`):
#   ("start", kind, consume)   kind in PATHS; consume: take messages at once
#   ("send", call_index, end)  a request message on a streaming call
#   ("end", call_index)        half-close a streaming call
#   ("cancel", call_index)     give a call up
#   ("consume", call_index)    take one held message (back-pressure)
#   ("ping",)                  send a PING
Action = Tuple[object, ...]


def _is_reply(frame: bytes) -> bool:
    """A PING or SETTINGS ACK: what the peer's frames make us queue (our own
    frames, requests and PINGs, are bounded by what the client does)."""
    return (
        len(frame) >= 9
        and frame[3] in (fr.FrameType.PING, fr.FrameType.SETTINGS)
        and bool(frame[4] & fr.ACK)
    )


class PropertyFailedError(AssertionError):
    """One of the properties in the module docstring failed."""


@dataclass
class Config:
    """The client's limits for one run."""

    stream_window: int = 65_535
    connection_window: int = 1 << 20
    max_header_list_size: int = 16 * 1024
    max_recv_message_size: int = 256 * 1024
    first_stream_id: int = 1
    drain: bool = True  # take data_to_send() after each piece, as a driver does

    def connection(self) -> GrpcConnection:
        return GrpcConnection(
            authority="127.0.0.1:2379",
            stream_window=self.stream_window,
            connection_window=self.connection_window,
            max_header_list_size=self.max_header_list_size,
            max_recv_message_size=self.max_recv_message_size,
            first_stream_id=self.first_stream_id,
        )


@dataclass
class Scenario:
    """Server bytes, where to split them, and the client's actions by offset."""

    data: bytes
    splits: Sequence[int] = ()
    actions: Sequence[Tuple[int, Action]] = ()  # (offset in data, action)
    config: Config = field(default_factory=Config)


@dataclass
class Outcome:
    """What one run saw (for statistics; the properties are already checked)."""

    events: int = 0
    calls_ended: int = 0
    messages: int = 0
    connection_error: Optional[RemoteProtocolError] = None
    max_buffered: int = 0
    # SHA-256 of every message delivered, in order, for a replay to compare.
    digest: Any = field(default_factory=hashlib.sha256)


class _Run:
    def __init__(self, scenario: Scenario) -> None:
        self.config = scenario.config
        self.conn = self.config.connection()
        self.calls: List[Call] = []
        self.consume: Dict[int, bool] = {}  # id(call) -> takes messages at once
        self.held: Dict[int, List[int]] = {}  # id(call) -> sizes of held messages
        self.ended: Dict[int, int] = {}  # id(call) -> CallEnded events seen
        self.cancelled: Dict[int, None] = {}
        self.closed = False
        self.outcome = Outcome()
        self.conn.initiate()
        self.conn.data_to_send()

    # --- client actions ---------------------------------------------------------

    def act(self, action: Action) -> None:
        name = action[0]
        conn = self.conn
        if name == "start":
            if not conn.accepts_calls:
                return
            kind, consume = action[1], bool(action[2])
            if kind == "stream":
                call = self._command(conn.start_call, PATHS["stream"])
            else:
                call = self._command(
                    conn.unary,
                    PATHS[str(kind)],
                    b"\x08\x01",
                    server_streaming=kind == "server_streaming",
                )
            if isinstance(call, Call):
                self.calls.append(call)
                self.consume[id(call)] = consume or call.unary
                self.held[id(call)] = []
            return
        if name == "ping":
            self._command(conn.ping, b"fuzzping")
            return
        call = self._call(action[1])
        if call is None or id(call) in self.ended or id(call) in self.cancelled:
            return
        if name == "cancel":
            self._command(conn.cancel_call, call)
            self.cancelled[id(call)] = None
        elif name == "consume":
            held = self.held[id(call)]
            if held:
                held.pop(0)
                self._command(conn.message_consumed, call)
        elif call.unary or call.state not in _SENDING:
            return  # nothing more to send on it
        elif name == "send":
            self._command(conn.send_message, call, b"\x08\x02", end=bool(action[2]))
        elif name == "end":
            self._command(conn.end_call, call)

    def _call(self, index: object) -> Optional[Call]:
        if not self.calls or not isinstance(index, int):
            return None
        return self.calls[index % len(self.calls)]

    def _command(self, command, *args, **kwargs) -> object:  # type: ignore[no-untyped-def]
        try:
            return command(*args, **kwargs)
        except EtcdError:
            return None  # a typed refusal (e.g. the connection takes no calls)
        except Exception as exc:
            raise PropertyFailedError(
                f"{command.__name__} raised {type(exc).__name__}: {exc}"
            ) from exc

    # --- receiving --------------------------------------------------------------

    def receive(self, piece: bytes) -> None:
        try:
            events = self.conn.receive_data(piece)
        except Exception as exc:
            raise PropertyFailedError(
                f"receive_data raised {type(exc).__name__}: {exc}"
            ) from exc
        if self.closed and events:
            raise PropertyFailedError(f"events after ConnectionClosed: {events}")
        self._events(events)
        self._check_buffers()
        if self.config.drain:
            self._command(self.conn.data_to_send)

    def _events(self, events: Sequence[object]) -> None:
        self.outcome.events += len(events)
        for i, event in enumerate(events):
            if self.closed:
                raise PropertyFailedError(
                    f"{event!r} after ConnectionClosed (event {i} of {len(events)})"
                )
            kind = type(event)
            if kind is ge.ConnectionClosed:
                self._on_closed(event)  # type: ignore[arg-type]
            elif kind is ge.CallEnded:
                self._on_ended(event.call)  # type: ignore[attr-defined]
            elif kind is ge.MessageReceived:
                self._on_message(event)  # type: ignore[arg-type]
            elif kind is ge.ResponseHeadersReceived:
                self._live(event.call, "response headers")  # type: ignore[attr-defined]
            elif kind not in (ge.GoAway, ge.PingAnswered):
                raise PropertyFailedError(f"unknown event {event!r}")

    def _live(self, call: Call, what: str) -> None:
        key = id(call)
        if key not in self.consume:
            raise PropertyFailedError(f"{what} for a call never started: {call!r}")
        if key in self.ended or key in self.cancelled:
            raise PropertyFailedError(f"{what} for a call already over: {call!r}")

    def _on_message(self, event: ge.MessageReceived) -> None:
        call = event.call
        self._live(call, "message")
        self.outcome.messages += 1
        self.outcome.digest.update(event.message)
        if len(event.message) > self.config.max_recv_message_size:
            raise PropertyFailedError(
                f"a message of {len(event.message)} octets delivered, over the"
                f" {self.config.max_recv_message_size} allowed"
            )
        if self.consume[id(call)]:
            if not call.unary:
                self._command(self.conn.message_consumed, call)
            return
        held = self.held[id(call)]
        held.append(len(event.message))
        limit = 2 * self.config.stream_window
        if sum(held) > limit:
            raise PropertyFailedError(
                f"{sum(held)} octets of messages held by a consumer that stopped"
                f" reading, beyond two stream windows ({limit})"
            )

    def _on_ended(self, call: Call) -> None:
        self._live(call, "CallEnded")
        self.ended[id(call)] = 1
        self.outcome.calls_ended += 1

    def _on_closed(self, event: ge.ConnectionClosed) -> None:
        self.closed = True
        error = event.error
        if error is not None and not isinstance(error, RemoteProtocolError):
            raise PropertyFailedError(f"connection closed with {error!r}")
        self.outcome.connection_error = error
        for call in self.calls:
            if id(call) not in self.ended and id(call) not in self.cancelled:
                raise PropertyFailedError(f"{call!r} still open after ConnectionClosed")

    def _check_buffers(self) -> None:
        h2 = self.conn.h2
        cfg = self.config
        partial = len(h2._inbuf)
        if partial >= 9 + fr.MIN_MAX_FRAME_SIZE:
            raise PropertyFailedError(f"{partial} octets of one frame buffered")
        pending = h2._header_block
        if pending is not None and pending[3] > cfg.max_header_list_size:
            raise PropertyFailedError(f"header block of {pending[3]} octets buffered")
        if (
            pending is not None
            and len(pending[2]) > 1 + pending[3] // h2c.CONTINUATION_OVERHEAD
        ):
            raise PropertyFailedError(f"header block in {len(pending[2])} frames held")
        largest = partial
        for call in self.conn._calls.values():
            buffered = call.decoder.buffered
            if buffered > cfg.max_recv_message_size + 5:
                raise PropertyFailedError(
                    f"{buffered} octets of one message buffered, over the"
                    f" {cfg.max_recv_message_size} allowed"
                )
            largest = max(largest, buffered)
        if not cfg.drain:
            replies = sum(1 for frame in h2._out if _is_reply(frame))
            if replies > h2c.MAX_QUEUED_CONTROL_FRAMES:
                raise PropertyFailedError(
                    f"{replies} PING/SETTINGS ACKs wait to be sent"
                )
        self.outcome.max_buffered = max(self.outcome.max_buffered, largest)

    # --- the end ----------------------------------------------------------------

    def finish(self) -> Outcome:
        was_closed = self.closed
        try:
            events = self.conn.connection_lost("end of input")
        except Exception as exc:
            raise PropertyFailedError(
                f"connection_lost raised {type(exc).__name__}: {exc}"
            ) from exc
        if was_closed and any(type(e) is not ge.CallEnded for e in events):
            raise PropertyFailedError(f"events after ConnectionClosed: {events}")
        self.closed = False  # calls queued behind a closed connection end here
        self._events(events)
        for call in self.calls:
            key = id(call)
            if key not in self.ended and key not in self.cancelled:
                raise PropertyFailedError(f"{call!r} never ended")
        return self.outcome


def pieces(data: bytes, splits: Sequence[int]) -> List[Tuple[int, bytes]]:
    """`data` cut at `splits` (any ints; clamped, sorted): (offset, piece)."""
    cuts = sorted({min(max(s, 0), len(data)) for s in splits} | {0, len(data)})
    return [(a, data[a:b]) for a, b in zip(cuts, cuts[1:])]


def drive(scenario: Scenario) -> Outcome:
    """Run `scenario`, checking the module's properties; raises PropertyFailedError."""
    run = _Run(scenario)
    actions = sorted(scenario.actions, key=lambda pair: pair[0])
    offsets = [max(offset, 0) for offset, _ in actions]
    cuts = list(scenario.splits) + offsets
    next_action = 0
    for offset, piece in pieces(scenario.data, cuts) or [(0, b"")]:
        while next_action < len(actions) and offsets[next_action] <= offset:
            run.act(actions[next_action][1])
            next_action += 1
        if piece:
            run.receive(piece)
    for _, action in actions[next_action:]:
        run.act(action)
    return run.finish()
