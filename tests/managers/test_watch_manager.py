"""WatchManager (`_managers/watches.py`) in memory: fake streams, a manual
clock, no socket and no thread (fakes.py).  Each test drives the manager as a
driver's loop does (`tend`, `read`, `release_backlog`, `next_wakeup`) and
looks at what reached the stream and the user's boxes."""

from __future__ import annotations

import logging
from typing import List, Optional, Tuple

import pytest

from pyetcd_wire._managers.ports import StreamNotReadyError
from pyetcd_wire._managers.watches import BACKLOG_LIMIT
from pyetcd_wire._policy.resume import BACKOFF_FIRST, BACKOFF_JITTER, BACKOFF_MAX
from pyetcd_wire._policy.retry import NO_CREDENTIALS_HINT
from pyetcd_wire.errors import (
    AuthFailedError,
    CompactedError,
    ConnectionFailedError,
    ConnectionLostError,
    EtcdError,
    InternalError,
    InvalidAuthTokenError,
    NoLeaderError,
    PermissionDeniedError,
    RemoteProtocolError,
    UnavailableError,
    UserEmptyError,
    WatchCanceledError,
)

from .fakes import (
    BASE_METADATA,
    WATCH_PATH,
    FakeConnection,
    FakeStream,
    MemWatch,
    WatchRig,
    created,
    event,
    events_at,
    revisions,
    watch_response,
)

DENIED = "etcdserver: permission denied"


def creates(stream: FakeStream) -> List[Tuple[int, bytes, int]]:
    """(watch_id, key, start_revision) of each create sent on `stream`."""
    return [
        (
            r.create_request.watch_id,
            r.create_request.key,
            r.create_request.start_revision,
        )
        for r in stream.watch_requests()
        if r.HasField("create_request")
    ]


def cancels(stream: FakeStream) -> List[int]:
    return [
        r.cancel_request.watch_id
        for r in stream.watch_requests()
        if r.HasField("cancel_request")
    ]


def progress_requests(stream: FakeStream) -> int:
    return sum(r.HasField("progress_request") for r in stream.watch_requests())


def refused(watch_id: int = -1, reason: str = DENIED) -> object:
    """A create the server refused (Go: watch_id -1, canceled, a reason)."""
    return watch_response(
        watch_id, 10, created=True, canceled=True, cancel_reason=reason
    )


def error_of(box: MemWatch) -> Optional[EtcdError]:
    """What ended the watch, after reading what it had queued."""
    try:
        box.take_all()
    except EtcdError as exc:
        return exc
    return None


def lose_stream(rig: WatchRig, error: Optional[EtcdError] = None) -> FakeStream:
    stream = rig.stream
    stream.end(error or ConnectionLostError("connection reset"))
    assert rig.read() is True
    return stream


def after_backoff(rig: WatchRig) -> None:
    wakeup = rig.wake_time()
    assert wakeup is not None
    rig.now = max(rig.now, wakeup)
    rig.tend()


# --- the stream's life ---------------------------------------------------------------


def test_no_watch_no_stream() -> None:
    rig = WatchRig()
    rig.tend()
    assert rig.open.opened == []
    assert rig.read() is False
    assert rig.wake_time() is None


def test_the_first_watch_opens_the_stream_and_sends_its_create() -> None:
    rig = WatchRig()
    box = rig.watch("a", prefix=True, prev_kv=True)
    assert box.watch_id == 1
    rig.tend()
    (stream,) = rig.open.opened
    assert stream.path == WATCH_PATH
    assert stream.metadata == BASE_METADATA
    (request,) = stream.watch_requests()
    assert request.create_request.key == b"a"
    assert request.create_request.range_end == b"b"
    assert request.create_request.prev_kv
    assert request.create_request.watch_id == 1
    assert rig.wake_time() is None  # open: no timer


def test_creates_are_sent_once_in_order_on_one_stream() -> None:
    rig = WatchRig()
    for key in ("k0", "k1", "k2"):
        rig.watch(key)
    rig.tend()
    rig.tend()
    assert creates(rig.stream) == [(1, b"k0", 0), (2, b"k1", 0), (3, b"k2", 0)]
    rig.watch("k3")
    rig.tend()
    rig.tend()
    (stream,) = rig.open.opened
    assert [c[0] for c in creates(stream)] == [1, 2, 3, 4]


