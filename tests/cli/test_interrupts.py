"""Ctrl-C (SIGINT) and SIGTERM for the commands that run until interrupted,
as processes: ours ends as etcdctl 3.5.1 does at the same point (exit
status, stdout, stderr), and whenever the signal comes, it ends and leaves
no key or lease of its own behind (cli/interrupts.py)."""

from __future__ import annotations

import contextlib
import os
import random
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, List, NamedTuple, Optional, Set

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.errors import LeaseNotFoundError
from pyetcd_wire.recipes import Election, Lock, Session
from pyetcd_wire.testing import EtcdMember
from tests.cli.conftest import LOG_LINE

# A generous bound on the end of a process after the signal: a hang detector.
EXIT_TIMEOUT = 30.0
# How long to wait for a process to reach the point the signal is meant for.
READY_TIMEOUT = 30.0
# A candidate's or a lock's key ends with its lease ID in hex.
LEASE_IN_KEY = re.compile(rb"/[0-9a-f]+\n")


class Ended(NamedTuple):
    code: int
    out: bytes
    err: str


class Running:
    """A command line process and what it printed so far."""

    def __init__(self, argv: List[str], *, group: bool = False) -> None:
        """`group`: in a process group of its own, as a shell's foreground job."""
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "ETCDCTL_API": "3"},
            start_new_session=group,
        )
        self.out = b""

    def read(self, timeout: float) -> None:
        """Add what stdout has within `timeout` seconds."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if ready:
            self.out += os.read(fd, 65536)

    def wait_until(self, ready: Callable[[Running], bool]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready(self):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.end(signal.SIGKILL)
                raise AssertionError(f"never ready: {self.out!r}")
            self.read(0.02)

    def end(self, signum: Optional[int]) -> Ended:
        """Send `signum` (None: none); what the process printed until it
        ended, and how."""
        if signum is not None:
            self.proc.send_signal(signum)
        try:
            self.proc.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"running {EXIT_TIMEOUT} s after {signum}") from None
        finally:
            assert self.proc.stdout is not None
            assert self.proc.stderr is not None
            with self.proc.stdout, self.proc.stderr:
                self.out += self.proc.stdout.read()
                err = self.proc.stderr.read().decode("utf-8", "replace")
        out = LEASE_IN_KEY.sub(b"/<id>\n", self.out)
        # etcdctl logs a warning when the signal cancels a unary call in
        # flight, none when it lands while a watch waits: timing, not output.
        return Ended(self.proc.returncode, out, LOG_LINE.sub("", err))


@pytest.fixture
def name(tmp_path: Path) -> str:
    """A fresh lock or election name."""
    return f"/sig/{tmp_path.name}"


@pytest.fixture
def leases(client: etcd.Client) -> Iterator[Callable[[], Set[int]]]:
    """The leases granted since the test started."""
    before = {lease.ID for lease in client.leases().leases}

    def new() -> Set[int]:
        return {lease.ID for lease in client.leases().leases} - before

    yield new
    for lease_id in new():  # etcdctl never revokes its session's lease
        with contextlib.suppress(LeaseNotFoundError):  # expired meanwhile
            client.revoke(lease_id)


def keys(client: etcd.Client, name: str) -> List[bytes]:
    return [kv.key for kv in client.get(name + "/", prefix=True).kvs]


class Holder(NamedTuple):
    """A session of the test's own that holds the lock or leads the election."""

    session: Session
    key: bytes


@pytest.fixture
def holder(client: etcd.Client, name: str) -> Iterator[Callable[[str], Holder]]:
    made: List[Session] = []

    def hold(kind: str) -> Holder:
        session = Session(client, ttl=30)
        made.append(session)
        if kind == "lock":
            lock = Lock(session, name)
            lock.acquire()
            return Holder(session, lock.key)
        election = Election(session, name)
        election.campaign("first")
        return Holder(session, election.key)

    yield hold
    for session in made:
        session.close()


def pyetcd(endpoint: str, *argv: str) -> List[str]:
    return [sys.executable, "-m", "pyetcd_wire", f"--endpoints={endpoint}", *argv]


def etcdctl(binary: str, endpoint: str, *argv: str) -> List[str]:
    return [binary, f"--endpoints={endpoint}", *argv]


