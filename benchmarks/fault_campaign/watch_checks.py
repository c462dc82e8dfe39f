"""What one watcher saw, against etcd's own history of events.

The guarantees are etcd's (api/v3rpc watch documentation, and the names of
tests/robustness/validate/watch.go in etcd's repository):

* watch-ordered: events come in revision order: revisions never go down.
  (From one response to the next they go up: a revision in two responses
  is watch-atomic's.)
* watch-unique: no event (revision, key) comes twice.
* watch-atomic: the events of one revision come in one response.
* watch-reliable: no event is missed: every event of the reference under the
  watched prefix, from the first revision asked for to the last the watcher
  reached, comes, and as etcd recorded it (type, value, create_revision,
  version); nothing comes that etcd did not record.
* watch-resumable: a watch from revision R delivers nothing below R, and
  starts at the first event at or after R.
* watch-prev-kv: with prev_kv, each event carries the key's value and
  mod_revision just before it (none for a key that did not exist).
* watch-bookmarkable: progress revisions never go down, and no event after a
  progress notification at R has a revision at or below R.

`reference` is etcd's whole history, every key's events in revision order
(events of one transaction share a revision).
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple

from .history import Violation, WatchEvent, WatchLog, summarize


class Index:
    """What the checks of every log need from the reference, computed once
    (a long campaign has hundreds of logs and a reference of 10^5 events or
    more: per log, they would cost as much as the rest of the checks)."""

    def __init__(self, reference: Sequence[WatchEvent]) -> None:
        self.reference = reference
        self._mine: Dict[bytes, _Mine] = {}
        self._before: Optional[_Before] = None

    def mine(self, prefix: bytes) -> _Mine:
        """The reference's events under `prefix`, their revisions, and each
        by (revision, key)."""
        if prefix not in self._mine:
            events = [e for e in self.reference if e.key.startswith(prefix)]
            self._mine[prefix] = _Mine(
                events,
                [e.revision for e in events],
                {(e.revision, e.key): e for e in events},
            )
        return self._mine[prefix]

    def before(self) -> _Before:
        """Each key's state just before each of its events: (value,
        mod_revision), (None, None) if it did not exist."""
        if self._before is None:
            before: _Before = {}
            state: Dict[bytes, Tuple[Optional[bytes], Optional[int]]] = {}
            for event in self.reference:
                before[(event.revision, event.key)] = state.get(event.key, (None, None))
                if event.type == "delete":
                    state.pop(event.key, None)
                else:
                    state[event.key] = (event.value, event.revision)
            self._before = before
        return self._before


class _Mine(NamedTuple):
    events: List[WatchEvent]
    revisions: List[int]
    by_place: Dict[Tuple[int, bytes], WatchEvent]


_Before = Dict[Tuple[int, bytes], Tuple[Optional[bytes], Optional[int]]]


def check_all(
    logs: Sequence[WatchLog], reference: Sequence[WatchEvent]
) -> List[Violation]:
    """`check` of every log, the reference indexed once."""
    index = Index(reference)
    return [v for log in logs for v in check(log, reference, index)]


def check(
    log: WatchLog, reference: Sequence[WatchEvent], index: Optional[Index] = None
) -> List[Violation]:
    """Every check above of `log`, against `reference` (`index`: of it, when
    several logs are checked); empty when all hold."""
    if index is None:
        index = Index(reference)
    mine = index.mine(log.prefix)
    violations: List[Violation] = []
    for name, found in (
        ("watch-ordered", _ordered(log)),
        ("watch-unique", _unique(log)),
        ("watch-atomic", _atomic(log)),
        ("watch-reliable", _reliable(log, mine)),
        ("watch-resumable", _resumable(log, mine)),
        ("watch-prev-kv", _prev_kv(log, index.before()) if log.prev_kv else []),
        ("watch-bookmarkable", _bookmarkable(log)),
    ):
        if found:
            violations.append(Violation(name, _detail(log, found)))
    return violations


def check_reference(reference: Sequence[WatchEvent]) -> List[Violation]:
    """The reference itself: revisions never go down, one event per key and
    revision, and each key's versions and create_revisions as etcd keeps
    them (a put counts from 1 after a create, a delete ends the key)."""
    found: List[str] = []
    previous = 0
    versions: Dict[bytes, Tuple[int, int]] = {}  # key -> (version, created)
    seen: Set[Tuple[int, bytes]] = set()
    for event in reference:
        if event.revision < previous:
            found.append(f"revision {event.revision} after {previous}")
        previous = event.revision
        if (event.revision, event.key) in seen:
            found.append(f"{_event(event)} twice")
        seen.add((event.revision, event.key))
        version, created = versions.get(event.key, (0, 0))
        if event.type == "delete":
            versions.pop(event.key, None)
            continue
        want = (version + 1, created or event.revision)
        if (event.version, event.create_revision) != want:
            found.append(
                f"{_event(event)}: version {event.version} created "
                f"{event.create_revision}, expected {want[0]} created {want[1]}"
            )
        versions[event.key] = (event.version, event.create_revision)
    if not found:
        return []
    return [Violation("reference", summarize(found))]


def _ordered(log: WatchLog) -> List[str]:
    found = []
    for before, after in zip(log.events, log.events[1:]):
        if after.revision < before.revision:
            found.append(f"{_event(after)} after {_event(before)}")
    return found


def _unique(log: WatchLog) -> List[str]:
    seen: Set[Tuple[int, bytes]] = set()
    found = []
    for event in log.events:
        if (event.revision, event.key) in seen:
            found.append(f"{_event(event)} twice")
        seen.add((event.revision, event.key))
    return found


def _atomic(log: WatchLog) -> List[str]:
    responses: Dict[int, Set[int]] = defaultdict(set)
    for event in log.events:
        responses[event.revision].add(event.response)
    return [
        f"revision {revision} split over responses {sorted(split)}"
        for revision, split in sorted(responses.items())
        if len(split) > 1
    ]


def _first_asked(log: WatchLog) -> int:
    """The first revision the watch must deliver from: the one asked for, or
    for a watch from "now", the first it delivered."""
    if log.start_revision > 0:
        return log.start_revision
    if log.events:
        return min(e.revision for e in log.events)
    return log.last_revision + 1


def _same(a: WatchEvent, b: WatchEvent) -> bool:
    if a.type != b.type:
        return False
    if a.type == "delete":  # etcd's delete events carry the key alone
        return True
    return (a.value, a.create_revision, a.version) == (
        b.value,
        b.create_revision,
        b.version,
    )


def _reliable(log: WatchLog, mine: _Mine) -> List[str]:
    first, last = _first_asked(log), log.last_revision
    within = mine.events[
        bisect.bisect_left(mine.revisions, first) : bisect.bisect_right(
            mine.revisions, last
        )
    ]
    expected = {(e.revision, e.key): e for e in within}
    recorded = mine.by_place
    delivered: Set[Tuple[int, bytes]] = set()
    found = []
    for event in log.events:
        delivered.add((event.revision, event.key))
        truth = recorded.get((event.revision, event.key))
        if truth is None or not event.key.startswith(log.prefix):
            found.append(f"{_event(event)} is not in etcd's history")
        elif not _same(event, truth):
            found.append(f"{_event(event)} differs from etcd's {_event(truth)}")
    for where in sorted(expected):
        if where not in delivered:
            found.append(f"{_event(expected[where])} missed{_around(log, where[0])}")
    return found


def _around(log: WatchLog, revision: int) -> str:
    """Where a missed revision falls in what the watcher saw: the events
    delivered just before and after it, and any progress notification in
    between (revision and response of each), and how the watch ended."""
    before = [e for e in log.events if e.revision < revision]
    after = [e for e in log.events if e.revision > revision]
    low = before[-1] if before else None
    high = after[0] if after else None
    first = low.response if low else 0
    last = high.response if high else 1 << 62
    progress = [
        f"{rev} (response {at})"
        for rev, at in zip(log.progress, log.progress_responses)
        if first <= at <= last
    ]
    parts = [
        f"before it {low.revision} (response {low.response})" if low else "",
        f"after it {high.revision} (response {high.response})" if high else "",
        f"progress between {', '.join(progress[:4])}" if progress else "",
        f"watch from {log.start_revision} reached {log.last_revision}",
        f"ended {log.error}" if log.error else "",
    ]
    return "; " + "; ".join(part for part in parts if part)


def _resumable(log: WatchLog, mine: _Mine) -> List[str]:
    start = log.start_revision
    if start <= 0:
        return []
    found = [
        f"{_event(event)} below the start revision {start}"
        for event in log.events
        if event.revision < start
    ]
    at = bisect.bisect_left(mine.revisions, start)
    later = mine.events[at] if at < len(mine.events) else None
    first = log.events[0].revision if log.events else None
    if later and first is not None and start <= first != later.revision:
        found.append(
            f"from revision {start} it began at {_event(log.events[0])}, "
            f"not {_event(later)}"
        )
    return found


def _prev_kv(log: WatchLog, before: _Before) -> List[str]:
    found = []
    for event in log.events:
        want = before.get((event.revision, event.key))
        if want is None:
            continue  # not etcd's event at all: watch-reliable says so
        have = (event.prev_value, event.prev_mod_revision or None)
        if have != want:
            found.append(
                f"{_event(event)} prev {have[0]!r}@{have[1]}, "
                f"etcd had {want[0]!r}@{want[1]}"
            )
    return found


def _bookmarkable(log: WatchLog) -> List[str]:
    found = [
        f"progress {after} after progress {before}"
        for before, after in zip(log.progress, log.progress[1:])
        if after < before
    ]
    if len(log.progress_responses) != len(log.progress):
        return found
    marks = sorted(zip(log.progress_responses, log.progress))
    responses = [response for response, _ in marks]
    highest = list(itertools.accumulate((r for _, r in marks), max))
    for event in log.events:
        before = bisect.bisect_left(responses, event.response)
        if before and event.revision <= highest[before - 1]:
            found.append(
                f"{_event(event)} after a progress notification at "
                f"{highest[before - 1]}"
            )
    return found


def _event(event: WatchEvent) -> str:
    what = event.type if event.type == "delete" else f"put {event.value!r}"
    return f"{event.key!r}@{event.revision} {what} (response {event.response})"


def _detail(log: WatchLog, found: Iterable[str]) -> str:
    return f"watch {log.name} of {log.prefix!r}: " + summarize(list(found))
