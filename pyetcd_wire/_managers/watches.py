"""A stream worker's Watch manager: every watch of a client, on one Watch
stream (see `_sync/stream_worker.py` and `_async/stream_worker.py` for the
loops that drive it).

`WatchStream` (_core/watch.py) keeps the protocol state of the stream; this
module owns the stream itself: it opens it when watches need it and closes
it with the last one, resumes every watch on a new stream after a retryable
failure (`resume.py`), hands each delivery to the user's `WatchSink`, and
applies back-pressure.

Back-pressure.  The manager counts the wire bytes of the responses queued in
sinks and not yet taken (the backlog; readers report with `taken`).  While
it is below `BACKLOG_LIMIT` each message's HTTP/2 stream credit goes back as
soon as it is routed; at the limit the credit is kept, so the server stops
once the stream window (4 MiB) is spent, and it goes back once readers have
brought the backlog down to half the limit (`wake` is called then, and the
driver calls `release_backlog`).  So however slowly watches are read, one
Watch stream holds at most about `BACKLOG_LIMIT` + 4 MiB of responses.

Locking: `lock` (the driver's) guards the core and the sinks' registry;
`tend`, `read` and `release_backlog` are called by one reader at a time.
"""

from __future__ import annotations

import logging
from typing import Callable, ContextManager, Dict, List, Optional, Set, Tuple

from google.protobuf.message import DecodeError

from .. import _log
from .._api.methods import WATCH_WATCH
from .._client.tokens import CallMetadata
from .._core.watch import Created, Ended, Events, Progress, Watcher, WatchStream
from .._policy.resume import retryable
from .._policy.retry import NO_CREDENTIALS_HINT, add_hint, needs_new_token
from .._proto import rpc_pb2
from ..errors import (
    EtcdError,
    PermissionDeniedError,
    RemoteProtocolError,
)
from .ports import OpenStream, Send, StreamPort, WatchSink
from .stream_slot import StreamSlot

#: Backlog bytes (see above) at which the stream's credit is held back.
BACKLOG_LIMIT = 1 << 20


