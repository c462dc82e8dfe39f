"""The fault campaign's watch checks (benchmarks/fault_campaign/
watch_checks.py): a correct watcher's log passes, and each single
corruption of it is caught by the check that names it, and by no other."""

from __future__ import annotations

import dataclasses
import random
from typing import Callable, Dict, List

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from benchmarks.fault_campaign.history import WatchEvent, WatchLog
from benchmarks.fault_campaign.watch_checks import check, check_reference

from .helpers import reference_history, watch_log

KEYS = [b"/a/1", b"/a/2", b"/a/3", b"/b/1", b"/b/2"]


def _setup(seed: int, prev_kv: bool = True) -> tuple:
    rand = random.Random(seed)
    reference = reference_history(rand, 60, KEYS)
    start = rand.choice([0, 1, 10, 30])
    log = watch_log(rand, reference, b"/a/", start, prev_kv)
    if start == 0:  # from "now": the watch began somewhere in the history
        first = rand.randrange(len(log.events) // 2)
        while first and log.events[first - 1].revision == log.events[first].revision:
            first -= 1  # a revision is delivered whole
        log.events = log.events[first:]
        log.progress = [p for p in log.progress if p >= log.events[0].revision]
        log.progress_responses = log.progress_responses[-len(log.progress) :]
        if not log.progress:
            log.progress_responses = []
    return rand, reference, log


def _middle(rand: random.Random, log: WatchLog) -> int:
    return rand.randrange(1, len(log.events) - 1)


def drop(rand: random.Random, log: WatchLog, reference: List[WatchEvent]) -> None:
    del log.events[_middle(rand, log)]


def duplicate(rand: random.Random, log: WatchLog, reference: List[WatchEvent]) -> None:
    i = _middle(rand, log)
    log.events.insert(i, log.events[i])


def reorder(rand: random.Random, log: WatchLog, reference: List[WatchEvent]) -> None:
    # Two neighbours of different revisions in one response, swapped.
    pairs = [
        i
        for i in range(1, len(log.events) - 1)
        if log.events[i].revision != log.events[i + 1].revision
        and log.events[i].response == log.events[i + 1].response
    ]
    if not pairs:  # or across responses, the responses kept in place
        pairs = [
            i
            for i in range(1, len(log.events) - 1)
            if log.events[i].revision != log.events[i + 1].revision
        ]
    i = rand.choice(pairs)
    a, b = log.events[i], log.events[i + 1]
    log.events[i] = dataclasses.replace(b, response=a.response)
    log.events[i + 1] = dataclasses.replace(a, response=b.response)


def split(rand: random.Random, log: WatchLog, reference: List[WatchEvent]) -> None:
    # A revision of two events: the second and all after it one response on.
    i = rand.choice(
        [
            i
            for i in range(len(log.events) - 1)
            if log.events[i].revision == log.events[i + 1].revision
        ]
    )
    for j in range(i + 1, len(log.events)):
        log.events[j].response += 1
    log.progress_responses = [
        r + 1 if r > log.events[i].response else r for r in log.progress_responses
    ]


def wrong_prev_kv(
    rand: random.Random, log: WatchLog, reference: List[WatchEvent]
) -> None:
    event = log.events[_middle(rand, log)]
    if event.prev_value is None:
        event.prev_value, event.prev_mod_revision = b"invented", 1
    else:
        event.prev_mod_revision = (event.prev_mod_revision or 0) + 1


def below_start(
    rand: random.Random, log: WatchLog, reference: List[WatchEvent]
) -> None:
    earlier = [
        e
        for e in reference
        if e.key.startswith(log.prefix) and e.revision < log.start_revision
    ]
    event = dataclasses.replace(rand.choice(earlier), response=-1)
    log.events.insert(0, _with_prev(event, reference))  # prev_kv as etcd's


def _with_prev(event: WatchEvent, reference: List[WatchEvent]) -> WatchEvent:
    before = [
        e for e in reference if e.key == event.key and e.revision < event.revision
    ]
    prev = before[-1] if before else None
    if prev is None or prev.type == "delete":
        return dataclasses.replace(event, prev_value=None, prev_mod_revision=None)
    return dataclasses.replace(
        event, prev_value=prev.value, prev_mod_revision=prev.revision
    )


def after_progress(
    rand: random.Random, log: WatchLog, reference: List[WatchEvent]
) -> None:
    # A progress notification that claims the revision of the event after it.
    i = rand.randrange(len(log.progress))
    nxt = next(e for e in log.events if e.response > log.progress_responses[i])
    log.progress[i] = min([nxt.revision, *log.progress[i + 1 :]])


CORRUPTIONS: Dict[str, Callable[[random.Random, WatchLog, List[WatchEvent]], None]] = {
    "watch-reliable": drop,
    "watch-unique": duplicate,
    "watch-ordered": reorder,
    "watch-atomic": split,
    "watch-prev-kv": wrong_prev_kv,
    "watch-resumable": below_start,
    "watch-bookmarkable": after_progress,
}


def _applicable(name: str, log: WatchLog) -> bool:
    if name == "watch-resumable":
        return log.start_revision > 1
    if name == "watch-bookmarkable":
        return any(
            any(e.response > r for e in log.events) for r in log.progress_responses
        )
    if name == "watch-atomic":
        revisions = [e.revision for e in log.events]
        return len(set(revisions)) < len(revisions)
    return len(log.events) >= 3


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), prev_kv=st.booleans())
def test_a_correct_log_passes(seed: int, prev_kv: bool) -> None:
    _, reference, log = _setup(seed, prev_kv)
    assert check_reference(reference) == []
    assert check(log, reference) == []


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_each_corruption_is_caught_by_its_check(name: str, seed: int) -> None:
    rand, reference, log = _setup(seed)
    assume(_applicable(name, log))
    CORRUPTIONS[name](rand, log, reference)
    violations = check(log, reference)
    assert [v.check for v in violations] == [name], violations
    assert log.name in violations[0].detail
    assert len(violations[0].detail) <= 700


