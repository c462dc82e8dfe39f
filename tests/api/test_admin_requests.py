"""Cluster, Maintenance and Auth request builders (no server): every argument
onto its protobuf field, every check, the alarm-disarm expansion and the
snapshot checksum; then the `AdminCalls` facades over fake call hooks."""

from __future__ import annotations

import enum
import hashlib
import os
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple, Type

import pytest
from google.protobuf.message import Message

from pyetcd_wire._api import auth, cluster, maintenance
from pyetcd_wire._api.methods import (
    AUTH_ROLE_GRANT_PERMISSION,
    AUTH_USER_ADD,
    MAINTENANCE_ALARM,
    MAINTENANCE_DEFRAGMENT,
    MAINTENANCE_HASH_KV,
    MAINTENANCE_SNAPSHOT,
    MAINTENANCE_STATUS,
    Method,
)
from pyetcd_wire._proto import auth_pb2, rpc_pb2
from pyetcd_wire._sync.admin import AdminCalls
from pyetcd_wire._sync.snapshot import SnapshotCalls
from pyetcd_wire.errors import (
    EmptyKeyError,
    RemoteProtocolError,
    RoleEmptyError,
    UserEmptyError,
)

UINT64_MAX = 2**64 - 1
READ, WRITE, READWRITE = (
    auth_pb2.Permission.READ,
    auth_pb2.Permission.WRITE,
    auth_pb2.Permission.READWRITE,
)
GET, DEACTIVATE = rpc_pb2.AlarmRequest.GET, rpc_pb2.AlarmRequest.DEACTIVATE
NONE, NOSPACE, CORRUPT = rpc_pb2.NONE, rpc_pb2.NOSPACE, rpc_pb2.CORRUPT


class _Id(enum.IntEnum):
    SEVEN = 7


# --- cluster ----------------------------------------------------------------------


def test_member_list_linearizable_by_default() -> None:
    request = cluster.member_list_request()
    assert request == rpc_pb2.MemberListRequest(linearizable=True)
    assert request.SerializeToString() == b"\x08\x01"  # field 1 sent, as Go does
    serializable = cluster.member_list_request(linearizable=False)
    assert serializable.SerializeToString() == b""


def test_member_add_fields() -> None:
    urls = ["http://10.0.0.4:2380", "https://[::1]:2381"]
    request = cluster.member_add_request(urls)
    assert request == rpc_pb2.MemberAddRequest(peerURLs=urls, isLearner=False)
    learner = cluster.member_add_request(("http://h:1",), learner=True)
    assert learner == rpc_pb2.MemberAddRequest(peerURLs=["http://h:1"], isLearner=True)
    assert learner.SerializeToString() == b"\x0a\x0ahttp://h:1\x10\x01"


def test_member_add_one_str_is_one_url() -> None:
    request = cluster.member_add_request("http://127.0.0.1:2380")
    assert list(request.peerURLs) == ["http://127.0.0.1:2380"]


