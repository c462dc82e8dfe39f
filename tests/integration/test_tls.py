"""TLS against a real etcd: https endpoints, mutual TLS, the clientv3 endpoint
forms, and the errors a misconfiguration gives; etcdctl (with --cacert,
--cert, --key) is the independent oracle."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import uuid
from pathlib import Path
from typing import Iterator, List, Type

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.errors import ConnectionFailedError, EtcdError, TLSError
from pyetcd_wire.testing import EtcdMember, EtcdTLS
from tests.async_bridge import ClientClass
from tests.helpers import Acceptor
from tests.tls_certs import Certs, make_certs

# Failures must come fast: no endpoint will ever succeed.
FAIL_FAST = {"dial_timeout": 1.0, "timeout": 1.5}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def _member(name: str, binary: str, certs: Certs, client_auth: bool) -> EtcdMember:
    tls = EtcdTLS(
        cert_file=certs.server_cert,
        key_file=certs.server_key,
        ca_file=certs.ca,
        client_cert_auth=client_auth,
    )
    return EtcdMember(name, binary=binary, tls=tls)


@pytest.fixture(scope="module")
def tls_member(etcd_binary: str, certs: Certs) -> Iterator[EtcdMember]:
    """Serves clients over TLS; any client may connect."""
    with _member("tls", etcd_binary, certs, client_auth=False) as member:
        yield member


@pytest.fixture(scope="module")
def mtls_member(etcd_binary: str, certs: Certs) -> Iterator[EtcdMember]:
    """Serves clients over TLS and wants their certificates (--client-cert-auth)."""
    with _member("mtls", etcd_binary, certs, client_auth=True) as member:
        yield member


def _key() -> str:
    return f"/pyetcd-wire-tls/{uuid.uuid4()}"


def _client_tls(certs: Certs) -> etcd.TLS:
    return etcd.TLS(
        ca_file=certs.ca, cert_file=certs.client_cert, key_file=certs.client_key
    )


def _call_error(
    client_class: ClientClass,
    endpoint: str,
    tls: object = None,
    error: Type[EtcdError] = ConnectionFailedError,
) -> str:
    """The message of the error a first call gets from a client that cannot
    connect (fast: `FAIL_FAST`)."""
    client = client_class(endpoint, tls=tls, **FAIL_FAST)
    with contextlib.closing(client), pytest.raises(error) as info:
        client.get(_key())
    return str(info.value)


class Dials:
    """A TCP forwarder to `target` ("host:port") that counts the connections
    made to it: how many times a client dialed."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit("/", 1)[-1].rsplit(":", 1)
        self._target = (host, int(port))
        self._acceptor = Acceptor(self._forward)
        self.address = self._acceptor.address

    @property
    def count(self) -> int:
        return self._acceptor.count

    def _forward(self, conn: socket.socket) -> None:
        with socket.create_connection(self._target) as upstream:
            self._acceptor.track(upstream)
            back = threading.Thread(target=self._pipe, args=(upstream, conn))
            back.start()
            self._pipe(conn, upstream)
            back.join()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._acceptor.close()


@pytest.fixture
def dials() -> Iterator[object]:
    """``dials(target) -> Dials``, closed after the test."""
    made: List[Dials] = []

    def start(target: str) -> Dials:
        made.append(Dials(target))
        return made[-1]

    yield start
    for forwarder in made:
        forwarder.close()


def _first_error(
    client_class: ClientClass, endpoints: object, tls: object = None
) -> EtcdError:
    """The error of a first call, without a deadline: one that is not
    retried comes at once; one that is would take 100 attempts."""
    client = client_class(endpoints, tls=tls, timeout=None, dial_timeout=30.0)
    with contextlib.closing(client), pytest.raises(EtcdError) as info:
        client.get(_key())
    return info.value


def _etcdctl_value(member: EtcdMember, key: str) -> str:
    done = member.etcdctl("get", key, "--print-value-only")
    return done.stdout.strip()


# --- the test kit ---------------------------------------------------------------


def test_tls_member_speaks_https(tls_member: EtcdMember, certs: Certs) -> None:
    assert tls_member.client_url == f"https://127.0.0.1:{tls_member.client_port}"
    assert tls_member.endpoint == tls_member.client_url
    assert "--cert-file" in tls_member.command()
    assert "--client-cert-auth" not in tls_member.command()
    key = _key()
    assert tls_member.etcdctl("put", key, "v").stdout.strip() == "OK"
    assert _etcdctl_value(tls_member, key) == "v"


# --- working setups ----------------------------------------------------------------


