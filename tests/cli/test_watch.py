"""`pyetcd watch` and `etcdctl watch` side by side, as processes: the same
events give the same bytes; Ctrl-C ends ours quietly, by the signal, as it
ends etcdctl."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.testing import EtcdMember

SENTINEL = b"the-end"  # the last value written; its base64 is dGhlLWVuZA==


def read_until(
    proc: subprocess.Popen[bytes], marker: bytes, timeout: float = 20.0
) -> bytes:
    assert proc.stdout is not None
    fd, data = proc.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
    return data


def interrupt(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("fmt", ["simple", "json"])
def test_watch_prints_as_etcdctl(
    cli_etcd: EtcdMember, etcdctl_binary: str, client: etcd.Client, key: str, fmt: str
) -> None:
    start = client.put(key + "a", "1").header.revision
    client.put(key + "a", "2")
    client.put(key + "b", b"bin\x00ary")
    client.delete(key + "a")
    client.put(key + "z", SENTINEL)
    marker = SENTINEL if fmt == "simple" else b"dGhlLWVuZA=="
    argv = ["watch", key, "--prefix", "--prev-kv", f"--rev={start}", "-w", fmt]
    endpoint = f"--endpoints={cli_etcd.endpoint}"
    with (
        subprocess.Popen(
            [etcdctl_binary, endpoint, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "ETCDCTL_API": "3"},
        ) as theirs,
        subprocess.Popen(
            [sys.executable, "-m", "pyetcd_wire", endpoint, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as ours,
    ):
        try:
            expected = read_until(theirs, marker)
            got = read_until(ours, marker)
        finally:
            try:
                their_code = interrupt(theirs)
            finally:
                code = interrupt(ours)
        assert ours.stderr is not None
        errors = ours.stderr.read()
    assert marker in expected
    assert got == expected
    # Killed by SIGINT (a shell shows 130), as etcdctl, which does not catch it.
    assert code == their_code == -signal.SIGINT
    assert errors == b""


def test_watch_arguments(cli_etcd: EtcdMember) -> None:
    from tests.cli.conftest import run_in_process

    endpoint = f"--endpoints={cli_etcd.endpoint}"
    assert run_in_process([endpoint, "watch"]) == (
        128,
        b"",
        "Error: bad number of arguments\n",
    )
    assert run_in_process([endpoint, "watch", "a", "-w", "table"]).code == 4