def test_peer_urls_sent_as_given() -> None:
    # Go validates a trimmed copy and sends the caller's strings.
    request = cluster.member_add_request([" http://a:1 ", "HTTP://b:2"])
    assert list(request.peerURLs) == [" http://a:1 ", "HTTP://b:2"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:2380",
        "https://etcd-1.example.com:2380",
        "http://[fe80::1]:2380",
        "http://user@host:2380",
        "http://host:2380?query",
        "http://host:2380#fragment",
        "unix://var/run/etcd.sock",
        "unixs:relative.sock",
    ],
)
def test_peer_url_accepted(url: str) -> None:
    assert cluster.peer_urls_list([url]) == [url]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("127.0.0.1:2380", "scheme must be http, https, unix or unixs"),
        ("ftp://h:1", "scheme must be http, https, unix or unixs"),
        ("", "scheme must be"),
        ("http:h:1", "expected http://host:port"),
        ("http://h:1/", "must not contain a path"),
        ("http://h:1/peers", "must not contain a path"),
        ("http://h", 'does not have the form "host:port"'),
        ("http://fe80::1:2380", 'does not have the form "host:port"'),
        ("http://[fe80::1]", 'does not have the form "host:port"'),
        ("http://:2380", "the host is empty"),
        ("http://h:", "port '' is not in 1-65535"),
        ("http://h:0", "port '0' is not in 1-65535"),
        ("http://h:65536", "port '65536' is not in 1-65535"),
        ("http://h:x", "port 'x' is not in 1-65535"),
    ],
)
def test_peer_url_refused_naming_it(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as info:
        cluster.member_add_request(["http://good:1", url])
    assert repr(url) in str(info.value)


def test_peer_urls_refused_in_update_too() -> None:
    with pytest.raises(ValueError, match="'http://h:1/'"):
        cluster.member_update_request(5, ["http://h:1/"])


def test_peer_urls_empty() -> None:
    with pytest.raises(ValueError, match="at least one peer URL"):
        cluster.member_add_request([])


@pytest.mark.parametrize("urls", [None, b"http://h:1", 5, {"http://h:1": 1}])
def test_peer_urls_type(urls: Any) -> None:
    with pytest.raises(TypeError, match="peer_urls must be a str or a sequence"):
        cluster.member_add_request(urls)


def test_peer_url_item_type() -> None:
    with pytest.raises(TypeError, match="a peer URL must be a str, not bytes"):
        cluster.member_add_request([b"http://h:1"])  # type: ignore[list-item]


def test_member_remove_update_promote_fields() -> None:
    assert cluster.member_remove_request(UINT64_MAX) == rpc_pb2.MemberRemoveRequest(
        ID=UINT64_MAX
    )
    assert cluster.member_promote_request(_Id.SEVEN) == rpc_pb2.MemberPromoteRequest(
        ID=7
    )
    update = cluster.member_update_request(9, "http://h:2")
    assert update == rpc_pb2.MemberUpdateRequest(ID=9, peerURLs=["http://h:2"])
    assert cluster.member_remove_request(0x2A).SerializeToString() == b"\x08\x2a"


BY_MEMBER_ID = [
    cluster.member_remove_request,
    cluster.member_promote_request,
    lambda ident: cluster.member_update_request(ident, ["http://h:1"]),
]


@pytest.mark.parametrize("build", BY_MEMBER_ID)
def test_member_id_zero_refused(build: Any) -> None:
    with pytest.raises(ValueError, match="member_id must be > 0"):
        build(0)


@pytest.mark.parametrize("build", BY_MEMBER_ID)
@pytest.mark.parametrize("ident", [-1, 2**64])
def test_member_id_beyond_uint64(build: Any, ident: int) -> None:
    with pytest.raises(ValueError, match=f"member_id must fit in uint64, got {ident}"):
        build(ident)


@pytest.mark.parametrize("build", BY_MEMBER_ID)
@pytest.mark.parametrize("ident", [True, 1.0, None, b"\x01"])
def test_member_id_type(build: Any, ident: Any) -> None:
    with pytest.raises(TypeError, match="member_id must be an int, not"):
        build(ident)


def test_member_id_hex_str_hint() -> None:
    with pytest.raises(TypeError, match=r"use int\('8e9e05c52164694d', 16\)"):
        cluster.member_remove_request("8e9e05c52164694d")  # type: ignore[arg-type]


# --- maintenance ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("none", NONE),
        ("NONE", NONE),
        ("nospace", NOSPACE),
        ("NoSpace", NOSPACE),
        ("CORRUPT", CORRUPT),
        (0, NONE),
        (1, NOSPACE),
        (2, CORRUPT),
    ],
)
def test_alarm_type(name: Any, expected: int) -> None:
    assert maintenance.alarm_type_enum(name) == expected


@pytest.mark.parametrize("name", ["space", "no space", "", 3, -1, True, None])
def test_alarm_type_refused(name: Any) -> None:
    with pytest.raises(ValueError, match="alarm must be one of 'none', 'nospace'"):
        maintenance.alarm_disarm_request(0, name)


def test_alarm_list_request() -> None:
    request = maintenance.alarm_list_request()
    assert request == rpc_pb2.AlarmRequest(action=GET, memberID=0, alarm=NONE)
    assert request.SerializeToString() == b""


