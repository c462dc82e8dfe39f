"""Cluster, Maintenance and Auth management against a real etcd, with etcdctl
and etcdutl as the independent oracles.

Read-only calls run on etcd 3.5 and 3.4 (``etcd_versioned``).  Everything
that changes a cluster (membership, alarms, auth, snapshots compared byte for
byte) gets a fresh member of its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import time
import uuid
from typing import Any, Callable, Dict, Iterator, List, TypeVar

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.errors import (
    AuthFailedError,
    AuthNotEnabledError,
    FutureRevisionError,
    MemberLearnerNotReadyError,
    MemberNotFoundError,
    MemberNotLearnerError,
    NoSpaceError,
    PeerURLExistError,
    PermissionNotGrantedError,
    RoleAlreadyExistError,
    RoleNotFoundError,
    RoleNotGrantedError,
    ServerNotLeaderError,
    UserAlreadyExistError,
    UserNotFoundError,
)
from pyetcd_wire.testing import EtcdMember, find_etcd_binary

from ..async_bridge import AnyClient
from ..helpers import free_port

T = TypeVar("T")


def ctl_json(member: EtcdMember, *args: str) -> Any:
    """`etcdctl <args> -w json` against `member`, parsed."""
    return json.loads(member.etcdctl(*args, "-w", "json").stdout)


def etcdutl(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [find_etcd_binary("etcdutl"), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def until(fn: Callable[[], T], *, timeout: float = 10.0) -> T:
    """`fn()` once it stops raising (the last error after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def members_of(response: Any) -> List[Dict[str, Any]]:
    """Members as etcdctl's JSON shows them (omitting empty fields)."""
    shown = []
    for m in sorted(response.members, key=lambda m: m.ID):
        entry: Dict[str, Any] = {"ID": m.ID, "peerURLs": list(m.peerURLs)}
        if m.name:
            entry["name"] = m.name
        if m.clientURLs:
            entry["clientURLs"] = list(m.clientURLs)
        if m.isLearner:
            entry["isLearner"] = True
        shown.append(entry)
    return shown


def ctl_members(member: EtcdMember) -> List[Dict[str, Any]]:
    return sorted(ctl_json(member, "member", "list")["members"], key=lambda m: m["ID"])


@pytest.fixture
def fresh(etcd_binary: str) -> Iterator[EtcdMember]:
    """A member of this test's own, on etcd 3.5."""
    with EtcdMember(f"fresh-{uuid.uuid4().hex[:6]}", binary=etcd_binary) as member:
        yield member


@pytest.fixture
def fresh_client(fresh: EtcdMember, client_class) -> Iterator[AnyClient]:
    with client_class(fresh.endpoint, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def versioned_client(etcd_versioned: EtcdMember, client_class) -> Iterator[AnyClient]:
    with client_class(etcd_versioned.endpoint, timeout=10) as client:
        yield client


# --- read-only calls, etcd 3.5 and 3.4 ----------------------------------------------


def test_member_list_matches_etcdctl(etcd_versioned, versioned_client):
    listed = versioned_client.member_list()
    shown = ctl_json(etcd_versioned, "member", "list")
    assert members_of(listed) == sorted(shown["members"], key=lambda m: m["ID"])
    assert listed.header.cluster_id == shown["header"]["cluster_id"]
    assert [m.name for m in listed.members] == [etcd_versioned.name]
    serializable = versioned_client.member_list(linearizable=False)
    assert members_of(serializable) == members_of(listed)


def test_status_matches_etcdctl(etcd_versioned, versioned_client):
    [shown] = ctl_json(etcd_versioned, "endpoint", "status")
    status = versioned_client.status()
    assert status == versioned_client.status(etcd_versioned.endpoint)
    expected = shown["Status"]
    assert status.version == expected["version"]
    assert status.header.member_id == expected["header"]["member_id"]
    assert status.header.cluster_id == expected["header"]["cluster_id"]
    assert status.leader == expected["leader"] == status.header.member_id
    assert status.raftTerm == expected["raftTerm"]
    assert status.dbSize == expected["dbSize"]
    major, minor, _ = etcd_versioned.version
    assert status.version.startswith(f"{major}.{minor}.")


def test_hash_kv_matches_etcdctl(etcd_versioned, versioned_client):
    key = f"/admin-test/{uuid.uuid4().hex}"
    first = versioned_client.put(key, "one").header.revision
    versioned_client.put(key, "two")
    endpoint = etcd_versioned.endpoint
    [shown] = ctl_json(etcd_versioned, "endpoint", "hashkv")
    ours = versioned_client.hash_kv(endpoint)
    assert ours.hash == shown["HashKV"]["hash"]
    assert ours.compact_revision == shown["HashKV"]["compact_revision"]
    [at_first] = ctl_json(etcd_versioned, "endpoint", "hashkv", f"--rev={first}")
    assert versioned_client.hash_kv(endpoint, first).hash == at_first["HashKV"]["hash"]
    assert at_first["HashKV"]["hash"] != shown["HashKV"]["hash"]
    with pytest.raises(FutureRevisionError):
        versioned_client.hash_kv(endpoint, ours.header.revision + 1000)


def test_status_of_an_unreachable_endpoint(versioned_client):
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(etcd.errors.TransportError):
        versioned_client.status(dead, timeout=2)
    assert versioned_client.status().version  # the client still works


# --- snapshot and defragment ------------------------------------------------------


def _fill(client: AnyClient, prefix: str, count: int, size: int) -> int:
    revision = 0
    for i in range(count):
        revision = client.put(f"{prefix}{i:04}", os.urandom(size)).header.revision
    return revision


def test_snapshot_save_is_what_etcdctl_saves(fresh, fresh_client, tmp_path):
    revision = _fill(fresh_client, "/snap/", 40, 2000)  # several 32 KiB chunks
    ours = tmp_path / "ours.db"
    assert fresh_client.snapshot_save(ours) is ours
    fresh.etcdctl("snapshot", "save", str(tmp_path / "etcdctl.db"))
    data = ours.read_bytes()
    assert data == (tmp_path / "etcdctl.db").read_bytes()
    assert hashlib.sha256(data[:-32]).digest() == data[-32:]
    assert len(data) % 512 == 32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etcdctl.db", "ours.db"]
    status = json.loads(etcdutl("snapshot", "status", str(ours), "-w", "json").stdout)
    assert status["revision"] == revision
    assert status["totalSize"] == len(data) - 32
    # restore checks the SHA-256 trailer ("snapshot file integrity check failed")
    etcdutl("snapshot", "restore", str(ours), "--data-dir", str(tmp_path / "restored"))


def test_snapshot_chunks_end_with_the_checksum(fresh_client):
    _fill(fresh_client, "/chunks/", 40, 2000)
    chunks = list(fresh_client.snapshot())
    assert len(chunks) > 3
    assert all(0 < len(chunk) <= 32 * 1024 for chunk in chunks)
    data = b"".join(chunks[:-1])
    assert chunks[-1] == hashlib.sha256(data).digest()
    assert fresh_client.status().dbSize == len(data)


def test_snapshot_closed_early_cancels_the_stream(fresh_client):
    _fill(fresh_client, "/early/", 40, 2000)
    chunks = fresh_client.snapshot()
    assert len(next(chunks)) == 32 * 1024
    chunks.close()
    assert fresh_client.put("/early/after", "v").header.revision > 0
    whole = b"".join(fresh_client.snapshot(timeout=10))
    assert hashlib.sha256(whole[:-32]).digest() == whole[-32:]


def test_defragment_shrinks_the_database(fresh, fresh_client):
    revision = _fill(fresh_client, "/defrag/", 150, 4000)
    fresh_client.delete("/defrag/", prefix=True)
    fresh_client.compact(revision + 1, physical=True)
    before = fresh_client.status()
    fresh_client.defragment(fresh.endpoint)  # etcd 3.5 answers without a header
    after = fresh_client.status()
    [shown] = ctl_json(fresh, "endpoint", "status")
    assert after.dbSize == shown["Status"]["dbSize"]
    assert after.dbSize < before.dbSize / 2
    assert after.dbSizeInUse <= after.dbSize


# --- alarms -----------------------------------------------------------------------


def test_alarm_list_and_disarm(etcd_binary, client_class):
    quota = ("--quota-backend-bytes", "40000")  # an empty backend is ~28 KiB
    member = EtcdMember("alarmed", binary=etcd_binary, extra_args=quota)
    with member, client_class(member.endpoint, timeout=10) as client:
        me = client.status().header.member_id

        def fill_up() -> None:
            with pytest.raises(NoSpaceError):
                client.put("big", b"x" * 20000)

        def ctl_alarms() -> List[Any]:
            return ctl_json(member, "alarm", "list").get("alarms", [])

        assert list(client.alarm_list().alarms) == []
        fill_up()
        listed = client.alarm_list()
        assert [(a.memberID, a.alarm) for a in listed.alarms] == [(me, 1)]
        assert ctl_alarms() == [{"memberID": me, "alarm": 1}]
        # member 0, "nospace" (the defaults): every member's NOSPACE alarm
        disarmed = client.alarm_disarm()
        assert [(a.memberID, a.alarm) for a in disarmed.alarms] == [(me, 1)]
        assert disarmed.header.member_id == me
        assert ctl_alarms() == []
        fill_up()
        nothing = client.alarm_disarm(alarm="CORRUPT")
        assert list(nothing.alarms) == []
        assert len(ctl_alarms()) == 1
        assert len(client.alarm_disarm(me, "NoSpace").alarms) == 1  # exact pair
        assert ctl_alarms() == []
        fill_up()
        assert len(client.alarm_disarm(alarm="none").alarms) == 1  # Go's case
        assert ctl_alarms() == []
        fill_up()
        assert len(client.alarm_disarm(me, "none").alarms) == 1
        assert ctl_alarms() == []
        with pytest.raises(ValueError, match="alarm must be one of"):
            client.alarm_disarm(alarm="full")


# --- membership -------------------------------------------------------------------


def test_member_add_promote_update_move_leader_remove(etcd_binary, client_class):
    # Without the strict check, a voter may be added while the leader's link
    # to b is younger than etcd's 5 s HealthInterval (else: UnhealthyError).
    lax = ("--strict-reconfig-check=false",)
    a = EtcdMember("a", binary=etcd_binary, extra_args=lax)
    with a, client_class(a.endpoint, timeout=10) as client:
        a_id = client.status().header.member_id
        b_ports = free_port(), free_port()
        b_peer = f"http://127.0.0.1:{b_ports[1]}"
        added = client.member_add([b_peer], learner=True)
        b_id = added.member.ID
        assert added.member.isLearner
        assert list(added.member.peerURLs) == [b_peer]
        assert members_of(added) == ctl_members(a)
        b = EtcdMember(
            "b",
            binary=etcd_binary,
            client_port=b_ports[0],
            peer_port=b_ports[1],
            initial_cluster={"a": a.peer_url, "b": b_peer},
            cluster_token=a.cluster_token,
            extra_args=("--initial-cluster-state", "existing"),
        )
        with b:
            # exactly the endpoint given: b answers, as a learner
            b_status = client.status(b.endpoint)
            assert (b_status.header.member_id, b_status.isLearner) == (b_id, True)
            assert members_of(client.member_list()) == ctl_members(a)

            def promote() -> Any:
                try:
                    return client.member_promote(b_id)
                except MemberLearnerNotReadyError:
                    raise AssertionError("learner not in sync yet") from None

            promoted = until(promote)
            assert members_of(promoted) == ctl_members(a)
            assert not any(m.isLearner for m in promoted.members)
            with pytest.raises(MemberNotLearnerError):
                client.member_promote(b_id)

            extra = f"http://127.0.0.1:{free_port()}"
            client.member_update(b_id, [b_peer, extra])
            [b_shown] = [m for m in ctl_members(a) if m["ID"] == b_id]
            assert sorted(b_shown["peerURLs"]) == sorted([b_peer, extra])
            client.member_update(b_id, b_peer)
            assert members_of(client.member_list()) == ctl_members(a)

            assert client.hash_kv(a.endpoint).hash == client.hash_kv(b.endpoint).hash

            client.move_leader(b_id)
            for member in (a, b):
                [shown] = ctl_json(member, "endpoint", "status")
                assert shown["Status"]["leader"] == b_id
            assert client.status().leader == b_id
            with pytest.raises(ServerNotLeaderError):
                client.move_leader(a_id)  # a is a follower now
            with client_class(b.endpoint, timeout=10) as on_b:
                on_b.move_leader(a_id)
            assert client.status().leader == a_id

            # a voter that never starts: 3 voters, 2 started, still a quorum
            c_peer = f"http://127.0.0.1:{free_port()}"
            c_id = client.member_add(c_peer).member.ID
            [c_shown] = [m for m in ctl_members(a) if m["ID"] == c_id]
            assert c_shown == {"ID": c_id, "peerURLs": [c_peer]}
            with pytest.raises(PeerURLExistError):  # (another list: another ID)
                client.member_add([c_peer, f"http://127.0.0.1:{free_port()}"])
            client.member_remove(c_id)
            removed = client.member_remove(b_id)
            assert [m.ID for m in removed.members] == [a_id]
            assert [m["ID"] for m in ctl_members(a)] == [a_id]
            with pytest.raises(MemberNotFoundError):
                client.member_remove(b_id)


def test_member_add_checks_urls_before_sending(fresh, fresh_client):
    before = ctl_members(fresh)
    with pytest.raises(ValueError, match=re.escape("'http://127.0.0.1:2380/'")):
        fresh_client.member_add(["http://127.0.0.1:2380/"])
    with pytest.raises(ValueError, match=re.escape("'127.0.0.1:2380'")):
        fresh_client.member_update(before[0]["ID"], ["127.0.0.1:2380"])
    assert ctl_members(fresh) == before
    with pytest.raises(MemberNotFoundError):
        fresh_client.member_update(12345, ["http://127.0.0.1:1234"])


# --- auth -------------------------------------------------------------------------


def _perms(response: Any) -> List[Dict[str, Any]]:
    """Permissions as etcdctl's JSON shows them (bytes in base64, READ=0
    omitted)."""
    shown = []
    for p in response.perm:
        entry: Dict[str, Any] = {}
        if p.permType:
            entry["permType"] = p.permType
        if p.key:
            entry["key"] = base64.b64encode(p.key).decode()
        if p.range_end:
            entry["range_end"] = base64.b64encode(p.range_end).decode()
        shown.append(entry)
    return shown


def test_users_and_roles(fresh, fresh_client):
    client = fresh_client
    client.user_add("alice", "alice-pw")
    client.user_add("cert-only", no_password=True)
    client.role_add("reader")
    client.role_add("writer")
    with pytest.raises(UserAlreadyExistError):
        client.user_add("alice", "again")
    with pytest.raises(RoleAlreadyExistError):
        client.role_add("reader")
    assert list(client.user_list().users) == ctl_json(fresh, "user", "list")["users"]
    assert list(client.user_list().users) == ["alice", "cert-only"]
    assert list(client.role_list().roles) == ctl_json(fresh, "role", "list")["roles"]

    client.role_grant_permission("reader", "/app/", perm="READ", prefix=True)
    client.role_grant_permission("reader", "k1", perm="readwrite")
    client.role_grant_permission("reader", b"a", b"c", perm="Write")
    client.role_grant_permission("reader", "z", "\0", perm="read")  # from key
    client.role_grant_permission("writer", "", perm="write", prefix=True)  # all
    reader = client.role_get("reader")
    assert _perms(reader) == ctl_json(fresh, "role", "get", "reader")["perm"]
    assert sorted((p.key, p.range_end, p.permType) for p in reader.perm) == [
        (b"/app/", b"/app0", 0),
        (b"a", b"c", 1),
        (b"k1", b"", 2),
        (b"z", b"\0", 0),
    ]
    writer = client.role_get("writer")
    assert _perms(writer) == ctl_json(fresh, "role", "get", "writer")["perm"]
    assert [(p.key, p.range_end) for p in writer.perm] == [(b"\0", b"\0")]

    client.role_revoke_permission("reader", "/app/", prefix=True)
    client.role_revoke_permission("reader", "z", "\0")
    with pytest.raises(PermissionNotGrantedError):
        client.role_revoke_permission("reader", "k2")
    assert (
        _perms(client.role_get("reader"))
        == (ctl_json(fresh, "role", "get", "reader")["perm"])
    )
    assert len(client.role_get("reader").perm) == 2

    client.user_grant_role("alice", "reader")
    client.user_grant_role("alice", "writer")
    assert list(client.user_get("alice").roles) == ["reader", "writer"]
    assert ctl_json(fresh, "user", "get", "alice")["roles"] == ["reader", "writer"]
    client.user_revoke_role("alice", "writer")
    with pytest.raises(RoleNotGrantedError):
        client.user_revoke_role("alice", "writer")
    assert ctl_json(fresh, "user", "get", "alice")["roles"] == ["reader"]

    client.role_delete("writer")
    client.user_delete("cert-only")
    assert ctl_json(fresh, "role", "list")["roles"] == ["reader"]
    assert ctl_json(fresh, "user", "list")["users"] == ["alice"]
    with pytest.raises(UserNotFoundError):
        client.user_get("cert-only")
    with pytest.raises(UserNotFoundError):
        client.user_grant_role("nobody", "reader")
    with pytest.raises(RoleNotFoundError):
        client.role_get("writer")
    with pytest.raises(RoleNotFoundError):
        client.user_grant_role("alice", "writer")


def test_auth_enable_status_authenticate(fresh, fresh_client):
    client = fresh_client
    status = client.auth_status()
    assert not status.enabled
    shown = ctl_json(fresh, "auth", "status")
    assert status.authRevision == shown["authRevision"]
    assert "enabled" not in shown  # false: left out of etcdctl's JSON
    with pytest.raises(AuthNotEnabledError):
        client.authenticate("root", "root-pw")

    client.user_add("root", "root-pw")
    client.role_add("root")
    client.user_grant_role("root", "root")
    client.user_add("alice", "old-pw")
    client.user_add("cert-only", no_password=True)
    client.role_add("app")
    client.role_grant_permission("app", "/app/", perm="readwrite", prefix=True)
    client.user_grant_role("alice", "app")
    client.user_change_password("alice", "new-pw")
    revision = client.auth_status().authRevision
    assert revision > status.authRevision

    client.auth_enable()
    root = ("--user", "root:root-pw")
    enabled = ctl_json(fresh, *root, "auth", "status")
    assert enabled["authRevision"] >= revision
    assert enabled["enabled"] is True

    token = client.authenticate("alice", "new-pw")
    assert token.token
    assert token.header.member_id == enabled["header"]["member_id"]
    with pytest.raises(AuthFailedError):
        client.authenticate("alice", "old-pw")
    with pytest.raises(etcd.errors.UnknownError, match="no password user"):
        client.authenticate("cert-only", "")
    assert client.authenticate("root", "root-pw").token != token.token
    # the changed password works through etcdctl too, within alice's role
    fresh.etcdctl("--user", "alice:new-pw", "put", "/app/x", "1")
    denied = fresh.etcdctl("--user", "alice:new-pw", "put", "/other", "1", check=False)
    assert denied.returncode != 0
    assert "permission denied" in denied.stderr
    fresh.etcdctl(*root, "auth", "disable")
    assert client.auth_status().enabled is False