class WatchManager(StreamSlot):
    """Watches, their sinks and their stream.

    Args:
        lock: the driver's lock (a no-op one in asyncio).
        backlog_lock: guards the backlog count, which readers change from
            any thread without `lock`.
        rand: uniform in [0, 1), for the backoff's jitter.
        metadata: the client's metadata; `.calls` opens the stream (read at
            each open, so a new token is used).
        wake: makes the driver call `release_backlog` and `tend` soon.
        on_stream_failed: told of a failed stream (its endpoint may go to
            quarantine).
        refresh_token: gets a new token; True if one is in place.
        all_quarantined: True if no endpoint is left to try now.
        anonymous: the client has no credentials (a refused create then
            says to give some).
    """

    NAME = "Watch"
    USERS = "watch(es)"
    log = _log.watch_log

    def __init__(
        self,
        lock: ContextManager[object],
        backlog_lock: ContextManager[object],
        rand: Callable[[], float],
        *,
        metadata: CallMetadata,
        wake: Callable[[], None],
        on_stream_failed: Callable[[StreamPort, EtcdError], None],
        refresh_token: Callable[[], bool],
        all_quarantined: Callable[[float], bool],
        anonymous: bool = False,
    ) -> None:
        super().__init__(
            lock, rand, on_stream_failed=on_stream_failed, refresh_token=refresh_token
        )
        self._anonymous = anonymous
        self._metadata = metadata
        self._wake = wake
        self._all_quarantined = all_quarantined
        self._core = WatchStream()
        # The sinks by the core's watcher (routing), and what the manager
        # keeps of each watch: its current watcher (a watch refused for a
        # stale token is made again under a new one), and whether it was.
        self._sinks: Dict[Watcher, WatchSink] = {}
        self._watcher_of: Dict[WatchSink, Watcher] = {}
        self._recreated: Set[WatchSink] = set()
        self._restart = False  # cancel the stream, resume on a new one
        self._backlog_lock = backlog_lock
        self._backlog = 0  # bytes queued in sinks, not taken yet
        self._stalled = False  # credit held back: the backlog is at the limit
        self._held = 0  # messages of the stream not credited yet
        # Bytes of the fragments of a response not yet joined, per watch ID:
        # counted in the backlog with the joined response.  (Their credit
        # goes back at once: the rest of the response needs the window.)
        self._fragments: Dict[int, int] = {}

    def __len__(self) -> int:
        """Live watches."""
        return len(self._core)

    # --- user side (lock held) ------------------------------------------------

    def add(
        self,
        create: rpc_pb2.WatchCreateRequest,
        new_sink: Callable[[Watcher], WatchSink],
    ) -> WatchSink:
        watcher = self._core.add(create)
        sink = new_sink(watcher)
        self._sinks[watcher] = sink
        self._watcher_of[sink] = watcher
        return sink

    def cancel(self, sink: WatchSink) -> bool:
        """False if the watch had ended already."""
        watcher = self._watcher_of.get(sink)
        if watcher is None or watcher not in self._sinks:
            return False
        for delivery in self._core.cancel(watcher):
            self._forget(delivery.watcher)
        return True

    def request_progress(self) -> bool:
        """False if there is no watch to ask for."""
        if not len(self._core):
            return False
        self._core.request_progress()
        return True

    def stop(self) -> List[WatchSink]:
        """Forget every watch (the client closes); the sinks to tell."""
        sinks = list(self._sinks.values())
        self._sinks.clear()
        self._watcher_of.clear()
        self._recreated.clear()
        return sinks

    def fail_all(self, error: EtcdError) -> None:
        """End every watch with `error` (a bug in the driver's loop)."""
        sinks = self.stop()
        self._core.reset()
        for watcher in self._core.watchers:
            self._core.cancel(watcher)
        for sink in sinks:
            sink._on_end(error)

    def taken(self, size: int) -> None:
        """Readers took `size` bytes of responses (any thread, no lock)."""
        with self._backlog_lock:
            self._backlog -= size
            wake = self._stalled and self._backlog <= BACKLOG_LIMIT // 2
        if wake:
            self._wake()

    # --- the reader -------------------------------------------------------------

    def tend(self, now: float, open_stream: OpenStream, send: Send) -> None:
        """Open the stream when watches need it, close it when none do, and
        send what the core has queued."""
        stream = self._stream_to_send_on(
            now, open_stream, WATCH_WATCH.path, self._metadata.calls
        )
        if stream is None:
            return
        with self._lock:
            requests = self._core.requests_to_send()
        if requests:
            send(stream, [r.SerializeToString() for r in requests])

    def read(self, now: float) -> bool:
        """Route what the stream received; True if `tend` must run (requests
        to send, or the stream ended)."""
        stream = self.stream
        if stream is None:
            return False
        messages = stream.take_messages()
        if not messages and not stream.ended:
            return False
        if messages:
            self._route(stream, messages, now)
        if stream.ended:
            self._stream_ended(stream, now)
            return True
        core = self._core
        return core.has_requests or not len(core)  # to send, or to close

    def release_backlog(self) -> None:
        """Give held credit back once readers have caught up."""
        stream = self.stream
        with self._backlog_lock:
            if not self._stalled or self._backlog > BACKLOG_LIMIT // 2:
                return
            self._stalled = False
        held, self._held = self._held, 0
        if held and stream is not None:
            stream.message_consumed(held)

    # --- plumbing -----------------------------------------------------------------

    def _live(self) -> int:
        return len(self._core)

    def _replace(self, stream: StreamPort) -> Optional[StreamPort]:
        if not self._restart:
            return stream
        # Resume every watch on a new stream (opened with the new token).
        self._restart = False
        stream.cancel()
        self._held = 0
        with self._lock:
            self.stream = None
            self._reset()
        return None

    def _open_failed(self, error: EtcdError, now: float) -> None:
        """Watches that were never created fail with the error (as a unary
        call would); created ones wait for the next attempt."""
        refreshed = self._refresh_for(error)
        with self._lock:
            self._backoff.failed(now)
            if refreshed:
                pass  # a new token: try again
            elif not retryable(error, watch=True):
                self._end_watches(error, only_uncreated=False)
            elif self._all_quarantined(now):
                # No endpoint is left to try: fail fast, as a unary call would.
                self._end_watches(error, only_uncreated=True)

    def _end_watches(self, error: EtcdError, *, only_uncreated: bool) -> None:
        """End watches with `error` (lock held; no stream: all are PENDING)."""
        core = self._core
        for watcher in core.watchers:
            sink = self._sinks.get(watcher)
            if sink is None or (only_uncreated and sink.created_revision):
                continue
            for delivery in core.cancel(watcher):
                self._forget(delivery.watcher)
            sink._on_end(error)

    def _route(self, stream: StreamPort, messages: List[bytes], now: float) -> None:
        queued = 0  # messages now held by a sink
        queued_bytes = 0
        denied: List[Tuple[WatchSink, Ended]] = []  # creates to make again
        with self._lock:
            core = self._core
            for raw in messages:
                try:
                    response = rpc_pb2.WatchResponse.FromString(raw)
                    deliveries = core.receive(response)
                except (DecodeError, RemoteProtocolError) as exc:
                    error = RemoteProtocolError(f"Watch stream: {exc}")
                    stream.connection.close_with(error)
                    continue
                size = len(raw)
                if not deliveries:
                    if response.fragment:
                        watch_id = response.watch_id
                        self._fragments[watch_id] = (
                            self._fragments.get(watch_id, 0) + size
                        )
                elif self._fragments:
                    size += self._fragments.pop(response.watch_id, 0)
                for delivery in deliveries:
                    sink = self._sinks.get(delivery.watcher)
                    if sink is None:
                        continue
                    if type(delivery) is Events:
                        if delivery.rebuilt:
                            response = rpc_pb2.WatchResponse(
                                header=delivery.header,
                                watch_id=sink.watch_id,
                                events=delivery.events,
                            )
                        if sink._on_response(response, size):
                            queued += 1
                            queued_bytes += size
                    elif type(delivery) is Progress:
                        sink._on_response(_progress(response, sink.watch_id), 0)
                    elif type(delivery) is Created:
                        self._recreated.discard(sink)  # a later refusal is new
                        sink._on_created(delivery.revision)
                    elif type(delivery) is Ended:
                        del self._sinks[delivery.watcher]
                        self._fragments.pop(delivery.watcher.watch_id, None)
                        if self._may_recreate(sink, delivery):
                            denied.append((sink, delivery))
                        else:
                            self._done(sink)
                            sink._on_end(delivery.error)
            self._backoff.succeeded()
        if denied:
            self._recreate(denied, now)
        with self._backlog_lock:
            self._backlog += queued_bytes
            stall = self._backlog >= BACKLOG_LIMIT
            self._stalled = stall
        if stall:  # keep the credit of what is queued
            self._held += queued
            credit = len(messages) - queued
        else:
            credit = len(messages) + self._held
            self._held = 0
        if credit:
            stream.message_consumed(credit)

    def _reset(self) -> None:
        """The stream is gone: every watch is to be created again from where
        it was (lock held); the ones already cancelled end."""
        self._fragments.clear()
        for delivery in self._core.reset():
            sink = self._forget(delivery.watcher)
            if sink is not None:
                sink._on_end(None)

    def _forget(self, watcher: Watcher) -> Optional[WatchSink]:
        """Forget a watch that is over, by its watcher; its sink, if it had
        one still (lock held)."""
        sink = self._sinks.pop(watcher, None)
        if sink is not None:
            self._done(sink)
        return sink

    def _done(self, sink: WatchSink) -> None:
        """Forget what the manager kept of a watch that is over (lock held)."""
        self._watcher_of.pop(sink, None)
        self._recreated.discard(sink)

    def _may_recreate(self, sink: WatchSink, ended: Ended) -> bool:
        """A create the server refused as not permitted may only have met a
        stream opened with a token that expired since (etcd checks the
        stream's token at each create, and says PermissionDenied; etcd 3.4
        names a missing token: UserEmptyError): with password auth, it is
        made again once with a new token (`_recreate`).  A client without
        credentials is told to give some instead.  Lock held."""
        error = ended.error
        denied = isinstance(error, PermissionDeniedError) or (
            error is not None and needs_new_token(error)
        )
        if denied and self._anonymous:
            assert error is not None
            add_hint(error, NO_CREDENTIALS_HINT)
            return False
        return denied and ended.refused_create and sink not in self._recreated

    def _recreate(self, denied: List[Tuple[WatchSink, Ended]], now: float) -> None:
        """Get a new token (I/O, or a task in asyncio: no lock held), then
        create each refused watch again, and open the stream anew for them
        (the others resume on the new stream, as after any reset).  Without
        a new token (Authenticate failed: the server may be restarting), a
        watch that was created waits for the next attempt, after the backoff,
        as after a failed open; one never created ends with its error, as a
        unary call would, and so does one the user cancelled."""
        refreshed = self._refresh_token()
        with self._lock:
            for sink, ended in denied:
                if sink.ended or not (refreshed or sink.created_revision):
                    self._done(sink)
                    sink._on_end(ended.error)
                    continue
                if refreshed:
                    self._recreated.add(sink)
                watcher = self._core.again(ended.watcher)
                sink.watch_id = watcher.watch_id
                self._watcher_of[sink] = watcher
                self._sinks[watcher] = sink
                self._restart = True
            if self._restart and not refreshed:
                self._backoff.failed(now)

    def _stream_ended(self, stream: StreamPort, now: float) -> None:
        error = self._end_error(stream)
        refreshed = self._refresh_for(error)
        self._held = 0  # that stream's credit is gone with it
        with self._lock:
            self.stream = None
            self._reset()
            live = len(self._core)
            resume = retryable(error, watch=True) or refreshed
            if resume:
                self._backoff.failed(now)
            else:
                self._end_watches(error, only_uncreated=False)
        if not live:
            return
        if resume:
            self._resuming(stream, error, live)
        else:
            self.log.warning(
                "Watch stream on %s failed (%s: %s): its %d watch(es) end",
                stream.connection.endpoint,
                type(error).__name__,
                error,
                live,
            )

    def _resumed(self, endpoint: str) -> None:
        """Log each watch that resumes, from the revision it asks for."""
        super()._resumed(endpoint)
        log = self.log
        if not log.isEnabledFor(logging.INFO):
            return
        with self._lock:
            resumed = [
                (w.watch_id, w._create.key, w.next_revision)
                for w in self._core.watchers
                if w._was_created
            ]
        for watch_id, key, revision in resumed:
            log.info(
                "watch %d on %r resumes on %s from revision %d",
                watch_id,
                key,
                endpoint,
                revision,
            )


def _progress(response: rpc_pb2.WatchResponse, watch_id: int) -> rpc_pb2.WatchResponse:
    """The progress notification one watch sees (a broadcast names -1)."""
    if response.watch_id == watch_id:
        return response
    return rpc_pb2.WatchResponse(header=response.header, watch_id=watch_id)


__all__ = ["BACKLOG_LIMIT", "WatchManager"]
