"""Statistics, budgets and output (markdown, JSON, PNG) of the benchmarks.

`Report` is what every benchmark's report shares (the statistics, the table,
the JSON, the chart, writing the files); `UnaryReport` is bench_unary.py's
(bench_watch.py's is in `_watch_report`).

A scenario may also have more variants, the *peers*: the floor (bench_unary.py's
sequential calls: benchmarks/_floor.py) and etcd's Go client
(benchmarks/_go_peer.py); its rows then give ours/floor and ours/go too, and a
budget may be against one of them.

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
from typing import (
    Any,
    Callable,
    Dict,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
)

OURS = "pyetcd-wire"
X = "\u00d7"  # the multiplication sign of ratios
GRPCIO = "grpcio"
FLOOR = "floor"
GO = "go"  # etcd's Go client, clientv3 (benchmarks/_go_peer.py)
# The optional variants, in column order, with their ratio's key in a row and
# their bars' hatch in the chart.
PEERS = ((FLOOR, "floor_ratio", "//"), (GO, "go_ratio", ".."))
CLIENTS = (OURS, GRPCIO, *(peer for peer, _, _ in PEERS))


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


def etcd_metrics(unit: str) -> Tuple[Metric, ...]:
    """Rate, client CPU and etcd CPU per `unit` ("call", "event") of a scenario
    against etcd; a Sample's `calls` counts units."""
    return (
        Metric(f"{unit}s_per_s", f"{unit}s/s", lambda s: s.calls / s.wall, True),
        Metric(
            "cpu_us", f"client CPU µs/{unit}", lambda s: s.cpu / s.calls * 1e6, False
        ),
        Metric(
            "server_cpu_us",
            f"etcd CPU µs/{unit}",
            lambda s: None if s.server_cpu is None else s.server_cpu / s.calls * 1e6,
            False,
        ),
    )


SOCKET_METRICS = etcd_metrics("call")
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
    against: str = GRPCIO  # the ratio is ours/`against`