def test_created_confirms_the_oldest_create_and_events_reach_their_watch() -> None:
    rig = WatchRig()
    a, b = rig.watch("a"), rig.watch("b")
    rig.tend()
    rig.stream.push(created(1, 10))
    assert rig.read() is False
    assert (a.created_revision, b.created_revision) == (10, 0)
    rig.stream.push(created(2, 11), events_at(2, 12, key=b"b"), events_at(1, 13))
    assert rig.read() is False
    assert b.created_revision == 11
    assert [revisions(r) for r in a.take_all()] == [[13]]
    assert [revisions(r) for r in b.take_all()] == [[12]]
    assert rig.stream.consumed == 4  # below the backlog limit: credit at once


def test_a_response_for_an_unknown_watch_is_answered_with_a_cancel() -> None:
    rig = WatchRig()
    a = rig.watch()
    rig.created_watches(a)
    rig.stream.push(events_at(7, 11), events_at(7, 12))
    assert rig.read() is True  # a request to send
    rig.tend()
    assert cancels(rig.stream) == [7]  # once
    assert a.take_all() == []


def test_the_stream_closes_with_its_last_watch_and_opens_for_the_next() -> None:
    rig = WatchRig()
    a, b = rig.watch("a"), rig.watch("b")
    rig.created_watches(a, b)
    first = rig.stream
    a.cancel()
    rig.tend()
    assert cancels(first) == [1]
    first.push(watch_response(1, 10, canceled=True))
    assert rig.read() is False  # b still needs the stream
    b.cancel()
    rig.tend()
    first.push(watch_response(2, 10, canceled=True))
    assert rig.read() is True  # nothing needs it: close it
    assert not first.cancelled
    rig.tend()
    assert first.cancelled
    assert len(rig.manager) == 0
    assert rig.wake_time() is None
    rig.tend()
    assert rig.open.opened == [first]
    c = rig.watch("c")
    rig.tend()
    second = rig.stream
    assert second is not first
    assert creates(second) == [(3, b"c", 0)]
    assert c.watch_id == 3  # IDs are never reused by one manager


def test_a_watch_cancelled_before_its_create_went_out_opens_no_stream() -> None:
    rig = WatchRig()
    box = rig.watch()
    box.cancel()
    rig.tend()
    assert rig.open.opened == []
    assert box.ended
    assert box.take_all() == []


def test_read_says_whether_tend_must_run() -> None:
    rig = WatchRig()
    assert rig.read() is False  # no stream
    a = rig.watch()
    rig.tend()
    assert rig.read() is False  # nothing arrived
    rig.stream.push(created(1))
    assert rig.read() is False  # routed, nothing to send
    with rig.lock:
        assert rig.manager.request_progress()
    assert rig.read() is False  # nothing arrived: the driver was woken for that
    rig.stream.push(events_at(1, 11))
    assert rig.read() is True  # something arrived and a request waits
    rig.tend()
    rig.stream.end(None)
    assert rig.read() is True
    assert a.take_all()  # the event


def test_a_stream_not_ready_yet_is_opened_on_a_later_tend_without_backoff() -> None:
    rig = WatchRig()
    box = rig.watch()
    rig.open.fail_next(StreamNotReadyError())
    rig.tend()
    assert rig.open.opened == []
    rig.tend()
    assert creates(rig.stream) == [(1, b"k", 0)]
    assert not box.ended


def test_a_stream_not_ready_asks_for_no_timer() -> None:
    rig = WatchRig()
    rig.watch()
    rig.open.fail_next(StreamNotReadyError())
    rig.tend()
    assert rig.wake_time() is None  # the next tend comes when the driver is woken


# --- resume --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ConnectionLostError("connection reset"),
        UnavailableError(),
        InternalError(),
        None,  # the server ended the stream with OK
    ],
    ids=["lost", "unavailable", "internal", "ended-ok"],
)
def test_a_retryable_end_resumes_every_created_watch_after_the_last_delivered(
    error: Optional[EtcdError],
) -> None:
    rig = WatchRig()
    a, b = rig.watch("a"), rig.watch("b", start_revision=5)
    rig.created_watches(a, b, revision=10)
    c = rig.watch("c", start_revision=3)  # sent, never created
    rig.tend()
    first = rig.stream
    first.push(events_at(1, 11), events_at(1, 12), events_at(2, 12, key=b"b"))
    rig.read()
    first.end(error)
    assert rig.read() is True
    ((failed, reported, held),) = rig.failed
    assert failed is first
    assert held is False
    if error is not None:
        assert reported is error
    else:
        assert isinstance(reported, InternalError)
    assert rig.wake_time() == pytest.approx(rig.now + BACKOFF_FIRST)
    rig.tend()
    assert rig.open.opened == [first]  # the backoff first
    rig.now += BACKOFF_FIRST
    rig.tend()
    second = rig.stream
    assert second is not first
    assert creates(second) == [(1, b"a", 13), (2, b"b", 13), (3, b"c", 3)]
    assert not any(box.ended for box in (a, b, c))
    second.push(created(1, 20), created(2, 20), created(3, 20))
    second.push(events_at(1, 12, 13), events_at(3, 14, key=b"c"))
    rig.read()
    assert a.created_revision == 10  # not created again for the user
    assert c.created_revision == 20
    # The event at 12 came again on the new stream: delivered once.
    assert [revisions(r) for r in a.take_all()] == [[11], [12], [13]]
    assert [revisions(r) for r in c.take_all()] == [[14]]