def test_alarm_disarm_request() -> None:
    request = maintenance.alarm_disarm_request(0x1234, "corrupt")
    assert request == rpc_pb2.AlarmRequest(
        action=DEACTIVATE, memberID=0x1234, alarm=CORRUPT
    )
    assert not maintenance.is_wildcard(request)
    default = maintenance.alarm_disarm_request()
    assert (default.memberID, default.alarm) == (0, NOSPACE)
    assert maintenance.is_wildcard(default)
    assert maintenance.is_wildcard(maintenance.alarm_disarm_request(5, "none"))


@pytest.mark.parametrize(("ident", "error"), [(-1, ValueError), (True, TypeError)])
def test_alarm_disarm_member_id(ident: Any, error: Type[Exception]) -> None:
    with pytest.raises(error, match="member_id"):
        maintenance.alarm_disarm_request(ident)


def _alarms(*pairs: Tuple[int, int], revision: int = 0) -> rpc_pb2.AlarmResponse:
    response = rpc_pb2.AlarmResponse()
    response.header.revision = revision
    for member, alarm in pairs:
        response.alarms.add(memberID=member, alarm=alarm)
    return response


LISTED = _alarms((1, NOSPACE), (2, NOSPACE), (2, CORRUPT), (3, CORRUPT))


@pytest.mark.parametrize(
    ("member", "alarm", "expected"),
    [
        (0, "none", [(1, NOSPACE), (2, NOSPACE), (2, CORRUPT), (3, CORRUPT)]),
        (0, "nospace", [(1, NOSPACE), (2, NOSPACE)]),
        (0, "corrupt", [(2, CORRUPT), (3, CORRUPT)]),
        (2, "none", [(2, NOSPACE), (2, CORRUPT)]),
        (4, "none", []),
    ],
)
def test_disarm_requests_expand_wildcards(
    member: int, alarm: str, expected: List[Tuple[int, int]]
) -> None:
    request = maintenance.alarm_disarm_request(member, alarm)
    expanded = maintenance.disarm_requests(request, LISTED)
    assert [(r.memberID, r.alarm) for r in expanded] == expected
    assert all(r.action == DEACTIVATE for r in expanded)
    assert not any(maintenance.is_wildcard(r) for r in expanded)


def test_join_alarm_responses() -> None:
    joined = maintenance.join_alarm_responses(
        _alarms(revision=5),
        [_alarms((1, NOSPACE), revision=6), _alarms((2, CORRUPT), revision=7)],
    )
    assert joined == _alarms((1, NOSPACE), (2, CORRUPT), revision=7)
    nothing = maintenance.join_alarm_responses(_alarms(revision=5), [])
    assert nothing == _alarms(revision=5)


def test_status_defragment_snapshot_requests_are_empty() -> None:
    assert maintenance.status_request() == rpc_pb2.StatusRequest()
    assert maintenance.defragment_request() == rpc_pb2.DefragmentRequest()
    assert maintenance.snapshot_request() == rpc_pb2.SnapshotRequest()


def test_hash_kv_request() -> None:
    assert maintenance.hash_kv_request() == rpc_pb2.HashKVRequest(revision=0)
    assert maintenance.hash_kv_request(42).SerializeToString() == b"\x08\x2a"
    with pytest.raises(ValueError, match="revision must be >= 0"):
        maintenance.hash_kv_request(-1)
    with pytest.raises(TypeError, match="revision must be an int"):
        maintenance.hash_kv_request("1")  # type: ignore[arg-type]


def test_move_leader_request() -> None:
    request = maintenance.move_leader_request(UINT64_MAX)
    assert request == rpc_pb2.MoveLeaderRequest(targetID=UINT64_MAX)
    with pytest.raises(ValueError, match="target_id must be > 0"):
        maintenance.move_leader_request(0)
    with pytest.raises(TypeError, match="target_id must be an int"):
        maintenance.move_leader_request(False)


# --- snapshot checksum ------------------------------------------------------------


def _snapshot_messages(data: bytes, chunk: int = 7, trailer: Optional[bytes] = None):
    """The raw SnapshotResponse messages etcd sends for `data`."""
    messages = []
    for start in range(0, len(data), chunk):
        blob = data[start : start + chunk]
        remaining = len(data) - start - len(blob)
        messages.append(rpc_pb2.SnapshotResponse(remaining_bytes=remaining, blob=blob))
    checksum = hashlib.sha256(data).digest() if trailer is None else trailer
    messages.append(rpc_pb2.SnapshotResponse(blob=checksum))
    return [m.SerializeToString() for m in messages]


