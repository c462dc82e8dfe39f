"""Bookkeeping of every watch on one gRPC Watch stream (sans-IO).

Theory of operation
===================

etcd multiplexes many watches over one bidirectional ``Watch`` stream.  This
module is the pure state of that stream: the driver calls `WatchStream.add`,
`cancel`, `request_progress`, sends what `requests_to_send` returns, feeds each
`WatchResponse` to `receive` and calls `reset` when the stream breaks.  What
comes back are deliveries, small values naming the `Watcher` they concern:
`Created`, `Events`, `Progress` and `Ended`.  No I/O, no clock, no threads;
back-pressure and buffering are the driver's job.

Watch IDs (client-assigned, etcd 3.4+)
--------------------------------------
Go's clientv3 lets the server pick IDs and therefore sends one create at a
time, waiting for each ``created``.  Here the client picks
``watch_id`` itself: 1, 2, 3 ... in `add` order, never reused by one
`WatchStream` (0 is Go's ``AutoWatchID``, -1 ``InvalidWatchID``).  etcd only
requires IDs to be unique among the live watches of one stream, and a
resumed watch keeps its ID on the new stream, so the IDs stay unique.  All
pending creates go out at once (pipelined); the server buffers a watch's
events until it has sent its ``created``.  A server older than 3.4 ignores
the field and numbers from 0; the first ``created`` then names another ID
and `receive` raises `RemoteProtocolError` instead of misrouting events.

Rules of `receive`
------------------
1. ``created=true`` answers the oldest create not yet answered: the server
   handles requests in order and sends ``created`` responses in that order.
   That is the only way to place a failed create, which carries
   ``watch_id=-1`` and ``canceled=true`` with a ``cancel_reason``.
2. ``watch_id=-1`` without ``created`` is the answer to a progress request:
   `Progress` for every created watch.
3. A response for an ID with no live watch queues one cancel request for that
   ID (Go does the same) and delivers nothing.
4. ``canceled`` or ``compact_revision`` ends the watch: `CompactedError`
   (with ``compact_revision``) for compaction; otherwise ``cancel_reason``
   is mapped by exact etcd message through ``ETCD_ERROR_BY_MESSAGE`` (also in
   gRPC's "rpc error: code = X desc = MSG" form), else `WatchCanceledError`.
   A cancel we asked for, without a reason, ends the watch with no error.
5. ``fragment=true`` responses of one ID are buffered and joined with the
   next ``fragment=false`` response of that ID into one `Events`.
6. A response without events is progress for its watch: `Progress`.

Resume (`reset`), and why every event is delivered exactly once
---------------------------------------------------------------
Each watcher tracks ``last_revision``, the highest ``mod_revision`` it
delivered (its floor), and ``next_revision``, the ``start_revision`` of its
next create:

* initially the user's start revision, floor start - 1 (0 = "now": floor 0);
* on its first ``created`` with start 0: the created header's revision R,
  both as next revision and as floor.  R is inclusive, as in Go, which must
  not miss a write made right after the watch returned; Go may then deliver
  the event at R after a reconnect although it preceded the watch.  The
  floor drops it here (the server started the watch at R + 1);
* after delivered events: the last ``mod_revision`` + 1 (floor: that revision);
* after a progress response: at least its header revision + 1 (the server
  sends progress only once the watch has caught up; etcd 3.5.0-3.5.7 answered
  a progress *request* at once even when a watch lagged, Go trusts it too).

`reset` turns every live watch back into a pending create from its next
revision (watches being cancelled simply end), drops half-received fragments
(never delivered, so the floor does not cover them and they are re-sent),
and re-queues an unanswered progress request.  Events whose ``mod_revision``
is at or below the floor are dropped, so the user sees each revision once,
in order.  All events of one revision reach a watch in one (reassembled)
response, which is what makes a revision floor exact.  A re-create does not
deliver `Created` again.

Watcher states (table `_TRANSITIONS`; a missing pair is a protocol error)::

    PENDING --sent--> CREATING --created--> ACTIVE
    PENDING/CREATING/ACTIVE --reset--> PENDING
    PENDING --cancel--> ENDED (no request: the server never heard of it)
    CREATING/ACTIVE --cancel--> CANCELING --canceled--> ENDED
    CANCELING --reset--> ENDED;  any live state --server ends it--> ENDED
"""

