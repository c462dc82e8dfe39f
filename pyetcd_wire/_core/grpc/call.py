"""Per-call state of one gRPC call (state tables in ../state.py)."""

from __future__ import annotations

from typing import Any, Deque, Optional, Tuple

from .. import state as st
from .framing import MessageDecoder

HeaderList = Tuple[Tuple[bytes, bytes], ...]


# Members read on the per-call path, as globals (see state.py: `_Enum`).
_CALL_QUEUED = st.CallState.QUEUED
_RESPONSE_AWAITING_HEADERS = st.ResponseState.AWAITING_HEADERS


class Call:
    """One call on a `GrpcConnection`.

    `context` belongs to the driver (it stores its waiter there); the core
    never reads it.
    """

    __slots__ = (
        "cancellable",
        "context",
        "decoder",
        "header_block",
        "outbox",
        "path",
        "response",
        "response_headers",
        "state",
        "stream_id",
        "unary",
        "undelivered",
        "withheld",
    )

    def __init__(
        self, path: str, header_block: bytes, decoder: MessageDecoder, unary: bool
    ):
        self.path = path
        self.header_block = header_block
        self.decoder = decoder
        self.unary = unary
        self.stream_id: Optional[int] = None
        self.state = _CALL_QUEUED
        self.response = _RESPONSE_AWAITING_HEADERS
        self.response_headers: HeaderList = ()
        # Request messages waiting for the stream to open: (framed, end).
        # Created when needed: a call that opens at once never queues.
        self.outbox: Optional[Deque[Tuple[bytes, bool]]] = None
        # Back-pressure bookkeeping (see GrpcConnection._deliver).
        self.undelivered = 0
        self.withheld = 0
        self.context: Any = None
        # False: never cancelled on the server (GrpcConnection.cancel_call).
        self.cancellable = True

    def __repr__(self) -> str:
        return f"<Call {self.path} stream={self.stream_id} {self.state.value}>"

    # Inlined lookups rather than st.transition(): these run several times
    # per call on the hot path.
    def move(self, event: st.CallInput) -> None:
        new = st.CALL_TRANSITIONS.get((self.state, event))
        if new is None:
            raise st.illegal(self.state, event)
        self.state = new

    def move_response(self, event: st.ResponseInput) -> None:
        new = st.RESPONSE_TRANSITIONS.get((self.response, event))
        if new is None:
            raise st.illegal(self.response, event)
        self.response = new
