"""Throwaway certificates for the TLS tests: the test kit's
(`pyetcd_wire.testing.make_certificates`, made with the openssl command),
plus an unrelated CA to make verification fail."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from pyetcd_wire.testing import OpensslNotFoundError, make_certificates
from tests.missing import missing

# The server certificate names every way the tests reach a server.
SERVER_NAMES = ("127.0.0.1", "localhost", "pyetcd.sock")
# Short-lived: nothing outlives a test run.
DAYS = 2


class Certs(NamedTuple):
    """PEM files: a CA, a server and a client certificate it signed, and an
    unrelated CA (to make verification fail)."""

    ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    other_ca: str


def make_certs(directory: Path) -> Certs:
    """Write a fresh set into `directory`.  Without openssl the test is
    skipped (failed under --etcd-required or in CI: tests/missing.py)."""
    try:
        made = make_certificates(directory, hosts=SERVER_NAMES, days=DAYS)
        other = make_certificates(directory / "other", hosts=SERVER_NAMES, days=DAYS)
    except OpensslNotFoundError as exc:
        missing(str(exc))
    return Certs(*made[1:], other_ca=other.ca)  # the same fields, in order