DATA = bytes(range(256)) * 3


def test_snapshot_blobs_pass_data_and_checksum() -> None:
    blobs = list(maintenance.snapshot_blobs(iter(_snapshot_messages(DATA))))
    assert b"".join(blobs) == DATA + hashlib.sha256(DATA).digest()
    assert blobs[-1] == hashlib.sha256(DATA).digest()
    assert [len(b) for b in blobs[:-1]] == [7] * (len(DATA) // 7) + [len(DATA) % 7]


def test_snapshot_blobs_skip_empty_messages() -> None:
    messages = _snapshot_messages(DATA, chunk=100)
    empty = rpc_pb2.SnapshotResponse().SerializeToString()
    messages = [empty, *messages[:2], empty, *messages[2:], empty]
    assert b"".join(maintenance.snapshot_blobs(messages)) == (
        DATA + hashlib.sha256(DATA).digest()
    )


def test_snapshot_blobs_yield_one_message_behind() -> None:
    seen: List[int] = []

    def source() -> Iterator[bytes]:
        for index, raw in enumerate(_snapshot_messages(DATA, chunk=300)):
            seen.append(index)
            yield raw

    blobs = maintenance.snapshot_blobs(source())
    assert next(blobs) == DATA[:300]
    assert seen == [0, 1]


def test_snapshot_checksum_mismatch() -> None:
    digest = hashlib.sha256(DATA).digest()
    wrong = bytes([digest[0] ^ 1]) + digest[1:]
    blobs: List[bytes] = []
    with pytest.raises(RemoteProtocolError, match="SHA-256 checksum mismatch"):
        blobs.extend(maintenance.snapshot_blobs(_snapshot_messages(DATA, 100, wrong)))
    assert b"".join(blobs) == DATA  # the bad checksum itself is never passed on


def test_snapshot_corrupt_data() -> None:
    messages = _snapshot_messages(DATA, chunk=100)
    messages[1] = rpc_pb2.SnapshotResponse(blob=b"x" * 100).SerializeToString()
    with pytest.raises(RemoteProtocolError, match="mismatch over 768 bytes"):
        list(maintenance.snapshot_blobs(messages))


def test_snapshot_without_checksum() -> None:
    truncated = _snapshot_messages(DATA, chunk=100)[:-1]
    with pytest.raises(
        RemoteProtocolError,
        match=r"ended without its SHA-256 checksum \(a last blob of 68 bytes after"
        r" 700 bytes\)",
    ):
        list(maintenance.snapshot_blobs(truncated))


def test_snapshot_empty_stream() -> None:
    with pytest.raises(RemoteProtocolError, match=r"checksum \(no data after 0"):
        list(maintenance.snapshot_blobs([]))


def test_snapshot_undecodable_message() -> None:
    with pytest.raises(RemoteProtocolError, match="snapshot: undecodable message"):
        list(maintenance.snapshot_blobs([b"\xff\xff\xff"]))


def test_snapshot_close_closes_the_stream() -> None:
    closed: List[bool] = []

    def source() -> Iterator[bytes]:
        try:
            yield from _snapshot_messages(DATA, chunk=100)
        finally:
            closed.append(True)

    blobs = maintenance.snapshot_blobs(source())
    next(blobs)
    assert closed == []
    blobs.close()
    assert closed == [True]


# --- auth -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("perm", "expected"),
    [
        ("read", READ),
        ("READ", READ),
        ("Write", WRITE),
        ("readwrite", READWRITE),
        ("READWRITE", READWRITE),
        (0, READ),
        (2, READWRITE),
    ],
)
def test_permission_type(perm: Any, expected: int) -> None:
    assert auth.permission_type_enum(perm) == expected
    request = auth.role_grant_permission_request("r", "k", perm=perm)
    assert request.perm.permType == expected


@pytest.mark.parametrize("perm", ["rw", "read-write", "", 3, None, True])
def test_permission_type_refused(perm: Any) -> None:
    with pytest.raises(ValueError, match="perm must be one of 'read', 'write'"):
        auth.role_grant_permission_request("r", "k", perm=perm)


