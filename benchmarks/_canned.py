"""Canned etcd responses for timing the sans-IO core without sockets.

The server side is python-hyper's `h2` in server mode, fed our client's real
preface and requests, so the replayed bytes answer exactly what our client
asked for.  Each response is shaped like grpc-go's (etcd's) answer to a unary
call: a connection WINDOW_UPDATE
for the request's DATA and a BDP PING, then HEADERS (:status 200,
content-type), DATA (the length-prefixed message) and trailers HEADERS
(grpc-status 0, grpc-message "") with END_STREAM.

The first response on a connection may differ from later ones (HPACK table
size update), so it is kept apart; later ones are one template whose stream
ids are patched per call.
"""

from __future__ import annotations

import struct
from typing import Any, List, Tuple

from pyetcd_wire._core.grpc import events as ge
from pyetcd_wire._core.grpc.connection import GrpcConnection, GrpcEvent
from pyetcd_wire._core.grpc.status import StatusCode

# grpc-go's BDP ping payload (internal/transport/bdp_estimator.go: bdpPing).
BDP_PING_DATA = bytes([2, 4, 16, 16, 9, 14, 7, 7])
AUTHORITY = "127.0.0.1:2379"

Frame = Tuple[int, int, int, bytes]  # (type, flags, stream id, payload)
_HEADER = struct.Struct(">BHBBL")  # 24-bit length as (high byte, low 16 bits)


def split_frames(data: bytes) -> List[Frame]:
    """Parse whole HTTP/2 frames (no validation: the input is ours)."""
    frames: List[Frame] = []
    pos = 0
    while pos < len(data):
        high, low, kind, flags, sid = _HEADER.unpack_from(data, pos)
        start = pos + 9
        end = start + ((high << 16) | low)
        frames.append((kind, flags, sid & 0x7FFFFFFF, data[start:end]))
        pos = end
    return frames


def join_frames(frames: List[Frame], stream_id: int) -> bytes:
    """Serialize frames, moving every non-zero stream id to `stream_id`."""
    out = []
    for kind, flags, sid, payload in frames:
        n = len(payload)
        out.append(
            _HEADER.pack(n >> 16, n & 0xFFFF, kind, flags, stream_id if sid else 0)
        )
        out.append(payload)
    return b"".join(out)


def _grpc_go_reply(
    server: Any, h2_events: Any, request: bytes, message: bytes
) -> bytes:
    """What grpc-go sends back for one unary request (see the module doc)."""
    stream_id, received = 0, 0
    for event in server.receive_data(request):
        if isinstance(event, h2_events.RequestReceived):
            stream_id = event.stream_id
        elif isinstance(event, h2_events.DataReceived):
            received += event.flow_controlled_length
            server.acknowledge_received_data(
                event.flow_controlled_length, event.stream_id
            )
    server.data_to_send()  # h2's own window updates; grpc-go's follow
    server.increment_flow_control_window(received)
    server.ping(BDP_PING_DATA)
    server.send_headers(
        stream_id, [(b":status", b"200"), (b"content-type", b"application/grpc")]
    )
    server.send_data(stream_id, b"\x00" + struct.pack(">L", len(message)) + message)
    server.send_headers(
        stream_id, [(b"grpc-status", b"0"), (b"grpc-message", b"")], end_stream=True
    )
    data: bytes = server.data_to_send()
    return data


class Canned:
    """Server bytes for a fresh `GrpcConnection(authority=AUTHORITY)`.

    Args:
        path: the gRPC method, e.g. "/etcdserverpb.KV/Range".
        request: the serialized request message our client sends.
        message: the serialized response message every call returns.

    Attributes:
        hello: the server preface (its SETTINGS, and the ACK of ours).
        first: the response to the first call (stream 1).
        template: frames of every later response (stream id patched per call).

    Raises:
        ImportError: `h2` is not installed.
        RuntimeError: the replies do not round-trip through our client.
    """

    def __init__(self, path: str, request: bytes, message: bytes) -> None:
        import h2.config
        import h2.connection
        import h2.events

        self.path = path
        self.request = request
        self.message = message
        client = GrpcConnection(authority=AUTHORITY)
        client.initiate()
        server = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        server.initiate_connection()
        server.receive_data(client.data_to_send())
        self.hello: bytes = server.data_to_send()
        client.receive_data(self.hello)
        replies = []
        for _ in range(3):
            client.unary(path, request)
            sent = client.data_to_send()
            replies.append(_grpc_go_reply(server, h2.events, sent, message))
            check_events(client.receive_data(replies[-1]), message)
        self.first = replies[0]
        self.template = split_frames(replies[1])
        if join_frames(self.template, 5) != replies[2]:
            raise RuntimeError("h2's responses do not settle into one template")

    def responses(self, calls: int) -> List[bytes]:
        """Server bytes for calls 1..`calls` on a fresh connection, in order."""
        template = self.template
        rest = [join_frames(template, 2 * i + 1) for i in range(1, calls)]
        return [self.first, *rest]

    def fresh_connection(self) -> GrpcConnection:
        """A connection that has exchanged prefaces and is ready for call 1."""
        conn = GrpcConnection(authority=AUTHORITY)
        conn.initiate()
        conn.data_to_send()
        conn.receive_data(self.hello)
        return conn

    def frame_names(self) -> List[str]:
        """The frame types of one steady-state response, for the report."""
        names = {0: "DATA", 1: "HEADERS", 6: "PING", 8: "WINDOW_UPDATE"}
        return [names.get(kind, str(kind)) for kind, _, _, _ in self.template]


def check_events(events: List[GrpcEvent], message: bytes) -> None:
    """Raise unless `events` are exactly one call ending OK with `message`."""
    got = [e.message for e in events if type(e) is ge.MessageReceived]
    ended = [e.status for e in events if type(e) is ge.CallEnded]
    if got != [message] or len(ended) != 1 or ended[0].code is not StatusCode.OK:
        raise RuntimeError(f"canned response gave {events!r}")