from __future__ import annotations

from collections import deque
from typing import Deque, Dict, List, Optional, Sequence, Set, Tuple, Union

from .._proto import kv_pb2, rpc_pb2
from ..errors import (
    ETCD_ERROR_BY_MESSAGE,
    CompactedError,
    EtcdError,
    LocalProtocolError,
    RemoteProtocolError,
    RpcError,
    WatchCanceledError,
)
from .state import _Enum, illegal

#: Go clientv3 ``InvalidWatchID``: the ID of progress broadcasts and failed creates.
BROADCAST_WATCH_ID = -1

# gRPC's status.Error(...).Error() text, in which etcd wraps some reasons.
_GRPC_ERROR_PREFIX = "rpc error: code = "
_GRPC_DESC = " desc = "


class WatcherState(_Enum):
    PENDING = "pending"  # create queued, not sent on this stream
    CREATING = "creating"  # create sent, no ``created`` yet
    ACTIVE = "active"  # created; events flow
    CANCELING = "canceling"  # cancel sent, waiting for ``canceled``
    ENDED = "ended"  # over; no delivery follows its `Ended`


class _Input(_Enum):
    SENT = "sent"
    CREATED = "created"
    CANCEL = "cancel"
    END = "end"
    RESET = "reset"


_S = WatcherState
_TRANSITIONS: Dict[Tuple[WatcherState, _Input], WatcherState] = {
    (_S.PENDING, _Input.SENT): _S.CREATING,
    (_S.PENDING, _Input.CANCEL): _S.ENDED,
    (_S.PENDING, _Input.RESET): _S.PENDING,
    (_S.CREATING, _Input.CREATED): _S.ACTIVE,
    (_S.CREATING, _Input.CANCEL): _S.CANCELING,
    (_S.CREATING, _Input.END): _S.ENDED,
    (_S.CREATING, _Input.RESET): _S.PENDING,
    (_S.ACTIVE, _Input.CANCEL): _S.CANCELING,
    (_S.ACTIVE, _Input.END): _S.ENDED,
    (_S.ACTIVE, _Input.RESET): _S.PENDING,
    (_S.CANCELING, _Input.CREATED): _S.CANCELING,
    (_S.CANCELING, _Input.CANCEL): _S.CANCELING,
    (_S.CANCELING, _Input.END): _S.ENDED,
    (_S.CANCELING, _Input.RESET): _S.ENDED,
    (_S.ENDED, _Input.CANCEL): _S.ENDED,
}


class Watcher:
    """One watch on the stream: a handle the driver keeps; read-only outside
    this module.

    Attributes:
        watch_id: the client-assigned watch ID (>= 1).
        state: the `WatcherState`.
        next_revision: the start_revision the next (re-)create asks for.
        last_revision: the floor: highest mod_revision delivered (or known to
            precede the watch); events at or below it are dropped.
        events_delivered: events delivered so far (after de-duplication).
    """

    __slots__ = (
        "_create",
        "_was_created",
        "events_delivered",
        "last_revision",
        "next_revision",
        "state",
        "watch_id",
    )

    def __init__(self, watch_id: int, create: rpc_pb2.WatchCreateRequest) -> None:
        self.watch_id = watch_id
        self.state = WatcherState.PENDING
        self.next_revision = create.start_revision
        self.last_revision = max(create.start_revision - 1, 0)
        self.events_delivered = 0
        self._create = create
        self._was_created = False

    def __repr__(self) -> str:
        return (
            f"<Watcher id={self.watch_id} {self.state.value}"
            f" next_revision={self.next_revision}>"
        )

    def _move(self, event: _Input) -> None:
        new = _TRANSITIONS.get((self.state, event))
        if new is None:
            raise LocalProtocolError(
                f"watch {self.watch_id}: {illegal(self.state, event)}"
            )
        self.state = new


class WatchDelivery:
    """Base of what `WatchStream.receive` returns; each names its `watcher`."""

    __slots__ = ("watcher",)

    def __init__(self, *, watcher: Watcher) -> None:
        self.watcher = watcher


