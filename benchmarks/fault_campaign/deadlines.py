"""No call outlived its deadline: an operation given a timeout of D seconds
ended (returned or raised) within D plus `slack` of its start (check
"deadline").

A call can end no sooner than its thread is scheduled again: `stalls`
(from the campaign's stall monitor: each a stretch of time in which the
clients could not run, the CPU going to other processes or to the
campaign's own proxies) excuse as much of an overrun as they cover between
the deadline and the call's end, and so does the time the calling thread
itself waited, runnable, on the kernel's run queue during the call
(`Op.runnable`), whichever is more.  Time the clients spent running
excuses nothing.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

from .history import Op, Violation, describe, summarize

#: (start, end, starved seconds) of one stall, on the monotonic clock.
Stall = Tuple[float, float, float]


def starved_between(stalls: Sequence[Stall], start: float, end: float) -> float:
    """Seconds the process was starved of CPU from `start` to `end` (a stall
    partly inside counts in proportion)."""
    total = 0.0
    for stall_start, stall_end, starved in stalls:
        overlap = min(end, stall_end) - max(start, stall_start)
        if overlap > 0 and stall_end > stall_start:
            total += starved * overlap / (stall_end - stall_start)
    return total


def check(
    ops: Sequence[Op], slack: float = 0.1, stalls: Sequence[Stall] = ()
) -> List[Violation]:
    found = []
    for op in ops:
        if op.deadline is None or op.end is None:
            continue
        due = op.start + op.deadline
        over = op.end - due - slack
        if over <= 0:
            continue
        starved = max(starved_between(stalls, due, op.end), op.runnable)
        if starved < over:
            found.append(
                f"{describe(op)} ran {op.end - op.start:.3f} s of {op.deadline} s"
                f" ({starved:.3f} s starved, {op.cpu:.3f} s CPU)"
            )
    return [Violation("deadline", summarize(found))] if found else []
