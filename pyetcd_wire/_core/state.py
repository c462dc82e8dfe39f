"""Transition tables shared by the HTTP/2 and gRPC layers.

Rule (after h11's `_state.py`): every legal move of a state machine is a row
in one of the tables below, and nothing else decides a state.  A (state, input)
pair that is missing is illegal: `transition()` raises `LocalProtocolError`
naming both, and the caller turns that into the right error for its side.

Four machines:

* `ConnectionState`: one HTTP/2 client connection (RFC 9113 §3.4, §6.8).
  We may send requests right after our preface, before the server's SETTINGS;
  the server's first frame must be SETTINGS.  A GOAWAY moves to DRAINING:
  streams at or below last_stream_id finish, no new stream starts.
* `StreamState`: one client-initiated stream (RFC 9113 §5.1, the client's
  half of the diagram).  We never receive PUSH_PROMISE, so "reserved" states
  do not exist.
* `CallState`: the request side of one gRPC call.  QUEUED means the call waits
  for MAX_CONCURRENT_STREAMS room, with no stream id yet; its messages wait
  with it, and QUEUED_HALF_CLOSED says the last one is among them.
* `ResponseState`: the response side of one gRPC call (PROTOCOL-HTTP2.md
  "Responses": Response-Headers *Length-Prefixed-Message Trailers, or
  Trailers-Only).
"""

from __future__ import annotations

import enum
from typing import Dict, Mapping, Tuple, TypeVar

from ..errors import LocalProtocolError


class _Enum(enum.Enum):
    """Enum hashed by identity: members are singletons, and Enum's own
    Python-level __hash__ costs ~0.2 µs per table lookup on CPython.

    Reading a member through its class (`StreamState.OPEN`) costs ~70 ns on
    CPython < 3.12, against ~10 for a global: EnumType's `__getattr__` puts
    every class attribute read behind a slow hook.  So the per-call path
    reads members from module globals bound once (`_STREAM_OPEN = ...`)."""

    __hash__ = object.__hash__


class ConnectionState(_Enum):
    AWAITING_SETTINGS = "AWAITING_SETTINGS"
    OPEN = "OPEN"
    DRAINING = "DRAINING"
    CLOSED = "CLOSED"


class ConnectionInput(_Enum):
    RECV_SETTINGS = "RECV_SETTINGS"
    RECV_FRAME = "RECV_FRAME"  # any frame other than SETTINGS and GOAWAY
    RECV_GOAWAY = "RECV_GOAWAY"
    START_STREAM = "START_STREAM"
    CLOSE = "CLOSE"  # local close, connection lost, or a protocol error


_C = ConnectionState
_CI = ConnectionInput
CONNECTION_TRANSITIONS: Dict[
    Tuple[ConnectionState, ConnectionInput], ConnectionState
] = {
    (_C.AWAITING_SETTINGS, _CI.RECV_SETTINGS): _C.OPEN,
    (_C.AWAITING_SETTINGS, _CI.START_STREAM): _C.AWAITING_SETTINGS,
    (_C.AWAITING_SETTINGS, _CI.CLOSE): _C.CLOSED,
    (_C.OPEN, _CI.RECV_SETTINGS): _C.OPEN,
    (_C.OPEN, _CI.RECV_FRAME): _C.OPEN,
    (_C.OPEN, _CI.START_STREAM): _C.OPEN,
    (_C.OPEN, _CI.RECV_GOAWAY): _C.DRAINING,
    (_C.OPEN, _CI.CLOSE): _C.CLOSED,
    (_C.DRAINING, _CI.RECV_SETTINGS): _C.DRAINING,
    (_C.DRAINING, _CI.RECV_FRAME): _C.DRAINING,
    (_C.DRAINING, _CI.RECV_GOAWAY): _C.DRAINING,
    (_C.DRAINING, _CI.CLOSE): _C.CLOSED,
    (_C.CLOSED, _CI.CLOSE): _C.CLOSED,
}


class StreamState(_Enum):
    OPEN = "OPEN"
    HALF_CLOSED_LOCAL = "HALF_CLOSED_LOCAL"  # we sent END_STREAM
    HALF_CLOSED_REMOTE = "HALF_CLOSED_REMOTE"  # the server sent END_STREAM
    CLOSED = "CLOSED"


class StreamInput(_Enum):
    SEND_DATA = "SEND_DATA"
    SEND_END_STREAM = "SEND_END_STREAM"
    RECV_HEADERS = "RECV_HEADERS"
    RECV_DATA = "RECV_DATA"
    RECV_END_STREAM = "RECV_END_STREAM"
    RESET = "RESET"  # RST_STREAM sent or received