class Created(WatchDelivery):
    """The server confirmed the watch; events after `revision` follow.
    Delivered once per watcher (not again when it is resumed)."""

    __slots__ = ("revision",)

    def __init__(self, *, watcher: Watcher, revision: int) -> None:
        super().__init__(watcher=watcher)
        self.revision = revision


class Events(WatchDelivery):
    """Events of one (reassembled) response, in revision order, none of them
    delivered before."""

    __slots__ = ("events", "response")

    def __init__(
        self,
        *,
        watcher: Watcher,
        response: rpc_pb2.WatchResponse,
        events: Sequence[kv_pb2.Event],
    ) -> None:
        super().__init__(watcher=watcher)
        self.response = response  # the last one, if fragments were joined
        self.events = events

    @property
    def header(self) -> rpc_pb2.ResponseHeader:
        return self.response.header

    @property
    def rebuilt(self) -> bool:
        """True if `events` is not `response.events` (joined fragments, or
        events delivered before left out): send a new WatchResponse."""
        return type(self.events) is list


class Progress(WatchDelivery):
    """Every event of the watch up to `revision` has been delivered."""

    __slots__ = ("revision",)

    def __init__(self, *, watcher: Watcher, revision: int) -> None:
        super().__init__(watcher=watcher)
        self.revision = revision


class Ended(WatchDelivery):
    """The watch is over: `error` is None after a cancel we asked for, else why
    the server ended it (`CompactedError`, a mapped etcd error, or
    `WatchCanceledError`).  `refused_create` is True when the server ended it
    in answer to a create (a first one, or one resuming the watch on a new
    stream), not while it was active."""

    __slots__ = ("error", "refused_create")

    def __init__(
        self,
        *,
        watcher: Watcher,
        error: Optional[EtcdError],
        refused_create: bool = False,
    ) -> None:
        super().__init__(watcher=watcher)
        self.error = error
        self.refused_create = refused_create


def cancel_error(reason: str, *, watch_id: int, compact_revision: int = 0) -> EtcdError:
    """The exception for a watch the server cancelled (rule 4 above)."""
    if compact_revision:
        return CompactedError(compact_revision=compact_revision)
    message = reason
    if message.startswith(_GRPC_ERROR_PREFIX) and _GRPC_DESC in message:
        message = message.split(_GRPC_DESC, 1)[1]
    cls = ETCD_ERROR_BY_MESSAGE.get(message)
    if cls is not None and issubclass(cls, RpcError):
        return cls(None, message)
    return WatchCanceledError(reason, watch_id=watch_id)