def test_https_endpoint_with_a_ca_file(
    tls_member: EtcdMember, certs: Certs, client_class: ClientClass
) -> None:
    key = _key()
    with client_class(tls_member.endpoint, tls=etcd.TLS(ca_file=certs.ca)) as client:
        client.put(key, "over tls")
        assert client.get(key).kvs[0].value == b"over tls"
    assert _etcdctl_value(tls_member, key) == "over tls"


def test_bare_endpoint_uses_tls_when_configured(
    tls_member: EtcdMember, certs: Certs, client_class: ClientClass
) -> None:
    bare = f"127.0.0.1:{tls_member.client_port}"
    with client_class(bare, tls=etcd.TLS(ca_file=certs.ca)) as client:
        assert client.get(_key()).count == 0


def test_host_name_is_checked(
    tls_member: EtcdMember, certs: Certs, client_class: ClientClass
) -> None:
    by_name = f"https://localhost:{tls_member.client_port}"
    with client_class(by_name, tls=etcd.TLS(ca_file=certs.ca)) as client:
        assert client.get(_key()).count == 0
    wrong = etcd.TLS(ca_file=certs.ca, server_name="etcd.example.com")
    text = _call_error(client_class, tls_member.endpoint, wrong, TLSError)
    assert tls_member.endpoint in text
    assert "certificate verify failed" in text
    assert "etcd.example.com" in text


def test_mutual_tls_put_get_watch(
    mtls_member: EtcdMember, certs: Certs, client_class: ClientClass
) -> None:
    key = _key()
    with client_class(mtls_member.endpoint, tls=_client_tls(certs)) as client:
        client.put(key, "mutual")
        assert _etcdctl_value(mtls_member, key) == "mutual"
        # Watches are read by the stream worker, which polls the socket.
        with client.watch(key) as watch:
            mtls_member.etcdctl("put", key, "from etcdctl")
            event = next(iter(watch)).events[0]
        assert event.kv.value == b"from etcdctl"
        lease = client.grant(30)
        client.put(key, "leased", lease=lease.ID)
        assert client.time_to_live(lease.ID).TTL > 0


def test_ssl_context_given_directly(
    mtls_member: EtcdMember, certs: Certs, client_class: ClientClass
) -> None:
    context = ssl.create_default_context(cafile=certs.ca)
    context.load_cert_chain(certs.client_cert, certs.client_key)
    context.set_alpn_protocols(["h2"])
    key = _key()
    with client_class(mtls_member.endpoint, tls=context) as client:
        client.put(key, "context")
    assert _etcdctl_value(mtls_member, key) == "context"


def test_http_endpoint_never_uses_tls(
    etcd_single: EtcdMember, certs: Certs, client_class: ClientClass
) -> None:
    plain = f"http://{etcd_single.endpoint}"
    with client_class(plain, tls=etcd.TLS(ca_file=certs.ca)) as client:
        key = _key()
        client.put(key, "plain")
    assert _etcdctl_value(etcd_single, key) == "plain"


# --- misconfigurations -------------------------------------------------------------


def test_wrong_ca_names_endpoint_and_reason(
    tls_member: EtcdMember, certs: Certs, client_class: ClientClass
) -> None:
    text = _call_error(
        client_class, tls_member.endpoint, etcd.TLS(ca_file=certs.other_ca), TLSError
    )
    assert tls_member.endpoint in text
    assert "certificate verify failed: unable to get local issuer certificate" in text