def test_a_watch_created_at_revision_r_resumes_from_r() -> None:
    """Go's rule: R is inclusive (a write right after the watch returned
    must not be missed); the floor drops the event at R if it comes."""
    rig = WatchRig()
    a = rig.watch()
    rig.created_watches(a, revision=10)
    lose_stream(rig)
    after_backoff(rig)
    assert creates(rig.stream) == [(1, b"k", 10)]
    rig.stream.push(created(1, 10), events_at(1, 10), events_at(1, 11))
    rig.read()
    assert [revisions(r) for r in a.take_all()] == [[11]]


def test_a_watch_whose_cancel_was_in_flight_ends_on_the_resume() -> None:
    rig = WatchRig()
    a, b = rig.watch("a"), rig.watch("b")
    rig.created_watches(a, b)
    a.cancel()
    rig.tend()
    lose_stream(rig)
    assert len(rig.manager) == 1
    after_backoff(rig)
    assert creates(rig.stream) == [(2, b"b", 10)]


def test_a_watch_cancelled_while_the_stream_is_down_is_not_created_again() -> None:
    rig = WatchRig()
    a, b = rig.watch("a"), rig.watch("b")
    rig.created_watches(a, b)
    lose_stream(rig)
    a.cancel()
    assert len(rig.manager) == 1  # never on the new stream: it ends at once
    rig.watch("c")  # added meanwhile: waits for the backoff too
    rig.tend()
    assert len(rig.open.opened) == 1
    after_backoff(rig)
    assert creates(rig.stream) == [(2, b"b", 10), (3, b"c", 0)]
    assert cancels(rig.stream) == []


def test_a_progress_request_not_answered_is_sent_again_on_the_new_stream() -> None:
    rig = WatchRig()
    a = rig.watch()
    rig.created_watches(a)
    with rig.lock:
        assert rig.manager.request_progress()
    rig.tend()
    assert progress_requests(rig.stream) == 1
    lose_stream(rig)
    after_backoff(rig)
    assert progress_requests(rig.stream) == 1
    rig.stream.push(created(1), watch_response(-1, 30))
    rig.read()
    lose_stream(rig)
    after_backoff(rig)
    assert progress_requests(rig.stream) == 0  # answered: not again


def test_the_backoff_grows_on_each_failure_and_resets_once_a_response_arrives() -> None:
    rig = WatchRig()
    a = rig.watch()
    rig.created_watches(a)
    lose_stream(rig)
    delays = []
    for _ in range(7):
        wakeup = rig.wake_time()
        assert wakeup is not None
        delays.append(wakeup - rig.now)
        rig.now = wakeup
        rig.open.fail_next(UnavailableError())
        rig.tend()
    assert delays == pytest.approx([0.025, 0.05, 0.1, 0.2, 0.4, 0.8, BACKOFF_MAX])
    after_backoff(rig)
    # A stream that opens and ends before any response is no success.
    lose_stream(rig)
    wakeup = rig.wake_time()
    assert wakeup == pytest.approx(rig.now + BACKOFF_MAX)
    after_backoff(rig)
    rig.stream.push(created(1))
    rig.read()
    lose_stream(rig)
    assert rig.wake_time() == pytest.approx(rig.now + BACKOFF_FIRST)
    assert not a.ended


@pytest.mark.parametrize(("rand", "factor"), [(0.0, 1 - BACKOFF_JITTER), (0.75, 1.1)])
def test_the_backoff_has_jitter(rand: float, factor: float) -> None:
    rig = WatchRig(rand=rand)
    rig.created_watches(rig.watch())
    lose_stream(rig)
    assert rig.wake_time() == pytest.approx(rig.now + BACKOFF_FIRST * factor)


