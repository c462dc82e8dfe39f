"""The test kit's certificates (`pyetcd_wire.testing.make_certificates`):
what they name, that they chain and serve TLS, and when a kept set is reused."""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path
from typing import List

import pytest

from pyetcd_wire.testing import (
    Certificates,
    OpensslNotFoundError,
    make_certificates,
)
from pyetcd_wire.testing import certs as certs_module
from tests.helpers import Acceptor
from tests.missing import missing


def openssl_text(cert: str, *args: str) -> str:
    done = subprocess.run(
        ["openssl", "x509", "-in", cert, "-noout", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout


@pytest.fixture
def made(tmp_path: Path) -> Certificates:
    try:
        return make_certificates(tmp_path / "certs", client_name="root")
    except OpensslNotFoundError as exc:
        missing(str(exc))


def test_the_files_and_what_they_name(made: Certificates, tmp_path: Path) -> None:
    assert made.directory == str(tmp_path / "certs")
    names = ["ca.pem", "server.pem", "server.key", "client.pem", "client.key"]
    assert list(made[1:]) == [str(tmp_path / "certs" / name) for name in names]
    sans = openssl_text(made.server_cert, "-ext", "subjectAltName")
    assert "IP Address:127.0.0.1, DNS:localhost" in sans
    assert "CN = root" in openssl_text(made.client_cert, "-subject")
    for key in (made.server_key, made.client_key, str(tmp_path / "certs" / "ca.key")):
        assert Path(key).stat().st_mode & 0o077 == 0, key  # private keys: owner only


def handshake(made: Certificates, host: str) -> List[str]:
    """A TLS server with the server certificate, wanting a client one; a
    client that trusts the CA connects to `host` with the client certificate.
    Returns the client certificate's subject as the server saw it."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=made.ca)
    server_ctx.load_cert_chain(made.server_cert, made.server_key)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx = ssl.create_default_context(cafile=made.ca)
    client_ctx.load_cert_chain(made.client_cert, made.client_key)
    seen: List[str] = []

    def serve(conn: socket.socket) -> None:
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            subject = dict(pair[0] for pair in tls.getpeercert()["subject"])
            seen.append(subject["commonName"])
            tls.sendall(b"x")

    server = Acceptor(serve)
    try:
        address = server.listener.getsockname()[:2]
        with (
            socket.create_connection(address, timeout=10) as raw,
            client_ctx.wrap_socket(raw, server_hostname=host) as tls,
        ):
            assert tls.recv(1) == b"x"
    finally:
        server.close()
    return seen


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_mutual_tls_by_each_loopback_name(made: Certificates, host: str) -> None:
    assert handshake(made, host) == ["root"]


def test_other_hosts(tmp_path: Path) -> None:
    made = make_certificates(tmp_path, hosts=["::1", "etcd.test"])
    sans = openssl_text(made.server_cert, "-ext", "subjectAltName")
    assert "IP Address:0:0:0:0:0:0:0:1, DNS:etcd.test" in sans
    with pytest.raises(ValueError, match="at least one host"):
        make_certificates(tmp_path, hosts=[])


def test_reuse_keeps_a_good_set_only(
    made: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ca() -> bytes:
        return Path(made.ca).read_bytes()

    first = ca()
    assert make_certificates(made.directory, client_name="root", reuse=True) == made
    assert ca() == first  # kept
    make_certificates(made.directory, client_name="root")
    assert ca() != first  # without reuse: a new set
    second = ca()
    make_certificates(made.directory, client_name="someone", reuse=True)
    assert ca() != second  # made for another client: a new set
    third = ca()
    # About to expire (the margin is larger than its validity): a new set.
    monkeypatch.setattr(certs_module, "_REUSE_MARGIN", 40 * 24 * 3600)
    make_certificates(made.directory, client_name="someone", reuse=True)
    assert ca() != third
    fourth = ca()
    monkeypatch.undo()
    # A file of another set, or the CA in a leaf's place: it no longer
    # verifies, so a new set.
    other = make_certificates(Path(made.directory) / "other")
    Path(made.server_cert).write_bytes(Path(other.server_cert).read_bytes())
    make_certificates(made.directory, client_name="someone", reuse=True)
    assert ca() != fourth
    fifth = ca()
    Path(made.client_cert).write_bytes(Path(made.ca).read_bytes())
    make_certificates(made.directory, client_name="someone", reuse=True)
    assert ca() != fifth
    assert handshake(made, "localhost") == ["someone"]


def test_no_openssl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OpensslNotFoundError, match="the openssl command is needed"):
        make_certificates(tmp_path / "certs")
    assert not (tmp_path / "certs").exists()
