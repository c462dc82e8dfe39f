"""No call outlived its deadline: an operation given a timeout of D seconds
ended (returned or raised) within D plus `slack` of its start (check
"deadline")."""

from __future__ import annotations

from typing import List, Sequence

from .history import Op, Violation, describe, summarize


def check(ops: Sequence[Op], slack: float = 0.1) -> List[Violation]:
    found = [
        f"{describe(op)} ran {op.end - op.start:.3f} s of {op.deadline} s"
        for op in ops
        if op.deadline is not None
        and op.end is not None
        and op.end > op.start + op.deadline + slack
    ]
    return [Violation("deadline", summarize(found))] if found else []
