"""Throwaway TLS certificates for a local etcd, made with the openssl command.

`make_certificates` writes a CA, a server certificate it signed for the
loopback names (``127.0.0.1`` and ``localhost`` by default) and a client
certificate for mutual TLS, as PEM files in one directory; ``pyetcd dev
--tls`` serves with them and the project's TLS tests use them.

Why the openssl command and not the ``cryptography`` package (as ``trustme``
does): ``cryptography`` does not build on PyPy 3.9, one of our targets, and
the command is on every Linux and macOS machine and CI image. EC P-256 keys
keep a whole set under ~0.2 s.

The directory also holds the CA's key (``ca.key``, to sign more) and the
``openssl.cnf`` the set was made from, which says what a set in a kept
directory was made for: ``reuse=True`` keeps a set only if that file is the
one it would write and both certificates still verify, for their purpose,
against the CA a day from now.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import NamedTuple, Sequence, Union

__all__ = ["Certificates", "OpensslNotFoundError", "make_certificates"]

# The names a server certificate holds by default: how a local client reaches it.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
# Validity in days: long enough for a kept development directory.
DEFAULT_DAYS = 30
# A kept set is remade when it would expire within this many seconds.
_REUSE_MARGIN = 24 * 3600

_CONFIG = """\
# Made by pyetcd_wire.testing.make_certificates; a different file means a new set.
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
# clientAuth too: the test kit presents the server's certificate as its own
# client certificate (health probes, etcdctl) to a member wanting one.
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
# client CN = {client_name}, valid for {days} days
"""


class OpensslNotFoundError(RuntimeError):
    """The ``openssl`` command is not on PATH. Expected: install OpenSSL."""


class Certificates(NamedTuple):
    """The PEM files of one set, by absolute path.

    Attributes:
        directory: where they are.
        ca: the CA certificate (``ca.pem``): what clients trust
            (``etcd.TLS(ca_file=)``, ``--cacert``) and, for mutual TLS, what
            etcd checks client certificates against (``--trusted-ca-file``).
        server_cert, server_key: etcd's (``server.pem``, ``server.key``;
            ``--cert-file``, ``--key-file``).
        client_cert, client_key: a client's, for mutual TLS (``client.pem``,
            ``client.key``; ``etcd.TLS(cert_file=, key_file=)``, ``--cert``,
            ``--key``). etcd with ``--client-cert-auth`` and auth on takes
            its Common Name as the user name.
    """

    directory: str
    ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str


def make_certificates(
    directory: Union[str, os.PathLike[str]],
    *,
    hosts: Sequence[str] = LOOPBACK_HOSTS,
    client_name: str = "pyetcd-wire-client",
    days: int = DEFAULT_DAYS,
    reuse: bool = False,
) -> Certificates:
    """Write a new CA, server and client certificate into ``directory``.

    Args:
        directory: created if missing; files of an earlier set are replaced.
        hosts: the server certificate's names (subjectAltName): IP addresses
            and DNS names.
        client_name: the client certificate's Common Name.
        days: how long the certificates are valid.
        reuse: keep the set already in ``directory`` if it was made with the
            same arguments and is valid for at least another day.

    Returns:
        The paths of the files.

    Raises:
        OpensslNotFoundError: no ``openssl`` command.
        subprocess.CalledProcessError: openssl failed (its stderr attached).
        ValueError: no hosts.
    """
    if not hosts:
        raise ValueError("a server certificate needs at least one host name")
    if shutil.which("openssl") is None:
        raise OpensslNotFoundError(
            "the openssl command is needed to make TLS certificates; "
            "install OpenSSL (e.g. apt-get install openssl)"
        )
    path = Path(directory).absolute()
    certs = Certificates(
        str(path),
        *(str(path / name) for name in ("ca.pem", "server.pem", "server.key")),
        *(str(path / name) for name in ("client.pem", "client.key")),
    )
    config = _CONFIG.format(
        names=",".join(map(_subject_alt_name, hosts)),
        client_name=client_name,
        days=days,
    )
    if reuse and _still_good(path, config, certs):
        return certs
    path.mkdir(parents=True, exist_ok=True)
    (path / "openssl.cnf").write_text(config)
    _new_ca(path, days)
    _new_leaf(path, "server", "pyetcd-wire server", days)
    _new_leaf(path, "client", client_name, days)
    for csr in ("server.csr", "client.csr"):
        (path / csr).unlink()
    return certs


def _subject_alt_name(host: str) -> str:
    try:
        return f"IP:{ipaddress.ip_address(host)}"
    except ValueError:
        return f"DNS:{host}"


def _still_good(path: Path, config: str, certs: Certificates) -> bool:
    """The set in ``path`` was made from ``config`` and verifies a day from now."""
    try:
        if (path / "openssl.cnf").read_text() != config:
            return False
    except OSError:
        return False
    if not all(os.path.isfile(name) for name in certs[1:]):
        return False
    at = str(int(time.time()) + _REUSE_MARGIN)
    check = ["verify", "-CAfile", certs.ca, "-attime", at]
    try:
        _openssl(*check, "-purpose", "sslserver", certs.server_cert, cwd=path)
        _openssl(*check, "-purpose", "sslclient", certs.client_cert, cwd=path)
    except subprocess.CalledProcessError:
        return False
    return True


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30
    )


def _new_key_args(name: str) -> list[str]:
    return [
        *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"),
        *("-keyout", f"{name}.key"),
    ]


def _new_ca(directory: Path, days: int) -> None:
    # A CA name of its own: a client that trusts two sets can tell them apart.
    _openssl(
        *("req", "-x509", "-new", "-config", "openssl.cnf", "-extensions", "ca"),
        *_new_key_args("ca"),
        *("-out", "ca.pem", "-days", str(days)),
        *("-subj", f"/CN=pyetcd-wire CA {os.urandom(4).hex()}"),
        cwd=directory,
    )


def _new_leaf(directory: Path, name: str, common_name: str, days: int) -> None:
    _openssl(
        *("req", "-new", "-config", "openssl.cnf", *_new_key_args(name)),
        *("-out", f"{name}.csr", "-subj", f"/CN={common_name}"),
        cwd=directory,
    )
    _openssl(
        *("x509", "-req", "-in", f"{name}.csr", "-days", str(days)),
        *("-CA", "ca.pem", "-CAkey", "ca.key"),
        *("-set_serial", f"0x{os.urandom(8).hex()}"),
        *("-extfile", "openssl.cnf", "-extensions", name, "-out", f"{name}.pem"),
        cwd=directory,
    )
