"""benchmarks/both.py: two reports (CPython, PyPy) merged into one table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, Optional

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import both  # noqa: E402

SCENARIOS = [
    {"name": "seq_range", "kind": "sequential", "op": "range", "calls": 10},
    {"name": "threads16_range", "kind": "16 threads", "op": "range", "calls": 10},
]


def report(
    rates: Dict[str, float], cpus: Dict[str, float], grpcio: Optional[float] = None
) -> Dict[str, Any]:
    """A report as `_report.Report.to_json` writes it: medians only."""

    def row(scenario: str, metric: str, ours: float) -> Dict[str, Any]:
        return {
            "scenario": scenario,
            "metric": metric,
            "pyetcd-wire": {"best": ours, "median": ours},
            "grpcio": {"best": grpcio, "median": grpcio},
            "floor": {"best": None, "median": None},
        }

    summary = [row(s, "calls_per_s", rate) for s, rate in rates.items()]
    summary += [row(s, "cpu_us", cpu) for s, cpu in cpus.items()]
    env = {"interpreter": "X", "versions": {}, "load_average": "1 1 1"}
    return {"environment": env, "scenarios": SCENARIOS, "summary": summary}


def rows(merged: Dict[str, Any]) -> Dict[Any, Dict[str, Any]]:
    return {(r["scenario"], r["metric"]): r for r in merged["rows"]}


def test_ratio_is_the_median_of_the_rounds_ratios() -> None:
    rates = {"seq_range": 1000.0, "threads16_range": 2000.0}
    rounds = [
        (report(rates, {"seq_range": 100.0}, 500.0), report({}, {"seq_range": p}))
        for p in (50.0, 80.0, 200.0)
    ]
    cpu = rows(both.merge(rounds))["seq_range", "cpu_us"]
    assert cpu["pypy_ratio"] == 0.8
    assert cpu["cpython"]["pyetcd-wire"] == 100.0
    assert cpu["cpython"]["grpcio"] == 500.0
    assert cpu["pypy"]["pyetcd-wire"] == 80.0
    assert cpu["kind"] == "sequential"


def test_checks_name_pypy_cpu_over_cpython_and_threads_slower_than_one() -> None:
    cpython = report(
        {"seq_range": 4000.0, "threads16_range": 5400.0},
        {"seq_range": 120.0, "threads16_range": 70.0},
    )
    pypy = report(
        {"seq_range": 6000.0, "threads16_range": 2785.0},
        {"seq_range": 60.0, "threads16_range": 171.0},
    )
    merged = both.merge([(cpython, pypy)])
    assert both.cpu_check(merged) == [
        "- PyPy client CPU <= CPython's in 1 of 2 scenarios",
        f"  - over: 16 threads range: 2.44{both.X}",
    ]
    assert both.threads_check(merged) == [
        "- CPython: threads slower than one thread: none",
        "- PyPy: threads slower than one thread: 16 threads range 2,785 < 6,000/s",
    ]
    table = both.markdown("unary", merged)
    assert (
        f"| 16 threads | range | client CPU µs/call | 70.0 | — | 171 | 2.44{both.X} |"
        in table
    )