def test_perm_is_required() -> None:
    with pytest.raises(TypeError, match="perm"):
        auth.role_grant_permission_request("r", "k")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("key", "range_end", "prefix", "expected_key", "expected_end"),
    [
        ("k", None, False, b"k", b""),
        (b"\xffk", None, False, b"\xffk", b""),
        ("a", "c", False, b"a", b"c"),
        ("a", "\0", False, b"a", b"\x00"),
        ("foo/", None, True, b"foo/", b"foo0"),
        (b"a\xff", None, True, b"a\xff", b"b"),
        ("", None, True, b"\x00", b"\x00"),  # etcdctl: the whole keyspace
        (bytearray(b"x"), None, True, b"x", b"y"),
    ],
)
def test_permission_ranges(
    key: Any, range_end: Any, prefix: bool, expected_key: bytes, expected_end: bytes
) -> None:
    grant = auth.role_grant_permission_request(
        "role", key, range_end, perm="readwrite", prefix=prefix
    )
    assert grant == rpc_pb2.AuthRoleGrantPermissionRequest(
        name="role",
        perm=auth_pb2.Permission(
            permType=READWRITE, key=expected_key, range_end=expected_end
        ),
    )
    revoke = auth.role_revoke_permission_request("role", key, range_end, prefix=prefix)
    assert revoke == rpc_pb2.AuthRoleRevokePermissionRequest(
        role="role", key=expected_key, range_end=expected_end
    )


@pytest.mark.parametrize("build", ["grant", "revoke"])
def test_permission_range_errors(build: str) -> None:
    def call(*args: Any, **kwargs: Any) -> Message:
        if build == "grant":
            return auth.role_grant_permission_request(*args, perm="read", **kwargs)
        return auth.role_revoke_permission_request(*args, **kwargs)

    with pytest.raises(EmptyKeyError):
        call("r", "")
    with pytest.raises(ValueError, match="range_end= and prefix=True cannot be"):
        call("r", "a", "b", prefix=True)
    with pytest.raises(TypeError, match="key must be str or bytes"):
        call("r", 5)
    with pytest.raises(TypeError, match="role must be a str, not bytes"):
        call(b"r", "a")


@pytest.mark.parametrize("range_end", ["a", "A", "\x01"])
def test_grant_refuses_an_empty_range(range_end: str) -> None:
    with pytest.raises(ValueError, match="must sort after key b'a'"):
        auth.role_grant_permission_request("r", "a", range_end, perm="read")
    # Revoking one must stay possible: etcd 3.5.1 stored such grants.
    revoke = auth.role_revoke_permission_request("r", "a", range_end)
    assert revoke.range_end == range_end.encode()


def test_user_add_with_password() -> None:
    request = auth.user_add_request("alice", "secret")
    assert request == rpc_pb2.AuthUserAddRequest(
        name="alice",
        password="secret",
        options=auth_pb2.UserAddOptions(no_password=False),
    )
    # options is present (empty) even without no_password, as Go sends it.
    assert request.HasField("options")
    assert request.SerializeToString() == b"\x0a\x05alice\x12\x06secret\x1a\x00"


def test_user_add_without_password() -> None:
    request = auth.user_add_request("bob", no_password=True)
    assert request.password == ""
    assert request.options.no_password is True
    assert request.SerializeToString() == b"\x0a\x03bob\x1a\x02\x08\x01"


def test_user_add_password_choice() -> None:
    with pytest.raises(ValueError, match="give the new user a password"):
        auth.user_add_request("alice")
    with pytest.raises(ValueError, match="leave password out"):
        auth.user_add_request("alice", "pw", no_password=True)
    with pytest.raises(TypeError, match="password must be a str, not bytes"):
        auth.user_add_request("alice", b"pw")  # type: ignore[arg-type]


def test_empty_names_refused_as_etcd_would() -> None:
    with pytest.raises(UserEmptyError) as user_info:
        auth.user_add_request("", "pw")
    assert user_info.value.code.name == "INVALID_ARGUMENT"
    with pytest.raises(RoleEmptyError, match="role name must not be empty"):
        auth.role_add_request("")


