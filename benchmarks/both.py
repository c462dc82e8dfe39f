"""One benchmark under CPython and under PyPy, in one table.

Run from the repository root:

    python benchmarks/both.py --pypy PATH unary [--rounds R] [--out DIR] -- --quick
    python benchmarks/both.py --merge CPYTHON.json PYPY.json [--out DIR]

The first form runs ``benchmarks/bench_<name>.py`` (unary, async, watch,
scale) under this interpreter and under the PyPy at PATH, `--rounds` times
in turn (CPython first in odd rounds, PyPy first in even ones), each run
with the arguments after ``--`` and its own etcd member.  The second merges
two reports already written (``<name>.json`` and ``<name>-pypy.json``).

The table has, for every row of the CPython report (scenario, metric): our
median and grpcio's on CPython, ours on PyPy (grpcio does not run there),
and PyPy/CPython for ours: the median over rounds of the per-round ratio
of the two runs' medians.  A CPU ratio <= 1 means PyPy uses no more CPU per
call than CPython.  Unlike the reports' ours/grpcio, the two interpreters do
not run interleaved rep by rep but one after the other: a loaded machine
moves this ratio more, and more rounds steady it.

Under the table, two checks: PyPy's CPU per call against CPython's, row by
row, and on each interpreter whether a scenario with threads made fewer
calls per second than one thread (the sequential scenario, or "1 thread").
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from _report import FLOOR, GRPCIO, OURS, X
from _report import _fmt as fmt

HERE = Path(__file__).resolve().parent
# The metric keys of the reports, and how the table names them.
LABELS = {
    "calls_per_s": "calls/s",
    "events_per_s": "events/s",
    "cpu_us": "client CPU µs",
    "server_cpu_us": "etcd CPU µs",
    "wall_us": "wall µs",
}
# The metrics of a row checked against CPython: PyPy should use no more.
CPU_METRICS = ("cpu_us",)
RATE_METRICS = ("calls_per_s", "events_per_s")

Report = Dict[str, Any]
Key = Tuple[str, str]  # (scenario, metric)
Medians = Dict[Key, Dict[str, Optional[float]]]  # row -> {client: median}


def run_bench(interpreter: str, name: str, args: Sequence[str], out: Path) -> None:
    """Run bench_`name`.py under `interpreter`, its report into `out`."""
    command = [interpreter, str(HERE / f"bench_{name}.py"), *args, "--out", str(out)]
    print(f"$ {' '.join(command)}", flush=True)
    subprocess.run(command, check=True)


def load_pair(out: Path, name: str) -> Tuple[Report, Report]:
    """The CPython and the PyPy report of bench_`name` in `out`."""
    reports = []
    for base in (name, f"{name}-pypy"):
        path = out / f"{base}.json"
        try:
            reports.append(json.loads(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise SystemExit(f"{path}: no report there ({exc})") from None
    return reports[0], reports[1]


def medians(report: Report) -> Medians:
    """(scenario, metric) -> {client: median} of one report's summary."""
    found: Medians = {}
    for row in report["summary"]:
        found[row["scenario"], row["metric"]] = {
            client: row[client]["median"]
            for client in (OURS, GRPCIO, FLOOR)
            if client in row
        }
    return found


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or not b else a / b


def _median(values: Sequence[Optional[float]]) -> Optional[float]:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _over(runs: List[Medians], key: Key, client: str) -> Optional[float]:
    """The median over runs of `client`'s median in row `key`."""
    return _median([run.get(key, {}).get(client) for run in runs])


def merge(rounds: Sequence[Tuple[Report, Report]]) -> Dict[str, Any]:
    """One merged report from rounds of (CPython report, PyPy report)."""
    cpython = [medians(c) for c, _ in rounds]
    pypy = [medians(p) for _, p in rounds]
    first = rounds[0][0]
    scenarios = {s["name"]: s for s in first["scenarios"]}
    rows = []
    for key in cpython[0]:
        scenario, metric = key
        ratios = [
            _ratio(p.get(key, {}).get(OURS), c[key].get(OURS))
            for c, p in zip(cpython, pypy)
        ]
        rows.append(
            {
                "scenario": scenario,
                "kind": scenarios.get(scenario, {}).get("kind", scenario),
                "op": scenarios.get(scenario, {}).get("op", ""),
                "metric": metric,
                "cpython": {c: _over(cpython, key, c) for c in (OURS, GRPCIO, FLOOR)},
                "pypy": {c: _over(pypy, key, c) for c in (OURS, FLOOR)},
                "pypy_ratio": _median(ratios),
            }
        )
    return {
        "environment": {
            "cpython": [c["environment"] for c, _ in rounds],
            "pypy": [p["environment"] for _, p in rounds],
        },
        "rounds": len(rounds),
        "rows": rows,
    }


def cpu_check(merged: Dict[str, Any]) -> List[str]:
    """Rows where PyPy's CPU per call exceeds CPython's, and a summary line."""
    checked = [
        r
        for r in merged["rows"]
        if r["metric"] in CPU_METRICS and r["pypy_ratio"] is not None
    ]
    over = [r for r in checked if r["pypy_ratio"] > 1.0]
    lines = [
        f"- PyPy client CPU <= CPython's in {len(checked) - len(over)} of"
        f" {len(checked)} scenarios"
    ]
    lines += [
        f"  - over: {r['kind']} {r['op']}: {r['pypy_ratio']:.2f}{X}" for r in over
    ]
    return lines