def test_resuming_on_another_endpoint_is_logged_with_each_watch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pyetcd_wire")
    rig = WatchRig()
    a = rig.watch("a")
    rig.created_watches(a)
    rig.stream.push(events_at(1, 11))
    rig.read()
    lose_stream(rig)
    rig.open.connection = FakeConnection("http://b:2379")
    after_backoff(rig)
    messages = [r.getMessage() for r in caplog.records]
    assert "Watch stream opened again on http://b:2379" in messages
    assert (
        "the Watch stream failed over from http://a:2379 to http://b:2379" in messages
    )
    assert "watch 1 on b'a' resumes on http://b:2379 from revision 12" in messages


# --- ends and failures ---------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        NoLeaderError(),  # a require-leader watch ends (keep-alive retries)
        RemoteProtocolError("bad frame"),
        PermissionDeniedError(),
        UserEmptyError(),  # a token error with no new token to try
    ],
    ids=["no-leader", "protocol", "denied", "no-token"],
)
def test_a_non_retryable_end_ends_every_watch_with_the_error(error: EtcdError) -> None:
    rig = WatchRig()
    a, b = rig.watch("a"), rig.watch("b")
    rig.created_watches(a)
    rig.tend()
    rig.stream.push(events_at(1, 11))
    rig.read()
    lose_stream(rig, error)
    assert revisions(a.take()) == [11]  # what was queued first
    assert error_of(a) is error
    assert error_of(b) is error
    assert len(rig.manager) == 0
    assert rig.wake_time() is None
    rig.tend()
    assert len(rig.open.opened) == 1


@pytest.mark.parametrize("quarantined", [True, False])
def test_watches_never_created_fail_fast_when_every_endpoint_is_quarantined(
    quarantined: bool,
) -> None:
    rig = WatchRig()
    a = rig.watch("a")
    rig.created_watches(a)
    b = rig.watch("b")
    rig.tend()
    lose_stream(rig)
    rig.quarantined = quarantined
    error = ConnectionFailedError([("http://a:2379", "connection refused")])
    rig.open.fail_next(error)
    after_backoff(rig)
    assert not a.ended  # created: it waits for an endpoint
    assert b.ended is quarantined
    if quarantined:
        assert error_of(b) is error
    rig.quarantined = False
    after_backoff(rig)
    expected = [(1, b"a", 10)] + ([] if quarantined else [(2, b"b", 0)])
    assert creates(rig.stream) == expected


def test_a_first_open_failing_with_every_endpoint_quarantined_fails_the_watch() -> None:
    rig = WatchRig()
    rig.quarantined = True
    box = rig.watch()
    error = ConnectionFailedError([("http://a:2379", "connection refused")])
    rig.open.fail_next(error)
    rig.tend()
    assert error_of(box) is error
    assert len(rig.manager) == 0
    assert rig.wake_time() is None


def test_a_non_retryable_open_failure_ends_created_watches_too() -> None:
    rig = WatchRig()
    a = rig.watch("a")
    rig.created_watches(a)
    b = rig.watch("b")
    lose_stream(rig)
    error = AuthFailedError()
    rig.open.fail_next(error)
    after_backoff(rig)
    assert error_of(a) is error
    assert error_of(b) is error
    assert rig.refreshes == 0  # not a stale token: no refresh


def test_a_server_cancelled_watch_ends_with_its_reason_and_the_others_go_on() -> None:
    rig = WatchRig()
    a, b, c = rig.watch("a"), rig.watch("b"), rig.watch("c")
    rig.created_watches(a, b, c)
    rig.stream.push(
        watch_response(1, 20, canceled=True, compact_revision=7),
        watch_response(2, 20, canceled=True, cancel_reason="some reason"),
        events_at(3, 21, key=b"c"),
    )
    rig.read()
    compacted = error_of(a)
    assert isinstance(compacted, CompactedError)
    assert compacted.compact_revision == 7
    canceled = error_of(b)
    assert isinstance(canceled, WatchCanceledError)
    assert canceled.reason == "some reason"
    assert [revisions(r) for r in c.take_all()] == [[21]]
    assert len(rig.manager) == 1
    assert not rig.stream.cancelled


def test_fail_all_ends_every_watch_and_the_stream_then_closes() -> None:
    rig = WatchRig()
    a = rig.watch("a")
    rig.created_watches(a)
    b = rig.watch("b")
    error = EtcdError("the worker failed")
    with rig.lock:
        rig.manager.fail_all(error)
    assert error_of(a) is error
    assert error_of(b) is error
    assert len(rig.manager) == 0
    rig.tend()
    assert rig.stream.cancelled
    assert len(rig.open.opened) == 1


