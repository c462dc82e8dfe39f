"""python-etcd3's watches (``etcd3.watch``) over `pyetcd_wire.Client`:
`Watcher` (``client.watcher``: watches that call a callback),
`WatchResponse`, and `WatchMethods`, the client's ``watch*``,
``add_watch*_callback`` and ``cancel_watch``.

What python-etcd3 did, and what this does differently:

* python-etcd3 ran every watch of a client on one gRPC stream, read by one
  thread that called every callback.  When that stream failed (a lost
  connection, a restarted server, an expired token) each callback got the
  grpc error once and every watch was gone, or the watch hung (its issues
  #88, #997, #1227); a watch created from a callback deadlocked (#187).
* Here each watch is a `pyetcd_wire` watch (all share the client's one Watch
  stream).  It resumes by itself after a lost connection, a restarted member
  or an expired token, from the revision after the last one delivered, so a
  callback sees each revision once, in order, and no error for an outage.
* Each watch with a callback has a thread of its own
  (``pyetcd-wire-compat-watch-<id>``) that reads it and calls the callback,
  one response at a time, in order.  Callbacks of different watches may run
  at the same time (python-etcd3 ran them one after another).  Creating a
  watch does not need those threads, so a callback may add and cancel
  watches.
* A callback gets a `WatchResponse` per etcd response (``.events``, or no
  events for a progress notification).  If the watch ends other than by
  `Watcher.cancel`, it gets one last call: the error that ended it, as
  `exceptions.translated` makes it (`RevisionCompactedError`, with
  ``compacted_revision``, for a compacted start revision), or None when the
  watcher or the client closed (as python-etcd3's master did on close).
* A callback that raises is logged (logger ``pyetcd_wire.compat``) and its
  watch goes on; python-etcd3 logged it too, but its watches died silently
  in the cases above.
* A watch that cannot be created in time raises `WatchTimedOut`, as
  python-etcd3 did; the timeout is the compat client's, else the
  `pyetcd_wire.Client`'s default.
* Watch IDs are the `Watcher`'s own numbers (1, 2, ...), not etcd's.
* `Watcher.cancel` returns at once: a callback in progress finishes, and
  none follows.  `Watcher.close` ends every watch and waits for each
  watch's thread to end (unless called from one of them).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from typing import (
    TYPE_CHECKING,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Protocol,
    Sequence,
    Set,
    Tuple,
    TypedDict,
    Union,
)

from ... import Client, prefix_range_end
from ..._proto import rpc_pb2
from ...errors import ClientClosedError, DeadlineExceededError, EtcdError
from .events import Event, new_event
from .exceptions import WatchTimedOut, translated
from .utils import response_to_event_iterator

if TYPE_CHECKING:
    from typing_extensions import Unpack

_log = logging.getLogger("pyetcd_wire.compat")

Key = Union[str, bytes]

#: What python-etcd3's ``filters`` hold (``etcdrpc.WatchCreateRequest.NOPUT``,
#: ``NODELETE``: rpc.proto FilterType) and the `Client.watch` option of each.
_FILTER_OPTIONS = {
    rpc_pb2.WatchCreateRequest.NOPUT: "filter_put",
    rpc_pb2.WatchCreateRequest.NODELETE: "filter_delete",
}


class WatchResponse:
    """One etcd watch response: ``header`` (its ``revision`` is the store's
    revision when etcd sent it) and ``events`` (`PutEvent`, `DeleteEvent`;
    none in a progress notification)."""

    def __init__(self, header: rpc_pb2.ResponseHeader, events: List[Event]) -> None:
        self.header = header
        self.events = events

    def __repr__(self) -> str:
        return f"<WatchResponse revision={self.header.revision} events={self.events}>"


#: What a callback gets: a response, the error that ended the watch, or None
#: once the watcher or client closed.
Delivery = Union[WatchResponse, BaseException, None]
Callback = Callable[[Delivery], object]


class WatchOptions(TypedDict, total=False):
    """python-etcd3's watch keywords (`Watcher.add_callback`'s)."""

    range_end: Optional[Key]
    start_revision: Optional[int]
    progress_notify: bool
    filters: Optional[Sequence[int]]
    prev_kv: bool


class _Watch(Protocol):
    """What `pyetcd_wire.Client.watch` returns, as used here."""

    def __iter__(self) -> Iterator[rpc_pb2.WatchResponse]: ...

    def cancel(self) -> None: ...


class _Subscription:
    """One watch with a callback, and the thread that calls it."""

    def __init__(
        self,
        watch_id: int,
        watch: _Watch,
        callback: Callback,
        ended: Callable[[_Subscription], None],
    ) -> None:
        self.watch_id = watch_id
        self.watch = watch
        self.callback = callback
        self._ended = ended
        self.cancelled = False  # by Watcher.cancel: no last call
        self.thread = threading.Thread(
            target=self._run, name=f"pyetcd-wire-compat-watch-{watch_id}", daemon=True
        )

    def cancel(self) -> None:
        self.cancelled = True
        self.watch.cancel()

    def _run(self) -> None:
        try:
            last = self._follow()
            if not self.cancelled:
                self._call(last)
        finally:
            self.watch.cancel()  # idempotent; here for a callback's BaseException
            self._ended(self)

    def _follow(self) -> Optional[BaseException]:
        """Call back with each response until the watch ends; return the
        error that ended it (None: cancelled, or the client closed)."""
        try:
            for response in self.watch:
                events = [new_event(event) for event in response.events]
                self._call(WatchResponse(response.header, events))
        except EtcdError as error:
            return translated(error)
        return None

    def _call(self, delivery: Delivery) -> None:
        try:
            self.callback(delivery)
        except Exception:
            _log.exception(
                "watch %d: the callback %r raised; the watch goes on",
                self.watch_id,
                self.callback,
            )


class Watcher:
    """``client.watcher``: the watches of one compat client that call a
    callback (python-etcd3's `Watcher`).

    Args:
        client: the `pyetcd_wire.Client` the watches run on.
        timeout: seconds to wait for etcd to create a watch (None: the
            client's default).
    """

    def __init__(self, client: Client, timeout: Optional[float] = None) -> None:
        self.timeout = timeout
        self._client = client
        self._lock = threading.Lock()
        self._subscriptions: Dict[int, _Subscription] = {}  # not cancelled
        self._running: Set[_Subscription] = set()  # their threads not ended
        self._ids = itertools.count(1)

    def add_callback(
        self,
        key: Key,
        callback: Callback,
        range_end: Optional[Key] = None,
        start_revision: Optional[int] = None,
        progress_notify: bool = False,
        filters: Optional[Sequence[int]] = None,
        prev_kv: bool = False,
    ) -> int:
        """Watch `key` (or ``[key, range_end)``) and call `callback` with
        each response, then with how the watch ended (see the module's
        docstring).  Returns once etcd created the watch: every later change
        is delivered.

        Args:
            key: the key, or the start of the range.
            callback: called with a `WatchResponse`, an exception or None.
            range_end: the end of the range (exclusive).
            start_revision: the first revision to deliver (None: changes
                from now on); past ones are replayed first.
            progress_notify: let etcd send progress notifications (responses
                without events) while the watch is idle.
            filters: ``NOPUT``/``NODELETE`` to leave out puts or deletes.
            prev_kv: give each event its previous value (``prev_value``).

        Returns:
            The watch's ID, for `cancel`.

        Raises:
            WatchTimedOut: etcd did not create the watch within the timeout.
            ValueError: an unknown filter or a negative start revision.
            Etcd3Exception, EtcdError: etcd refused the watch (as
                `exceptions.translated` gives them).
        """
        watch = self._create(
            key,
            range_end=range_end,
            start_revision=start_revision,
            progress_notify=progress_notify,
            filters=filters,
            prev_kv=prev_kv,
        )
        with self._lock:
            subscription = _Subscription(next(self._ids), watch, callback, self._forget)
            try:
                subscription.thread.start()  # it forgets itself after this block
            except BaseException:  # no thread to be had: no watch either
                watch.cancel()
                raise
            self._subscriptions[subscription.watch_id] = subscription
            self._running.add(subscription)
        return subscription.watch_id

    def _create(self, key: Key, **options: Unpack[WatchOptions]) -> _Watch:
        filters = options.get("filters") or ()
        unknown = [f for f in filters if f not in _FILTER_OPTIONS]
        if unknown:
            raise ValueError(f"unknown watch filters {unknown}: NOPUT, NODELETE")
        try:
            return self._client.watch(
                key,
                range_end=options.get("range_end"),
                start_revision=options.get("start_revision") or 0,
                progress_notify=options.get("progress_notify", False),
                prev_kv=options.get("prev_kv", False),
                filter_put=rpc_pb2.WatchCreateRequest.NOPUT in filters,
                filter_delete=rpc_pb2.WatchCreateRequest.NODELETE in filters,
                timeout=self.timeout,
            )
        except DeadlineExceededError as error:
            raise WatchTimedOut(
                f"the watch of {key!r} was not created in time"
            ) from error
        except EtcdError as error:
            raise translated(error) from None

    def _forget(self, subscription: _Subscription) -> None:
        with self._lock:
            self._subscriptions.pop(subscription.watch_id, None)
            self._running.discard(subscription)

    def cancel(self, watch_id: int) -> None:
        """End a watch (an unknown or ended one: nothing happens).  Its
        callback is not called again once a call in progress returns."""
        with self._lock:
            subscription = self._subscriptions.pop(watch_id, None)
        if subscription is not None:
            subscription.cancel()

    def close(self) -> None:
        """End every watch: each callback is called once more, with None,
        and the watches' threads have ended when this returns (but the one
        calling it, from a callback).  The watcher can be used again."""
        with self._lock:
            subscriptions = list(self._running)
            self._subscriptions.clear()
        for subscription in subscriptions:
            subscription.watch.cancel()
        for subscription in subscriptions:
            if subscription.thread is not threading.current_thread():
                subscription.thread.join()


class _Queue:
    """A callback's responses, for an iterator (python-etcd3's way: the
    queue is not bounded)."""

    def __init__(self) -> None:
        self.deliveries: queue.SimpleQueue[Delivery] = queue.SimpleQueue()

    def put(self, delivery: Delivery) -> None:
        self.deliveries.put(delivery)

    def take(self, timeout: Optional[float] = None) -> Optional[WatchResponse]:
        """The next response; None once the watch ended without an error
        (cancelled, or the watcher or client closed).

        Raises:
            queue.Empty: nothing within `timeout`.
            BaseException: the error that ended the watch.
        """
        delivery = self.deliveries.get(timeout=timeout)
        if isinstance(delivery, BaseException):
            raise delivery  # translated already (by a `Watcher`)
        return delivery


class WatchMethods:
    """The client's watch methods (a mixin of the compat client), as
    python-etcd3's: over ``self.watcher`` (a `Watcher`, or what the user
    put there) and ``self.timeout``."""

    watcher: Watcher
    timeout: Optional[float]

    def add_watch_callback(
        self,
        key: Key,
        callback: Callback,
        range_end: Optional[Key] = None,
        start_revision: Optional[int] = None,
        progress_notify: bool = False,
        filters: Optional[Sequence[int]] = None,
        prev_kv: bool = False,
    ) -> int:
        """Watch a key or range and call `callback` on every response
        (`Watcher.add_callback`).  Returns the watch's ID, for
        `cancel_watch`.

        Raises:
            WatchTimedOut: the watch was not created within the timeout.
        """
        return self.watcher.add_callback(
            key,
            callback,
            range_end=range_end,
            start_revision=start_revision,
            progress_notify=progress_notify,
            filters=filters,
            prev_kv=prev_kv,
        )

    def add_watch_prefix_callback(
        self, key_prefix: Key, callback: Callback, **kwargs: Unpack[WatchOptions]
    ) -> int:
        """`add_watch_callback` for every key starting with `key_prefix`."""
        kwargs["range_end"] = prefix_range_end(key_prefix)
        return self.add_watch_callback(key_prefix, callback, **kwargs)

    def watch_response(
        self, key: Key, **kwargs: Unpack[WatchOptions]
    ) -> Tuple[Iterator[WatchResponse], Callable[[], None]]:
        """Watch a key: ``(responses_iterator, cancel)``.  Iteration yields
        each `WatchResponse` (header and events), raises the error that
        ended the watch, and ends after ``cancel()`` (also in a thread
        waiting in it) or when the client closes.  Call ``cancel()`` when
        done: until then the watch, its thread and the responses nobody
        read stay (as in python-etcd3, the queue of them is not bounded).

        Raises:
            WatchTimedOut: the watch was not created within the timeout.
        """
        deliveries = _Queue()
        watch_id = self.add_watch_callback(key, deliveries.put, **kwargs)
        cancelled = threading.Event()

        def cancel() -> None:
            cancelled.set()
            deliveries.put(None)
            self.cancel_watch(watch_id)

        def iterate() -> Iterator[WatchResponse]:
            while not cancelled.is_set():
                response = deliveries.take()
                if response is None or cancelled.is_set():
                    return
                yield response

        return iterate(), cancel

    def watch(
        self, key: Key, **kwargs: Unpack[WatchOptions]
    ) -> Tuple[Iterator[Event], Callable[[], None]]:
        """Watch a key: ``(events_iterator, cancel)``, as `watch_response`
        but one event at a time."""
        responses, cancel = self.watch_response(key, **kwargs)
        return response_to_event_iterator(responses), cancel

    def watch_prefix_response(
        self, key_prefix: Key, **kwargs: Unpack[WatchOptions]
    ) -> Tuple[Iterator[WatchResponse], Callable[[], None]]:
        """`watch_response` for every key starting with `key_prefix`."""
        kwargs["range_end"] = prefix_range_end(key_prefix)
        return self.watch_response(key_prefix, **kwargs)

    def watch_prefix(
        self, key_prefix: Key, **kwargs: Unpack[WatchOptions]
    ) -> Tuple[Iterator[Event], Callable[[], None]]:
        """`watch` for every key starting with `key_prefix`."""
        kwargs["range_end"] = prefix_range_end(key_prefix)
        return self.watch(key_prefix, **kwargs)

    def watch_once_response(
        self, key: Key, timeout: Optional[float] = None, **kwargs: Unpack[WatchOptions]
    ) -> WatchResponse:
        """Watch a key until its first response, and return it.

        Args:
            timeout: seconds to wait for that response (None: no limit).

        Raises:
            WatchTimedOut: no response within `timeout`, or the watch was
                not created within the client's timeout.
        """
        return self._first(key, timeout, kwargs, events=False)

    def watch_once(
        self, key: Key, timeout: Optional[float] = None, **kwargs: Unpack[WatchOptions]
    ) -> Event:
        """Watch a key until its first event, and return it.  (python-etcd3
        took the first response's first event, and failed with IndexError
        when that was a progress notification.)

        Raises:
            WatchTimedOut: no event within `timeout`, or the watch was not
                created within the client's timeout.
        """
        return self._first(key, timeout, kwargs, events=True).events[0]

    def watch_prefix_once_response(
        self,
        key_prefix: Key,
        timeout: Optional[float] = None,
        **kwargs: Unpack[WatchOptions],
    ) -> WatchResponse:
        """`watch_once_response` for every key starting with `key_prefix`."""
        kwargs["range_end"] = prefix_range_end(key_prefix)
        return self.watch_once_response(key_prefix, timeout, **kwargs)

    def watch_prefix_once(
        self,
        key_prefix: Key,
        timeout: Optional[float] = None,
        **kwargs: Unpack[WatchOptions],
    ) -> Event:
        """`watch_once` for every key starting with `key_prefix`."""
        kwargs["range_end"] = prefix_range_end(key_prefix)
        return self.watch_once(key_prefix, timeout, **kwargs)

    def cancel_watch(self, watch_id: int) -> None:
        """End a watch made by `add_watch_callback` (`Watcher.cancel`)."""
        self.watcher.cancel(watch_id)

    def _first(
        self, key: Key, timeout: Optional[float], options: WatchOptions, *, events: bool
    ) -> WatchResponse:
        """The first response of a new watch (with events, if `events`)."""
        deliveries = _Queue()
        watch_id = self.add_watch_callback(key, deliveries.put, **options)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                left = (
                    None if deadline is None else max(0.0, deadline - time.monotonic())
                )
                try:
                    response = deliveries.take(left)
                except queue.Empty:
                    raise WatchTimedOut(
                        f"no watch response within {timeout} s"
                    ) from None
                if response is None:
                    closed = ClientClosedError("the watch ended: the client closed")
                    raise translated(closed)
                if response.events or not events:
                    return response
        finally:
            self.cancel_watch(watch_id)


__all__ = ["WatchMethods", "WatchResponse", "Watcher"]
