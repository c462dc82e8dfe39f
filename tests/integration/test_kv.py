"""The KV API against a real etcd, with etcdctl as the independent oracle.

Go test names are kept where they match (tests/integration/clientv3/kv_test.go).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Iterator

import pytest

import pyetcd_wire as etcd
from pyetcd_wire._core.grpc.connection import GrpcConnection
from pyetcd_wire.errors import (
    CompactedError,
    DeadlineExceededError,
    DuplicateKeyError,
    EmptyKeyError,
    FutureRevisionError,
    KeyNotFoundError,
    LeaseNotFoundError,
    NoLeaderError,
    NoSpaceError,
    RequestTooLargeError,
    ResourceExhaustedError,
    TooManyOpsError,
)
from pyetcd_wire.testing import EtcdCluster, EtcdMember
from tests.async_bridge import AnyClient
from tests.helpers import in_threads


@pytest.fixture(scope="module")
def member(etcd_versioned: EtcdMember) -> EtcdMember:
    """The server under test: etcd 3.5 and 3.4 in turn (conftest)."""
    return etcd_versioned


@pytest.fixture(scope="module")
def client(member: EtcdMember, client_class) -> Iterator[AnyClient]:
    """Each client in turn (conftest's `client_class`), shared by the module."""
    with client_class(member.endpoint, timeout=30) as c:
        yield c


@pytest.fixture
def prefix() -> bytes:
    return f"/kv-test/{uuid.uuid4().hex}/".encode()


def keys_of(response) -> list[bytes]:
    return [kv.key for kv in response.kvs]


def test_kv_put_get_round_trip_with_etcdctl(member, client, prefix):
    put = client.put(prefix + b"a", "värde")
    assert put.header.revision > 0
    shown = member.etcdctl("get", (prefix + b"a").decode(), "-w", "json")
    kv = json.loads(shown.stdout)["kvs"][0]
    assert kv["mod_revision"] == put.header.revision
    member.etcdctl("put", (prefix + b"b").decode(), "from etcdctl")
    got = client.get(prefix + b"b")
    assert got.kvs[0].value == b"from etcdctl"
    assert client.get(prefix + b"a").kvs[0].value == "värde".encode()


def test_kv_binary_keys_and_values(member, client, prefix):
    key = prefix + b"\x00\xff\x00"
    client.put(key, b"\xff\x00" * 8)
    assert client.get(key).kvs[0].value == b"\xff\x00" * 8
    hexed = member.etcdctl("get", "--prefix", prefix.decode(), "-w", "json")
    import base64

    assert base64.b64decode(json.loads(hexed.stdout)["kvs"][0]["key"]) == key


def test_kv_range_options(client, prefix):
    for i, name in enumerate([b"a", b"b", b"c", b"d"]):
        client.put(prefix + name, b"v%d" % (3 - i))
    assert keys_of(client.get(prefix, prefix=True)) == [
        prefix + b"a",
        prefix + b"b",
        prefix + b"c",
        prefix + b"d",
    ]
    assert keys_of(client.get(prefix + b"b", range_end=prefix + b"d")) == [
        prefix + b"b",
        prefix + b"c",
    ]
    assert len(client.get(prefix + b"c", from_key=True).kvs) >= 2
    limited = client.get(prefix, prefix=True, limit=2)
    assert len(limited.kvs) == 2
    assert limited.more
    assert limited.count == 4
    by_value = client.get(prefix, prefix=True, sort_target="value", sort_order="ascend")
    assert [kv.value for kv in by_value.kvs] == [b"v0", b"v1", b"v2", b"v3"]
    desc = client.get(prefix, prefix=True, sort_order="descend")
    assert keys_of(desc)[0] == prefix + b"d"
    assert client.get(prefix, prefix=True, count_only=True).count == 4
    assert len(client.get(prefix, prefix=True, count_only=True).kvs) == 0
    keys_only = client.get(prefix, prefix=True, keys_only=True)
    assert [kv.value for kv in keys_only.kvs] == [b""] * 4
    assert len(client.get(prefix, prefix=True, serializable=True).kvs) == 4


def test_kv_revision_filters_and_history(client, prefix):
    first = client.put(prefix + b"k", b"1").header.revision
    second = client.put(prefix + b"k", b"2").header.revision
    assert client.get(prefix + b"k", revision=first).kvs[0].value == b"1"
    assert client.get(prefix + b"k", revision=second).kvs[0].value == b"2"
    client.put(prefix + b"other", b"x")
    newer = client.get(prefix, prefix=True, min_mod_revision=second)
    assert keys_of(newer) == [prefix + b"k", prefix + b"other"]
    older = client.get(prefix, prefix=True, max_create_revision=first)
    assert keys_of(older) == [prefix + b"k"]
    with pytest.raises(FutureRevisionError):
        client.get(prefix + b"k", revision=second + 10**6)


def test_kv_put_with_prev_kv_lease_and_ignore(client, prefix):
    key = prefix + b"p"
    client.put(key, b"old")
    response = client.put(key, b"new", prev_kv=True)
    assert response.prev_kv.value == b"old"
    client.put(key, b"", ignore_value=True)
    assert client.get(key).kvs[0].value == b"new"
    with pytest.raises(KeyNotFoundError):
        client.put(prefix + b"missing", b"", ignore_value=True)
    with pytest.raises(LeaseNotFoundError):
        client.put(key, b"v", lease=0x7FFF_FFFF_0000_0001)


def test_kv_delete(member, client, prefix):
    for name in (b"a", b"b", b"c"):
        client.put(prefix + name, name)
    deleted = client.delete(prefix + b"a", prev_kv=True)
    assert deleted.deleted == 1
    assert deleted.prev_kvs[0].value == b"a"
    assert client.delete(prefix, prefix=True).deleted == 2
    assert member.etcdctl("get", "--prefix", prefix.decode()).stdout == ""


def test_kv_txn(client, prefix):
    key = prefix + b"t"
    client.put(key, b"1")
    ok = client.txn(
        compare=[etcd.Compare.value(key) == b"1", etcd.Compare.version(key) > 0],
        success=[etcd.Op.put(key, b"2"), etcd.Op.get(key)],
        failure=[etcd.Op.delete(key)],
    )
    assert ok.succeeded
    assert ok.responses[1].response_range.kvs[0].value == b"2"
    no = client.txn(
        compare=[etcd.Compare.value(key) == b"1"],
        success=[etcd.Op.delete(key)],
        failure=[etcd.Op.get(key)],
    )
    assert not no.succeeded
    assert no.responses[0].response_range.kvs[0].value == b"2"
    nested = client.txn(
        success=[
            etcd.Op.txn(
                [etcd.Compare.create_revision(prefix + b"nope") == 0],
                [etcd.Op.put(prefix + b"created", b"yes")],
                [],
            )
        ]
    )
    assert nested.responses[0].response_txn.succeeded
    in_range = client.txn(
        compare=[etcd.Compare.mod_revision(prefix, prefix=True) > 0],
        success=[etcd.Op.get(prefix, prefix=True, count_only=True)],
    )
    assert in_range.succeeded


def test_kv_txn_server_errors(client, prefix):
    with pytest.raises(DuplicateKeyError):
        client.txn(
            success=[etcd.Op.put(prefix + b"d", b"1"), etcd.Op.put(prefix + b"d", b"2")]
        )
    with pytest.raises(TooManyOpsError):
        client.txn(success=[etcd.Op.get(prefix + b"%d" % i) for i in range(129)])


def test_kv_compact(server_binary, prefix, client_class):
    with (
        EtcdMember("compact", binary=server_binary) as member,
        client_class(member.endpoint) as c,
    ):
        first = c.put(prefix + b"k", b"1").header.revision
        latest = c.put(prefix + b"k", b"2").header.revision
        c.compact(latest, physical=True)
        with pytest.raises(CompactedError) as info:
            c.get(prefix + b"k", revision=first)
        assert isinstance(info.value, etcd.RpcError)


def test_kv_empty_key_is_refused_without_a_round_trip(client):
    with pytest.raises(EmptyKeyError):
        client.put(b"", b"v")
    with pytest.raises(ValueError, match="prefix"):
        client.get(b"a", prefix=True, from_key=True)


def test_kv_large_values_and_limits(member, client, prefix):
    mib = b"m" * (1024 * 1024)
    client.put(prefix + b"mib", mib)
    assert client.get(prefix + b"mib").kvs[0].value == mib
    with pytest.raises(RequestTooLargeError):
        client.put(prefix + b"too-big", b"x" * (1536 * 1024 + 1))


def test_kv_64_mib_range_response(server_binary, prefix, client_class):
    args = ["--quota-backend-bytes", str(1 << 30)]
    with (
        EtcdMember("big", binary=server_binary, extra_args=args) as member,
        client_class(member.endpoint, timeout=120) as c,
    ):
        value = b"z" * (1024 * 1024)
        for i in range(64):
            c.put(prefix + b"%02d" % i, value)
        response = c.get(prefix, prefix=True)
        assert len(response.kvs) == 64
        assert sum(len(kv.value) for kv in response.kvs) == 64 * 1024 * 1024


def test_kv_eight_threads_share_one_client(client, prefix):
    def worker(n: int) -> None:
        for i in range(100):
            key = prefix + b"%d/%d" % (n, i)
            client.put(key, b"%d" % i)
            assert client.get(key).kvs[0].value == b"%d" % i

    assert in_threads(worker, 8) == []
    assert client.get(prefix, prefix=True, count_only=True).count == 800


def test_kv_frozen_server_honours_deadline(server_binary, prefix, client_class):
    with (
        EtcdMember("frozen-kv", binary=server_binary) as member,
        client_class(member.endpoint, timeout=0.5) as c,
    ):
        c.put(prefix + b"k", b"v")
        member.pause()
        try:
            # Only the call's deadline can end it while the member is frozen
            # (no upper bound on the time: a loaded machine wakes late).
            with pytest.raises(DeadlineExceededError):
                c.get(prefix + b"k")
        finally:
            member.resume()
        assert c.get(prefix + b"k", timeout=10).kvs[0].value == b"v"


def test_client_options_of_the_wrong_type_say_so(client_class):
    with pytest.raises(TypeError, match="tls="):
        client_class("127.0.0.1:2379", tls=object())
    with pytest.raises(ValueError, match="endpoint"):
        client_class("ftp://x:1")


def test_client_close_is_idempotent_and_final(member, client_class):
    c = client_class(member.endpoint)
    c.put(b"/kv-test/close", b"v")
    c.close()
    c.close()
    with pytest.raises(etcd.ClientClosedError, match="client is closed"):
        c.get(b"/kv-test/close")
    with client_class(member.endpoint) as again:
        assert again.endpoints == (member.endpoint,)


@pytest.mark.parametrize("timeout", [None, 30.0])
def test_a_message_over_the_send_limit_is_refused_once_and_not_retried(
    member, client_class, monkeypatch, timeout
):
    # Refused before anything is sent, as grpc does (RESOURCE_EXHAUSTED): the
    # same message would be refused again, so the call fails at its first
    # attempt (it was tried 100 times, for 2.5 s, whatever the deadline).
    checks = []
    check = GrpcConnection._check_send_size

    def counted(self, n):
        checks.append(n)
        check(self, n)

    monkeypatch.setattr(GrpcConnection, "_check_send_size", counted)
    value = b"x" * (3 * 1024 * 1024)
    with client_class(member.endpoint, timeout=timeout) as c:
        with pytest.raises(ResourceExhaustedError, match="larger than max") as info:
            c.put(b"/kv-test/huge", value)
        assert [n for n in checks if n > len(value)] == [checks[-1]]
        assert "max_send_message_size" in str(info.value)
        assert (info.value.retryable, info.value.outcome_known) == (False, True)
        with pytest.raises(ResourceExhaustedError):
            c.get(b"/kv-test/huge", range_end=value)  # a read, as well
        assert len([n for n in checks if n > len(value)]) == 2
        assert c.get(b"/kv-test/huge").count == 0  # and nothing was written


def test_every_call_on_a_closed_client_raises_client_closed(member, client_class):
    # Not the retryable ConnectionLostError(not_processed=True) it once was:
    # a retry loop on `retryable` (or on RetryableError) would spin for ever.
    c = client_class(member.endpoint)
    lease = c.grant(60)
    c.close()
    calls = {
        "get": lambda: c.get(b"/kv-test/closed"),
        "put": lambda: c.put(b"/kv-test/closed", b"v"),
        "txn": lambda: c.txn(success=[etcd.Op.put(b"/kv-test/closed", b"v")]),
        "grant": lambda: c.grant(5),
        "member_list": c.member_list,
        "watch": lambda: c.watch(b"/kv-test/closed"),
        "keep_alive": lambda: c.keep_alive(lease.ID),
        "request_progress": c.request_progress,
    }
    for name, call in calls.items():
        with pytest.raises(etcd.ClientClosedError) as info:
            call()
        error = info.value
        assert not isinstance(error, (etcd.TransportError, etcd.RetryableError)), name
        assert not error.retryable, name
        assert error.outcome_known, name
        assert "client is closed" in str(error), name


def fill_until_no_space(c: AnyClient, prefix: bytes) -> None:
    """Put 512 KiB values until etcd raises its NOSPACE alarm (or 15 s pass).
    The backend grows when its batch commits (every 100 ms), hence the pauses."""
    deadline = time.monotonic() + 15
    i = 0
    while time.monotonic() < deadline:
        c.put(prefix + b"%d" % i, b"q" * (512 * 1024))
        i += 1
        time.sleep(0.02)


def test_kv_no_space_when_the_quota_is_full(server_binary, prefix, client_class):
    args = ["--quota-backend-bytes", str(2 * 1024 * 1024)]
    with (
        EtcdMember("tiny", binary=server_binary, extra_args=args) as tiny,
        client_class(tiny.endpoint, timeout=30) as c,
    ):
        with pytest.raises(NoSpaceError):
            fill_until_no_space(c, prefix)
        alarms = tiny.etcdctl("alarm", "list").stdout
        assert "NOSPACE" in alarms


def test_kv_require_leader_refuses_without_quorum(etcd_binary, prefix, client_class):
    with EtcdCluster(3, binary=etcd_binary) as cluster:
        survivor = cluster.members[0]
        with (
            client_class(survivor.endpoint, require_leader=True, timeout=10) as strict,
            client_class(survivor.endpoint, timeout=10) as lenient,
        ):
            strict.put(prefix + b"k", b"v")
            for member in cluster.members[1:]:
                member.kill()
            deadline = time.monotonic() + 20
            # The survivor notices it lost the leader after an election timeout.
            # Serializable reads need no quorum: only the leader check fails them.
            while True:
                try:
                    strict.get(prefix + b"k", serializable=True)
                except NoLeaderError:
                    break
                assert time.monotonic() < deadline, "no NoLeaderError within 20 s"
                time.sleep(0.2)
            assert lenient.get(prefix + b"k", serializable=True).kvs[0].value == b"v"