def test_stop_hands_back_every_sink_to_tell() -> None:
    rig = WatchRig()
    a, b = rig.watch("a"), rig.watch("b")
    rig.created_watches(a)
    with rig.lock:
        sinks = rig.manager.stop()
    assert sinks == [a, b]
    assert not a.ended  # the driver tells them


# --- malformed responses -------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        b"\x0a\xff",  # a header field cut short
        created(9).SerializeToString(),  # no create outstanding
    ],
    ids=["undecodable", "created-unasked"],
)
def test_a_malformed_response_closes_the_connection(bad: bytes) -> None:
    rig = WatchRig()
    a, b = rig.watch("a"), rig.watch("b")
    rig.created_watches(a, b)
    rig.stream.push(bad, events_at(2, 11, key=b"b"))
    assert rig.read() is True
    (error,) = rig.stream.connection.closed_with
    assert isinstance(error, RemoteProtocolError)
    assert str(error).startswith("Watch stream: ")
    # The rest of what arrived was routed; then the connection's end
    # (close_with ends its streams) ends every watch: not retryable.
    assert revisions(b.take()) == [11]
    assert error_of(b) is error
    assert error_of(a) is error
    rig.tend()
    assert len(rig.open.opened) == 1


def test_a_server_ignoring_client_watch_ids_is_a_protocol_error() -> None:
    """etcd < 3.4 numbers watches itself: its created names another ID."""
    rig = WatchRig()
    a = rig.watch()
    rig.tend()
    rig.stream.push(created(0))
    rig.read()
    (error,) = rig.stream.connection.closed_with
    assert "client-assigned watch IDs" in str(error)
    assert error_of(a) is error


# --- fragments and progress ----------------------------------------------------------


def test_fragments_are_joined_into_one_response() -> None:
    rig = WatchRig()
    a, b = rig.watch("a"), rig.watch("b")
    rig.created_watches(a, b)
    consumed = rig.stream.consumed
    rig.stream.push(
        watch_response(1, 12, events=[event(11)], fragment=True),
        events_at(2, 11, key=b"b"),
        watch_response(1, 12, events=[event(12, b"k2")], fragment=True),
        watch_response(1, 12, events=[event(12, b"k3")]),
    )
    rig.read()
    (joined,) = a.take_all()
    assert [(e.kv.key, e.kv.mod_revision) for e in joined.events] == [
        (b"k", 11),
        (b"k2", 12),
        (b"k3", 12),
    ]
    assert joined.watch_id == 1
    assert joined.header.revision == 12
    assert not joined.fragment
    assert [revisions(r) for r in b.take_all()] == [[11]]
    assert rig.stream.consumed == consumed + 4


def test_a_fragment_cut_by_a_resume_is_received_whole_again() -> None:
    rig = WatchRig()
    a = rig.watch()
    rig.created_watches(a)
    rig.stream.push(watch_response(1, 12, events=[event(11)], fragment=True))
    rig.read()
    lose_stream(rig)
    after_backoff(rig)
    assert creates(rig.stream) == [(1, b"k", 10)]
    rig.stream.push(created(1, 12), events_at(1, 11, 12))
    rig.read()
    assert [revisions(r) for r in a.take_all()] == [[11, 12]]


def test_a_progress_broadcast_reaches_every_created_watch_under_its_own_id() -> None:
    rig = WatchRig()
    a, b = rig.watch("a"), rig.watch("b")
    rig.created_watches(a, b)
    c = rig.watch("c")  # its create is not answered yet
    with rig.lock:
        assert rig.manager.request_progress()
    rig.tend()
    assert progress_requests(rig.stream) == 1
    rig.stream.push(watch_response(-1, 15))
    rig.read()
    for box in (a, b):
        (progress,) = box.take_all()
        assert (progress.watch_id, progress.header.revision) == (box.watch_id, 15)
        assert not progress.events
    assert c.take_all() == []
    # A progress response is no backlog: it takes nothing back.
    assert rig.owner.taken == []


def test_progress_for_one_watch_reaches_only_that_watch() -> None:
    rig = WatchRig()
    a, b = rig.watch("a"), rig.watch("b")
    rig.created_watches(a, b)
    rig.stream.push(watch_response(2, 15))
    rig.read()
    assert a.take_all() == []
    (progress,) = b.take_all()
    assert (progress.watch_id, progress.header.revision) == (2, 15)
    lose_stream(rig)
    after_backoff(rig)
    assert creates(rig.stream) == [(1, b"a", 10), (2, b"b", 16)]