_S = StreamState
_SI = StreamInput
STREAM_TRANSITIONS: Dict[Tuple[StreamState, StreamInput], StreamState] = {
    (_S.OPEN, _SI.SEND_DATA): _S.OPEN,
    (_S.OPEN, _SI.SEND_END_STREAM): _S.HALF_CLOSED_LOCAL,
    (_S.OPEN, _SI.RECV_HEADERS): _S.OPEN,
    (_S.OPEN, _SI.RECV_DATA): _S.OPEN,
    (_S.OPEN, _SI.RECV_END_STREAM): _S.HALF_CLOSED_REMOTE,
    (_S.OPEN, _SI.RESET): _S.CLOSED,
    (_S.HALF_CLOSED_LOCAL, _SI.RECV_HEADERS): _S.HALF_CLOSED_LOCAL,
    (_S.HALF_CLOSED_LOCAL, _SI.RECV_DATA): _S.HALF_CLOSED_LOCAL,
    (_S.HALF_CLOSED_LOCAL, _SI.RECV_END_STREAM): _S.CLOSED,
    (_S.HALF_CLOSED_LOCAL, _SI.RESET): _S.CLOSED,
    (_S.HALF_CLOSED_REMOTE, _SI.SEND_DATA): _S.HALF_CLOSED_REMOTE,
    (_S.HALF_CLOSED_REMOTE, _SI.SEND_END_STREAM): _S.CLOSED,
    (_S.HALF_CLOSED_REMOTE, _SI.RESET): _S.CLOSED,
    (_S.CLOSED, _SI.RESET): _S.CLOSED,
}


class CallState(_Enum):
    QUEUED = "QUEUED"  # waiting for stream capacity; nothing sent
    QUEUED_HALF_CLOSED = "QUEUED_HALF_CLOSED"  # queued, and every message given
    OPEN = "OPEN"  # HEADERS sent, messages may follow
    HALF_CLOSED = "HALF_CLOSED"  # END_STREAM sent
    CLOSED = "CLOSED"  # ended, by trailers, reset, cancel or connection loss


class CallInput(_Enum):
    SEND_HEADERS = "SEND_HEADERS"
    SEND_MESSAGE = "SEND_MESSAGE"
    END = "END"
    FINISH = "FINISH"


_K = CallState
_KI = CallInput
CALL_TRANSITIONS: Dict[Tuple[CallState, CallInput], CallState] = {
    (_K.QUEUED, _KI.SEND_HEADERS): _K.OPEN,
    (_K.QUEUED, _KI.SEND_MESSAGE): _K.QUEUED,  # buffered until the stream opens
    (_K.QUEUED, _KI.END): _K.QUEUED_HALF_CLOSED,
    (_K.QUEUED, _KI.FINISH): _K.CLOSED,
    (_K.QUEUED_HALF_CLOSED, _KI.SEND_HEADERS): _K.HALF_CLOSED,
    (_K.QUEUED_HALF_CLOSED, _KI.FINISH): _K.CLOSED,
    (_K.OPEN, _KI.SEND_MESSAGE): _K.OPEN,
    (_K.OPEN, _KI.END): _K.HALF_CLOSED,
    (_K.OPEN, _KI.FINISH): _K.CLOSED,
    (_K.HALF_CLOSED, _KI.FINISH): _K.CLOSED,
    (_K.CLOSED, _KI.FINISH): _K.CLOSED,
}


class ResponseState(_Enum):
    AWAITING_HEADERS = "AWAITING_HEADERS"
    RECEIVING_MESSAGES = "RECEIVING_MESSAGES"
    DONE = "DONE"


class ResponseInput(_Enum):
    HEADERS = "HEADERS"  # Response-Headers (200, application/grpc)
    END = "END"  # trailers, Trailers-Only, reset, cancel, loss, bad headers


_R = ResponseState
_RI = ResponseInput
# DATA is legal only in RECEIVING_MESSAGES (checked where DATA arrives); 1xx
# header blocks are skipped without a move.
RESPONSE_TRANSITIONS: Dict[Tuple[ResponseState, ResponseInput], ResponseState] = {
    (_R.AWAITING_HEADERS, _RI.HEADERS): _R.RECEIVING_MESSAGES,
    (_R.AWAITING_HEADERS, _RI.END): _R.DONE,
    (_R.RECEIVING_MESSAGES, _RI.END): _R.DONE,
    (_R.DONE, _RI.END): _R.DONE,
}

S = TypeVar("S", bound=enum.Enum)
I = TypeVar("I", bound=enum.Enum)  # noqa: E741


def transition(table: Mapping[Tuple[S, I], S], state: S, event: I) -> S:
    """The state after `event`, or `LocalProtocolError` if the table has no row."""
    new = table.get((state, event))
    if new is None:
        raise illegal(state, event)
    return new


def illegal(state: enum.Enum, event: enum.Enum) -> LocalProtocolError:
    """The error for a (state, input) pair the table has no row for."""
    return LocalProtocolError(f"{event.value} is not allowed in state {state.value}")