BUDGETS = (
    Budget("seq_range", "cpu_us", "<=", 0.35, "sequential Range client CPU"),
    Budget("seq_range", "cpu_us", "<=", 1.5, "sequential Range client CPU", FLOOR),
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
    """Median over reps of ours/theirs (grpcio, a peer) for one metric."""
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


def _fmt_ratio(ratio: Optional[float]) -> str:
    return "—" if ratio is None else f"{ratio:.2f}{X}"


def _fmt_budget(budget: Budget) -> str:
    floor = f" {FLOOR}" if budget.against == FLOOR else ""
    return f"{budget.op} {budget.limit}{X}{floor}"


def output_base(name: str) -> str:
    """The file name, without suffix, of a report: `name` on CPython,
    `name-pypy` (...) elsewhere."""
    impl = platform.python_implementation()
    return name if impl == "CPython" else f"{name}-{impl.lower()}"


def heading(title: str, env: Dict[str, Any]) -> List[str]:
    """A report's title and the environment lines every report starts with."""
    return [
        f"# {title} ({env['interpreter']})",
        "",
        f"- interpreter: **{env['interpreter']}**; "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
        f"- etcd: one member on 127.0.0.1, flags {env['etcd_flags']}",
        f"- machine: {env['machine']}; load average {env['load_average']}",
    ]


class Report:
    """The numbers of one run, and everything written from them.

    A subclass says what differs between benchmarks: the output name, the
    budgets, the metrics of a scenario, the run description under the title,
    the columns that name a row, and the chart's labels.  The statistics, the
    table, the budgets list, the JSON and the chart are the same for all.
    """

    name = ""  # the output's base name, see output_base()
    title = ""  # the markdown title, before the interpreter
    rate = ""  # the label of the rate metric, for the line explaining ratios
    budgets: Tuple[Budget, ...] = ()
    lead_columns: Tuple[str, ...] = ("scenario",)  # the table's first columns
    chart_bar_inches = 1.3  # the chart's width per bar
    chart_value_fontsize: Optional[float] = 8  # None: matplotlib's default
    chart_label_fontsize: float = 7

    def __init__(
        self, env: Dict[str, Any], scenarios: List[Scenario], results: Results
    ) -> None:
        self.env = env
        self.scenarios = scenarios
        self.results = results
        self.rows: List[Dict[str, Any]] = []
        self.verdicts: List[Tuple[Budget, Optional[float], str]] = []
        self.peers = [
            peer
            for peer in PEERS
            if any(peer[0] in clients for clients in results.values())
        ]
        for scenario in scenarios:
            for metric in self.metrics(scenario):
                self.rows.append(self._row(scenario, metric))

    # --- what a benchmark says about itself -------------------------------------

    def metrics(self, scenario: Scenario) -> Sequence[Metric]:
        raise NotImplementedError

    def run_lines(self) -> List[str]:
        """The markdown bullets after the machine's: reps, sizes, notes."""
        raise NotImplementedError

    def lead_cells(self, scenario: Scenario) -> List[str]:
        """The cells of `lead_columns` for a row of `scenario`."""
        return [scenario.kind]

    def chart_label(self, scenario: Scenario, metric: Metric) -> str:
        return f"{scenario.kind}\n{metric.label}"

    def chart_title(self) -> str:
        raise NotImplementedError

    # --- statistics -------------------------------------------------------------

    def _row(self, scenario: Scenario, metric: Metric) -> Dict[str, Any]:
        by_client = self.results[scenario.name]
        row: Dict[str, Any] = {"scenario": scenario, "metric": metric}
        ratios: Dict[str, Optional[float]] = {}
        for client in CLIENTS:
            values = _values(by_client.get(client, []), metric)
            median = statistics.median(values) if values else None
            row[client] = (_best(values, metric), median)
            if client != OURS:
                ratios[client] = (
                    paired_ratio(by_client[OURS], by_client[client], metric)
                    if client in by_client
                    else None
                )
        row["ratio"] = ratios[GRPCIO]
        for peer, key, _ in PEERS:
            row[key] = ratios[peer]
        row["budgets"] = [
            b
            for b in self.budgets
            if b.scenario == scenario.name and b.metric == metric.key
        ]
        row["verdicts"] = [self._judge(b, ratios[b.against]) for b in row["budgets"]]
        return row

    def _judge(self, budget: Budget, ratio: Optional[float]) -> str:
        """PASS, FAIL or n/a (the budget's variant was not run)."""
        if ratio is None:
            verdict = "n/a"
        elif budget.op == "<=":
            verdict = "PASS" if ratio <= budget.limit else "FAIL"
        else:
            verdict = "PASS" if ratio >= budget.limit else "FAIL"
        self.verdicts.append((budget, ratio, verdict))
        return verdict

    # --- output -----------------------------------------------------------------

    def markdown(self) -> str:
        env = self.env
        lead = self.lead_columns
        peers = [name for name, _, _ in self.peers]
        peer_heads = "".join(f" | {peer} med" for peer in peers)
        peer_ratios = "".join(f" | ours/{peer}" for peer in peers)
        lines = [
            *heading(self.title, env),
            *self.run_lines(),
            *([f"- {env['go_note']}"] if env.get("go_note") else []),
            "",
            "best = best rep; med = median rep; ratio = median over reps of"
            f" ours/grpcio{''.join(f' and of ours/{peer}' for peer in peers)}"
            f" ({self.rate}: higher is better for us; CPU: lower is better).",
            "",
            f"| {' | '.join(lead)} | metric | {OURS} best | {OURS} med | grpcio best"
            f" | grpcio med{peer_heads} | ours/grpcio{peer_ratios} | budget"
            " | verdict |",
            "|" + "---|" * (len(lead) + 1) + "--:|" * (5 + 2 * len(peers)) + "---|---|",
        ]
        for row in self.rows:
            cells = [
                *self.lead_cells(row["scenario"]),
                row["metric"].label,
                _fmt(row[OURS][0]),
                _fmt(row[OURS][1]),
                _fmt(row[GRPCIO][0]),
                _fmt(row[GRPCIO][1]),
                *(_fmt(row[name][1]) for name, _, _ in self.peers),
                _fmt_ratio(row["ratio"]),
                *(_fmt_ratio(row[key]) for _, key, _ in self.peers),
                ", ".join(_fmt_budget(b) for b in row["budgets"]),
                ", ".join(row["verdicts"]),
            ]
            lines.append(f"| {' | '.join(cells)} |")
        lines += ["", "Budgets:", ""]
        for budget, ratio, verdict in self.verdicts:
            against = budget.against
            shown = (
                f"n/a (no {against})" if ratio is None else f"{ratio:.2f}{X} {against}"
            )
            lines.append(
                f"- {verdict} {budget.label}: {shown} (budget {budget.op}"
                f" {budget.limit}{X})"
            )
        if not self.verdicts:
            lines.append("- no budgeted scenario was run")
        return "\n".join(lines) + "\n"

    def to_json(self) -> Dict[str, Any]:
        summary = [
            {
                "scenario": row["scenario"].name,
                "metric": row["metric"].key,
                **{c: {"best": row[c][0], "median": row[c][1]} for c in CLIENTS},
                "ratio": row["ratio"],
                **{key: row[key] for _, key, _ in PEERS},
                "verdicts": row["verdicts"],
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
        """A PNG of the ratios; returns what happened, for the log.  With
        peers, a row's ours/floor and ours/go bars (hatched) stand beside its
        ours/grpcio."""
        bars = [(GRPCIO, "ratio", ""), *self.peers]
        rows = [
            row
            for row in self.rows
            if any(row[key] is not None for _, key, _ in bars)
            and row["metric"].key != "server_cpu_us"
        ]
        if not rows:
            return "no chart: there are no ratios without grpcio"
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return "no chart: matplotlib unavailable"
        fig, ax = plt.subplots(
            figsize=(max(6.0, self.chart_bar_inches * len(rows)), 4.8)
        )
        width = 0.8 / len(bars)
        for n, (against, key, hatch) in enumerate(bars):
            shift = (n - (len(bars) - 1) / 2) * width
            for i, row in enumerate(rows):
                ratio = row[key]
                if ratio is None:
                    continue
                x = i + shift
                blue = row["metric"].higher_is_better
                ax.bar(
                    x,
                    ratio,
                    width,
                    color="tab:blue" if blue else "tab:orange",
                    hatch=hatch,
                    edgecolor="white" if hatch else None,
                )
                ax.annotate(
                    f"{ratio:.2f}{X}",
                    (x, ratio),
                    ha="center",
                    va="bottom",
                    fontsize=self.chart_value_fontsize,
                )
                for budget in row["budgets"]:
                    if budget.against == against:
                        half = width * 0.55
                        ax.hlines(
                            budget.limit, x - half, x + half, colors="red", ls="--"
                        )
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(
            [self.chart_label(row["scenario"], row["metric"]) for row in rows],
            fontsize=self.chart_label_fontsize,
        )
        ylabel = f"{OURS} / grpcio"
        if self.peers:
            hatched = ", ".join(f"/ {name} ({h})" for name, _, h in self.peers)
            ylabel += f" (plain), {hatched}"
        ax.set_ylabel(ylabel)
        ax.set_title(self.chart_title(), fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return f"wrote {path}"

    def write(self, out: Path) -> bool:
        """Print the table, write md/json/png; True if a budget FAILed."""
        out.mkdir(parents=True, exist_ok=True)
        base = output_base(self.name)
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


class UnaryReport(Report):
    """The report of bench_unary.py: a row per scenario, op and metric."""

    name = "unary"
    title = f"Unary calls against etcd: {OURS} vs grpcio"
    rate = "calls/s"
    budgets = BUDGETS
    lead_columns = ("scenario", "op")

    def metrics(self, scenario: Scenario) -> Sequence[Metric]:
        inproc = scenario.name.startswith("inproc")
        return INPROC_METRICS if inproc else SOCKET_METRICS

    def run_lines(self) -> List[str]:
        env, run = self.env, self.env["run"]
        lines = [
            f"- {run['reps']} reps, variants interleaved; {run['calls']} calls per"
            f" variant per rep ({run['inproc_calls']} in-process); per-call"
            f" timeout {run['call_timeout'] or 'none'}; {env['date']}; run took"
            f" {env['seconds']} s",
            f"- {env['grpcio_note']}",
        ]
        if env.get("syscalls_per_call"):
            lines.append(
                f"- syscalls per sequential Range ({run['syscall_calls']} calls): "
                + "; ".join(
                    f"{who} {what}" for who, what in env["syscalls_per_call"].items()
                )
            )
        if env.get("canned_frames"):
            lines.append(
                "- in-process replies per call: " + ", ".join(env["canned_frames"])
            )
        return lines

    def lead_cells(self, scenario: Scenario) -> List[str]:
        return [scenario.kind, scenario.op]

    def chart_label(self, scenario: Scenario, metric: Metric) -> str:
        return f"{scenario.kind} {scenario.op}\n{metric.label}"

    def chart_title(self) -> str:
        peers = ", ".join(f"/ {name}" for name, _, _ in self.peers)
        against = f"grpcio (hatched: {peers})" if peers else "grpcio"
        return (
            f"{OURS} / {against} on {self.env['interpreter']} (blue: calls/s,"
            " higher is better; orange: CPU, lower is better; red: budget)"
        )


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
    path = out / f"{output_base(UnaryReport.name)}-profile.txt"
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0
