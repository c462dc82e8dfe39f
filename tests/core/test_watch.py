from __future__ import annotations

from typing import List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyetcd_wire._core.watch import (
    Created,
    Ended,
    Events,
    Progress,
    Watcher,
    WatcherState,
    WatchStream,
)
from pyetcd_wire.errors import (
    CompactedError,
    PermissionDeniedError,
    RemoteProtocolError,
    WatchCanceledError,
)
from tests.messages import create as opts
from tests.messages import event as ev
from tests.messages import watch_response as resp


def revs(delivery: object) -> List[int]:
    assert isinstance(delivery, Events)
    return [e.kv.mod_revision for e in delivery.events]


def started(stream: WatchStream, n: int = 1, rev: int = 10) -> List[Watcher]:
    """n watchers, sent and created at header revision `rev`."""
    watchers = [stream.add(opts(f"k{i}")) for i in range(n)]
    stream.requests_to_send()
    for w in watchers:
        (created,) = stream.receive(resp(w.watch_id, rev, created=True))
        assert isinstance(created, Created)
    return watchers


def test_create_events_cancel() -> None:
    stream = WatchStream()
    w = stream.add(opts("foo", prev_kv=True))
    assert w.watch_id == 1
    assert w.state is WatcherState.PENDING
    (request,) = stream.requests_to_send()
    create = request.create_request
    assert (create.key, create.watch_id, create.prev_kv) == (b"foo", 1, True)
    assert stream.requests_to_send() == []
    assert w.state is WatcherState.CREATING

    (created,) = stream.receive(resp(1, 10, created=True))
    assert isinstance(created, Created)
    assert (created.watcher, created.revision) == (w, 10)
    assert w.state is WatcherState.ACTIVE

    (events,) = stream.receive(resp(1, 12, events=[ev(11), ev(12)]))
    assert isinstance(events, Events)
    assert events.watcher is w
    assert events.header.revision == 12
    assert revs(events) == [11, 12]
    assert (w.next_revision, w.last_revision, w.events_delivered) == (13, 12, 2)

    assert stream.cancel(w) == []
    assert w.state is WatcherState.CANCELING
    (request,) = stream.requests_to_send()
    assert request.WhichOneof("request_union") == "cancel_request"
    assert request.cancel_request.watch_id == 1
    # Events still in flight are not delivered to a watch being cancelled.
    assert stream.receive(resp(1, 13, events=[ev(13)])) == []
    (ended,) = stream.receive(resp(1, 13, canceled=True))
    assert isinstance(ended, Ended)
    assert (ended.watcher, ended.error) == (w, None)
    assert w.state is WatcherState.ENDED
    assert len(stream) == 0
    assert stream.cancel(w) == []  # idempotent
    assert stream.requests_to_send() == []


def test_pipelined_creates() -> None:
    stream = WatchStream()
    a, b, c = (stream.add(opts(k)) for k in "abc")
    requests = stream.requests_to_send()
    assert [r.create_request.watch_id for r in requests] == [1, 2, 3]
    assert [r.create_request.key for r in requests] == [b"a", b"b", b"c"]
    assert stream.watchers == (a, b, c)
    for w in (a, b, c):
        (created,) = stream.receive(resp(w.watch_id, 5, created=True))
        assert created.watcher is w


def test_add_refuses_watch_id_and_copies_options() -> None:
    stream = WatchStream()
    with pytest.raises(ValueError, match="watch_id"):
        stream.add(opts(watch_id=3))
    options = opts()
    stream.add(options)
    assert options.watch_id == 0


def test_fragments_reassembled_with_interleaved_watch() -> None:
    stream = WatchStream()
    a, b = started(stream, 2)
    assert stream.receive(resp(1, 20, events=[ev(11), ev(11)], fragment=True)) == []
    (other,) = stream.receive(resp(2, 20, events=[ev(12, b"k1")]))
    assert other.watcher is b
    assert stream.receive(resp(1, 20, events=[ev(11)], fragment=True)) == []
    (whole,) = stream.receive(resp(1, 20, events=[ev(11), ev(13)]))
    assert whole.watcher is a
    assert revs(whole) == [11, 11, 11, 11, 13]
    (again,) = stream.receive(resp(1, 21, events=[ev(14)]))
    assert revs(again) == [14]