def test_a_tls_failure_is_logged_as_a_failed_dial(
    tls_member: EtcdMember,
    certs: Certs,
    client_class: ClientClass,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """docs/logging.md: a dial that fails for TLS is a WARNING with its reason."""
    caplog.set_level(logging.WARNING, logger="pyetcd_wire")
    tls = etcd.TLS(ca_file=certs.other_ca)
    _call_error(client_class, tls_member.endpoint, tls, TLSError)
    said = [
        r.getMessage()
        for r in caplog.records
        if r.name == "pyetcd_wire.connection" and r.levelno == logging.WARNING
    ]
    assert said
    assert said[0].startswith(f"could not connect to {tls_member.endpoint}: TLS")
    assert "certificate verify failed" in said[0]


def test_https_without_tls_settings_trusts_only_the_system(
    tls_member: EtcdMember, client_class: ClientClass
) -> None:
    text = _call_error(client_class, tls_member.endpoint, error=TLSError)
    assert "certificate verify failed" in text


def test_missing_client_certificate(
    mtls_member: EtcdMember, certs: Certs, client_class: ClientClass
) -> None:
    # etcd 3.5 negotiates TLS 1.2, so the handshake fails (ConnectionFailedError);
    # over TLS 1.3 the refusal would come on the first read.
    text = _call_error(
        client_class, mtls_member.endpoint, etcd.TLS(ca_file=certs.ca), EtcdError
    )
    assert mtls_member.endpoint in text
    assert "client certificate" in text  # ... required / rejected


def test_context_without_h2_is_refused_clearly(
    tls_member: EtcdMember, certs: Certs, client_class: ClientClass
) -> None:
    context = ssl.create_default_context(cafile=certs.ca)  # no ALPN
    text = _call_error(client_class, tls_member.endpoint, context, TLSError)
    assert "did not select ALPN protocol 'h2'" in text


def test_tls_to_a_plaintext_member(
    etcd_single: EtcdMember, certs: Certs, client_class: ClientClass
) -> None:
    https = f"https://{etcd_single.endpoint}"
    text = _call_error(client_class, https, etcd.TLS(ca_file=certs.ca))
    assert "closed the connection during the TLS handshake" in text


def test_a_certificate_that_fails_verification_fails_the_call_at_once(
    tls_member: EtcdMember, certs: Certs, client_class: ClientClass, dials
) -> None:
    # Once retried for the whole deadline, or ~3 s (100 attempts) without one.
    forwarder = dials(tls_member.endpoint)
    error = _first_error(
        client_class,
        f"https://{forwarder.address}",
        etcd.TLS(ca_file=certs.other_ca),
    )
    assert isinstance(error, TLSError)
    assert "certificate verify failed: unable to get local issuer" in str(error)
    assert forwarder.address in str(error)
    assert (error.retryable, error.outcome_known) == (False, True)
    assert not isinstance(error, etcd.RetryableError)
    assert forwarder.count == 1


def test_a_plaintext_client_of_a_tls_member_is_told_it_expects_tls(
    tls_member: EtcdMember, client_class: ClientClass, dials
) -> None:
    # Once "the server closed the connection", after 2.5 s of retries; then
    # a TLSError at once, whatever closed it (a proxy with its member down
    # too); now a TLS handshake on a second connection tells.
    forwarder = dials(tls_member.endpoint)
    error = _first_error(client_class, f"http://{forwarder.address}")
    assert isinstance(error, TLSError)
    assert "the server expects TLS (use an https:// endpoint, or tls=)" in str(error)
    assert error.failures[0][0] == f"http://{forwarder.address}"
    assert not error.retryable
    assert forwarder.count == 2  # the call's dial, and the TLS handshake's


def test_tls_failing_with_every_endpoint_names_them_all(
    tls_member: EtcdMember, client_class: ClientClass, dials
) -> None:
    one, two = dials(tls_member.endpoint), dials(tls_member.endpoint)
    endpoints = [f"http://{one.address}", f"http://{two.address}"]
    error = _first_error(client_class, endpoints)
    assert isinstance(error, TLSError)
    assert sorted(ep for ep, _ in error.failures) == sorted(endpoints)
    # Each tried once (and asked for a TLS handshake once), none again.
    assert (one.count, two.count) == (2, 2)


def test_tls_failing_with_one_endpoint_moves_on_to_the_others(
    tls_member: EtcdMember, etcd_single: EtcdMember, client_class: ClientClass, dials
) -> None:
    # The TLS-only member is a misconfigured endpoint among good ones: as
    # Go's balancer, the call goes to an endpoint that works.
    forwarder = dials(tls_member.endpoint)
    endpoints = [f"http://{forwarder.address}", etcd_single.endpoint]
    with client_class(endpoints, timeout=None, dial_timeout=30.0) as client:
        for _ in range(4):  # the round robin meets the bad one
            assert client.get(_key()).count == 0
    assert forwarder.count >= 1


@pytest.mark.parametrize("field", ["ca_file", "cert_file", "key_file"])
def test_missing_file_is_named_at_creation(
    tls_member: EtcdMember,
    certs: Certs,
    tmp_path: Path,
    field: str,
    client_class: ClientClass,
) -> None:
    files = {
        "ca_file": certs.ca,
        "cert_file": certs.client_cert,
        "key_file": certs.client_key,
    }
    files[field] = str(tmp_path / "nowhere.pem")
    with pytest.raises(ValueError, match=f"{field} '{files[field]}'.*No such file"):
        client_class(tls_member.endpoint, tls=etcd.TLS(**files))


def test_bad_file_is_named_at_creation(
    tls_member: EtcdMember, tmp_path: Path, client_class: ClientClass
) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text(
        "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    )
    with pytest.raises(ValueError, match=f"ca_file '{bad}' holds no usable CA"):
        client_class(tls_member.endpoint, tls=etcd.TLS(ca_file=bad))


def test_wrong_tls_type_is_refused(
    tls_member: EtcdMember, certs: Certs, client_class: ClientClass
) -> None:
    with pytest.raises(TypeError, match="tls= must be"):
        client_class(tls_member.endpoint, tls=certs.ca)
