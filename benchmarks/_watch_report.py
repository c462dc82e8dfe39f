"""Metrics, budgets and the run description of bench_watch.py's report.

The statistics and the output are those of bench_unary.py (`_report.Report`):
every variant runs once per rep, interleaved, and a ratio is the median over
reps of the per-rep ratio ours/grpcio.  Only the metrics (per event, not per
call), the budgets and the layout of the table differ.
"""

from __future__ import annotations

from typing import List, Sequence

from _report import OURS, Budget, Metric, Report, Scenario, etcd_metrics

METRICS = etcd_metrics("event")

# The budget: our client CPU per watch event at most half of grpcio's.
BUDGETS = (
    Budget("replay", "cpu_us", "<=", 0.5, "replay client CPU per event"),
    Budget("live", "cpu_us", "<=", 0.5, "live client CPU per event"),
)


class WatchReport(Report):
    """The numbers of one run of bench_watch.py, and everything written from them."""

    name = "watch"
    title = f"Watch event delivery from etcd: {OURS} vs grpcio"
    rate = "events/s"
    budgets = BUDGETS
    chart_bar_inches = 1.5
    chart_value_fontsize = None
    chart_label_fontsize = 8

    def metrics(self, scenario: Scenario) -> Sequence[Metric]:
        return METRICS

    def run_lines(self) -> List[str]:
        env, run = self.env, self.env["run"]
        return [
            f"- {run['reps']} reps, variants interleaved; replay {run['replay']}"
            f" events, live {run['live']} events per variant per rep;"
            f" {OURS} through {run['layer']}; {env['date']}; run took"
            f" {env['seconds']} s",
            f"- replay: {run['replay_messages']}; live writer: {env['writer']}",
            f"- {env['grpcio_note']}",
        ]

    def chart_title(self) -> str:
        return (
            f"watch: {OURS} / grpcio on {self.env['interpreter']}\nblue: events/s,"
            " higher is better; orange: CPU, lower is better; red: budget"
        )
