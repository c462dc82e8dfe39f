"""A small scriptable etcd for the stream-worker driver tests: the Watch and
LeaseKeepAlive services (and a Range that answers empty), as a `PeerServer`
handler over `FakeEtcdPeer` (h2's server side).

The store is a list of revisions: revision r (r >= 2) holds one or more
PUT events, all with ``mod_revision`` r.  Every Watch stream keeps, per
watch ID, the next revision it owes the client; `FakeEtcd.put` and
`FakeEtcd.txn` append revisions and push them to every live watch, one
WatchResponse per revision (fragmented when the watch asked for it and
`fragment_events` is set).  On a create the server answers ``created`` with
the requested ID and replays from ``start_revision - replay_overlap``, so a
resumed watch receives revisions it has already delivered (the client must
drop them).  Tests break streams and connections with `on_stream`.

Lock order: a connection's peer lock (held while the handler runs, or taken
by `PeerConnection.script()`) before `FakeEtcd._lock`, never the reverse.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, TypeVar, Union

from h2.connection import ConnectionState

from pyetcd_wire._proto import kv_pb2, rpc_pb2
from pyetcd_wire.testing.fake_peer import FakeEtcdPeer
from pyetcd_wire.testing.peer_events import (
    ConnectionClosed,
    ConnectionLost,
    PeerEvent,
    PingAcked,
    RequestEnded,
    RequestMessage,
    RequestReceived,
    StreamReset,
    encode_grpc_message,
)
from pyetcd_wire.testing.peer_server import PeerConnection, PeerServer
from tests.helpers import wait_for

WATCH = "/etcdserverpb.Watch/Watch"
KEEP_ALIVE = "/etcdserverpb.Lease/LeaseKeepAlive"
RANGE = "/etcdserverpb.KV/Range"
LEASE_GRANT = "/etcdserverpb.Lease/LeaseGrant"

#: RST_STREAM codes (RFC 9113 §7).
INTERNAL_ERROR = 0x2
REFUSED_STREAM = 0x7


def header(revision: int) -> rpc_pb2.ResponseHeader:
    return rpc_pb2.ResponseHeader(cluster_id=1, member_id=2, revision=revision)


@dataclass
class ServerWatch:
    create: rpc_pb2.WatchCreateRequest
    next_revision: int


@dataclass
class WatchStreamState:
    """One Watch stream as the server sees it."""

    conn: PeerConnection
    peer: FakeEtcdPeer
    sid: int
    watches: Dict[int, ServerWatch] = field(default_factory=dict)
    creates: List[rpc_pb2.WatchCreateRequest] = field(default_factory=list)
    cancels: List[int] = field(default_factory=list)
    sent: List[rpc_pb2.WatchResponse] = field(default_factory=list)
    live: bool = True
    #: bytes (gRPC-framed) queued on the stream so far
    queued_bytes: int = 0


@dataclass
class KeepAliveStreamState:
    conn: PeerConnection
    peer: FakeEtcdPeer
    sid: int
    requests: List[int] = field(default_factory=list)
    live: bool = True


class FakeEtcd:
    """The handler; see the module docstring.  Attributes are the script:

    Attributes:
        replay_overlap: on a create with start_revision S, replay from S - this.
        fragment_events: events per fragment for watches created with
            ``fragment=True`` (0: never fragment).
        compact_revision: creates with 0 < start_revision < this are answered
            ``created`` and then cancelled with ``compact_revision``.
        refuse_creates: answer every create with a failed ``created``
            (``watch_id=-1``, ``canceled``) carrying this cancel_reason.
        lease_ttl: the TTL answered per lease ID; a lease not in it gets no
            answer at all (a silent server).
        grant_id: the ID a LeaseGrant answers with (its TTL: the one asked).
        on_keep_alive: called as ``f(stream_state, lease_id, n)`` for the
            n-th request (0-based, over all streams), under the locks, before
            the default answer; returns True if it handled the request.
    """

    def __init__(self) -> None:
        self.server: Optional[PeerServer] = None
        self.replay_overlap = 0
        self.fragment_events = 0
        self.compact_revision = 0
        self.refuse_creates = ""
        self.lease_ttl: Dict[int, int] = {}
        self.grant_id = 1
        self.on_keep_alive: Optional[
            Callable[[KeepAliveStreamState, int, int], bool]
        ] = None
        self.revision = 1
        self.history: Dict[int, List[kv_pb2.Event]] = {}
        self.watch_streams: List[WatchStreamState] = []
        self.keep_alive_streams: List[KeepAliveStreamState] = []
        self.keep_alive_requests = 0
        self.progress_requests = 0
        self.pings_acked: List[bytes] = []
        self._ping_ids = itertools.count()
        self._lock = threading.RLock()

    # --- the handler (peer lock held) ------------------------------------------

    def __call__(self, peer: FakeEtcdPeer, event: PeerEvent) -> None:
        if isinstance(event, RequestReceived):
            self._opened(peer, event)
        elif isinstance(event, RequestMessage):
            self._message(peer, event)
        elif isinstance(event, RequestEnded):
            record = peer.requests[event.stream_id]
            if record.path == RANGE:
                response = rpc_pb2.RangeResponse(header=header(self.revision))
                peer.reply(event.stream_id, response.SerializeToString())
            elif record.path == LEASE_GRANT:
                asked = rpc_pb2.LeaseGrantRequest.FromString(record.messages[0])
                grant = rpc_pb2.LeaseGrantResponse(
                    header=header(self.revision), ID=self.grant_id, TTL=asked.TTL
                )
                peer.reply(event.stream_id, grant.SerializeToString())
        elif isinstance(event, (StreamReset, ConnectionLost, ConnectionClosed)):
            self._ended(peer, getattr(event, "stream_id", None))
        elif isinstance(event, PingAcked):
            with self._lock:
                self.pings_acked.append(event.data)

    def _conn(self, peer: FakeEtcdPeer) -> PeerConnection:
        # PeerServer lists a connection just after its thread starts: the
        # first request may come first.
        assert self.server is not None
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            for conn in list(self.server.connections):
                if conn.peer is peer:
                    return conn
            time.sleep(0.001)
        raise AssertionError("PeerServer never listed the connection")

    def _opened(self, peer: FakeEtcdPeer, event: RequestReceived) -> None:
        if event.path == WATCH:
            peer.send_response_headers(event.stream_id)
            state = WatchStreamState(self._conn(peer), peer, event.stream_id)
            with self._lock:
                self.watch_streams.append(state)
        elif event.path == KEEP_ALIVE:
            peer.send_response_headers(event.stream_id)
            lease = KeepAliveStreamState(self._conn(peer), peer, event.stream_id)
            with self._lock:
                self.keep_alive_streams.append(lease)

    def _ended(self, peer: FakeEtcdPeer, sid: Optional[int]) -> None:
        with self._lock:
            for state in [*self.watch_streams, *self.keep_alive_streams]:
                if state.peer is peer and sid in (None, state.sid):
                    state.live = False

    def _message(self, peer: FakeEtcdPeer, event: RequestMessage) -> None:
        path = peer.requests[event.stream_id].path
        with self._lock:
            if path == WATCH:
                state = _find(self.watch_streams, peer, event.stream_id)
                if state is not None:  # else the test ended it: ignore
                    request = rpc_pb2.WatchRequest.FromString(event.message)
                    self._watch_request(state, request)
            elif path == KEEP_ALIVE:
                lease = _find(self.keep_alive_streams, peer, event.stream_id)
                if lease is not None:
                    request = rpc_pb2.LeaseKeepAliveRequest.FromString(event.message)
                    self._keep_alive_request(lease, request.ID)

    def _watch_request(self, state: WatchStreamState, request: rpc_pb2.WatchRequest):
        kind = request.WhichOneof("request_union")
        if kind == "create_request":
            self._create(state, request.create_request)
        elif kind == "cancel_request":
            watch_id = request.cancel_request.watch_id
            state.cancels.append(watch_id)
            if state.watches.pop(watch_id, None) is not None:
                self.send(
                    state, rpc_pb2.WatchResponse(watch_id=watch_id, canceled=True)
                )
        elif kind == "progress_request":
            self.progress_requests += 1
            self.send(state, rpc_pb2.WatchResponse(watch_id=-1))

    def _create(self, state: WatchStreamState, create: rpc_pb2.WatchCreateRequest):
        state.creates.append(create)
        watch_id = create.watch_id
        if self.refuse_creates:
            refused = rpc_pb2.WatchResponse(
                watch_id=-1,
                created=True,
                canceled=True,
                cancel_reason=self.refuse_creates,
            )
            self.send(state, refused)
            return
        self.send(state, rpc_pb2.WatchResponse(watch_id=watch_id, created=True))
        start = create.start_revision
        if start and start < self.compact_revision:
            compacted = rpc_pb2.WatchResponse(
                watch_id=watch_id, canceled=True, compact_revision=self.compact_revision
            )
            self.send(state, compacted)
            return
        first = max(2, start - self.replay_overlap) if start else self.revision + 1
        state.watches[watch_id] = ServerWatch(create, first)
        self._push(state)

    def _keep_alive_request(self, state: KeepAliveStreamState, lease_id: int):
        state.requests.append(lease_id)
        n = self.keep_alive_requests
        self.keep_alive_requests += 1
        hook = self.on_keep_alive
        if hook is not None and hook(state, lease_id, n):
            return
        ttl = self.lease_ttl.get(lease_id)
        if ttl is not None and _open(state):
            response = rpc_pb2.LeaseKeepAliveResponse(
                header=header(self.revision), ID=lease_id, TTL=ttl
            )
            state.peer.send_message(state.sid, response.SerializeToString())

    # --- sending (peer lock held) ----------------------------------------------

    def send(self, state: WatchStreamState, response: rpc_pb2.WatchResponse) -> None:
        """Queue one WatchResponse (with the current header) on the stream."""
        if not _open(state):
            return
        if not response.HasField("header"):
            response.header.CopyFrom(header(self.revision))
        payload = response.SerializeToString()
        state.queued_bytes += len(encode_grpc_message(payload))
        state.sent.append(response)
        state.peer.send_message(state.sid, payload)

    def responses(
        self, watch: ServerWatch, watch_id: int, revision: int
    ) -> List[rpc_pb2.WatchResponse]:
        """What the server sends a watch for one revision (fragments too)."""
        events = self.history[revision]
        size = self.fragment_events if watch.create.fragment else 0
        if not size or len(events) <= size:
            return [rpc_pb2.WatchResponse(watch_id=watch_id, events=events)]
        parts = [events[i : i + size] for i in range(0, len(events), size)]
        return [
            rpc_pb2.WatchResponse(
                watch_id=watch_id, events=part, fragment=i < len(parts) - 1
            )
            for i, part in enumerate(parts)
        ]

    def _push(self, state: WatchStreamState) -> None:
        if not state.live:
            return
        for watch_id, watch in state.watches.items():
            while watch.next_revision <= self.revision:
                for response in self.responses(watch, watch_id, watch.next_revision):
                    self.send(state, response)
                watch.next_revision += 1

    # --- the test's side --------------------------------------------------------

    def put(self, count: int = 1, *, value_size: int = 0, push: bool = True) -> None:
        """Add `count` revisions of one PUT each (key b"k"); send them to every
        live watch unless `push` is False (then the next create replays them)."""
        with self._lock:
            for _ in range(count):
                revision = self.revision + 1
                value = (b"v%d-" % revision).ljust(value_size, b".")
                self.history[revision] = [_event(b"k", value, revision)]
                self.revision = revision
        if push:
            self.push()

    def txn(self, count: int, *, push: bool = True) -> int:
        """Add one revision of `count` PUTs (keys k0, k1, ...); returns it."""
        with self._lock:
            revision = self.revision + 1
            self.history[revision] = [
                _event(b"k%d" % i, b"txn", revision) for i in range(count)
            ]
            self.revision = revision
        if push:
            self.push()
        return revision

    def push(self) -> None:
        """Send every live watch what it is owed."""
        for state in self.live_watch_streams():
            with state.conn.script(), self._lock:
                self._push(state)

    def live_watch_streams(self) -> List[WatchStreamState]:
        with self._lock:
            return [s for s in self.watch_streams if _live(s)]

    def watch_stream(self, watches: int = 1, timeout: float = 5.0) -> WatchStreamState:
        """The newest live Watch stream, once it has `watches` created."""
        found: List[WatchStreamState] = []

        def ready() -> bool:
            with self._lock:
                found[:] = [
                    s
                    for s in self.watch_streams
                    if _live(s) and len(s.watches) >= watches
                ]
            return bool(found)

        wait_for(ready, timeout)
        return found[-1]

    def round_trip(self, state: Union[WatchStreamState, KeepAliveStreamState]):
        """PING the client on a stream's connection and wait for the ACK: then
        every frame the client queued before it read the PING has reached the
        server and been handled (TCP keeps their order; WINDOW_UPDATE credit
        is spent on arrival), a barrier no sleep gives."""
        data = b"%08d" % next(self._ping_ids)
        with state.conn.script() as peer:
            peer.ping(data)

        def acked() -> bool:
            with self._lock:
                return data in self.pings_acked

        wait_for(acked)

    def on_stream(
        self,
        state: Union[WatchStreamState, KeepAliveStreamState],
        script: Callable[[FakeEtcdPeer, int], None],
    ) -> None:
        """Run `script(peer, sid)` on a stream's connection (queued bytes go
        out at once)."""
        with state.conn.script() as peer, self._lock:
            script(peer, state.sid)

    def end_stream(
        self,
        state: Union[WatchStreamState, KeepAliveStreamState],
        *,
        rst: Optional[int] = None,
        grpc_status: int = 0,
        grpc_message: Optional[str] = None,
    ) -> None:
        """End the stream: RST_STREAM(`rst`) if given, else trailers."""
        with state.conn.script(), self._lock:
            self.end_stream_locked(
                state, rst=rst, grpc_status=grpc_status, grpc_message=grpc_message
            )

    def end_stream_locked(
        self,
        state: Union[WatchStreamState, KeepAliveStreamState],
        *,
        rst: Optional[int] = None,
        grpc_status: int = 0,
        grpc_message: Optional[str] = None,
    ) -> None:
        """`end_stream` from the handler (the locks are held)."""
        state.live = False
        if rst is not None:
            state.peer.reset(state.sid, rst)
        else:
            state.peer.send_trailers(
                state.sid, grpc_status=grpc_status, grpc_message=grpc_message
            )


_Stream = TypeVar("_Stream", WatchStreamState, KeepAliveStreamState)


def _open(state: Union[WatchStreamState, KeepAliveStreamState]) -> bool:
    """False once the client reset the stream or closed the connection.  The
    handler sees the events of one read in turn, but h2 has applied them all:
    a cancel request followed by RST_STREAM must not be answered."""
    peer = state.peer
    reset = peer.requests[state.sid].reset_code is not None
    closed = peer.connection.state_machine.state is ConnectionState.CLOSED
    if reset or closed:
        state.live = False
    return state.live


def _live(state: Union[WatchStreamState, KeepAliveStreamState]) -> bool:
    return state.live and not state.conn.closed.is_set()


def _find(streams: List[_Stream], peer: FakeEtcdPeer, sid: int) -> Optional[_Stream]:
    for state in streams:
        if state.peer is peer and state.sid == sid and state.live:
            return state
    return None


def _event(key: bytes, value: bytes, revision: int) -> kv_pb2.Event:
    kv = kv_pb2.KeyValue(
        key=key, value=value, create_revision=2, mod_revision=revision, version=1
    )
    return kv_pb2.Event(type=kv_pb2.Event.PUT, kv=kv)
