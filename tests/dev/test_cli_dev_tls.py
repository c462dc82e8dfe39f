"""`pyetcd dev --tls/--mtls/--auth` and extra etcd flags, as a user runs them:
what it printed (the ``export`` lines, the Python snippet) is all a client
(sync and async), etcdctl and ``pyetcd`` need; then it stops and leaves
nothing behind, its temporary certificates included."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.errors import (
    EtcdError,
    TLSError,
    TooManyOpsError,
    UserEmptyError,
)
from pyetcd_wire.testing import find_etcd_binary
from tests.dev.test_cli_dev import Dev, assert_left_nothing, dev_run, start_dev

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        sys.platform == "win32", reason="pyetcd dev stops etcd with POSIX signals"
    ),
]

__all__ = ["dev_run"]  # the fixture, imported


def _key() -> str:
    return f"/dev-tls/{uuid.uuid4()}"


def snippet_client(dev: Dev, client_class: str = "Client") -> Any:
    """The client the printed Python snippet makes (`AsyncClient` for
    "AsyncClient": the same arguments)."""
    code = dev.python().replace("etcd.Client(", f"etcd.{client_class}(")
    names: Dict[str, Any] = {}
    exec(code, names)
    return names["client"]


def check_sync(dev: Dev, key: str, value: str) -> None:
    with snippet_client(dev) as client:
        client.put(key, value)
        assert client.get(key).kvs[0].value == value.encode()


def check_async(dev: Dev, key: str, value: str) -> None:
    async def main() -> bytes:
        async with snippet_client(dev, "AsyncClient") as client:
            await client.put(key, value)
            resp = await client.get(key)
            return bytes(resp.kvs[0].value)

    assert asyncio.run(main()) == value.encode()


def run_with_exports(dev: Dev, *command: str) -> subprocess.CompletedProcess[str]:
    """`command` with the printed exports as its only ETCDCTL_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    return subprocess.run(
        command,
        env={**env, **dev.exports},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def check_etcdctl_and_pyetcd(dev: Dev, key: str, value: str) -> None:
    """etcdctl reads what the clients wrote, pyetcd writes, etcdctl reads it."""
    etcdctl = find_etcd_binary("etcdctl")
    done = run_with_exports(dev, etcdctl, "get", key, "--print-value-only")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{value}\n", "")
    pyetcd = [sys.executable, "-m", "pyetcd_wire"]
    done = run_with_exports(dev, *pyetcd, "put", key, "from pyetcd")
    assert (done.returncode, done.stdout, done.stderr) == (0, "OK\n", "")
    done = run_with_exports(dev, etcdctl, "get", key, "--print-value-only")
    assert done.stdout == "from pyetcd\n", done.stderr


def check_all(dev: Dev) -> str:
    key = _key()
    check_sync(dev, key, "sync")
    check_async(dev, key, "async")
    check_etcdctl_and_pyetcd(dev, key, "async")
    return key


def refused(endpoints: List[str], error: type, **options: Any) -> str:
    """The message of what a client with `options` gets for a first call."""
    client = etcd.Client(endpoints, dial_timeout=2.0, timeout=5.0, **options)
    with contextlib.closing(client), pytest.raises(error) as info:
        client.get(_key())
    return str(info.value)


def stopped(dev: Dev, signum: signal.Signals) -> None:
    assert dev.stop(signum) == 0
    assert dev.output[-1].endswith("\nstopping etcd...\n")
    assert_left_nothing(dev)


def test_tls(dev_run: List[Dev]) -> None:
    dev = start_dev("--tls")
    dev_run.append(dev)
    assert [e.startswith("https://127.0.0.1:") for e in dev.endpoints] == [True]
    assert dev.cert_dir is not None
    assert set(dev.exports) == {"ETCDCTL_ENDPOINTS", "ETCDCTL_CACERT"}
    assert dev.exports["ETCDCTL_CACERT"] == os.path.join(dev.cert_dir, "ca.pem")
    check_all(dev)
    # The certificate is checked: a client that trusts only the system's CAs
    # is refused, and one that trusts ours gets in by name too (localhost).
    assert "certificate verify failed" in refused(
        dev.endpoints, TLSError, tls=etcd.TLS()
    )
    by_name = dev.endpoints[0].replace("127.0.0.1", "localhost")
    tls = etcd.TLS(ca_file=dev.exports["ETCDCTL_CACERT"])
    with etcd.Client(by_name, tls=tls, timeout=10.0) as client:
        client.get(_key())
    stopped(dev, signal.SIGINT)
    assert not os.path.exists(dev.cert_dir)  # deleted on exit


def test_auth(dev_run: List[Dev]) -> None:
    dev = start_dev("--auth")
    dev_run.append(dev)
    password = dev.exports["ETCDCTL_PASSWORD"]
    assert len(password) >= 16
    assert f"auth: on, user root, password {password}\n" in dev.output
    assert dev.exports["ETCDCTL_USER"] == "root"
    assert dev.cert_dir is None
    check_all(dev)
    # Auth is really on: no token, no access.
    refused(dev.endpoints, UserEmptyError)
    stopped(dev, signal.SIGTERM)


def test_tls_and_auth_together_on_three_members(dev_run: List[Dev]) -> None:
    dev = start_dev("--members", "3", "--tls", "--auth", "--password", "s3cret pw")
    dev_run.append(dev)
    assert len(dev.endpoints) == len(dev.pids) == 3
    assert dev.exports["ETCDCTL_PASSWORD"] == "s3cret pw"  # quoted by the export
    assert "password='s3cret pw'" in dev.python()
    check_all(dev)
    tls = etcd.TLS(ca_file=dev.exports["ETCDCTL_CACERT"])
    refused(dev.endpoints, UserEmptyError, tls=tls)
    stopped(dev, signal.SIGINT)


def test_mtls_and_auth_the_client_certificate_is_root(dev_run: List[Dev]) -> None:
    dev = start_dev("--mtls", "--auth")
    dev_run.append(dev)
    assert dev.cert_dir is not None
    assert dev.exports["ETCDCTL_CERT"] == os.path.join(dev.cert_dir, "client.pem")
    assert dev.exports["ETCDCTL_KEY"] == os.path.join(dev.cert_dir, "client.key")
    check_all(dev)
    ca = dev.exports["ETCDCTL_CACERT"]
    # etcd asks for a client certificate and turns a connection without one
    # down: in the handshake over TLS 1.2 (etcd 3.5), at the first read over
    # TLS 1.3 (etcd 3.4).
    text = refused(dev.endpoints, EtcdError, tls=etcd.TLS(ca_file=ca))
    assert "client certificate" in text
    # With one and no password, etcd takes its Common Name (root) as the user.
    tls = etcd.TLS(
        ca_file=ca,
        cert_file=dev.exports["ETCDCTL_CERT"],
        key_file=dev.exports["ETCDCTL_KEY"],
    )
    with etcd.Client(dev.endpoints, tls=tls, timeout=10.0) as client:
        client.put(_key(), "as root, by certificate")
        assert "root" in client.user_list().users  # root only
    stopped(dev, signal.SIGTERM)


def etcd_command_line(pid: int) -> List[str]:
    with open(f"/proc/{pid}/cmdline") as f:
        return f.read().split("\0")[:-1]  # each argument ends with a NUL


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_extra_etcd_flags_after_double_dash(dev_run: List[Dev]) -> None:
    dev = start_dev("--tls", "--", "--max-txn-ops=3", "--auto-compaction-retention=1")
    dev_run.append(dev)
    assert "etcd flags added: --max-txn-ops=3 --auto-compaction-retention=1\n" in (
        dev.output
    )
    assert etcd_command_line(dev.pids[0])[-2:] == [
        "--max-txn-ops=3",
        "--auto-compaction-retention=1",
    ]
    key = check_all(dev)
    with snippet_client(dev) as client:
        client.txn(success=[etcd.Op.put(f"{key}/{i}", "v") for i in range(3)])
        with pytest.raises(TooManyOpsError):
            client.txn(success=[etcd.Op.put(f"{key}/{i}", "v") for i in range(4)])
    stopped(dev, signal.SIGINT)


def test_a_bad_etcd_flag_exits_1_with_etcds_complaint() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pyetcd_wire.cli_dev", "--", "--no-such-flag"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "no-such-flag" in done.stderr


def state_of(data_dir: Path) -> Dict[str, Any]:
    result: Dict[str, Any] = json.loads((data_dir / "pyetcd-dev.json").read_text())
    return result


def test_a_kept_data_dir_keeps_certificates_and_password(
    dev_run: List[Dev], tmp_path: Path
) -> None:
    data = tmp_path / "etcd-data"
    first = start_dev("--data-dir", str(data), "--tls", "--auth")
    dev_run.append(first)
    assert first.cert_dir == str(data / "tls")
    assert f"TLS certificates in {data / 'tls'} (kept):\n" in first.output
    password = first.exports["ETCDCTL_PASSWORD"]
    assert state_of(data)["root_password"] == password
    assert (data / "pyetcd-dev.json").stat().st_mode & 0o077 == 0
    ca = (data / "tls" / "ca.pem").read_bytes()
    key = check_all(first)
    assert first.stop(signal.SIGINT) == 0
    assert_left_nothing(first, data_kept=True)
    assert (data / "tls" / "ca.pem").read_bytes() == ca

    # The same certificates, password, port and data; auth is on already.
    again = start_dev("--data-dir", str(data), "--tls", "--auth")
    dev_run.append(again)
    assert (again.exports, again.python()) == (first.exports, first.python())
    assert (data / "tls" / "ca.pem").read_bytes() == ca
    with snippet_client(again) as client:
        assert client.get(key).kvs[0].value == b"from pyetcd"
    assert again.stop(signal.SIGTERM) == 0
    assert_left_nothing(again, data_kept=True)

    # Another root password than the data dir's is refused, with a reason.
    command = [sys.executable, "-m", "pyetcd_wire.cli_dev", "--data-dir", str(data)]
    done = subprocess.run(
        [*command, "--tls", "--password", "not-the-one"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout
    assert "root's password is another: give it with --password" in done.stderr
    assert state_of(data)["root_password"] == password  # not forgotten


def test_cert_dir_implies_tls_and_is_kept(dev_run: List[Dev], tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    dev = start_dev("--cert-dir", str(certs))
    dev_run.append(dev)
    assert dev.cert_dir == str(certs)
    assert dev.exports["ETCDCTL_CACERT"] == str(certs / "ca.pem")
    check_sync(dev, _key(), "v")
    stopped(dev, signal.SIGINT)
    assert sorted(os.listdir(certs)) == [
        *("ca.key", "ca.pem", "client.key", "client.pem", "openssl.cnf"),
        *("server.key", "server.pem"),
    ]


@pytest.mark.parametrize("args", [["--password", ""], ["--tls", "--members", "0"]])
def test_bad_tls_and_auth_options_exit_1(
    args: List[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from pyetcd_wire import cli_dev

    assert cli_dev.run(args) == 1
    assert capsys.readouterr().err.startswith("pyetcd dev: error: ")


def test_without_openssl_tls_exits_1_saying_so(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from pyetcd_wire import cli_dev

    monkeypatch.setenv("ETCD_BIN", find_etcd_binary("etcd"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no openssl
    assert cli_dev.run(["--tls"]) == 1
    assert "the openssl command is needed" in capsys.readouterr().err
