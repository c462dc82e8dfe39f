"""What the fault campaign records, and what its checks read.

The workload writes one record per operation it *invoked*, whatever became of
it; the checks (linearizability.py, watch_checks.py, ...) read nothing else.
Times are `time.monotonic()` seconds of the process that ran the operation;
the campaign's processes share the machine's monotonic clock, so records of
several processes compare.

Outcomes, as the client's errors tell them (`EtcdError.outcome_known`):

* ``ok``: the call returned; its result is in the record.
* ``fail``: the call raised an error that says the request had no effect
  (``outcome_known`` and not applied: refused, not sent, a failed compare is
  *ok* with ``succeeded=False``, not a failure).
* ``unknown``: it raised an error after which the write may or may not have
  been applied (a lost connection mid-call, a deadline).  A checker must
  allow both, at any time after ``start``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, Iterable, Iterator, List, Optional

#: Operation kinds on one key (a register).
PUT = "put"  # write `value`
GET = "get"  # read; `result` is the value read, None when the key is absent
CAS = "cas"  # txn: if value == `expect` (None: key absent) then put `value`
DELETE = "delete"  # delete the key

OK = "ok"
FAIL = "fail"
UNKNOWN = "unknown"


@dataclass
class Op:
    """One KV operation, from invocation to its end (or none)."""

    process: str  # who ran it: one process's operations never overlap
    kind: str  # PUT, GET, CAS or DELETE
    key: bytes
    start: float
    end: Optional[float] = None  # None: it never returned (outcome unknown)
    outcome: str = UNKNOWN
    value: Optional[bytes] = None  # PUT and CAS: the value written
    expect: Optional[bytes] = None  # CAS: the value compared against
    result: Optional[bytes] = None  # GET: the value read (None: absent)
    # CAS: whether the compare held; DELETE: whether it deleted a key (None:
    # not known).
    succeeded: Optional[bool] = None
    revision: Optional[int] = None  # the response header's revision
    serializable: bool = False  # GET: a serializable (maybe stale) read
    deadline: Optional[float] = None  # the call's timeout, in seconds
    error: Optional[str] = None  # the error's class name, when it raised
    # Seconds the calling thread was runnable but not running during the
    # call (the kernel's run queue: the machine's load, not the client).
    runnable: float = 0.0
    # CPU seconds the calling thread used during the call (its own work; for
    # the asyncio client, that of every task of its loop): tells an overrun
    # spent computing from one spent waiting.
    cpu: float = 0.0


@dataclass
class WatchEvent:
    """One event as a watcher delivered it."""

    revision: int  # the event's mod_revision (a delete's: the delete's revision)
    key: bytes
    type: str  # "put" or "delete"
    value: Optional[bytes]
    create_revision: int = 0
    version: int = 0
    prev_value: Optional[bytes] = None  # the prev_kv's value, when asked for
    prev_mod_revision: Optional[int] = None
    response: int = 0  # which response of the stream carried it (atomicity)


@dataclass
class WatchLog:
    """Everything one watcher saw, in the order it saw it."""

    name: str
    prefix: bytes  # the watched range: every key starting with it
    start_revision: int  # the first revision asked for (0: from "now")
    prev_kv: bool = False
    events: List[WatchEvent] = field(default_factory=list)
    # Progress notifications and bookmarks: the header revisions of responses
    # that carried no event, in order (each says "nothing below this missed").
    progress: List[int] = field(default_factory=list)
    # Which response of the stream each of `progress` was, in the numbering
    # of WatchEvent.response: where the notifications stand among the events
    # (without it, the checks can only see the progress revisions' order).
    progress_responses: List[int] = field(default_factory=list)
    # The revision the watcher had reached when the campaign stopped it.
    last_revision: int = 0
    error: Optional[str] = None  # how it ended, if not by the campaign's stop


@dataclass(frozen=True)
class Violation:
    """One thing a check found wrong: which check, and a short account of it
    (at most a few lines: the operations or events involved, not the whole
    history)."""

    check: str  # e.g. "linearizable", "watch-gap-free", "ack-write-present"
    detail: str


def describe(op: Op) -> str:
    """One operation, in a few words, for a Violation's detail."""
    if op.kind == GET:
        what = f"get->{op.result!r}" + (" (serializable)" if op.serializable else "")
    elif op.kind == PUT:
        what = f"put {op.value!r}"
    elif op.kind == CAS:
        what = f"cas {op.expect!r}->{op.value!r}"
    else:
        what = op.kind
    if op.succeeded is not None:
        what += f"={op.succeeded}"
    end = "?" if op.end is None else f"{op.end:.3f}"
    revision = "" if op.revision is None else f"@{op.revision}"
    error = "" if op.error is None else f" ({op.error})"
    return (
        f"{op.process} {op.key!r} {what} [{op.start:.3f},{end}]"
        f" {op.outcome}{error}{revision}"
    )


#: How many findings a Violation's detail names; it counts the rest.
EXAMPLES = 3


def summarize(found: List[str]) -> str:
    """A Violation's detail from one check's findings: the first few, and
    how many more (at most 600 characters)."""
    shown = "; ".join(found[:EXAMPLES])
    if len(found) > EXAMPLES:
        shown += f"; and {len(found) - EXAMPLES} more"
    return shown[:600]


@dataclass
class History:
    """A whole campaign's records."""

    ops: List[Op] = field(default_factory=list)
    watches: List[WatchLog] = field(default_factory=list)
    extra: Dict[str, Any] = field(default_factory=dict)


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"b": value.hex()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"b"}:
            return bytes.fromhex(value["b"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def write_ops(ops: Iterable[Op], out: IO[str]) -> None:
    """One JSON object per line: what a workload process hands back."""
    for op in ops:
        out.write(json.dumps(_encode(dataclasses.asdict(op))) + "\n")


def read_ops(path: Path) -> Iterator[Op]:
    with path.open() as lines:
        for line in lines:
            if line.strip():
                yield Op(**_decode(json.loads(line)))


def watch_log_to_json(log: WatchLog) -> Dict[str, Any]:
    encoded: Dict[str, Any] = _encode(dataclasses.asdict(log))
    return encoded


def watch_log_from_json(data: Dict[str, Any]) -> WatchLog:
    fields = _decode(data)
    fields["events"] = [WatchEvent(**e) for e in fields["events"]]
    return WatchLog(**fields)
