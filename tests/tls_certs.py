"""Throwaway certificates for the TLS tests, made with the openssl command line.

`trustme` would be the usual choice, but its `cryptography` dependency does
not build on PyPy 3.9, one of our targets; `openssl` is on every CI image.
EC P-256 keys keep a whole set under ~0.2 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

# The server certificate names every way the tests reach a server.
SERVER_NAMES = "IP:127.0.0.1,DNS:localhost,DNS:pyetcd.sock"

_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = {names}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


class Certs(NamedTuple):
    """PEM files: a CA, a server and a client certificate it signed, and an
    unrelated CA (to make verification fail)."""

    ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    other_ca: str


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30
    )


def _new_ca(directory: Path, name: str) -> None:
    _openssl(
        *("req", "-x509", "-new", "-config", "openssl.cnf", "-extensions", "ca"),
        *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"),
        *("-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2"),
        *("-subj", f"/CN=pyetcd-wire test {name}"),
        cwd=directory,
    )


def _new_leaf(directory: Path, name: str, ca: str, cn: str) -> None:
    _openssl(
        *("req", "-new", "-config", "openssl.cnf"),
        *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"),
        *("-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}"),
        cwd=directory,
    )
    _openssl(
        *("x509", "-req", "-in", f"{name}.csr", "-days", "2"),
        *("-CA", f"{ca}.pem", "-CAkey", f"{ca}.key"),
        *("-set_serial", f"0x{os.urandom(8).hex()}"),
        *("-extfile", "openssl.cnf", "-extensions", name, "-out", f"{name}.pem"),
        cwd=directory,
    )


def make_certs(directory: Path) -> Certs:
    """Write a fresh set into `directory`.  Without openssl the test is
    skipped, except in CI (CI=true), where it fails."""
    if shutil.which("openssl") is None:
        why = "the openssl command line is needed to make test certificates"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{why} (CI must run every TLS test)")
        pytest.skip(why)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "openssl.cnf").write_text(_CONFIG.format(names=SERVER_NAMES))
    _new_ca(directory, "ca")
    _new_ca(directory, "other_ca")
    _new_leaf(directory, "server", "ca", "pyetcd-wire test server")
    _new_leaf(directory, "client", "ca", "pyetcd-wire-client")
    path = lambda name: str(directory / name)  # noqa: E731
    return Certs(
        ca=path("ca.pem"),
        server_cert=path("server.pem"),
        server_key=path("server.key"),
        client_cert=path("client.pem"),
        client_key=path("client.key"),
        other_ca=path("other_ca.pem"),
    )
