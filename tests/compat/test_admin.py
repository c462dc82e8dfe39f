"""The compat client's cluster and maintenance calls against a real etcd:
members, status, hash, snapshot, compact, defragment and alarms; and what
our client gives python-etcd3's code for free: failover between members,
tokens renewed, TLS with its files."""

from __future__ import annotations

import hashlib
import io
import sys
import types
from typing import Iterator

import pytest

import pyetcd_wire.compat.etcd3 as etcd3
from pyetcd_wire import errors as ours
from pyetcd_wire.compat.etcd3 import etcdrpc, exceptions
from pyetcd_wire.testing import EtcdCluster, EtcdMember, EtcdTLS
from tests.helpers import token_deleted, wait_for
from tests.tls_certs import make_certs

from .conftest import compat_client

TOKEN_TTL = 2  # seconds (--auth-token-ttl): the auth test outlives it


def test_members_is_a_generator_of_members(etcd, etcd_single) -> None:
    members = etcd.members
    assert isinstance(members, types.GeneratorType)
    [member] = list(members)
    assert isinstance(member, etcd3.Member)
    assert member.name == etcd_single.name
    assert list(member.client_urls) == [etcd_single.client_url]
    assert str(member).startswith(f"Member {member.id}: peer urls: ")


def test_status_names_the_leader(etcd) -> None:
    status = etcd.status()
    assert isinstance(status.leader, etcd3.Member)
    assert status.leader.id in [m.id for m in etcd.members]
    assert status.version.startswith("3.")
    assert status.db_size > 0
    assert status.raft_index > 0


def test_hash_and_defragment(etcd) -> None:
    assert isinstance(etcd.hash(), int)
    assert etcd.defragment() is None


def test_snapshot_writes_etcds_file(etcd) -> None:
    """What etcdctl snapshot save writes: the database, then its SHA-256."""
    buffer = io.BytesIO()
    etcd.snapshot(buffer)
    data = buffer.getvalue()
    assert hashlib.sha256(data[:-32]).digest() == data[-32:]


@pytest.fixture
def fake_grpc(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    grpc = types.ModuleType("grpc")
    grpc.RpcError = type("RpcError", (Exception,), {})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "grpc", grpc)
    return grpc


@pytest.fixture(scope="module")
def own(etcd_binary: str) -> Iterator[EtcdMember]:
    """A member of its own: a NOSPACE alarm makes it refuse writes, and a
    compaction drops the history other tests may watch."""
    with EtcdMember("compat-own", binary=etcd_binary) as member:
        yield member


def test_compacting_twice_raises_a_grpc_rpc_error(own, fake_grpc) -> None:
    """python-etcd3's own test_compact: the error it let through raw is ours
    and, grpc being loaded, grpc's too."""
    with compat_client(own, timeout=10) as etcd:
        revision = etcd.put("/compacted", "v").header.revision
        etcd.compact(revision)
        with pytest.raises(fake_grpc.RpcError) as info:
            etcd.compact(revision)
    assert isinstance(info.value, ours.CompactedError)


def test_alarms(own) -> None:
    with compat_client(own, timeout=10) as etcd:
        [member] = etcd.members
        [everyone] = etcd.create_alarm()
        assert (everyone.member_id, everyone.alarm_type) == (0, etcdrpc.NOSPACE)
        [one] = etcd.create_alarm(member_id=member.id)
        assert (one.member_id, one.alarm_type) == (member.id, etcdrpc.NOSPACE)
        listed = etcd.list_alarms()
        assert isinstance(listed, types.GeneratorType)
        assert sorted(a.member_id for a in listed) == [0, member.id]
        assert len(list(member.active_alarms)) == 2
        assert len(list(etcd.list_alarms(alarm_type="no space"))) == 2
        with pytest.raises(ValueError, match="Unknown alarm type"):
            etcd.list_alarms(alarm_type="corrupt")
        disarmed = etcd.disarm_alarm(member.id)
        assert [a.member_id for a in disarmed] == [member.id]
        etcd.disarm_alarm()
        assert list(etcd.list_alarms()) == []
        etcd.put("/after-the-alarms", "v")  # writes work again


def test_failover_moves_calls_to_a_member_that_answers(etcd_cluster3) -> None:
    """python-etcd3 failed the call and moved only the next one; our client
    retries the read on another member."""
    cluster: EtcdCluster = etcd_cluster3
    endpoints = [
        etcd3.Endpoint(*m.endpoint.rsplit(":", 1), secure=False)
        for m in cluster.members
    ]
    with etcd3.MultiEndpointEtcd3Client(endpoints, timeout=10, failover=True) as etcd:
        etcd.put("/failover", "v")
        first = cluster.members[0]
        first.stop()
        try:
            assert etcd.get("/failover")[0] == b"v"
            assert etcd.status().leader is not None
        finally:
            first.start()


@pytest.fixture(scope="module")
def secured(etcd_binary: str) -> Iterator[EtcdMember]:
    """Auth on (root:rootpw), tokens living TOKEN_TTL seconds."""
    args = ["--auth-token-ttl", str(TOKEN_TTL), "--log-level", "info"]
    with EtcdMember("compat-auth", binary=etcd_binary, extra_args=args) as member:
        member.etcdctl("user", "add", "root:rootpw")
        member.etcdctl("user", "grant-role", "root", "root")
        member.etcdctl("auth", "enable")
        yield member


def test_credentials_are_checked_when_the_client_is_made(secured) -> None:
    with pytest.raises(ours.AuthFailedError):
        compat_client(secured, user="root", password="wrong", timeout=10)


def test_an_expired_token_is_renewed(secured) -> None:
    """python-etcd3 kept its first token: every call failed once it expired."""
    with compat_client(secured, user="root", password="rootpw", timeout=10) as etcd:
        assert etcd.call_credentials is not None
        etcd.put("/k", "v")
        token = dict(etcd._client._md.calls)["token"]
        wait_for(lambda: token_deleted(secured, token), timeout=TOKEN_TTL + 30)
        assert etcd.get("/k")[0] == b"v"


def test_tls_with_python_etcd3s_arguments(etcd_binary, tmp_path) -> None:
    certs = make_certs(tmp_path)
    tls = EtcdTLS(
        cert_file=certs.server_cert,
        key_file=certs.server_key,
        ca_file=certs.ca,
        client_cert_auth=True,
    )
    with EtcdMember("compat-tls", binary=etcd_binary, tls=tls) as member:
        host, port = "127.0.0.1", member.client_port
        etcd = etcd3.client(
            host=host,
            port=port,
            ca_cert=certs.ca,
            cert_key=certs.client_key,
            cert_cert=certs.client_cert,
            timeout=10,
        )
        with etcd:
            etcd.put("/tls", "v")
            assert etcd.get("/tls")[0] == b"v"
        without_cert = etcd3.client(host=host, port=port, ca_cert=certs.ca)
        with without_cert, pytest.raises(exceptions.ConnectionFailedError):
            without_cert.get("/tls")