def test_compaction_ends_with_compacted_error() -> None:
    stream = WatchStream()
    w = stream.add(opts(start_revision=3))
    stream.requests_to_send()
    stream.receive(resp(1, 50, created=True))
    (ended,) = stream.receive(resp(1, 50, canceled=True, compact_revision=40))
    assert isinstance(ended, Ended)
    assert isinstance(ended.error, CompactedError)
    assert ended.error.compact_revision == 40
    assert w.state is WatcherState.ENDED


@pytest.mark.parametrize(
    ("reason", "error_type"),
    [
        ("etcdserver: permission denied", PermissionDeniedError),
        (
            "rpc error: code = PermissionDenied desc = etcdserver: permission denied",
            PermissionDeniedError,
        ),
        ("etcdserver: mvcc: required revision has been compacted", CompactedError),
        ("mvcc: watcher range is empty", WatchCanceledError),
        ("mvcc: duplicate watch ID provided on the WatchStream", WatchCanceledError),
    ],
)
def test_create_failure(reason: str, error_type: type) -> None:
    stream = WatchStream()
    first, second = stream.add(opts("a")), stream.add(opts("b"))
    stream.requests_to_send()
    # A failed create carries watch_id -1: it answers the oldest create.
    (ended,) = stream.receive(
        resp(-1, 9, created=True, canceled=True, cancel_reason=reason)
    )
    assert isinstance(ended, Ended)
    assert ended.watcher is first
    assert ended.refused_create
    assert type(ended.error) is error_type
    if isinstance(ended.error, WatchCanceledError):
        assert ended.error.reason == reason
        assert ended.error.watch_id == 1
    (created,) = stream.receive(resp(2, 9, created=True))
    assert created.watcher is second
    assert stream.watchers == (second,)


def test_server_cancel_without_reason() -> None:
    stream = WatchStream()
    started(stream)
    (ended,) = stream.receive(resp(1, 11, canceled=True))
    assert isinstance(ended.error, WatchCanceledError)
    assert ended.error.reason == ""
    assert not ended.refused_create


DENIED = "etcdserver: permission denied"


def test_a_refused_resume_is_made_again_from_where_it_was() -> None:
    """`again`: a watch created and fed on one stream, whose resume on the
    next the server refused, is registered under a new ID with its options,
    its next revision and its floor; its acceptance is `Created` again."""
    stream = WatchStream()
    (w,) = started(stream)
    stream.receive(resp(1, 12, events=[ev(12)]))
    stream.reset()
    (request,) = stream.requests_to_send()
    assert request.create_request.start_revision == 13
    (ended,) = stream.receive(
        resp(-1, 20, created=True, canceled=True, cancel_reason=DENIED)
    )
    assert isinstance(ended, Ended)
    assert ended.refused_create
    again = stream.again(w)
    assert (again.watch_id, again.next_revision, again.last_revision) == (2, 13, 12)
    assert again.events_delivered == 1
    (request,) = stream.requests_to_send()
    create = request.create_request
    assert (create.key, create.watch_id, create.start_revision) == (b"k0", 2, 13)
    (created,) = stream.receive(resp(2, 20, created=True))
    assert isinstance(created, Created)
    assert created.watcher is again
    (events,) = stream.receive(resp(2, 20, events=[ev(12), ev(14)]))
    assert revs(events) == [14]


def test_again_refuses_a_watch_that_has_not_ended() -> None:
    stream = WatchStream()
    (w,) = started(stream)
    with pytest.raises(ValueError, match="has not ended"):
        stream.again(w)