def test_request_progress_without_a_watch_sends_nothing() -> None:
    rig = WatchRig()
    with rig.lock:
        assert rig.manager.request_progress() is False
    rig.tend()
    assert rig.open.opened == []


# --- a create refused for its token --------------------------------------------------


def test_a_create_refused_as_permission_denied_is_made_again_with_a_new_token() -> None:
    rig = WatchRig()
    a, b = rig.watch("a"), rig.watch("b")
    rig.tend()
    first = rig.stream
    rig.refresh_answers = [True]
    first.push(created(1, 10), refused())
    assert rig.read() is True
    assert rig.refreshes == 1
    assert not b.ended
    assert b.watch_id == 3  # a new ID for the new create
    rig.tend()
    assert first.cancelled  # the stream's token is stale: open anew
    second = rig.stream
    assert second is not first
    assert second.metadata == (*BASE_METADATA, ("token", "t1"))
    assert creates(second) == [(1, b"a", 10), (3, b"b", 0)]
    second.push(created(1, 10), created(3, 11), events_at(3, 12, key=b"b"))
    rig.read()
    assert b.created_revision == 11
    assert [revisions(r) for r in b.take_all()] == [[12]]
    assert a.created_revision == 10


def test_a_watch_made_again_is_cancelled_under_its_new_id() -> None:
    """The manager keeps which watcher a watch is now (not the user's box):
    cancelling it after it was made again cancels the new one."""
    rig = WatchRig()
    a, b = rig.watch("a"), rig.watch("b")
    rig.tend()
    rig.refresh_answers = [True]
    rig.stream.push(created(1, 10), refused())
    rig.read()
    rig.tend()
    rig.stream.push(created(1, 10), created(3, 11))
    rig.read()
    b.cancel()
    rig.tend()
    assert cancels(rig.stream) == [3]
    rig.stream.push(watch_response(3, 11, canceled=True))
    rig.read()
    assert b.ended
    assert not a.ended


def test_the_manager_forgets_the_watches_that_are_over() -> None:
    rig = WatchRig()
    pending, created_, refused_ = rig.watch("p"), rig.watch("c"), rig.watch("r")
    pending.cancel()  # never sent: over at once
    rig.tend()
    rig.refresh_answers = [False]  # no new token: the refused one ends
    rig.stream.push(created(2, 10), refused())
    rig.read()
    created_.cancel()
    rig.tend()
    rig.stream.push(watch_response(2, 10, canceled=True))
    rig.read()
    assert refused_.ended
    assert len(rig.manager) == 0
    assert rig.manager._watcher_of == {}
    assert rig.manager._recreated == set()


def test_a_token_for_a_refused_create_is_fetched_without_the_lock() -> None:
    """In the sync driver that is an Authenticate call on the network: every
    watch(), cancel() and keep_alive() of the client would wait for it."""
    rig = WatchRig()
    rig.watch()
    rig.refresh_answers = [True]
    rig.tend()
    rig.stream.push(refused())
    rig.read()
    assert rig.refreshed_locked == [False]


def test_tokens_for_a_failed_stream_are_fetched_without_the_lock() -> None:
    rig = WatchRig()
    rig.created_watches(rig.watch())
    rig.refresh_answers = [True, True]
    lose_stream(rig, InvalidAuthTokenError())
    rig.open.fail_next(InvalidAuthTokenError())
    after_backoff(rig)
    assert rig.refreshed_locked == [False, False]


def resuming(rig: WatchRig) -> MemWatch:
    """A watch created at 10, fed revision 12, whose stream was lost: its
    create from 13 is sent on a new stream."""
    box = rig.watch()
    rig.created_watches(box)
    rig.stream.push(events_at(1, 12))
    rig.read()
    lose_stream(rig)
    after_backoff(rig)
    return box


