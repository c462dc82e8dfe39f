"""Statistics, budgets and output (markdown, JSON, PNG) for bench_watch.py.

The statistics are those of bench_unary.py (`_report`): every variant runs once
per rep, interleaved, and a ratio is the median over reps of the per-rep ratio
ours/grpcio.  Only the metrics (per event, not per call), the budgets and the
layout of the table differ.
"""

from __future__ import annotations

import json
import platform
import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from _report import (
    GRPCIO,
    OURS,
    Budget,
    Metric,
    Results,
    Scenario,
    X,
    _best,
    _fmt,
    _values,
    paired_ratio,
)

METRICS = (
    Metric("events_per_s", "events/s", lambda s: s.calls / s.wall, True),
    Metric("cpu_us", "client CPU µs/event", lambda s: s.cpu / s.calls * 1e6, False),
    Metric(
        "server_cpu_us",
        "etcd CPU µs/event",
        lambda s: None if s.server_cpu is None else s.server_cpu / s.calls * 1e6,
        False,
    ),
)

# The budget: our client CPU per watch event at most half of grpcio's.
BUDGETS = (
    Budget("replay", "cpu_us", "<=", 0.5, "replay client CPU per event"),
    Budget("live", "cpu_us", "<=", 0.5, "live client CPU per event"),
)


def output_base() -> str:
    impl = platform.python_implementation()
    return "watch" if impl == "CPython" else f"watch-{impl.lower()}"


class WatchReport:
    """The numbers of one run of bench_watch.py, and everything written from them."""

    def __init__(
        self, env: Dict[str, Any], scenarios: List[Scenario], results: Results
    ) -> None:
        self.env = env
        self.scenarios = scenarios
        self.results = results
        self.rows: List[Dict[str, Any]] = []
        self.verdicts: List[Tuple[Budget, Optional[float], str]] = []
        for scenario in scenarios:
            for metric in METRICS:
                self.rows.append(self._row(scenario, metric))

    def _row(self, scenario: Scenario, metric: Metric) -> Dict[str, Any]:
        by_client = self.results[scenario.name]
        row: Dict[str, Any] = {"scenario": scenario, "metric": metric}
        for client in (OURS, GRPCIO):
            values = _values(by_client.get(client, []), metric)
            median = statistics.median(values) if values else None
            row[client] = (_best(values, metric), median)
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
        return row

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
        env, run = self.env, self.env["run"]
        lines = [
            f"# Watch event delivery from etcd: {OURS} vs grpcio"
            f" ({env['interpreter']})",
            "",
            f"- interpreter: **{env['interpreter']}**; "
            + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
            f"- etcd: one member on 127.0.0.1, flags {env['etcd_flags']}",
            f"- machine: {env['machine']}; load average {env['load_average']}",
            f"- {run['reps']} reps, variants interleaved; replay {run['replay']}"
            f" events, live {run['live']} events per variant per rep;"
            f" {OURS} through {run['layer']}; {env['date']}; run took"
            f" {env['seconds']} s",
            f"- replay: {run['replay_messages']}; live writer: {env['writer']}",
            f"- {env['grpcio_note']}",
            "",
            "best = best rep; med = median rep; ratio = median over reps of"
            " ours/grpcio (events/s: higher is better for us; CPU: lower is"
            " better).",
            "",
            f"| scenario | metric | {OURS} best | {OURS} med | grpcio best"
            " | grpcio med | ours/grpcio | budget | verdict |",
            "|---|---|--:|--:|--:|--:|--:|---|---|",
        ]
        for row in self.rows:
            budget: Optional[Budget] = row["budget"]
            ratio = row["ratio"]
            lines.append(
                f"| {row['scenario'].kind} | {row['metric'].label}"
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
        return "\n".join(lines) + "\n"

    def to_json(self) -> Dict[str, Any]:
        summary = [
            {
                "scenario": row["scenario"].name,
                "metric": row["metric"].key,
                OURS: {"best": row[OURS][0], "median": row[OURS][1]},
                GRPCIO: {"best": row[GRPCIO][0], "median": row[GRPCIO][1]},
                "ratio": row["ratio"],
                "verdict": row.get("verdict"),
            }
            for row in self.rows
        ]
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
        rows = [
            row
            for row in self.rows
            if row["ratio"] is not None and row["metric"].key != "server_cpu_us"
        ]
        if not rows:
            return "no chart: there are no ratios without grpcio"
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return "no chart: matplotlib unavailable"
        fig, ax = plt.subplots(figsize=(max(6.0, 1.5 * len(rows)), 4.8))
        ax.bar(
            range(len(rows)),
            [row["ratio"] for row in rows],
            color=[
                "tab:blue" if row["metric"].higher_is_better else "tab:orange"
                for row in rows
            ],
        )
        ax.axhline(1.0, color="black", linewidth=0.8)
        for i, row in enumerate(rows):
            ratio, budget = row["ratio"], row["budget"]
            ax.annotate(f"{ratio:.2f}{X}", (i, ratio), ha="center", va="bottom")
            if budget is not None:
                ax.hlines(budget.limit, i - 0.45, i + 0.45, colors="red", ls="--")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(
            [f"{row['scenario'].kind}\n{row['metric'].label}" for row in rows],
            fontsize=8,
        )
        ax.set_ylabel(f"{OURS} / grpcio")
        ax.set_title(
            f"watch: {OURS} / grpcio on {self.env['interpreter']}\nblue: events/s,"
            " higher is better; orange: CPU, lower is better; red: budget",
            fontsize=8,
        )
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