class Case(NamedTuple):
    argv: List[str]
    holder: Optional[str]  # "lock" or "elect": someone holds it first
    waiting: bool  # ready once the command's own key joined the holder's
    ready_out: bytes  # ...or once stdout shows this


CASES = {
    "lock held": Case(["lock", "{name}"], None, False, b"\n"),
    "lock waiting": Case(["lock", "{name}"], "lock", True, b""),
    "elect leader": Case(["elect", "{name}", "p"], None, False, b"p\n"),
    "elect waiting": Case(["elect", "{name}", "p"], "elect", True, b""),
    "elect -l": Case(["elect", "-l", "{name}"], "elect", False, b"first\n"),
}


def run_case(
    case: Case, argv: List[str], client: etcd.Client, name: str, signum: int
) -> Ended:
    running = Running(argv)
    if case.waiting:
        running.wait_until(lambda _: len(keys(client, name)) == 2)
    else:
        running.wait_until(lambda r: case.ready_out in r.out)
    return running.end(signum)


@pytest.mark.parametrize(
    ("label", "signum"),
    [(label, signum) for label in CASES for signum in (signal.SIGINT, signal.SIGTERM)],
    ids=lambda value: value.name if isinstance(value, signal.Signals) else value,
)
def test_a_signal_ends_lock_and_elect_as_etcdctl(
    cli_etcd: EtcdMember,
    etcdctl_binary: str,
    client: etcd.Client,
    name: str,
    leases: Callable[[], Set[int]],
    holder: Callable[[str], Holder],
    label: str,
    signum: int,
) -> None:
    """Held: released, 0.  Waiting: "context canceled", 1, the key gone.
    Observing: 0."""
    case = CASES[label]
    argv = [word.format(name=name) for word in case.argv]
    held = holder(case.holder) if case.holder else None
    remains = [held.key] if held else []
    endpoint = cli_etcd.endpoint
    kept = {held.session.lease_id} if held else set()

    theirs = run_case(
        case, etcdctl(etcdctl_binary, endpoint, *argv), client, name, signum
    )
    # etcdctl 3.5.1 leaves its session's lease, and, interrupted while
    # waiting for a lock, its key on that lease (seen; ours revokes both).
    for lease_id in leases() - kept:
        client.revoke(lease_id)
    assert keys(client, name) == remains
    ours = run_case(case, pyetcd(endpoint, *argv), client, name, signum)
    assert ours == theirs
    assert keys(client, name) == remains
    assert leases() == kept


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM], ids=lambda signum: signum.name
)
def test_a_signal_while_the_locked_command_runs_waits_for_it(
    cli_etcd: EtcdMember,
    etcdctl_binary: str,
    client: etcd.Client,
    name: str,
    leases: Callable[[], Set[int]],
    tmp_path: Path,
    signum: int,
) -> None:
    """etcdctl notes the signal, waits for the command, then unlocks."""
    results = []
    for tool in (etcdctl(etcdctl_binary, cli_etcd.endpoint), pyetcd(cli_etcd.endpoint)):
        done = tmp_path / f"done-{len(results)}"
        child = (
            "import os, sys, time\n"
            "print('held', flush=True)\n"
            f"while not os.path.exists({str(done)!r}):\n"
            "    time.sleep(0.01)\n"
            "print('done', flush=True)\n"
        )
        running = Running([*tool, "lock", name, "--", sys.executable, "-c", child])
        running.wait_until(lambda r: b"held\n" in r.out)
        running.proc.send_signal(signum)
        done.touch()
        results.append(running.end(None))
        assert keys(client, name) == []
        for lease_id in leases():  # etcdctl's
            client.revoke(lease_id)
    theirs, ours = results
    assert ours == theirs == (0, b"held\ndone\n", "")