class WatchStream:
    """All watches of one gRPC Watch stream; see the module docstring."""

    def __init__(self) -> None:
        self._next_id = 1
        # Live watchers (not ENDED), in ID order (= add order).
        self._by_id: Dict[int, Watcher] = {}
        # To send: a PENDING watcher stands for its create request.
        self._outgoing: List[Union[Watcher, rpc_pb2.WatchRequest]] = []
        # Creates sent and not yet answered, oldest first (rule 1).
        self._creating: Deque[Watcher] = deque()
        self._fragments: Dict[int, List[kv_pb2.Event]] = {}
        self._unknown_canceled: Set[int] = set()
        self._progress_wanted = False

    def __len__(self) -> int:
        """The number of live watchers (the driver may close an idle stream)."""
        return len(self._by_id)

    @property
    def has_requests(self) -> bool:
        """True if `requests_to_send` has something to send."""
        return bool(self._outgoing)

    @property
    def watchers(self) -> Tuple[Watcher, ...]:
        """The live watchers, in ID order."""
        return tuple(self._by_id.values())

    # Commands -----------------------------------------------------------

    def add(self, create: rpc_pb2.WatchCreateRequest) -> Watcher:
        """Registers a watch and queues its create request.

        Args:
            create: the options (``_api.watch.watch_create_request(...)
                .create_request``) with ``watch_id`` 0; it is copied.

        Raises:
            ValueError: ``watch_id`` is set, or ``start_revision`` negative.
        """
        if create.watch_id:
            raise ValueError("watch_id is assigned by WatchStream; leave it 0")
        if create.start_revision < 0:
            raise ValueError(
                f"start_revision must be >= 0, not {create.start_revision}"
            )
        own = rpc_pb2.WatchCreateRequest()
        own.CopyFrom(create)
        own.watch_id = self._next_id
        watcher = Watcher(self._next_id, own)
        self._next_id += 1
        self._by_id[watcher.watch_id] = watcher
        self._outgoing.append(watcher)
        return watcher

    def again(self, ended: Watcher) -> Watcher:
        """Registers anew, under a new ID, a watch whose create the server
        refused (`Ended.refused_create`), and queues its create: the same
        options, from where it was (its next revision and its floor), so no
        event is lost or repeated.  Its acceptance is reported as `Created`
        again.

        Raises:
            ValueError: `ended` has not ended.
        """
        if ended.state is not WatcherState.ENDED:
            raise ValueError(f"{ended!r} has not ended")
        options = rpc_pb2.WatchCreateRequest()
        options.CopyFrom(ended._create)
        options.watch_id = 0  # add() assigns the new one
        watcher = self.add(options)
        watcher.next_revision = ended.next_revision
        watcher.last_revision = ended.last_revision
        watcher.events_delivered = ended.events_delivered
        return watcher

    def cancel(self, watcher: Watcher) -> List[WatchDelivery]:
        """Ends `watcher`: at once if the server never saw it (no request is
        sent), else queues a cancel request and it ends on the server's
        ``canceled``.  Idempotent.

        Returns:
            `Ended` if the watch ended at once, else nothing.
        """
        state = watcher.state
        watcher._move(_Input.CANCEL)
        if state is WatcherState.PENDING:
            self._outgoing.remove(watcher)
            del self._by_id[watcher.watch_id]
            return [Ended(watcher=watcher, error=None)]
        if state in (WatcherState.CREATING, WatcherState.ACTIVE):
            self._queue_cancel(watcher.watch_id)
        return []

    def request_progress(self) -> None:
        """Queues a progress request (answered with ``watch_id=-1``); it is
        sent again after `reset` until answered."""
        self._progress_wanted = True
        self._outgoing.append(_PROGRESS_REQUEST)

    def requests_to_send(self) -> List[rpc_pb2.WatchRequest]:
        """The requests to write on the stream now, in order; every pending
        create at once."""
        out: List[rpc_pb2.WatchRequest] = []
        for item in self._outgoing:
            if isinstance(item, Watcher):
                item._move(_Input.SENT)
                item._create.start_revision = item.next_revision
                out.append(rpc_pb2.WatchRequest(create_request=item._create))
                self._creating.append(item)
            else:
                out.append(item)
        self._outgoing.clear()
        return out

    def reset(self) -> List[WatchDelivery]:
        """The stream broke: every live watch becomes a pending create from
        its next revision; a watch being cancelled ends (no error).

        Returns:
            `Ended` for each watch whose cancel was in flight.
        """
        ended: List[WatchDelivery] = []
        self._outgoing.clear()
        self._creating.clear()
        self._fragments.clear()
        self._unknown_canceled.clear()
        for watcher in list(self._by_id.values()):
            watcher._move(_Input.RESET)
            if watcher.state is WatcherState.ENDED:
                del self._by_id[watcher.watch_id]
                ended.append(Ended(watcher=watcher, error=None))
            else:
                self._outgoing.append(watcher)
        if self._progress_wanted:
            self._outgoing.append(_PROGRESS_REQUEST)
        return ended

    # Responses ----------------------------------------------------------

    def receive(self, response: rpc_pb2.WatchResponse) -> List[WatchDelivery]:
        """Processes one response from the server.

        Returns:
            What to hand to the watchers (often one item, possibly none).

        Raises:
            RemoteProtocolError: the server answered a create that was never
                sent, or ignored the client-assigned watch ID (etcd < 3.4).
        """
        try:
            if response.created:
                return self._on_created(response)
            watch_id = response.watch_id
            if watch_id == BROADCAST_WATCH_ID:
                return self._on_broadcast(response)
            watcher = self._by_id.get(watch_id)
            if watcher is None:
                if watch_id not in self._unknown_canceled:
                    self._unknown_canceled.add(watch_id)
                    self._queue_cancel(watch_id)
                return []
            if response.canceled or response.compact_revision:
                error = None
                if response.compact_revision or response.cancel_reason:
                    error = self._error(watcher, response)
                elif watcher.state is not WatcherState.CANCELING:
                    error = WatchCanceledError("", watch_id=watch_id)
                return self._end(watcher, error)
            return self._on_events(watcher, response)
        except LocalProtocolError as exc:
            raise RemoteProtocolError(str(exc)) from exc

    def _on_created(self, response: rpc_pb2.WatchResponse) -> List[WatchDelivery]:
        if not self._creating:
            raise LocalProtocolError(
                f"created response (watch_id={response.watch_id}) "
                "with no create request outstanding"
            )
        watcher = self._creating.popleft()
        if watcher.state is WatcherState.ENDED:
            return []
        if response.canceled:
            error = self._error(watcher, response)
            return self._end(watcher, error, refused_create=True)
        if response.watch_id != watcher.watch_id:
            raise LocalProtocolError(
                f"created watch_id={response.watch_id}, requested "
                f"{watcher.watch_id}: the server ignores client-assigned watch "
                "IDs (etcd < 3.4 is not supported)"
            )
        watcher._move(_Input.CREATED)
        if watcher.state is not WatcherState.ACTIVE or watcher._was_created:
            return []
        watcher._was_created = True
        revision = response.header.revision
        if watcher.next_revision == 0:
            watcher.next_revision = revision
            watcher.last_revision = max(watcher.last_revision, revision)
        return [Created(watcher=watcher, revision=revision)]

    def _on_broadcast(self, response: rpc_pb2.WatchResponse) -> List[WatchDelivery]:
        self._progress_wanted = False
        revision = response.header.revision
        out: List[WatchDelivery] = []
        for watcher in self._by_id.values():
            if watcher.state is WatcherState.ACTIVE:
                watcher.next_revision = max(watcher.next_revision, revision + 1)
                out.append(Progress(watcher=watcher, revision=revision))
        return out

    def _on_events(
        self, watcher: Watcher, response: rpc_pb2.WatchResponse
    ) -> List[WatchDelivery]:
        watch_id = watcher.watch_id
        events: Sequence[kv_pb2.Event] = response.events
        if response.fragment:
            self._fragments.setdefault(watch_id, []).extend(events)
            return []
        if self._fragments:
            head = self._fragments.pop(watch_id, None)
            if head is not None:
                head.extend(events)
                events = head
        if watcher.state is WatcherState.CANCELING:
            return []
        if not events:
            if watcher.state is not WatcherState.ACTIVE:
                return []
            revision = response.header.revision
            watcher.next_revision = max(watcher.next_revision, revision + 1)
            return [Progress(watcher=watcher, revision=revision)]
        floor = watcher.last_revision
        count = len(events)
        last = events[0].kv.mod_revision  # one event per response is common
        if last <= floor:
            events = [event for event in events if event.kv.mod_revision > floor]
            if not events:
                return []
            count = len(events)
            last = events[-1].kv.mod_revision
        elif count > 1:
            last = events[-1].kv.mod_revision
        watcher.last_revision = last
        watcher.next_revision = last + 1
        watcher.events_delivered += count
        return [Events(watcher=watcher, response=response, events=events)]

    def _error(self, watcher: Watcher, response: rpc_pb2.WatchResponse) -> EtcdError:
        return cancel_error(
            response.cancel_reason,
            watch_id=watcher.watch_id,
            compact_revision=response.compact_revision,
        )

    def _end(
        self,
        watcher: Watcher,
        error: Optional[EtcdError],
        *,
        refused_create: bool = False,
    ) -> List[WatchDelivery]:
        watcher._move(_Input.END)
        del self._by_id[watcher.watch_id]
        self._fragments.pop(watcher.watch_id, None)
        return [Ended(watcher=watcher, error=error, refused_create=refused_create)]

    def _queue_cancel(self, watch_id: int) -> None:
        cancel = rpc_pb2.WatchCancelRequest(watch_id=watch_id)
        self._outgoing.append(rpc_pb2.WatchRequest(cancel_request=cancel))


# Immutable by convention: the same message is queued for every request.
_PROGRESS_REQUEST = rpc_pb2.WatchRequest(
    progress_request=rpc_pb2.WatchProgressRequest()
)
