"""The Go client as a benchmark peer (benchmarks/_go_peer.py), without Go:
what the benchmarks say when `go` or clientv3 is missing, how the program's
result is read, the start handshake around which etcd's CPU is read (a stand-in
program speaks it), and the go column of the report."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import List

import pytest

from benchmarks import _go_peer, _report

RESULT = {"calls": 960, "wall_s": 0.5, "cpu_s": 0.1, "workers": 64, "op": "range"}

# What go_peer does, played by Python: warm up, "ready", wait for "start",
# the timed calls, the result line, closing the client.  argv[1] is what to
# do (the failures), argv[2] a file that says which phase it is in.
STAND_IN = """\
import sys
mode, phase = sys.argv[1], open(sys.argv[2], "w", buffering=1)
if mode == "fail-early":
    sys.stderr.write("go_peer: client for 127.0.0.1:1: context deadline exceeded\\n")
    sys.exit(1)
phase.write("warm\\n")
print("ready", flush=True)
if sys.stdin.readline().strip() != "start":
    sys.exit(3)
phase.write("timed\\n")
if mode == "fail-late":
    sys.stderr.write("go_peer: range: etcdserver: request timed out\\n")
    sys.exit(1)
phase.write("done\\n")
print(%r, flush=True)
sys.stdin.read()  # until the caller closes it: the client's teardown
phase.write("closed\\n")
"""


def test_without_go_the_peer_is_skipped_with_a_note_saying_how_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {"PATH": str(tmp_path), "GOPATH": str(tmp_path)}
    peer, note = _go_peer.load(tmp_path, "127.0.0.1:1", None, environ)
    assert peer is None
    assert note == (
        "go peer skipped: `go` not found on PATH"
        " (Debian: apt-get install golang-go golang-etcd-server-dev)"
    )
    assert capsys.readouterr().out == note + "\n"
    assert not (tmp_path / "go_peer").exists()


def test_without_clientv3_in_gopath_the_note_names_the_package(tmp_path: Path) -> None:
    go = tmp_path / "go"
    go.write_text("#!/bin/sh\nexit 1\n")
    why = _go_peer.missing(str(go), str(tmp_path / "gopath"))
    assert why == (
        f"go.etcd.io/etcd/clientv3 not found in GOPATH {tmp_path / 'gopath'}"
        " (Debian: apt-get install golang-go golang-etcd-server-dev)"
    )
    (tmp_path / "gopath" / "src" / "go.etcd.io" / "etcd" / "clientv3").mkdir(
        parents=True
    )
    assert _go_peer.missing(str(go), str(tmp_path / "gopath")) is None


def test_gopath_keeps_the_callers_and_adds_debians_once() -> None:
    assert _go_peer.gopath({}) == "/usr/share/gocode"
    both = f"/home/u/go{os.pathsep}/usr/share/gocode"
    assert _go_peer.gopath({"GOPATH": "/home/u/go"}) == both
    assert _go_peer.gopath({"GOPATH": both}) == both


def test_a_result_line_becomes_a_sample_of_the_calls_asked_for() -> None:
    # 1000 calls over 64 goroutines: 15 each, 960 in all (as our runners do)
    sample = _go_peer.parse_result(json.dumps(RESULT), 1000, 0.25)
    assert (sample.calls, sample.wall, sample.cpu, sample.server_cpu) == (
        960,
        0.5,
        0.1,
        0.25,
    )


@pytest.mark.parametrize(
    "line",
    [
        "",
        "ready",
        json.dumps({**RESULT, "calls": 1000}),  # not a multiple of 64
        json.dumps({**RESULT, "calls": 896}),  # a round short
        json.dumps({k: v for k, v in RESULT.items() if k != "cpu_s"}),
        json.dumps({**RESULT, "wall_s": 0}),
        json.dumps({**RESULT, "workers": 0}),
    ],
)
def test_a_line_that_is_not_the_result_asked_for_is_an_error(line: str) -> None:
    with pytest.raises(RuntimeError, match="go_peer"):
        _go_peer.parse_result(line, 1000, None)


def stand_in(tmp_path: Path) -> Path:
    program = tmp_path / "go_peer"
    source = STAND_IN % json.dumps(RESULT)
    program.write_text(f"#!{sys.executable}\n{source}")
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    return program


def test_etcds_cpu_is_read_around_the_timed_calls_only(tmp_path: Path) -> None:
    phase = tmp_path / "phase"
    seen: List[str] = []

    def server_cpu() -> float:
        seen.append(phase.read_text() if phase.exists() else "not started")
        return len(seen) * len(seen)  # 1.0, then 4.0

    peer = _go_peer.GoPeer(stand_in(tmp_path), "127.0.0.1:1", server_cpu)
    command = peer.command("range", 1000, 64, 1280, b"/k", b"\x00\x01", None)
    assert command[1:] == [
        "-endpoint=127.0.0.1:1",
        "-op=range",
        "-key=/k",
        "-value=0001",
        "-workers=64",
        "-calls=1000",
        "-warmup=1280",
        "-timeout=0s",
        "-wait",
    ]
    sample = peer.run([command[0], "ok", str(phase)], 1000)
    assert seen == ["warm\n", "warm\ntimed\ndone\n"]
    assert (sample.calls, sample.cpu, sample.server_cpu) == (960, 0.1, 3.0)


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("fail-early", "failed before its timed calls: go_peer: client for"),
        ("fail-late", "go_peer exited 1: go_peer: range: etcdserver: request timed"),
    ],
)
def test_a_failed_run_raises_with_what_the_program_said(
    tmp_path: Path, mode: str, error: str
) -> None:
    peer = _go_peer.GoPeer(stand_in(tmp_path), "127.0.0.1:1", None)
    with pytest.raises(RuntimeError, match=error):
        peer.run([str(peer.binary), mode, str(tmp_path / "phase")], 1000)


def test_the_report_gives_go_its_column_and_paired_ratio() -> None:
    def samples(*rates: float) -> List[_report.Sample]:
        return [_report.Sample(1000, 1000 / rate, 0.05, None) for rate in rates]

    scenario = _report.Scenario("seq_range", "sequential", "range", 1000)
    results = {
        "seq_range": {
            _report.OURS: samples(4000, 6000, 5000),
            _report.GRPCIO: samples(2000, 3000, 2500),
            _report.GO: samples(8000, 3000, 5000),  # paired: 0.5, 2.0, 1.0
        }
    }
    env = {
        "interpreter": "CPython",
        "versions": {},
        "etcd_flags": "",
        "machine": "",
        "load_average": "",
        "date": "",
        "seconds": 0,
        "grpcio_note": "",
        "go_note": "go peer: etcd's Go client, clientv3 3.4.23, go1.19.8",
        "run": {"reps": 3, "calls": 1000, "inproc_calls": 0, "call_timeout": None},
    }
    report = _report.UnaryReport(env, [scenario], results)
    lines = report.markdown().splitlines()
    assert "- go peer: etcd's Go client, clientv3 3.4.23, go1.19.8" in lines
    head = next(line for line in lines if line.startswith("| scenario"))
    assert "| grpcio med | go med | ours/grpcio | ours/go |" in head
    rate = next(line for line in lines if "| calls/s |" in line)
    x = _report.X
    assert f"| 2,500 | 5,000 | 2.00{x} | 1.00{x} |" in rate
    summary = report.to_json()["summary"][0]
    assert summary["go_ratio"] == 1.0
    assert summary[_report.GO] == {"best": 8000.0, "median": 5000.0}