def _single(rows: List[Dict[str, Any]], op: str) -> Optional[Dict[str, Any]]:
    """The one-thread row of `op`: the sequential scenario, or "1 thread"."""
    for row in rows:
        if row["op"] == op and row["kind"] in ("sequential", "1 thread"):
            return row
    return None


def threads_check(merged: Dict[str, Any]) -> List[str]:
    """On each interpreter: scenarios with threads slower than one thread."""
    rates = [r for r in merged["rows"] if r["metric"] in RATE_METRICS]
    lines = []
    for interp in ("cpython", "pypy"):
        lost = []
        for row in rates:
            if not row["kind"].endswith(" threads"):
                continue
            single = _single(rates, row["op"])
            if single is None:
                continue
            many, one = row[interp][OURS], single[interp][OURS]
            if many is not None and one is not None and many < one:
                lost.append(f"{row['kind']} {row['op']} {many:,.0f} < {one:,.0f}/s")
        name = "CPython" if interp == "cpython" else "PyPy"
        lines.append(
            f"- {name}: threads slower than one thread: {'; '.join(lost) or 'none'}"
        )
    return lines


def markdown(name: str, merged: Dict[str, Any]) -> str:
    env = merged["environment"]
    floor = any(r["cpython"][FLOOR] is not None for r in merged["rows"])
    head = ["scenario", "op", "metric", f"{OURS} CPython", "grpcio CPython"]
    head += [f"{FLOOR} CPython"] if floor else []
    head += [f"{OURS} PyPy"] + ([f"{FLOOR} PyPy"] if floor else []) + ["PyPy/CPython"]
    lines = [f"# bench_{name}: CPython and PyPy", ""]
    for interp in ("cpython", "pypy"):
        first = env[interp][0]
        loads = "; ".join(e["load_average"] for e in env[interp])
        lines.append(
            f"- {first['interpreter']}: "
            + ", ".join(f"{k} {v}" for k, v in first["versions"].items())
            + f"; load average {loads}"
        )
    lines += [
        f"- {merged['rounds']} round(s), each a run on each interpreter;"
        " values are medians over rounds of each run's median rep",
        "- PyPy/CPython: ours on PyPy over ours on CPython, median over rounds"
        " (CPU: < 1 means PyPy uses less; rates: > 1 means PyPy is faster)",
        "",
        "| " + " | ".join(head) + " |",
        "|---|---|---|" + "--:|" * (len(head) - 3),
    ]
    for row in merged["rows"]:
        unit = "/event" if any("events" in r["metric"] for r in merged["rows"]) else ""
        label = LABELS.get(row["metric"], row["metric"])
        if row["metric"].endswith("_us"):
            label += unit or "/call"
        cells = [row["kind"], row["op"], label, fmt(row["cpython"][OURS])]
        cells.append(fmt(row["cpython"][GRPCIO]))
        cells += [fmt(row["cpython"][FLOOR])] if floor else []
        cells.append(fmt(row["pypy"][OURS]))
        cells += [fmt(row["pypy"][FLOOR])] if floor else []
        ratio = row["pypy_ratio"]
        cells.append("—" if ratio is None else f"{ratio:.2f}{X}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Checks:", "", *cpu_check(merged), *threads_check(merged)]
    return "\n".join(lines) + "\n"


def write(name: str, merged: Dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(name, merged)
    print()
    print(text)
    (out / f"{name}-both.md").write_text(text, encoding="utf-8")
    (out / f"{name}-both.json").write_text(
        json.dumps(merged, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {out / (name + '-both.md')} and {out / (name + '-both.json')}")


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("name", nargs="?", help="unary, async, watch or scale")
    parser.add_argument("bench_args", nargs="*", help="after --: the bench's own")
    parser.add_argument("--pypy", help="the PyPy interpreter to run the bench on")
    parser.add_argument("--rounds", type=int, default=1, help="runs on each (1)")
    parser.add_argument("--out", default=str(HERE / "results"), help="output dir")
    parser.add_argument(
        "--merge", nargs=2, metavar=("CPYTHON", "PYPY"), help="merge two reports"
    )
    args = parser.parse_args(argv)
    if args.merge is None and (args.name is None or args.pypy is None):
        parser.error("give a bench name and --pypy, or --merge")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    if args.merge:
        reports = [json.loads(Path(p).read_text(encoding="utf-8")) for p in args.merge]
        name = Path(args.merge[0]).stem
        write(name, merge([(reports[0], reports[1])]), out)
        return 0
    name = args.name.removeprefix("bench_").removesuffix(".py")
    rounds = []
    for n in range(args.rounds):
        work = out / f"{name}-both" / f"round{n + 1}"
        order = [sys.executable, args.pypy]
        for interpreter in order if n % 2 == 0 else order[::-1]:
            run_bench(interpreter, name, args.bench_args, work)
        rounds.append(load_pair(work, name))
    write(name, merge(rounds), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
