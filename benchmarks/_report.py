"""Statistics, budgets and output (markdown, JSON, PNG) for bench_unary.py.

Every variant runs once per rep, interleaved, so each rep gives one *pair*
(ours, grpcio) measured moments apart.  A ratio is the median over reps of
the per-rep ratio ours/grpcio; that cancels most of a shared machine's drift,
which moves absolute numbers by tens of percent between runs.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

OURS = "pyetcd-wire"
X = "\u00d7"  # the multiplication sign of ratios
GRPCIO = "grpcio"


class Sample:
    """One timed batch of calls."""

    __slots__ = ("calls", "cpu", "server_cpu", "wall")

    def __init__(
        self, calls: int, wall: float, cpu: float, server_cpu: Optional[float]
    ) -> None:
        self.calls = calls
        self.wall = wall  # seconds, perf_counter
        self.cpu = cpu  # seconds of this process's CPU, all threads
        self.server_cpu = server_cpu  # seconds of etcd's CPU, or None

    def to_json(self) -> Dict[str, Any]:
        return {
            "calls": self.calls,
            "wall_s": self.wall,
            "cpu_s": self.cpu,
            "server_cpu_s": self.server_cpu,
        }


class Scenario(NamedTuple):
    name: str  # key in the JSON, e.g. "seq_range"
    kind: str  # "sequential", "16 threads", "in-process transport" ...
    op: str  # "range" or "put"
    calls: int  # calls per variant per rep


class Metric(NamedTuple):
    key: str
    label: str
    value: Callable[[Sample], Optional[float]]
    higher_is_better: bool


SOCKET_METRICS = (
    Metric("calls_per_s", "calls/s", lambda s: s.calls / s.wall, True),
    Metric("cpu_us", "client CPU µs/call", lambda s: s.cpu / s.calls * 1e6, False),
    Metric(
        "server_cpu_us",
        "etcd CPU µs/call",
        lambda s: None if s.server_cpu is None else s.server_cpu / s.calls * 1e6,
        False,
    ),
)
INPROC_METRICS = (
    Metric("cpu_us", "CPU µs/call", lambda s: s.cpu / s.calls * 1e6, False),
    Metric("wall_us", "wall µs/call", lambda s: s.wall / s.calls * 1e6, False),
)


class Budget(NamedTuple):
    scenario: str
    metric: str
    op: str  # "<=" or ">="
    limit: float
    label: str


BUDGETS = (
    Budget("seq_range", "cpu_us", "<=", 0.35, "sequential Range client CPU"),
    Budget("seq_range", "calls_per_s", ">=", 1.3, "sequential Range calls/s"),
    Budget("threads16_range", "calls_per_s", ">=", 1.0, "16-thread Range calls/s"),
)

Results = Dict[str, Dict[str, List[Sample]]]


def _values(samples: List[Sample], metric: Metric) -> List[float]:
    return [v for v in (metric.value(s) for s in samples) if v is not None]


def _best(values: List[float], metric: Metric) -> Optional[float]:
    if not values:
        return None
    return max(values) if metric.higher_is_better else min(values)


def paired_ratio(
    ours: List[Sample], theirs: List[Sample], metric: Metric
) -> Optional[float]:
    """Median over reps of ours/grpcio for one metric."""
    ratios = []
    for a, b in zip(ours, theirs):
        x, y = metric.value(a), metric.value(b)
        if x is not None and y:
            ratios.append(x / y)
    return statistics.median(ratios) if ratios else None


def _fmt(value: Optional[float]) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def output_base() -> str:
    impl = platform.python_implementation()
    return "unary" if impl == "CPython" else f"unary-{impl.lower()}"


class Report:
    """The numbers of one run, and everything written from them."""

    def __init__(
        self, env: Dict[str, Any], scenarios: List[Scenario], results: Results
    ):
        self.env = env
        self.scenarios = scenarios
        self.results = results
        self.rows: List[Dict[str, Any]] = []
        self.verdicts: List[Tuple[Budget, Optional[float], str]] = []
        self._summarize()

    def _summarize(self) -> None:
        for scenario in self.scenarios:
            by_client = self.results[scenario.name]
            inproc = scenario.name.startswith("inproc")
            for metric in INPROC_METRICS if inproc else SOCKET_METRICS:
                row: Dict[str, Any] = {"scenario": scenario, "metric": metric}
                for client in (OURS, GRPCIO):
                    values = _values(by_client.get(client, []), metric)
                    row[client] = (
                        _best(values, metric),
                        statistics.median(values) if values else None,
                    )
                row["ratio"] = (
                    paired_ratio(by_client[OURS], by_client[GRPCIO], metric)
                    if GRPCIO in by_client
                    else None
                )
                row["budget"] = next(
                    (
                        b
                        for b in BUDGETS
                        if b.scenario == scenario.name and b.metric == metric.key
                    ),
                    None,
                )
                if row["budget"] is not None:
                    row["verdict"] = self._judge(row["budget"], row["ratio"])
                self.rows.append(row)

    def _judge(self, budget: Budget, ratio: Optional[float]) -> str:
        if ratio is None:
            verdict = "n/a"
        elif budget.op == "<=":
            verdict = "PASS" if ratio <= budget.limit else "FAIL"
        else:
            verdict = "PASS" if ratio >= budget.limit else "FAIL"
        self.verdicts.append((budget, ratio, verdict))
        return verdict

    # --- output ---------------------------------------------------------------

    def markdown(self) -> str:
        env = self.env
        run = env["run"]
        lines = [
            f"# Unary calls against etcd: {OURS} vs grpcio ({env['interpreter']})",
            "",
            f"- interpreter: **{env['interpreter']}**; "
            + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
            f"- etcd: one member on 127.0.0.1, flags {env['etcd_flags']}",
            f"- machine: {env['machine']}; load average {env['load_average']}",
            f"- {run['reps']} reps, variants interleaved; {run['calls']} calls per"
            f" variant per rep ({run['inproc_calls']} in-process); per-call"
            f" timeout {run['call_timeout'] or 'none'}; {env['date']}; run took"
            f" {env['seconds']} s",
            f"- {env['grpcio_note']}",
        ]
        if env.get("canned_frames"):
            lines.append(
                "- in-process replies per call: " + ", ".join(env["canned_frames"])
            )
        lines += [
            "",
            "best = best rep; med = median rep; ratio = median over reps of"
            " ours/grpcio (calls/s: higher is better for us; CPU: lower is better).",
            "",
            f"| scenario | op | metric | {OURS} best | {OURS} med | grpcio best"
            " | grpcio med | ours/grpcio | budget | verdict |",
            "|---|---|---|--:|--:|--:|--:|--:|---|---|",
        ]
        for row in self.rows:
            scenario: Scenario = row["scenario"]
            budget: Optional[Budget] = row["budget"]
            ratio = row["ratio"]
            lines.append(
                f"| {scenario.kind} | {scenario.op} | {row['metric'].label}"
                f" | {_fmt(row[OURS][0])} | {_fmt(row[OURS][1])}"
                f" | {_fmt(row[GRPCIO][0])} | {_fmt(row[GRPCIO][1])}"
                f" | {'—' if ratio is None else f'{ratio:.2f}{X}'}"
                f" | {'' if budget is None else f'{budget.op} {budget.limit}{X}'}"
                f" | {row.get('verdict', '')} |"
            )
        lines += ["", "Budgets:", ""]
        for budget, ratio, verdict in self.verdicts:
            shown = "n/a (no grpcio)" if ratio is None else f"{ratio:.2f}{X} grpcio"
            lines.append(
                f"- {verdict} {budget.label}: {shown} (budget {budget.op}"
                f" {budget.limit}{X})"
            )
        if not self.verdicts:
            lines.append("- no budgeted scenario was run")
        return "\n".join(lines) + "\n"

    def to_json(self) -> Dict[str, Any]:
        summary = []
        for row in self.rows:
            summary.append(
                {
                    "scenario": row["scenario"].name,
                    "metric": row["metric"].key,
                    OURS: {"best": row[OURS][0], "median": row[OURS][1]},
                    GRPCIO: {"best": row[GRPCIO][0], "median": row[GRPCIO][1]},
                    "ratio": row["ratio"],
                    "verdict": row.get("verdict"),
                }
            )
        return {
            "environment": self.env,
            "scenarios": [s._asdict() for s in self.scenarios],
            "samples": {
                name: {c: [s.to_json() for s in ss] for c, ss in clients.items()}
                for name, clients in self.results.items()
            },
            "summary": summary,
            "budgets": [
                {**b._asdict(), "ratio": r, "verdict": v} for b, r, v in self.verdicts
            ],
        }

    def chart(self, path: Path) -> str:
        """A PNG of the ratios; returns what happened, for the log."""
        pairs = [
            (row["scenario"], row["metric"], row["ratio"], row["budget"])
            for row in self.rows
            if row["ratio"] is not None and row["metric"].key != "server_cpu_us"
        ]
        if not pairs:
            return "no chart: there are no ratios without grpcio"
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return "no chart: matplotlib unavailable"
        labels = [f"{s.kind} {s.op}\n{m.label}" for s, m, _, _ in pairs]
        ratios = [r for _, _, r, _ in pairs]
        colors = [
            "tab:blue" if m.higher_is_better else "tab:orange" for _, m, _, _ in pairs
        ]
        fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(pairs)), 4.8))
        bars = ax.bar(range(len(pairs)), ratios, color=colors)
        ax.axhline(1.0, color="black", linewidth=0.8)
        for i, (_, _, ratio, budget) in enumerate(pairs):
            ax.annotate(
                f"{ratio:.2f}{X}",
                (i, ratio),
                ha="center",
                va="bottom",
                fontsize=8,
            )
            if budget is not None:
                ax.hlines(
                    budget.limit, i - 0.45, i + 0.45, colors="red", linestyles="--"
                )
        ax.set_xticks(range(len(pairs)))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_ylabel(f"{OURS} / grpcio")
        ax.set_title(
            f"{OURS} / grpcio on {self.env['interpreter']} (blue: calls/s, higher"
            " is better; orange: CPU, lower is better; red: budget)",
            fontsize=8,
        )
        del bars
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return f"wrote {path}"

    def write(self, out: Path) -> bool:
        """Print the table, write md/json/png; True if a budget FAILed."""
        out.mkdir(parents=True, exist_ok=True)
        base = output_base()
        text = self.markdown()
        print()
        print(text)
        (out / f"{base}.md").write_text(text, encoding="utf-8")
        (out / f"{base}.json").write_text(
            json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        print(f"wrote {out / (base + '.md')} and {out / (base + '.json')}")
        print(self.chart(out / f"{base}.png"))
        return any(v == "FAIL" for _, _, v in self.verdicts)


# --- profiling ------------------------------------------------------------------


def profile(
    args: argparse.Namespace,
    op: Callable[[], object],
    inproc: Optional[Callable[[int], Sample]],
) -> int:
    """cProfile our sequential Range (sockets) and in-process call; print the top."""
    import cProfile
    import pstats
    import time

    calls = args.calls
    report = io.StringIO()
    for _ in range(max(200, calls // 4)):
        op()
    sections: List[Tuple[str, Callable[[], object]]] = [
        (
            f"sequential Range against etcd, {calls} calls",
            lambda: [op() for _ in range(calls)],
        )
    ]
    if inproc is not None:
        inproc(args.inproc_calls)
        sections.append(
            (
                f"in-process + protobuf, {args.inproc_calls} calls",
                lambda: inproc(args.inproc_calls),
            )
        )
    for title, body in sections:
        # CPU time of this thread, not wall time: a blocking send() on
        # loopback otherwise shows etcd's work as ours.
        prof = cProfile.Profile(time.thread_time)
        prof.enable()
        body()
        prof.disable()
        stats = pstats.Stats(prof, stream=report)
        total = getattr(stats, "total_calls", "?")
        report.write(
            f"\n=== {title}: {total} function calls (timer: thread CPU time) ===\n"
        )
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(15)
    text = report.getvalue()
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{output_base()}-profile.txt"
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0
