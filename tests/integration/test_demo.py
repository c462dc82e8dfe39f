"""The README's main job, `python -m pyetcd_wire demo`, runs end to end."""

from __future__ import annotations

import pytest

from pyetcd_wire._demo import main


def test_demo_runs_against_its_own_etcd(
    etcd_binary: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ETCD_BIN", etcd_binary)
    assert main(["demo", "--calls", "50"]) == 0
    out = capsys.readouterr().out
    assert "watch event at revision" in out
    assert "DELETE b'/demo/from-etcdctl'" in out
    assert "lost=False, key there: 1" in out
    assert "etcdctl lease revoke" in out
    assert "key there: 0" in out
    assert "another session's try_acquire()              -> LockedError" in out
    assert "64 replies" in out
    assert "saw b'changed'" in out
    assert ", 0 failed" in out  # reads retried on the members left
    assert "stopped etcd; done" in out
