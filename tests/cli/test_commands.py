"""The commands outside the byte-compatible list, global flags, the
environment, help, and the installed entry points."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import List

import pytest

import pyetcd_wire as etcd
import pyetcd_wire.recipes
from pyetcd_wire.testing import EtcdMember
from tests.cli.conftest import Runner, run_in_process
from tests.cli.test_watch import interrupt, read_until
from tests.helpers import wait_for
from tests.missing import missing


def test_version_and_help_need_no_etcd() -> None:
    version = run_in_process(["--endpoints=127.0.0.1:1", "version"])
    assert (
        version.out
        == f"pyetcd version: {etcd.__version__}\nAPI version: 3.5\n".encode()
    )
    for argv in ([], ["--help"], ["lease"], ["member", "--help"]):
        result = run_in_process(argv)
        assert (result.code, b"COMMANDS:" in result.out) == (0, True)
    for argv in (["get", "--help"], ["lease", "grant", "-h"], ["txn", "--help"]):
        result = run_in_process(argv)
        assert (result.code, b"usage: pyetcd" in result.out) == (0, True)
    for name in ("dev", "demo"):  # their own parsers
        result = run_in_process([name, "--help"])
        assert (result.code, name.encode() in result.out) == (0, True)
    bogus = run_in_process(["lease", "bogus"])
    assert bogus.code == 1
    assert bogus.err.startswith('Error: unknown command "bogus" for "pyetcd lease"')


def test_global_flags_anywhere_and_environment(
    cli_etcd: EtcdMember, monkeypatch: pytest.MonkeyPatch, client: etcd.Client, key: str
) -> None:
    client.put(key, "v")
    endpoint = f"--endpoints={cli_etcd.endpoint}"
    assert run_in_process(["get", key, endpoint, "-w", "json"]).out.startswith(
        b'{"header"'
    )
    monkeypatch.setenv("ETCDCTL_ENDPOINTS", cli_etcd.endpoint)
    monkeypatch.setenv("ETCDCTL_WRITE_OUT", "fields")
    monkeypatch.setenv("ETCDCTL_COMMAND_TIMEOUT", "3s")
    assert b'"Value" : "v"' in run_in_process(["get", key]).out
    assert run_in_process(["get", key, "-w", "simple"]).out == f"{key}\nv\n".encode()
    monkeypatch.setenv("ETCDCTL_WRITE_OUT", "yaml")
    assert run_in_process(["get", key]).code == 1


def test_unreachable_endpoint() -> None:
    result = run_in_process(
        ["--endpoints=127.0.0.1:1", "--dial-timeout=200ms", "get", "k"]
    )
    assert result.code == 1
    assert result.err.startswith("Error: context deadline exceeded")
    bad = run_in_process(["--dial-timeout=soon", "get", "k"])
    assert (bad.code, bad.err) == (
        128,
        'Error: invalid argument "soon" for "--dial-timeout" flag\n',
    )


def test_endpoint_health(ours: Runner, cli_etcd: EtcdMember) -> None:
    simple = ours("endpoint", "health")
    assert (simple.code, simple.out) == (0, b"")
    assert re.fullmatch(
        rf"{re.escape(cli_etcd.endpoint)} is healthy: successfully committed proposal: "
        r"took = [0-9.]+(ms|µs|s)\n",
        simple.err,
    )
    json_out = ours("endpoint", "health", "--cluster", "-w", "json").out
    assert re.fullmatch(
        rb'\[\{"endpoint":"http://[^"]+","health":true,"took":"[^"]+"\}\]\n', json_out
    )
    table = ours("endpoint", "health", "-w", "table").out.decode()
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith("|")
    ]
    assert rows[0] == ["ENDPOINT", "HEALTH", "TOOK", "ERROR"]
    assert len(rows) == 2
    assert rows[1][:2] == [cli_etcd.endpoint.split("//")[-1], "true"]
    assert re.fullmatch(r"[0-9.]+(ms|µs|s)", rows[1][2])
    assert rows[1][3] == ""
    down = run_in_process(
        ["--endpoints=127.0.0.1:1", "--dial-timeout=200ms", "endpoint", "health"]
    )
    assert down.code == 1
    assert down.err.splitlines()[-1] == "Error: unhealthy cluster"


def test_member_add_update_remove(
    ours: Runner, theirs: Runner, client: etcd.Client
) -> None:
    outputs = []
    for run, port in ((theirs, 24501), (ours, 24502)):
        added = run(
            "member",
            "add",
            "newbie",
            f"--peer-urls=http://127.0.0.1:{port}",
            "--learner",
        )
        new_id = next(m.ID for m in client.member_list().members if not m.name)
        updated = run(
            "member",
            "update",
            f"{new_id:x}",
            f"--peer-urls=http://127.0.0.1:{port + 10}",
        )
        promoted = run("member", "promote", f"{new_id:x}")
        removed = run("member", "remove", f"{new_id:x}")
        text = b"".join(r.out for r in (added, updated, promoted, removed)).decode()
        text += "".join(r.err for r in (added, updated, promoted, removed))
        text = text.replace(f"{new_id:16x}", "ID").replace(str(port), "PORT")
        # The cluster line lists members in etcd's order, which follows their IDs.
        cluster = re.search(r'ETCD_INITIAL_CLUSTER="([^"]*)"', text)
        assert cluster is not None
        ordered = ",".join(sorted(cluster.group(1).split(",")))
        outputs.append(text.replace(cluster.group(1), ordered))
    assert outputs[1] == outputs[0]
    assert (
        "can only promote a learner member which is in sync with leader" in outputs[1]
    )


def _auth_flow(run: Runner, suffix: str) -> list[str]:
    user, role = f"u{suffix}", f"r{suffix}"
    steps = [
        ("user", "add", f"{user}:secret"),
        ("user", "add", f"{user}b", "--interactive=false"),
        ("role", "add", role),
        ("role", "grant-permission", role, "readwrite", "/a", "/b"),
        ("role", "grant-permission", role, "read", "/p", "--prefix"),
        ("role", "grant-permission", role, "write", "/o", "--from-key"),
        ("role", "grant-permission", role, "write", "/single"),
        ("role", "get", role),
        ("user", "grant-role", user, role),
        ("user", "get", user),
        ("user", "get", user, "--detail"),
        ("user", "passwd", user, "--interactive=false"),
        ("role", "revoke-permission", role, "/a", "/b"),
        ("role", "revoke-permission", role, "/p", "--prefix"),
        ("role", "revoke-permission", role, "/o", "--from-key"),
        ("role", "revoke-permission", role, "/single"),
        ("user", "revoke-role", user, role),
        ("user", "delete", user),
        ("user", "delete", f"{user}b"),
        ("role", "delete", role),
        ("role", "delete", role),
    ]
    texts = []
    for argv in steps:
        result = run(*argv, stdin=b"pw\n")
        texts.append(
            f"{result.code} {result.out.decode()} {result.err}".replace(suffix, "X")
        )
    return texts


def test_users_and_roles(ours: Runner, theirs: Runner) -> None:
    assert _auth_flow(ours, "ours") == _auth_flow(theirs, "theirs")
    assert ours("user", "list").out == theirs("user", "list").out
    assert ours("role", "list", "-w", "json").code == 0


def test_auth_enable_status_disable(
    ours: Runner, theirs: Runner, client: etcd.Client, key: str
) -> None:
    assert ours("user", "add", "root:rootpw").code == 0
    assert ours("user", "grant-role", "root", "root").code == 0
    try:
        assert ours("auth", "enable").out == b"Authentication Enabled\n"
        for argv in (("get", key), ("auth", "status")):
            assert ours(*argv) == theirs(*argv)
        assert ours("--user=root:rootpw", "put", key, "v").out == b"OK\n"
        assert (
            ours("--user=root", "--password=rootpw", "get", key).out
            == f"{key}\nv\n".encode()
        )
        assert ours("--user=root:wrong", "get", key) == theirs(
            "--user=root:wrong", "get", key
        )
        status = ours("--user=root:rootpw", "auth", "status").out
        assert status.startswith(b"Authentication Status: true\nAuthRevision: ")
    finally:
        assert (
            ours("--user=root:rootpw", "auth", "disable").out
            == b"Authentication Disabled\n"
        )
        assert ours("user", "delete", "root").code == 0
    assert ours("auth", "status").out.startswith(b"Authentication Status: false\n")


def test_alarm_defrag_snapshot(
    ours: Runner, theirs: Runner, cli_etcd: EtcdMember, tmp_path: Path
) -> None:
    for argv in (("alarm", "list"), ("alarm", "disarm"), ("defrag",)):
        assert ours(*argv) == theirs(*argv)
    assert ours("defrag", "--cluster").code == 0
    path = tmp_path / "snap.db"
    assert (
        ours("snapshot", "save", str(path)).out
        == f"Snapshot saved at {path}\n".encode()
    )
    assert path.stat().st_size > 0
    assert not Path(f"{path}.part").exists()
    assert ours("snapshot", "save").code == 128


def test_lock_runs_a_command_while_holding(
    ours: Runner,
    cli_etcd: EtcdMember,
    etcdctl_binary: str,
    tmp_path: Path,
    client: etcd.Client,
) -> None:
    name = f"lock-{tmp_path.name}"
    show = "import os; print(os.environ['ETCD_LOCK_KEY'], os.environ['ETCD_LOCK_REV'])"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyetcd_wire",
            f"--endpoints={cli_etcd.endpoint}",
            "lock",
            name,
            "--",  # else "-c" is a flag of lock's, as etcdctl's
            sys.executable,
            "-c",
            show,
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lock_key, rev = result.stdout.decode().split()
    assert lock_key.startswith(name + "/")
    assert int(rev) > 0
    assert ours("lock", name, "--", sys.executable, "-c", "raise SystemExit(3)") == (
        3,
        b"",
        "Error: exit status 3\n",
    )
    # An etcdctl lock holder excludes ours: ours runs only after it let go,
    # that is after its command ended (and left `released` behind).  The
    # holder lets go once ours waits behind it (its key is the second), not
    # after a while, which a loaded machine may let pass before ours asks.
    released, go = tmp_path / "released", tmp_path / "go"
    hold = tmp_path / "hold.sh"  # a script, not sh -c: no "--" needed
    hold.write_text(f"while [ ! -e {go} ]; do sleep 0.01; done\ntouch {released}\n")
    endpoints = f"--endpoints={cli_etcd.endpoint}"

    def queued() -> int:
        return client.get(f"{name}/", prefix=True, count_only=True).count

    with subprocess.Popen(
        [etcdctl_binary, endpoints, "lock", name, "sh", str(hold)],
        env={**os.environ, "ETCDCTL_API": "3"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as holder:
        wait_for(lambda: queued() == 1)
        after = f"import os, sys; sys.exit(not os.path.exists({str(released)!r}))"
        codes: List[int] = []

        def lock() -> None:
            codes.append(ours("lock", name, "--", sys.executable, "-c", after).code)

        thread = threading.Thread(target=lock)
        thread.start()
        try:
            wait_for(lambda: queued() == 2, timeout=30)
        finally:
            go.touch()
            thread.join(30)
        assert codes == [0]
        holder.wait(timeout=10)


def test_elect_or_not_yet(
    ours: Runner, cli_etcd: EtcdMember, etcdctl_binary: str, tmp_path: Path
) -> None:
    if not hasattr(pyetcd_wire.recipes, "Election"):
        assert ours("elect", "e", "proposal") == (
            4,
            b"",
            "Error: not yet: pyetcd_wire.recipes has no Election\n",
        )
        return
    assert ours("elect", "only-name").code == 128
    # etcdctl campaigns, ours observes: the leader's key and value, as etcdctl.
    name = f"elect-{tmp_path.name}"
    endpoint = f"--endpoints={cli_etcd.endpoint}"
    with (
        subprocess.Popen(
            [etcdctl_binary, endpoint, "elect", name, "first"],
            env={**os.environ, "ETCDCTL_API": "3"},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        ) as leader,
        subprocess.Popen(
            [sys.executable, "-m", "pyetcd_wire", endpoint, "elect", "-l", name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as observer,
    ):
        try:
            campaigned = read_until(leader, b"first\n")
            observed = read_until(observer, b"first\n")
        finally:
            interrupt(leader)
            interrupt(observer)
        assert observer.stderr is not None
        errors = observer.stderr.read()
    assert campaigned.startswith(name.encode() + b"/")
    assert (observed, errors) == (campaigned, b"")


def test_python_dash_m_and_console_script(
    cli_etcd: EtcdMember, client: etcd.Client, key: str
) -> None:
    client.put(key, "spawned")
    command = [
        sys.executable,
        "-m",
        "pyetcd_wire",
        f"--endpoints={cli_etcd.endpoint}",
        "get",
        key,
    ]
    done = subprocess.run(command, capture_output=True, timeout=30, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"{key}\nspawned\n".encode(),
        b"",
    )
    script = shutil.which("pyetcd", path=os.path.dirname(sys.executable))
    if script is None:
        missing("the pyetcd console script is not installed in this environment")
    done = subprocess.run(
        [script, *command[3:]], capture_output=True, timeout=30, check=False
    )
    assert done.stdout == f"{key}\nspawned\n".encode()