def test_a_watch_from_now_needs_nothing_before_its_first_event() -> None:
    _, reference, log = _setup(5)
    log.start_revision = 0
    log.events = log.events[len(log.events) // 2 :]
    while log.events[0].revision == log.events[1].revision:
        del log.events[0]
    log.progress, log.progress_responses = [], []
    assert check(log, reference) == []


def test_events_past_the_last_revision_reached_are_not_owed() -> None:
    _, reference, log = _setup(7)
    log.last_revision = log.events[-1].revision
    del log.events[-1]
    log.last_revision = log.events[-1].revision
    assert check(log, reference) == []


def test_an_event_etcd_never_recorded_is_not_reliable() -> None:
    _, reference, log = _setup(9)
    log.events[2] = dataclasses.replace(log.events[2], value=b"invented")
    assert [v.check for v in check(log, reference)] == ["watch-reliable"]


def test_check_reference_catches_a_wrong_version_and_a_revision_going_down() -> None:
    rand = random.Random(4)
    reference = reference_history(rand, 30, KEYS)
    bad = list(reference)
    bad[5] = dataclasses.replace(bad[5], version=bad[5].version + 1, type="put")
    assert [v.check for v in check_reference(bad)] == ["reference"]
    swapped = list(reference)
    swapped[3], swapped[10] = swapped[10], swapped[3]
    assert [v.check for v in check_reference(swapped)] == ["reference"]


def test_a_watch_from_a_revision_that_skips_its_first_event_is_not_resumable() -> None:
    _, reference, log = _setup(11)
    log.start_revision = log.events[0].revision
    first = [e for e in log.events if e.revision == log.start_revision]
    log.events = log.events[len(first) :]
    names = [v.check for v in check(log, reference)]
    assert names == ["watch-reliable", "watch-resumable"]