def test_progress_broadcast_and_per_watch() -> None:
    stream = WatchStream()
    a, b = started(stream, 2, rev=10)
    c = stream.add(opts("c"))  # not created yet: no progress for it
    stream.request_progress()
    requests = stream.requests_to_send()
    assert [r.WhichOneof("request_union") for r in requests] == [
        "create_request",
        "progress_request",
    ]
    progress = stream.receive(resp(-1, 30))
    assert all(isinstance(p, Progress) for p in progress)
    assert [(p.watcher, p.revision) for p in progress] == [(a, 30), (b, 30)]
    assert a.next_revision == b.next_revision == 31
    assert c.next_revision == 0
    (own,) = stream.receive(resp(2, 35))
    assert isinstance(own, Progress)
    assert (own.watcher, own.revision, b.next_revision) == (b, 35, 36)


def test_unknown_watch_id_cancelled_once() -> None:
    stream = WatchStream()
    started(stream)
    assert stream.receive(resp(99, 12, events=[ev(12)])) == []
    assert stream.receive(resp(99, 13, events=[ev(13)])) == []
    (request,) = stream.requests_to_send()
    assert request.cancel_request.watch_id == 99


def test_cancel_never_sent_watch_sends_nothing() -> None:
    stream = WatchStream()
    keep = stream.add(opts("a"))
    w = stream.add(opts("b"))
    (ended,) = stream.cancel(w)
    assert isinstance(ended, Ended)
    assert (ended.watcher, ended.error) == (w, None)
    (request,) = stream.requests_to_send()
    assert request.create_request.watch_id == keep.watch_id


def test_cancel_while_creating_sends_cancel_after_create() -> None:
    stream = WatchStream()
    w = stream.add(opts())
    stream.requests_to_send()
    assert stream.cancel(w) == []
    (request,) = stream.requests_to_send()
    assert request.cancel_request.watch_id == 1
    assert stream.receive(resp(1, 5, created=True)) == []
    (ended,) = stream.receive(resp(1, 5, canceled=True))
    assert ended.error is None


def test_created_for_other_id_is_a_protocol_error() -> None:
    stream = WatchStream()
    stream.add(opts())
    stream.requests_to_send()
    with pytest.raises(RemoteProtocolError, match=r"etcd < 3\.4"):
        stream.receive(resp(0, 5, created=True))
    with pytest.raises(RemoteProtocolError, match="no create request"):
        stream.receive(resp(0, 5, created=True))


def test_reset_resumes_from_last_event() -> None:
    stream = WatchStream()
    a, b, c = started(stream, 3, rev=10)
    stream.receive(resp(1, 15, events=[ev(14), ev(15)]))
    stream.receive(resp(3, 20, events=[ev(13, b"k2")]))
    stream.receive(resp(-1, 20))  # progress: c at least 21, a 21, b 21
    stream.receive(resp(1, 25, events=[ev(25)]))
    d = stream.add(opts("d", start_revision=7))
    assert stream.cancel(c) == []
    # A half-received fragment is dropped by the reset, and re-sent later.
    stream.receive(resp(2, 30, events=[ev(30, b"k1")], fragment=True))
    stream.request_progress()

    (ended,) = stream.reset()
    assert (ended.watcher, ended.error) == (c, None)
    requests = stream.requests_to_send()
    starts = [
        (r.create_request.watch_id, r.create_request.start_revision)
        for r in requests
        if r.HasField("create_request")
    ]
    assert starts == [(1, 26), (2, 21), (4, 7)]
    assert requests[-1].HasField("progress_request")

    # Re-creates do not deliver Created again; d's first created does.
    assert stream.receive(resp(1, 30, created=True)) == []
    assert stream.receive(resp(2, 30, created=True)) == []
    (created,) = stream.receive(resp(4, 30, created=True))
    assert created.watcher is d
    (frag,) = stream.receive(resp(2, 30, events=[ev(30, b"k1")]))
    assert revs(frag) == [30]
    assert a.state is b.state is d.state is WatcherState.ACTIVE