@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGINT, "interrupt"), (signal.SIGTERM, "terminated")],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_to_the_whole_job_ends_the_locked_command_then_lock(
    cli_etcd: EtcdMember,
    etcdctl_binary: str,
    client: etcd.Client,
    name: str,
    leases: Callable[[], Set[int]],
    signum: int,
    status: str,
) -> None:
    """Ctrl-C at a terminal signals the command too: it dies of it, and lock,
    which waited for it, releases the lock and exits 255 (Go's ExitStatus()
    of a killed process is -1), as etcdctl."""
    results = []
    for tool in (etcdctl(etcdctl_binary, cli_etcd.endpoint), pyetcd(cli_etcd.endpoint)):
        command = ["sh", "-c", "echo held; exec sleep 600"]
        running = Running([*tool, "lock", name, "--", *command], group=True)
        running.wait_until(lambda r: b"held\n" in r.out)
        os.killpg(running.proc.pid, signum)
        results.append(running.end(None))
        assert keys(client, name) == []  # released at once, not after its TTL
        for lease_id in leases():  # etcdctl's
            client.revoke(lease_id)
    theirs, ours = results
    assert ours == theirs == (255, b"held\n", f"Error: signal: {status}\n")


# (command, holder): every phase of lock and elect, each hit at random points.
RANDOM_CASES = {
    "elect": (["elect", "{name}", "p"], None),
    "elect behind a leader": (["elect", "{name}", "p"], "elect"),
    "elect -l": (["elect", "-l", "{name}"], "elect"),
    "lock": (["lock", "{name}"], None),
    "lock behind a holder": (["lock", "{name}"], "lock"),
}
POINTS = 4  # signals per case
# The signal comes within this many seconds of the command's lease appearing:
# while its session starts, campaigns or waits, reads, prints, holds.
SPREAD = 0.5


@pytest.mark.parametrize(
    ("argv", "held_by"), RANDOM_CASES.values(), ids=RANDOM_CASES.keys()
)
def test_a_signal_at_any_point_leaves_nothing_behind(
    cli_etcd: EtcdMember,
    client: etcd.Client,
    name: str,
    leases: Callable[[], Set[int]],
    holder: Callable[[str], Holder],
    argv: List[str],
    held_by: Optional[str],
) -> None:
    """Whenever SIGINT comes, the command ends, in one of the ways etcdctl
    ends at some point of its run (killed while it makes its session,
    "context canceled" while it waits, 0 once it holds or observes), with
    its session's lease revoked and its key gone."""
    held = holder(held_by) if held_by else None
    kept = {held.session.lease_id} if held else set()
    remains = [held.key] if held else []
    words = [word.format(name=name) for word in argv]
    rng = random.Random(len(words))
    for _ in range(POINTS):
        running = Running(pyetcd(cli_etcd.endpoint, *words))
        running.wait_until(lambda _: bool(leases() - kept))
        time.sleep(rng.uniform(0, SPREAD))  # where the signal lands: the input
        code, out, err = running.end(signal.SIGINT)
        assert (code, err) in {
            (-signal.SIGINT, ""),
            (1, "Error: context canceled\n"),
            (0, ""),
        }, (code, out, err)
        # Output only once it holds or observes: the key it holds or sees first.
        assert out.startswith(f"{name}/".encode()) if code == 0 else out == b""
        assert keys(client, name) == remains
        assert leases() == kept


@pytest.mark.parametrize("argv", [["lock", "{name}"], ["elect", "{name}", "p"]])
def test_the_session_ttl_is_etcdctls(
    cli_etcd: EtcdMember,
    etcdctl_binary: str,
    client: etcd.Client,
    name: str,
    leases: Callable[[], Set[int]],
    argv: List[str],
) -> None:
    """lock's session lease lives 10 s (its --ttl), elect's 60 s (Go's
    concurrency.NewSession default): how long a key of a process killed
    outright holds others back."""
    words = [word.format(name=name) for word in argv]
    granted = []
    for tool in (etcdctl(etcdctl_binary, cli_etcd.endpoint), pyetcd(cli_etcd.endpoint)):
        running = Running([*tool, *words])
        running.wait_until(lambda r: r.out.count(b"\n") >= 2)
        try:
            (lease_id,) = leases()
            granted.append(client.time_to_live(lease_id).grantedTTL)
        finally:
            assert running.end(signal.SIGINT).code == 0
        for lease_id in leases():  # etcdctl's
            client.revoke(lease_id)
    assert granted[1] == granted[0] == (10 if argv[0] == "lock" else 60)