def test_a_resumed_watch_refused_when_no_new_token_comes_waits_for_the_next_try() -> (
    None
):
    """Authenticate may fail while the server restarts (a pooled connection
    it closed): a watch that was created is not ended for that, it is made
    again after the backoff, as after a failed open."""
    rig = WatchRig()
    box = resuming(rig)
    first = rig.stream
    rig.refresh_answers = [False, True]
    first.push(refused())
    rig.read()
    assert not box.ended
    rig.tend()
    assert first.cancelled
    assert len(rig.open.opened) == 2  # not again before the backoff
    wakeup = rig.wake_time()
    assert wakeup is not None
    assert wakeup > rig.now
    after_backoff(rig)
    second = rig.stream
    assert second is not first
    assert creates(second) == [(2, b"k", 13)]
    second.push(refused())
    rig.read()
    assert rig.refreshes == 2
    rig.tend()
    assert creates(rig.stream) == [(3, b"k", 13)]
    rig.stream.push(created(3, 20), events_at(3, 14))
    rig.read()
    assert [revisions(r) for r in box.take_all()] == [[12], [14]]


def made_again(rig: WatchRig) -> MemWatch:
    """A watch whose first create the server refused, made again with a new
    token (its new create sent); the rig has a second new token to give."""
    box = rig.watch()
    rig.refresh_answers = [True, True]
    rig.tend()
    rig.stream.push(refused())
    rig.read()
    rig.tend()
    return box


def test_a_create_refused_again_with_the_new_token_ends_the_watch() -> None:
    rig = WatchRig()
    box = made_again(rig)
    rig.stream.push(refused())
    rig.read()
    error = error_of(box)
    assert isinstance(error, PermissionDeniedError)
    assert NO_CREDENTIALS_HINT not in str(error)
    assert rig.refreshes == 1  # once


def test_a_resumed_watch_refused_for_its_token_is_made_again_from_where_it_was() -> (
    None
):
    """A restarted etcd forgets its tokens: the watches that resume on the
    new stream are refused (they had been created on the old one).  Each is
    made again with a new token, from its next revision: no event lost or
    repeated, and its created revision is still the first one."""
    rig = WatchRig()
    box = resuming(rig)
    assert creates(rig.stream) == [(1, b"k", 13)]
    rig.refresh_answers = [True]
    rig.stream.push(refused())
    rig.read()
    assert rig.refreshes == 1
    assert not box.ended
    rig.tend()
    assert creates(rig.stream) == [(2, b"k", 13)]
    rig.stream.push(created(2, 20), events_at(2, 12, 14))
    rig.read()
    assert box.created_revision == 10
    assert [revisions(r) for r in box.take_all()] == [[12], [14]]


def test_a_watch_made_again_is_made_again_after_a_later_refusal() -> None:
    """Once its new create was accepted, a watch refused again later (the
    next restart of etcd) gets a new token again: once per refusal, not once
    per watch."""
    rig = WatchRig()
    box = made_again(rig)
    rig.stream.push(created(2, 10), events_at(2, 12))
    rig.read()
    lose_stream(rig)
    after_backoff(rig)
    rig.stream.push(refused())
    rig.read()
    assert rig.refreshes == 2
    assert not box.ended
    rig.tend()
    assert creates(rig.stream) == [(3, b"k", 13)]


def test_a_create_refused_when_no_new_token_comes_ends_the_watch() -> None:
    rig = WatchRig()
    box = rig.watch()
    rig.refresh_answers = [False]
    rig.tend()
    rig.stream.push(refused())
    rig.read()
    assert isinstance(error_of(box), PermissionDeniedError)
    assert rig.refreshes == 1
    rig.tend()
    assert rig.stream.cancelled  # its last watch ended
    assert len(rig.open.opened) == 1


@pytest.mark.parametrize(
    ("reason", "cls"),
    [
        (DENIED, PermissionDeniedError),
        ("etcdserver: user name is empty", UserEmptyError),  # etcd 3.4
    ],
)
def test_an_anonymous_client_refused_a_create_is_told_to_give_credentials(
    reason: str, cls: type
) -> None:
    rig = WatchRig(anonymous=True)
    box = rig.watch()
    rig.refresh_answers = [True]
    rig.tend()
    rig.stream.push(refused(reason=reason))
    rig.read()
    error = error_of(box)
    assert isinstance(error, cls)
    assert str(error).endswith(f"({NO_CREDENTIALS_HINT})")
    assert rig.refreshes == 0


def test_a_created_watch_cancelled_for_permission_is_not_made_again() -> None:
    rig = WatchRig()
    box = rig.watch()
    rig.created_watches(box)
    rig.refresh_answers = [True]
    rig.stream.push(watch_response(1, 12, canceled=True, cancel_reason=DENIED))
    rig.read()
    assert isinstance(error_of(box), PermissionDeniedError)
    assert rig.refreshes == 0


