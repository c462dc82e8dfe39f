"""The fault campaign end to end (benchmarks/chaos.py): a short clean run
passes, and a run whose records are corrupted on purpose fails with the
violation that corruption is."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pyetcd_wire.pytest_plugin import etcd_binary_for

# Two campaigns of ~20 s each: CI runs them in the `chaos` session, beside the
# seeded 60 s campaign, not in every interpreter's `tests`.
pytestmark = [pytest.mark.integration, pytest.mark.chaos]

CHAOS = Path(__file__).resolve().parents[2] / "benchmarks" / "chaos.py"


@pytest.fixture
def etcd_required(request: pytest.FixtureRequest) -> str:
    """Skips without an etcd binary (fails with --etcd-required)."""
    return etcd_binary_for(request.config)


def _campaign(tmp_path: Path, *args: str) -> tuple[int, dict]:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, str(CHAOS), "--json", str(out), *args],
        capture_output=True,
        text=True,
        timeout=170,
        env=dict(os.environ),
    )
    assert out.exists(), done.stdout + done.stderr
    return done.returncode, json.loads(out.read_text())


def test_an_injected_lost_write_fails_the_campaign(tmp_path, etcd_required):
    code, figures = _campaign(
        tmp_path, "--seconds", "8", "--seed", "1", "--inject-bug", "lost-write"
    )
    assert code == 1
    checks = {v["check"] for v in figures["violation_details"]}
    assert "ack-write-present" in checks, checks


def test_the_watchdog_kills_the_members_it_leaves(etcd_required):
    """A campaign that hangs is ended by its watchdog, and its etcd members
    with it: they would outlive it (and hold their ports) otherwise."""
    done = subprocess.run(
        [sys.executable, str(CHAOS), "--seconds", "60", "--watchdog", "3"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert done.returncode == 3, done.stderr[-2000:]
    pids = [int(p) for p in re.findall(r"killing chaos\d, pid (\d+)", done.stderr)]
    assert len(pids) == 3, done.stderr[-2000:]
    for pid in pids:
        cmdline = Path(f"/proc/{pid}/cmdline")
        assert not cmdline.exists() or b"etcd" not in cmdline.read_bytes(), pid


def test_a_clean_campaign_passes(tmp_path, etcd_required):
    code, figures = _campaign(
        tmp_path, "--seconds", "10", "--seed", "1", "--faults", "kill,pause,latency"
    )
    assert figures["faults_total"] > 0
    assert figures["violation_details"] == []
    assert code == 0
