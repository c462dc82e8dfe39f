"""A campaign's figures: a plain-text table, and the same as one JSON object
(``faults``: per-kind counts, ``violations``: a count, ``violation_details``)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from typing import Any, Dict, List, Sequence

from .history import Op, Violation, WatchLog


def calls_by_outcome(ops: Sequence[Op]) -> Dict[str, Dict[str, int]]:
    """{kind: {outcome: count}}; serializable gets as their own kind."""
    table: Dict[str, Counter[str]] = {}
    for op in ops:
        kind = "get-serializable" if op.serializable else op.kind
        table.setdefault(kind, Counter())[op.outcome] += 1
    return {kind: dict(counts) for kind, counts in sorted(table.items())}


def figures(
    *,
    seconds: float,
    seed: int,
    faults: Dict[str, int],
    fault_errors: List[str],
    ops: Sequence[Op],
    watches: Sequence[WatchLog],
    reference_events: int,
    checks: Dict[str, List[Violation]],
    extra: Dict[str, Any],
) -> Dict[str, Any]:
    violations = [v for found in checks.values() for v in found]
    return {
        "seconds": round(seconds, 1),
        "seed": seed,
        "faults": dict(sorted(faults.items())),
        "faults_total": sum(faults.values()),
        "fault_errors": fault_errors,
        "calls": calls_by_outcome(ops),
        "calls_total": len(ops),
        "watch_logs": len(watches),
        "events_checked": sum(len(log.events) for log in watches),
        "reference_events": reference_events,
        "violations_by_check": {name: len(found) for name, found in checks.items()},
        "violations": len(violations),
        "violation_details": [asdict(v) for v in violations[:200]],
        **extra,
    }


def table(data: Dict[str, Any]) -> str:
    etcd = f", etcd {data['etcd']}" if "etcd" in data else ""
    lines = [f"fault campaign: {data['seconds']} s, seed {data['seed']}{etcd}", ""]
    lines.append(f"{'faults':<28}{data['faults_total']:>8}")
    for kind, count in data["faults"].items():
        lines.append(f"  {kind:<26}{count:>8}")
    if data["fault_errors"]:
        lines.append(f"  {'(not applied in full)':<26}{len(data['fault_errors']):>8}")
    lines.append("")
    outcomes = ("ok", "fail", "unknown")
    lines.append(f"{'calls':<20}" + "".join(f"{o:>9}" for o in outcomes))
    for kind, counts in data["calls"].items():
        cells = "".join(f"{counts.get(o, 0):>9}" for o in outcomes)
        lines.append(f"  {kind:<18}{cells}")
    lines.append(f"  {'total':<18}{data['calls_total']:>9}")
    lines.append("")
    lines.append(f"{'watch logs':<28}{data['watch_logs']:>8}")
    lines.append(f"{'watch events checked':<28}{data['events_checked']:>8}")
    lines.append(f"{'reference events':<28}{data['reference_events']:>8}")
    for name in ("leases", "lock", "election", "stalls", "members_down_at_end"):
        if name in data:
            lines.append(f"{name:<28}{json.dumps(data[name])}")
    lines.append("")
    lines.append(f"{'violations':<28}{data['violations']:>8}")
    for name, count in data["violations_by_check"].items():
        lines.append(f"  {name:<26}{count:>8}")
    for detail in data["violation_details"][:20]:
        lines.append(f"  - [{detail['check']}] {detail['detail']}")
    return "\n".join(lines)