def test_created_revision_is_resumed_inclusive_and_deduplicated() -> None:
    stream = WatchStream()
    started(stream, rev=10)
    stream.reset()
    (request,) = stream.requests_to_send()
    assert request.create_request.start_revision == 10  # Go's inclusive rule
    stream.receive(resp(1, 12, created=True))
    # The event at 10 preceded the watch: dropped; 11 and 12 delivered.
    assert stream.receive(resp(1, 12, events=[ev(10)])) == []
    (events,) = stream.receive(resp(1, 12, events=[ev(10), ev(11), ev(12)]))
    assert revs(events) == [11, 12]


def test_reset_before_created_keeps_start_revision_zero() -> None:
    stream = WatchStream()
    w = stream.add(opts())
    stream.requests_to_send()
    assert stream.reset() == []
    (request,) = stream.requests_to_send()
    assert request.create_request.start_revision == 0
    (created,) = stream.receive(resp(1, 8, created=True))
    assert created.watcher is w


@st.composite
def histories(draw: st.DrawFn) -> tuple[int, List[int], List[int], List[int]]:
    """Created revision, event revisions after it, where the stream breaks (in
    responses sent), and how far back each replay starts."""
    created = draw(st.integers(1, 20))
    gaps = draw(st.lists(st.integers(1, 3), min_size=0, max_size=30))
    revisions, rev = [], created
    for gap in gaps:
        rev += gap
        revisions.append(rev)
    breaks = draw(st.lists(st.integers(0, 8), min_size=0, max_size=3))
    rewinds = draw(
        st.lists(st.integers(0, 5), min_size=len(breaks), max_size=len(breaks))
    )
    return created, revisions, breaks, rewinds


@settings(max_examples=300, deadline=None)
@given(history=histories(), data=st.data())
def test_resume_delivers_every_revision_once_in_order(
    history: tuple[int, List[int], List[int], List[int]], data: st.DataObject
) -> None:
    created_rev, revisions, breaks, rewinds = history
    stream = WatchStream()
    w = stream.add(opts())
    (request,) = stream.requests_to_send()
    assert request.create_request.start_revision == 0
    stream.receive(resp(1, created_rev, created=True))

    seen: List[int] = []
    # The server's view: every event from `start` on, the pre-watch event at
    # created_rev included (a store write the watch must not report).
    store = [created_rev, *revisions]
    start = created_rev + 1
    for attempt in range(len(breaks) + 1):
        pending = [r for r in store if r >= start]
        sent = 0
        while pending and (attempt == len(breaks) or sent < breaks[attempt]):
            size = data.draw(st.integers(1, 3))
            batch, pending = pending[:size], pending[size:]
            if data.draw(st.booleans()) and len(batch) > 1:
                stream.receive(resp(1, batch[-1], events=[ev(batch[0])], fragment=True))
                batch_events = [ev(r) for r in batch[1:]]
            else:
                batch_events = [ev(r) for r in batch]
            for delivery in stream.receive(resp(1, batch[-1], events=batch_events)):
                seen.extend(revs(delivery))
            sent += 1
            if not pending and data.draw(st.booleans()):
                stream.receive(resp(1, store[-1]))  # progress: caught up
        if attempt == len(breaks):
            break
        stream.reset()
        (request,) = stream.requests_to_send()
        resume = request.create_request.start_revision
        missing = [r for r in revisions if r not in seen]
        if missing:
            assert resume <= missing[0], "a resume must never skip an event"
        assert resume >= (seen[-1] if seen else created_rev)
        stream.receive(resp(1, store[-1], created=True))
        # A careless server replays from up to `rewind` events earlier.
        index = next((i for i, r in enumerate(store) if r >= resume), len(store))
        back = index - rewinds[attempt]
        start = store[max(back, 0)] if back < len(store) else resume
    assert seen == revisions
    assert w.events_delivered == len(revisions)