@pytest.mark.parametrize("refreshed", [True, False])
def test_a_stream_ended_for_its_stale_token_resumes_with_a_new_one(
    refreshed: bool,
) -> None:
    rig = WatchRig()
    box = rig.watch()
    rig.created_watches(box)
    rig.refresh_answers = [refreshed]
    error = InvalidAuthTokenError()
    lose_stream(rig, error)
    assert rig.refreshes == 1
    if not refreshed:
        assert error_of(box) is error
        return
    assert not box.ended
    after_backoff(rig)
    assert rig.stream.metadata == (*BASE_METADATA, ("token", "t1"))
    assert creates(rig.stream) == [(1, b"k", 10)]


def test_an_open_refused_for_its_stale_token_tries_again_with_a_new_one() -> None:
    rig = WatchRig()
    rig.quarantined = True  # would fail the watch, were it not for the token
    box = rig.watch()
    rig.refresh_answers = [True]
    rig.open.fail_next(InvalidAuthTokenError())
    rig.tend()
    assert not box.ended
    after_backoff(rig)
    assert rig.stream.metadata == (*BASE_METADATA, ("token", "t1"))
    assert creates(rig.stream) == [(1, b"k", 0)]


# --- back-pressure -------------------------------------------------------------------

#: An event value of a quarter of the limit: the fourth queued response
#: reaches it.
QUARTER = b"x" * (BACKLOG_LIMIT // 4)


def big(watch_id: int, revision: int) -> bytes:
    response = watch_response(
        watch_id, revision, events=[event(revision, b"k", QUARTER)]
    )
    return response.SerializeToString()


def stalled_rig() -> Tuple[WatchRig, MemWatch, int]:
    """A watch with five big responses queued (the last two held back);
    and the credit given back before them."""
    rig = WatchRig()
    box = rig.watch()
    rig.created_watches(box)
    stream = rig.stream
    before = stream.consumed
    stream.push(big(1, 11), big(1, 12), big(1, 13))
    rig.read()
    assert stream.consumed == before + 3  # below the limit: at once
    stream.push(big(1, 14))
    rig.read()
    assert stream.consumed == before + 3  # at the limit: held
    stream.push(big(1, 15))
    rig.read()
    assert stream.consumed == before + 3
    return rig, box, before


def test_back_pressure_holds_credit_at_the_limit_and_gives_it_back_at_half() -> None:
    rig, box, before = stalled_rig()
    stream = rig.stream
    # What is not queued (a progress response) is credited even now.
    stream.push(watch_response(1, 15))
    rig.read()
    assert stream.consumed == before + 4
    for _ in range(3):
        box.take()
        rig.manager.release_backlog()  # too early: nothing
        assert rig.wakes == 0
        assert stream.consumed == before + 4
    box.take()  # down to a quarter
    assert rig.wakes == 1
    rig.manager.release_backlog()
    assert stream.consumed == before + 6  # the two held back
    rig.manager.release_backlog()
    assert stream.consumed == before + 6
    stream.push(big(1, 16))
    rig.read()
    assert stream.consumed == before + 7  # not stalled now: at once
    assert [revisions(r) for r in box.take_all()] == [[15], [], [16]]


def test_cancelling_a_watch_gives_its_queued_bytes_back() -> None:
    rig, box, before = stalled_rig()
    box.cancel()
    assert rig.wakes == 1
    rig.manager.release_backlog()
    assert rig.stream.consumed == before + 5


def test_credit_held_on_a_stream_that_ended_is_not_given_to_the_next() -> None:
    rig, box, before = stalled_rig()
    first = rig.stream
    lose_stream(rig)
    after_backoff(rig)
    second = rig.stream
    box.take_all()
    assert rig.wakes  # the readers caught up
    rig.manager.release_backlog()
    assert first.consumed == before + 3
    assert second.consumed == 0
    second.push(created(1))
    rig.read()
    assert second.consumed == 1


def test_a_response_joined_from_fragments_counts_all_its_bytes() -> None:
    rig = WatchRig()
    box = rig.watch()
    rig.created_watches(box)
    stream = rig.stream
    before = stream.consumed
    for revision in (11, 12, 13):
        response = fragment(revision)
        stream.push(response)
    stream.push(big(1, 14))  # the fragment that completes it
    rig.read()
    # About BACKLOG_LIMIT bytes are queued in one response: at the limit.
    assert stream.consumed == before + 3
    assert [revisions(r) for r in box.take_all()] == [[11, 12, 13, 14]]


def fragment(revision: int) -> bytes:
    response = watch_response(
        1, 14, events=[event(revision, b"k", QUARTER)], fragment=True
    )
    return response.SerializeToString()