def test_user_and_role_requests() -> None:
    assert auth.authenticate_request("u", "p") == rpc_pb2.AuthenticateRequest(
        name="u", password="p"
    )
    assert auth.user_delete_request("u") == rpc_pb2.AuthUserDeleteRequest(name="u")
    assert auth.user_get_request("u") == rpc_pb2.AuthUserGetRequest(name="u")
    assert auth.user_change_password_request(
        "u", "p2"
    ) == rpc_pb2.AuthUserChangePasswordRequest(name="u", password="p2")
    grant = auth.user_grant_role_request("u", "r")
    assert grant == rpc_pb2.AuthUserGrantRoleRequest(user="u", role="r")
    revoke = auth.user_revoke_role_request("u", "r")
    assert revoke == rpc_pb2.AuthUserRevokeRoleRequest(name="u", role="r")
    assert auth.role_add_request("r") == rpc_pb2.AuthRoleAddRequest(name="r")
    assert auth.role_delete_request("r") == rpc_pb2.AuthRoleDeleteRequest(role="r")
    assert auth.role_get_request("r") == rpc_pb2.AuthRoleGetRequest(role="r")
    for empty in (
        auth.auth_enable_request(),
        auth.auth_disable_request(),
        auth.auth_status_request(),
        auth.user_list_request(),
        auth.role_list_request(),
    ):
        assert empty.SerializeToString() == b""


@pytest.mark.parametrize(
    "build",
    [
        lambda v: auth.authenticate_request(v, "p"),
        lambda v: auth.authenticate_request("u", v),
        auth.user_delete_request,
        auth.user_get_request,
        lambda v: auth.user_change_password_request("u", v),
        lambda v: auth.user_grant_role_request(v, "r"),
        lambda v: auth.user_revoke_role_request("u", v),
        auth.role_add_request,
        auth.role_delete_request,
        auth.role_get_request,
    ],
)
@pytest.mark.parametrize("value", [None, b"x", 1])
def test_names_must_be_str(build: Any, value: Any) -> None:
    with pytest.raises(TypeError, match="must be a str, not"):
        build(value)


# --- AdminCalls over fake hooks ------------------------------------------------------


class FakeClient(AdminCalls, SnapshotCalls):
    """The hooks of `Client`, answering from scripted responses."""

    def __init__(self, answers: Optional[List[Message]] = None) -> None:
        self.answers = list(answers or [])
        self.calls: List[Tuple[Optional[str], Method, Message, Optional[float]]] = []
        self.stream: List[bytes] = []

    @property
    def endpoints(self) -> Tuple[str, ...]:
        return ("10.0.0.1:2379", "10.0.0.2:2379")

    def _answer(
        self,
        endpoint: Optional[str],
        method: Method,
        request: Message,
        response_type: Type[Any],
        timeout: Optional[float],
    ) -> Any:
        self.calls.append((endpoint, method, request, timeout))
        answer = self.answers.pop(0) if self.answers else response_type()
        assert type(answer) is response_type
        return answer

    def _call(self, method: Any, request: Any, response_type: Any, timeout: Any) -> Any:
        return self._answer(None, method, request, response_type, timeout)

    def _call_endpoint(
        self, endpoint: Any, method: Any, request: Any, response_type: Any, timeout: Any
    ) -> Any:
        return self._answer(endpoint, method, request, response_type, timeout)

    def _server_stream(self, method: Any, request: Any, timeout: Any) -> Any:
        self.calls.append((None, method, request, timeout))
        return iter(self.stream)


def test_per_endpoint_calls_use_exactly_that_endpoint() -> None:
    fake = FakeClient()
    fake.status()
    fake.status("10.0.0.9:2379", timeout=3.0)
    fake.defragment("10.0.0.2:2379")
    fake.hash_kv("10.0.0.3:2379", 7)
    assert [(e, m, t) for e, m, _, t in fake.calls] == [
        ("10.0.0.1:2379", MAINTENANCE_STATUS, None),
        ("10.0.0.9:2379", MAINTENANCE_STATUS, 3.0),
        ("10.0.0.2:2379", MAINTENANCE_DEFRAGMENT, None),
        ("10.0.0.3:2379", MAINTENANCE_HASH_KV, None),
    ]
    assert fake.calls[3][2] == rpc_pb2.HashKVRequest(revision=7)


