"""--cacert, --cert, --key and --insecure-skip-tls-verify against an etcd
that wants client certificates, side by side with etcdctl."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from pyetcd_wire.testing import EtcdMember, EtcdTLS, find_etcd_binary
from tests.cli.conftest import run_in_process
from tests.tls_certs import Certs, make_certs


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("cli-certs"))


@pytest.fixture(scope="module")
def mtls(cli_etcd: EtcdMember, certs: Certs) -> Iterator[EtcdMember]:
    tls = EtcdTLS(
        cert_file=certs.server_cert,
        key_file=certs.server_key,
        ca_file=certs.ca,
        client_cert_auth=True,
    )
    with EtcdMember("cli-mtls", binary=find_etcd_binary("etcd"), tls=tls) as member:
        yield member


def test_client_certificates(
    mtls: EtcdMember, certs: Certs, etcdctl_binary: str, tmp_path: Path
) -> None:
    flags = [
        f"--endpoints={mtls.endpoint}",
        f"--cacert={certs.ca}",
        f"--cert={certs.client_cert}",
        f"--key={certs.client_key}",
    ]
    assert run_in_process([*flags, "put", "/tls", "secret"]).out == b"OK\n"
    theirs = subprocess.run(
        [etcdctl_binary, *flags, "get", "/tls"],
        capture_output=True,
        env={**os.environ, "ETCDCTL_API": "3"},
        timeout=30,
        check=False,
    )
    assert (
        run_in_process([*flags, "get", "/tls"]).out
        == theirs.stdout
        == b"/tls\nsecret\n"
    )
    skip = [flags[0], *flags[2:], "--insecure-skip-tls-verify", "get", "/tls"]
    assert run_in_process([*skip, f"--cacert={certs.other_ca}"]).code == 0
    wrong_ca = run_in_process(
        [*flags[:1], f"--cacert={certs.other_ca}", *flags[2:], "get", "/tls"]
    )
    assert wrong_ca.code == 1
    assert "certificate verify failed" in wrong_ca.err
    missing = run_in_process(
        [*flags[:1], f"--cacert={tmp_path / 'none.pem'}", "get", "/tls"]
    )
    assert missing.code == 1
    assert "none.pem" in missing.err