def test_alarm_disarm_exact_pair_is_one_call() -> None:
    fake = FakeClient([_alarms((5, CORRUPT), revision=3)])
    answer = fake.alarm_disarm(5, "CORRUPT", timeout=2.0)
    assert answer == _alarms((5, CORRUPT), revision=3)
    [(_, method, request, timeout)] = fake.calls
    assert (method, timeout) == (MAINTENANCE_ALARM, 2.0)
    assert request == rpc_pb2.AlarmRequest(action=DEACTIVATE, memberID=5, alarm=CORRUPT)


def test_alarm_disarm_wildcard_lists_then_disarms_each() -> None:
    fake = FakeClient(
        [LISTED, _alarms((1, NOSPACE), revision=8), _alarms((2, NOSPACE), revision=9)]
    )
    answer = fake.alarm_disarm()  # member 0, "nospace": every NOSPACE alarm
    assert answer == _alarms((1, NOSPACE), (2, NOSPACE), revision=9)
    requests = [request for _, _, request, _ in fake.calls]
    assert requests == [
        maintenance.alarm_list_request(),
        rpc_pb2.AlarmRequest(action=DEACTIVATE, memberID=1, alarm=NOSPACE),
        rpc_pb2.AlarmRequest(action=DEACTIVATE, memberID=2, alarm=NOSPACE),
    ]


def test_alarm_disarm_bad_name_sends_nothing() -> None:
    fake = FakeClient()
    with pytest.raises(ValueError, match="alarm must be one of"):
        fake.alarm_disarm(alarm="full")
    assert fake.calls == []


def test_role_grant_permission_facade() -> None:
    fake = FakeClient()
    fake.role_grant_permission("r", "/a/", perm="write", prefix=True, timeout=1.0)
    [(_, method, request, timeout)] = fake.calls
    assert (method, timeout) == (AUTH_ROLE_GRANT_PERMISSION, 1.0)
    assert request.perm == auth_pb2.Permission(
        permType=WRITE, key=b"/a/", range_end=b"/a0"
    )


def test_user_add_facade_checks_before_sending() -> None:
    fake = FakeClient()
    with pytest.raises(UserEmptyError):
        fake.user_add("", "pw")
    fake.user_add("u", no_password=True)
    assert [m for _, m, _, _ in fake.calls] == [AUTH_USER_ADD]


def test_snapshot_facade() -> None:
    fake = FakeClient()
    fake.stream = _snapshot_messages(DATA, chunk=500)
    chunks = list(fake.snapshot(timeout=9.0))
    assert chunks == [DATA[:500], DATA[500:], hashlib.sha256(DATA).digest()]
    assert [(m, t) for _, m, _, t in fake.calls] == [(MAINTENANCE_SNAPSHOT, 9.0)]


def test_snapshot_save_renames_the_part_file(tmp_path: Path) -> None:
    fake = FakeClient()
    fake.stream = _snapshot_messages(DATA, chunk=100)
    target = tmp_path / "snap.db"
    target.write_bytes(b"old")
    assert fake.snapshot_save(target) is target
    assert target.read_bytes() == DATA + hashlib.sha256(DATA).digest()
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap.db"]
    fake.stream = _snapshot_messages(b"new", chunk=100)
    assert fake.snapshot_save(str(target)) == str(target)
    assert target.read_bytes() == b"new" + hashlib.sha256(b"new").digest()


@pytest.mark.parametrize(
    "stream",
    [
        _snapshot_messages(DATA, chunk=100)[:-1],
        _snapshot_messages(DATA, chunk=100, trailer=b"\0" * 32),
    ],
)
def test_snapshot_save_failure_keeps_old_file_and_no_part(
    tmp_path: Path, stream: List[bytes]
) -> None:
    fake = FakeClient()
    fake.stream = stream
    target = tmp_path / "snap.db"
    target.write_bytes(b"old")
    with pytest.raises(RemoteProtocolError):
        fake.snapshot_save(target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap.db"]


def test_snapshot_save_into_a_missing_directory(tmp_path: Path) -> None:
    fake = FakeClient()
    fake.stream = _snapshot_messages(DATA)
    with pytest.raises(FileNotFoundError):
        fake.snapshot_save(tmp_path / "missing" / "snap.db")
