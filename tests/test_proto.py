"""The generated etcd protobuf modules: wire facts, round trips, freshness.

The tables below are etcd's wire API as listed in
shared/reference/clientv3.md section 8 (RPC paths, field numbers, enums).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2

from pyetcd_wire._proto import admin_pb2, auth_pb2, header_pb2, kv_pb2, rpc_pb2
from pyetcd_wire._proto._pool import POOL

ROOT = Path(__file__).resolve().parent.parent

UNARY, SERVER_STREAM, BIDI = "unary", "server-streaming", "bidi"

# (full gRPC path, kind, request message, response message); section 8.2.
RPCS = [
    ("/etcdserverpb.KV/Range", UNARY, "RangeRequest", "RangeResponse"),
    (
        "/etcdserverpb.KV/RangeStream",
        SERVER_STREAM,
        "RangeRequest",
        "RangeStreamResponse",
    ),
    ("/etcdserverpb.KV/Put", UNARY, "PutRequest", "PutResponse"),
    (
        "/etcdserverpb.KV/DeleteRange",
        UNARY,
        "DeleteRangeRequest",
        "DeleteRangeResponse",
    ),
    ("/etcdserverpb.KV/Txn", UNARY, "TxnRequest", "TxnResponse"),
    ("/etcdserverpb.KV/Compact", UNARY, "CompactionRequest", "CompactionResponse"),
    ("/etcdserverpb.Watch/Watch", BIDI, "WatchRequest", "WatchResponse"),
    (
        "/etcdserverpb.Lease/LeaseGrant",
        UNARY,
        "LeaseGrantRequest",
        "LeaseGrantResponse",
    ),
    (
        "/etcdserverpb.Lease/LeaseRevoke",
        UNARY,
        "LeaseRevokeRequest",
        "LeaseRevokeResponse",
    ),
    (
        "/etcdserverpb.Lease/LeaseKeepAlive",
        BIDI,
        "LeaseKeepAliveRequest",
        "LeaseKeepAliveResponse",
    ),
    (
        "/etcdserverpb.Lease/LeaseTimeToLive",
        UNARY,
        "LeaseTimeToLiveRequest",
        "LeaseTimeToLiveResponse",
    ),
    (
        "/etcdserverpb.Lease/LeaseLeases",
        UNARY,
        "LeaseLeasesRequest",
        "LeaseLeasesResponse",
    ),
    ("/etcdserverpb.Cluster/MemberAdd", UNARY, "MemberAddRequest", "MemberAddResponse"),
    (
        "/etcdserverpb.Cluster/MemberRemove",
        UNARY,
        "MemberRemoveRequest",
        "MemberRemoveResponse",
    ),
    (
        "/etcdserverpb.Cluster/MemberUpdate",
        UNARY,
        "MemberUpdateRequest",
        "MemberUpdateResponse",
    ),
    (
        "/etcdserverpb.Cluster/MemberList",
        UNARY,
        "MemberListRequest",
        "MemberListResponse",
    ),
    (
        "/etcdserverpb.Cluster/MemberPromote",
        UNARY,
        "MemberPromoteRequest",
        "MemberPromoteResponse",
    ),
    ("/etcdserverpb.Maintenance/Alarm", UNARY, "AlarmRequest", "AlarmResponse"),
    ("/etcdserverpb.Maintenance/Status", UNARY, "StatusRequest", "StatusResponse"),
    (
        "/etcdserverpb.Maintenance/Defragment",
        UNARY,
        "DefragmentRequest",
        "DefragmentResponse",
    ),
    ("/etcdserverpb.Maintenance/Hash", UNARY, "HashRequest", "HashResponse"),
    ("/etcdserverpb.Maintenance/HashKV", UNARY, "HashKVRequest", "HashKVResponse"),
    (
        "/etcdserverpb.Maintenance/Snapshot",
        SERVER_STREAM,
        "SnapshotRequest",
        "SnapshotResponse",
    ),
    (
        "/etcdserverpb.Maintenance/MoveLeader",
        UNARY,
        "MoveLeaderRequest",
        "MoveLeaderResponse",
    ),
    (
        "/etcdserverpb.Maintenance/Downgrade",
        UNARY,
        "DowngradeRequest",
        "DowngradeResponse",
    ),
    ("/etcdserverpb.Auth/AuthEnable", UNARY, "AuthEnableRequest", "AuthEnableResponse"),
    (
        "/etcdserverpb.Auth/AuthDisable",
        UNARY,
        "AuthDisableRequest",
        "AuthDisableResponse",
    ),
    ("/etcdserverpb.Auth/AuthStatus", UNARY, "AuthStatusRequest", "AuthStatusResponse"),
    (
        "/etcdserverpb.Auth/Authenticate",
        UNARY,
        "AuthenticateRequest",
        "AuthenticateResponse",
    ),
    ("/etcdserverpb.Auth/UserAdd", UNARY, "AuthUserAddRequest", "AuthUserAddResponse"),
    ("/etcdserverpb.Auth/UserGet", UNARY, "AuthUserGetRequest", "AuthUserGetResponse"),
    (
        "/etcdserverpb.Auth/UserList",
        UNARY,
        "AuthUserListRequest",
        "AuthUserListResponse",
    ),
    (
        "/etcdserverpb.Auth/UserDelete",
        UNARY,
        "AuthUserDeleteRequest",
        "AuthUserDeleteResponse",
    ),
    (
        "/etcdserverpb.Auth/UserChangePassword",
        UNARY,
        "AuthUserChangePasswordRequest",
        "AuthUserChangePasswordResponse",
    ),
    (
        "/etcdserverpb.Auth/UserGrantRole",
        UNARY,
        "AuthUserGrantRoleRequest",
        "AuthUserGrantRoleResponse",
    ),
    (
        "/etcdserverpb.Auth/UserRevokeRole",
        UNARY,
        "AuthUserRevokeRoleRequest",
        "AuthUserRevokeRoleResponse",
    ),
    ("/etcdserverpb.Auth/RoleAdd", UNARY, "AuthRoleAddRequest", "AuthRoleAddResponse"),
    ("/etcdserverpb.Auth/RoleGet", UNARY, "AuthRoleGetRequest", "AuthRoleGetResponse"),
    (
        "/etcdserverpb.Auth/RoleList",
        UNARY,
        "AuthRoleListRequest",
        "AuthRoleListResponse",
    ),
    (
        "/etcdserverpb.Auth/RoleDelete",
        UNARY,
        "AuthRoleDeleteRequest",
        "AuthRoleDeleteResponse",
    ),
    (
        "/etcdserverpb.Auth/RoleGrantPermission",
        UNARY,
        "AuthRoleGrantPermissionRequest",
        "AuthRoleGrantPermissionResponse",
    ),
    (
        "/etcdserverpb.Auth/RoleRevokePermission",
        UNARY,
        "AuthRoleRevokePermissionRequest",
        "AuthRoleRevokePermissionResponse",
    ),
]

# Every top-level message of etcdserverpb from etcd v3.4 through v3.7.
RPC_MESSAGES = {
    "ResponseHeader",
    "RangeRequest",
    "RangeResponse",
    "RangeStreamResponse",
    "PutRequest",
    "PutResponse",
    "DeleteRangeRequest",
    "DeleteRangeResponse",
    "RequestOp",
    "ResponseOp",
    "Compare",
    "TxnRequest",
    "TxnResponse",
    "CompactionRequest",
    "CompactionResponse",
    "HashRequest",
    "HashKVRequest",
    "HashKVResponse",
    "HashResponse",
    "SnapshotRequest",
    "SnapshotResponse",
    "WatchRequest",
    "WatchCreateRequest",
    "WatchCancelRequest",
    "WatchProgressRequest",
    "WatchResponse",
    "LeaseGrantRequest",
    "LeaseGrantResponse",
    "LeaseRevokeRequest",
    "LeaseRevokeResponse",
    "LeaseCheckpoint",
    "LeaseCheckpointRequest",
    "LeaseCheckpointResponse",
    "LeaseKeepAliveRequest",
    "LeaseKeepAliveResponse",
    "LeaseTimeToLiveRequest",
    "LeaseTimeToLiveResponse",
    "LeaseLeasesRequest",
    "LeaseStatus",
    "LeaseLeasesResponse",
    "Member",
    "MemberAddRequest",
    "MemberAddResponse",
    "MemberRemoveRequest",
    "MemberRemoveResponse",
    "MemberUpdateRequest",
    "MemberUpdateResponse",
    "MemberListRequest",
    "MemberListResponse",
    "MemberPromoteRequest",
    "MemberPromoteResponse",
    "DefragmentRequest",
    "DefragmentResponse",
    "MoveLeaderRequest",
    "MoveLeaderResponse",
    "AlarmRequest",
    "AlarmMember",
    "AlarmResponse",
    "DowngradeRequest",
    "DowngradeResponse",
    "DowngradeVersionTestRequest",
    "DowngradeInfo",
    "StatusRequest",
    "StatusResponse",
    "AuthEnableRequest",
    "AuthDisableRequest",
    "AuthStatusRequest",
    "AuthenticateRequest",
    "AuthUserAddRequest",
    "AuthUserGetRequest",
    "AuthUserDeleteRequest",
    "AuthUserChangePasswordRequest",
    "AuthUserGrantRoleRequest",
    "AuthUserRevokeRoleRequest",
    "AuthRoleAddRequest",
    "AuthRoleGetRequest",
    "AuthUserListRequest",
    "AuthRoleListRequest",
    "AuthRoleDeleteRequest",
    "AuthRoleGrantPermissionRequest",
    "AuthRoleRevokePermissionRequest",
    "AuthEnableResponse",
    "AuthDisableResponse",
    "AuthStatusResponse",
    "AuthenticateResponse",
    "AuthUserAddResponse",
    "AuthUserGetResponse",
    "AuthUserDeleteResponse",
    "AuthUserChangePasswordResponse",
    "AuthUserGrantRoleResponse",
    "AuthUserRevokeRoleResponse",
    "AuthRoleAddResponse",
    "AuthRoleGetResponse",
    "AuthRoleListResponse",
    "AuthUserListResponse",
    "AuthRoleDeleteResponse",
    "AuthRoleGrantPermissionResponse",
    "AuthRoleRevokePermissionResponse",
}

# (full message name, field, number, type, oneof or None, repeated); section 8.3.
FIELDS = [
    ("etcdserverpb.ResponseHeader", "cluster_id", 1, "uint64", None, False),
    ("etcdserverpb.ResponseHeader", "member_id", 2, "uint64", None, False),
    ("etcdserverpb.ResponseHeader", "revision", 3, "int64", None, False),
    ("etcdserverpb.ResponseHeader", "raft_term", 4, "uint64", None, False),
    ("mvccpb.KeyValue", "key", 1, "bytes", None, False),
    ("mvccpb.KeyValue", "create_revision", 2, "int64", None, False),
    ("mvccpb.KeyValue", "mod_revision", 3, "int64", None, False),
    ("mvccpb.KeyValue", "version", 4, "int64", None, False),
    ("mvccpb.KeyValue", "value", 5, "bytes", None, False),
    ("mvccpb.KeyValue", "lease", 6, "int64", None, False),
    ("mvccpb.Event", "type", 1, "enum", None, False),
    ("mvccpb.Event", "kv", 2, "message", None, False),
    ("mvccpb.Event", "prev_kv", 3, "message", None, False),
    ("etcdserverpb.RangeRequest", "key", 1, "bytes", None, False),
    ("etcdserverpb.RangeRequest", "range_end", 2, "bytes", None, False),
    ("etcdserverpb.RangeRequest", "limit", 3, "int64", None, False),
    ("etcdserverpb.RangeRequest", "revision", 4, "int64", None, False),
    ("etcdserverpb.RangeRequest", "sort_order", 5, "enum", None, False),
    ("etcdserverpb.RangeRequest", "sort_target", 6, "enum", None, False),
    ("etcdserverpb.RangeRequest", "serializable", 7, "bool", None, False),
    ("etcdserverpb.RangeRequest", "keys_only", 8, "bool", None, False),
    ("etcdserverpb.RangeRequest", "count_only", 9, "bool", None, False),
    ("etcdserverpb.RangeRequest", "min_mod_revision", 10, "int64", None, False),
    ("etcdserverpb.RangeRequest", "max_mod_revision", 11, "int64", None, False),
    ("etcdserverpb.RangeRequest", "min_create_revision", 12, "int64", None, False),
    ("etcdserverpb.RangeRequest", "max_create_revision", 13, "int64", None, False),
    ("etcdserverpb.RangeResponse", "header", 1, "message", None, False),
    ("etcdserverpb.RangeResponse", "kvs", 2, "message", None, True),
    ("etcdserverpb.RangeResponse", "more", 3, "bool", None, False),
    ("etcdserverpb.RangeResponse", "count", 4, "int64", None, False),
    ("etcdserverpb.RangeStreamResponse", "range_response", 1, "message", None, False),
    ("etcdserverpb.PutRequest", "key", 1, "bytes", None, False),
    ("etcdserverpb.PutRequest", "value", 2, "bytes", None, False),
    ("etcdserverpb.PutRequest", "lease", 3, "int64", None, False),
    ("etcdserverpb.PutRequest", "prev_kv", 4, "bool", None, False),
    ("etcdserverpb.PutRequest", "ignore_value", 5, "bool", None, False),
    ("etcdserverpb.PutRequest", "ignore_lease", 6, "bool", None, False),
    ("etcdserverpb.PutResponse", "prev_kv", 2, "message", None, False),
    ("etcdserverpb.DeleteRangeRequest", "prev_kv", 3, "bool", None, False),
    ("etcdserverpb.DeleteRangeResponse", "deleted", 2, "int64", None, False),
    ("etcdserverpb.DeleteRangeResponse", "prev_kvs", 3, "message", None, True),
    ("etcdserverpb.RequestOp", "request_range", 1, "message", "request", False),
    ("etcdserverpb.RequestOp", "request_put", 2, "message", "request", False),
    ("etcdserverpb.RequestOp", "request_delete_range", 3, "message", "request", False),
    ("etcdserverpb.RequestOp", "request_txn", 4, "message", "request", False),
    ("etcdserverpb.ResponseOp", "response_range", 1, "message", "response", False),
    ("etcdserverpb.ResponseOp", "response_put", 2, "message", "response", False),
    (
        "etcdserverpb.ResponseOp",
        "response_delete_range",
        3,
        "message",
        "response",
        False,
    ),
    ("etcdserverpb.ResponseOp", "response_txn", 4, "message", "response", False),
    ("etcdserverpb.Compare", "result", 1, "enum", None, False),
    ("etcdserverpb.Compare", "target", 2, "enum", None, False),
    ("etcdserverpb.Compare", "key", 3, "bytes", None, False),
    ("etcdserverpb.Compare", "version", 4, "int64", "target_union", False),
    ("etcdserverpb.Compare", "create_revision", 5, "int64", "target_union", False),
    ("etcdserverpb.Compare", "mod_revision", 6, "int64", "target_union", False),
    ("etcdserverpb.Compare", "value", 7, "bytes", "target_union", False),
    ("etcdserverpb.Compare", "lease", 8, "int64", "target_union", False),
    ("etcdserverpb.Compare", "range_end", 64, "bytes", None, False),
    ("etcdserverpb.TxnRequest", "compare", 1, "message", None, True),
    ("etcdserverpb.TxnRequest", "success", 2, "message", None, True),
    ("etcdserverpb.TxnRequest", "failure", 3, "message", None, True),
    ("etcdserverpb.TxnResponse", "succeeded", 2, "bool", None, False),
    ("etcdserverpb.TxnResponse", "responses", 3, "message", None, True),
    ("etcdserverpb.CompactionRequest", "revision", 1, "int64", None, False),
    ("etcdserverpb.CompactionRequest", "physical", 2, "bool", None, False),
    (
        "etcdserverpb.WatchRequest",
        "create_request",
        1,
        "message",
        "request_union",
        False,
    ),
    (
        "etcdserverpb.WatchRequest",
        "cancel_request",
        2,
        "message",
        "request_union",
        False,
    ),
    (
        "etcdserverpb.WatchRequest",
        "progress_request",
        3,
        "message",
        "request_union",
        False,
    ),
    ("etcdserverpb.WatchCreateRequest", "start_revision", 3, "int64", None, False),
    ("etcdserverpb.WatchCreateRequest", "progress_notify", 4, "bool", None, False),
    ("etcdserverpb.WatchCreateRequest", "filters", 5, "enum", None, True),
    ("etcdserverpb.WatchCreateRequest", "prev_kv", 6, "bool", None, False),
    ("etcdserverpb.WatchCreateRequest", "watch_id", 7, "int64", None, False),
    ("etcdserverpb.WatchCreateRequest", "fragment", 8, "bool", None, False),
    ("etcdserverpb.WatchCancelRequest", "watch_id", 1, "int64", None, False),
    ("etcdserverpb.WatchResponse", "watch_id", 2, "int64", None, False),
    ("etcdserverpb.WatchResponse", "created", 3, "bool", None, False),
    ("etcdserverpb.WatchResponse", "canceled", 4, "bool", None, False),
    ("etcdserverpb.WatchResponse", "compact_revision", 5, "int64", None, False),
    ("etcdserverpb.WatchResponse", "cancel_reason", 6, "string", None, False),
    ("etcdserverpb.WatchResponse", "fragment", 7, "bool", None, False),
    ("etcdserverpb.WatchResponse", "events", 11, "message", None, True),
    ("etcdserverpb.LeaseGrantRequest", "TTL", 1, "int64", None, False),
    ("etcdserverpb.LeaseGrantRequest", "ID", 2, "int64", None, False),
    ("etcdserverpb.LeaseGrantResponse", "error", 4, "string", None, False),
    ("etcdserverpb.LeaseKeepAliveResponse", "TTL", 3, "int64", None, False),
    ("etcdserverpb.LeaseTimeToLiveRequest", "keys", 2, "bool", None, False),
    ("etcdserverpb.LeaseTimeToLiveResponse", "grantedTTL", 4, "int64", None, False),
    ("etcdserverpb.LeaseTimeToLiveResponse", "keys", 5, "bytes", None, True),
    ("etcdserverpb.LeaseLeasesResponse", "leases", 2, "message", None, True),
    ("etcdserverpb.LeaseStatus", "ID", 1, "int64", None, False),
    ("etcdserverpb.Member", "ID", 1, "uint64", None, False),
    ("etcdserverpb.Member", "peerURLs", 3, "string", None, True),
    ("etcdserverpb.Member", "clientURLs", 4, "string", None, True),
    ("etcdserverpb.Member", "isLearner", 5, "bool", None, False),
    ("etcdserverpb.MemberAddRequest", "isLearner", 2, "bool", None, False),
    ("etcdserverpb.MemberAddResponse", "members", 3, "message", None, True),
    ("etcdserverpb.MemberListRequest", "linearizable", 1, "bool", None, False),
    ("etcdserverpb.AlarmRequest", "action", 1, "enum", None, False),
    ("etcdserverpb.AlarmRequest", "memberID", 2, "uint64", None, False),
    ("etcdserverpb.AlarmRequest", "alarm", 3, "enum", None, False),
    ("etcdserverpb.AlarmMember", "alarm", 2, "enum", None, False),
    ("etcdserverpb.StatusResponse", "version", 2, "string", None, False),
    ("etcdserverpb.StatusResponse", "dbSize", 3, "int64", None, False),
    ("etcdserverpb.StatusResponse", "leader", 4, "uint64", None, False),
    ("etcdserverpb.StatusResponse", "raftAppliedIndex", 7, "uint64", None, False),
    ("etcdserverpb.StatusResponse", "errors", 8, "string", None, True),
    ("etcdserverpb.StatusResponse", "dbSizeInUse", 9, "int64", None, False),
    ("etcdserverpb.StatusResponse", "isLearner", 10, "bool", None, False),
    ("etcdserverpb.StatusResponse", "storageVersion", 11, "string", None, False),
    ("etcdserverpb.StatusResponse", "dbSizeQuota", 12, "int64", None, False),
    ("etcdserverpb.StatusResponse", "downgradeInfo", 13, "message", None, False),
    ("etcdserverpb.DowngradeInfo", "enabled", 1, "bool", None, False),
    ("etcdserverpb.DowngradeInfo", "targetVersion", 2, "string", None, False),
    ("etcdserverpb.HashKVResponse", "hash", 2, "uint32", None, False),
    ("etcdserverpb.HashKVResponse", "compact_revision", 3, "int64", None, False),
    ("etcdserverpb.HashKVResponse", "hash_revision", 4, "int64", None, False),
    ("etcdserverpb.HashResponse", "hash", 2, "uint32", None, False),
    ("etcdserverpb.SnapshotResponse", "remaining_bytes", 2, "uint64", None, False),
    ("etcdserverpb.SnapshotResponse", "blob", 3, "bytes", None, False),
    ("etcdserverpb.SnapshotResponse", "version", 4, "string", None, False),
    ("etcdserverpb.MoveLeaderRequest", "targetID", 1, "uint64", None, False),
    ("etcdserverpb.DowngradeRequest", "action", 1, "enum", None, False),
    ("etcdserverpb.DowngradeRequest", "version", 2, "string", None, False),
    ("etcdserverpb.DowngradeResponse", "version", 2, "string", None, False),
    ("etcdserverpb.AuthenticateResponse", "token", 2, "string", None, False),
    ("etcdserverpb.AuthStatusResponse", "enabled", 2, "bool", None, False),
    ("etcdserverpb.AuthStatusResponse", "authRevision", 3, "uint64", None, False),
    ("etcdserverpb.AuthUserAddRequest", "options", 3, "message", None, False),
    ("etcdserverpb.AuthUserAddRequest", "hashedPassword", 4, "string", None, False),
    (
        "etcdserverpb.AuthUserChangePasswordRequest",
        "hashedPassword",
        3,
        "string",
        None,
        False,
    ),
    ("etcdserverpb.AuthUserGrantRoleRequest", "user", 1, "string", None, False),
    ("etcdserverpb.AuthRoleGetResponse", "perm", 2, "message", None, True),
    ("etcdserverpb.AuthRoleGrantPermissionRequest", "perm", 2, "message", None, False),
    (
        "etcdserverpb.AuthRoleRevokePermissionRequest",
        "range_end",
        3,
        "bytes",
        None,
        False,
    ),
    ("etcdserverpb.AuthUserListResponse", "users", 2, "string", None, True),
    ("authpb.UserAddOptions", "no_password", 1, "bool", None, False),
    ("authpb.Permission", "permType", 1, "enum", None, False),
    ("authpb.Permission", "key", 2, "bytes", None, False),
    ("authpb.Permission", "range_end", 3, "bytes", None, False),
    ("authpb.Role", "keyPermission", 2, "message", None, True),
]

# (full enum name, {value name: number}); section 8.3.
ENUMS = [
    ("mvccpb.Event.EventType", {"PUT": 0, "DELETE": 1}),
    ("etcdserverpb.RangeRequest.SortOrder", {"NONE": 0, "ASCEND": 1, "DESCEND": 2}),
    (
        "etcdserverpb.RangeRequest.SortTarget",
        {"KEY": 0, "VERSION": 1, "CREATE": 2, "MOD": 3, "VALUE": 4},
    ),
    (
        "etcdserverpb.Compare.CompareResult",
        {"EQUAL": 0, "GREATER": 1, "LESS": 2, "NOT_EQUAL": 3},
    ),
    (
        "etcdserverpb.Compare.CompareTarget",
        {"VERSION": 0, "CREATE": 1, "MOD": 2, "VALUE": 3, "LEASE": 4},
    ),
    ("etcdserverpb.WatchCreateRequest.FilterType", {"NOPUT": 0, "NODELETE": 1}),
    (
        "etcdserverpb.AlarmRequest.AlarmAction",
        {"GET": 0, "ACTIVATE": 1, "DEACTIVATE": 2},
    ),
    ("etcdserverpb.AlarmType", {"NONE": 0, "NOSPACE": 1, "CORRUPT": 2}),
    (
        "etcdserverpb.DowngradeRequest.DowngradeAction",
        {"VALIDATE": 0, "ENABLE": 1, "CANCEL": 2},
    ),
    ("authpb.Permission.Type", {"READ": 0, "WRITE": 1, "READWRITE": 2}),
]

# The FieldDescriptor.TYPE_* constants, by the proto type names used above.
TYPE_NUMBERS = {
    "int64": 3,
    "uint64": 4,
    "bool": 8,
    "string": 9,
    "message": 11,
    "bytes": 12,
    "uint32": 13,
    "enum": 14,
}
LABEL_REPEATED = 3


def _is_repeated(fd: object) -> bool:
    # protobuf 7 dropped FieldDescriptor.label; 4.x only has label
    is_repeated = getattr(fd, "is_repeated", None)
    if is_repeated is not None:
        return bool(is_repeated)
    return bool(getattr(fd, "label") == LABEL_REPEATED)  # noqa: B009


def _kind(method: Any) -> str:
    # upb on protobuf 4.21 has no MethodDescriptor.client_streaming or
    # server_streaming; the descriptor proto has them everywhere.
    proto = descriptor_pb2.MethodDescriptorProto()
    method.CopyToProto(proto)
    client, server = proto.client_streaming, proto.server_streaming
    if hasattr(method, "server_streaming"):
        assert (method.client_streaming, method.server_streaming) == (client, server)
    if client and server:
        return BIDI
    if server:
        return SERVER_STREAM
    return "client-streaming" if client else UNARY


# ---------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------


def test_rpc_table_is_complete() -> None:
    assert len(RPCS) == 42
    assert len({path for path, *_ in RPCS}) == 42


@pytest.mark.parametrize(("path", "kind", "request_type", "response_type"), RPCS)
def test_rpc_method(
    path: str, kind: str, request_type: str, response_type: str
) -> None:
    _, service_name, method_name = path.split("/")
    package, service = service_name.split(".")
    assert package == rpc_pb2.DESCRIPTOR.package == "etcdserverpb"
    assert admin_pb2.DESCRIPTOR.package == "etcdserverpb"
    method = _services()[service].methods_by_name[method_name]
    assert f"/{method.containing_service.full_name}/{method.name}" == path
    assert _kind(method) == kind
    assert method.input_type.full_name == f"etcdserverpb.{request_type}"
    assert method.output_type.full_name == f"etcdserverpb.{response_type}"
    assert method.input_type is getattr(rpc_pb2, request_type).DESCRIPTOR
    assert method.output_type is getattr(rpc_pb2, response_type).DESCRIPTOR


def _services() -> dict:
    """Package etcdserverpb's services, from both of its files."""
    # .keys() on purpose: upb on protobuf 4.21 iterates *_by_name maps as values
    return {
        name: part.DESCRIPTOR.services_by_name[name]
        for part in (rpc_pb2, admin_pb2)
        for name in part.DESCRIPTOR.services_by_name.keys()  # noqa: SIM118
    }


def test_no_other_rpcs() -> None:
    generated = {
        f"/{service.full_name}/{method.name}"
        for service in _services().values()
        for method in service.methods
    }
    assert generated == {path for path, *_ in RPCS}
    assert set(rpc_pb2.DESCRIPTOR.services_by_name.keys()) == {"KV", "Watch", "Lease"}
    assert set(admin_pb2.DESCRIPTOR.services_by_name.keys()) == {
        "Cluster",
        "Maintenance",
        "Auth",
    }


# ---------------------------------------------------------------------------
# Messages, fields, enums
# ---------------------------------------------------------------------------


def test_message_sets() -> None:
    # .keys() on purpose: upb on protobuf 4.21 iterates *_by_name maps as values
    parts = set(rpc_pb2.DESCRIPTOR.message_types_by_name.keys())
    admin = set(admin_pb2.DESCRIPTOR.message_types_by_name.keys())
    header = set(header_pb2.DESCRIPTOR.message_types_by_name.keys())
    assert header == {"ResponseHeader"}
    assert not parts & admin
    assert parts | admin | header == RPC_MESSAGES
    # A client that reads, writes, watches and leases needs none of admin's.
    assert "StatusResponse" in admin
    assert "RangeRequest" in parts
    assert set(kv_pb2.DESCRIPTOR.message_types_by_name.keys()) == {"KeyValue", "Event"}
    assert set(auth_pb2.DESCRIPTOR.message_types_by_name.keys()) == {
        "UserAddOptions",
        "User",
        "Permission",
        "Role",
    }
    assert set(rpc_pb2.DESCRIPTOR.enum_types_by_name.keys()) == set()
    assert set(admin_pb2.DESCRIPTOR.enum_types_by_name.keys()) == {"AlarmType"}
    assert [d.name for d in rpc_pb2.DESCRIPTOR.dependencies] == [
        "kv.proto",
        "header.proto",
    ]
    assert [d.name for d in admin_pb2.DESCRIPTOR.dependencies] == [
        "header.proto",
        "auth.proto",
    ]


def test_rpc_pb2_answers_for_admin_names() -> None:
    assert rpc_pb2.ResponseHeader is header_pb2.ResponseHeader
    assert rpc_pb2.ResponseHeader.DESCRIPTOR.full_name == "etcdserverpb.ResponseHeader"
    assert rpc_pb2.StatusResponse is admin_pb2.StatusResponse
    assert rpc_pb2.AlarmType is admin_pb2.AlarmType
    assert rpc_pb2.NOSPACE == admin_pb2.NOSPACE == 1
    with pytest.raises(AttributeError, match="NoSuchMessage"):
        rpc_pb2.NoSuchMessage  # noqa: B018


def test_field_table_size() -> None:
    assert len(FIELDS) >= 40
    assert len({(m, f) for m, f, *_ in FIELDS}) == len(FIELDS)


@pytest.mark.parametrize(
    ("message", "field", "number", "type_name", "oneof", "repeated"), FIELDS
)
def test_field(
    message: str,
    field: str,
    number: int,
    type_name: str,
    oneof: str | None,
    repeated: bool,
) -> None:
    desc = POOL.FindMessageTypeByName(message)
    fd = desc.fields_by_name[field]
    assert fd.number == number
    assert desc.fields_by_number[number] is fd
    assert fd.type == TYPE_NUMBERS[type_name]
    assert _is_repeated(fd) is repeated
    assert (fd.containing_oneof.name if fd.containing_oneof else None) == oneof


@pytest.mark.parametrize(("enum", "values"), ENUMS)
def test_enum(enum: str, values: dict[str, int]) -> None:
    desc = POOL.FindEnumTypeByName(enum)
    assert {v.name: v.number for v in desc.values} == values


def test_json_names() -> None:
    fields = rpc_pb2.RangeStreamResponse.DESCRIPTOR.fields_by_name
    assert fields["range_response"].json_name == "rangeResponse"
    fields = rpc_pb2.LeaseCheckpoint.DESCRIPTOR.fields_by_name
    assert fields["remaining_TTL"].json_name == "remainingTTL"
    fields = rpc_pb2.StatusResponse.DESCRIPTOR.fields_by_name
    assert fields["dbSizeInUse"].json_name == "dbSizeInUse"


def test_module_level_names() -> None:
    assert rpc_pb2.NOSPACE == 1
    assert rpc_pb2.AlarmType.Name(2) == "CORRUPT"
    assert rpc_pb2.RangeRequest.DESCEND == 2
    assert rpc_pb2.RangeRequest.SortTarget.Value("MOD") == 3
    assert kv_pb2.Event.DELETE == 1
    assert rpc_pb2.RangeRequest.__module__ == "pyetcd_wire._proto.rpc_pb2"
    assert rpc_pb2.RangeRequest.DESCRIPTOR.file.pool is POOL


# ---------------------------------------------------------------------------
# Round trips (bytes checked against hand-encoded protobuf)
# ---------------------------------------------------------------------------


def test_range_request_bytes() -> None:
    req = rpc_pb2.RangeRequest(
        key=b"a", range_end=b"b", limit=1, sort_order=rpc_pb2.RangeRequest.DESCEND
    )
    data = req.SerializeToString()
    assert data == b"\x0a\x01a\x12\x01b\x18\x01\x28\x02"
    assert rpc_pb2.RangeRequest.FromString(data) == req


def test_compare_range_end_and_oneof_bytes() -> None:
    cmp = rpc_pb2.Compare(
        result=rpc_pb2.Compare.LESS,
        target=rpc_pb2.Compare.MOD,
        key=b"k",
        mod_revision=5,
        range_end=b"z",
    )
    data = cmp.SerializeToString()
    # field 64 (range_end) needs a two-byte tag: (64 << 3 | 2) = 0x202 -> 82 04
    assert data == b"\x08\x02\x10\x02\x1a\x01k\x30\x05\x82\x04\x01z"
    back = rpc_pb2.Compare.FromString(data)
    assert back.WhichOneof("target_union") == "mod_revision"
    back.value = b"v"
    assert back.WhichOneof("target_union") == "value"
    assert back.mod_revision == 0


def test_txn_round_trip() -> None:
    txn = rpc_pb2.TxnRequest(
        compare=[rpc_pb2.Compare(key=b"k", target=rpc_pb2.Compare.VERSION, version=0)],
        success=[
            rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"k", value=b"v")),
            rpc_pb2.RequestOp(
                request_txn=rpc_pb2.TxnRequest(
                    success=[
                        rpc_pb2.RequestOp(
                            request_delete_range=rpc_pb2.DeleteRangeRequest(key=b"x")
                        )
                    ]
                )
            ),
        ],
        failure=[rpc_pb2.RequestOp(request_range={"key": b"k", "limit": 1})],
    )
    back = rpc_pb2.TxnRequest.FromString(txn.SerializeToString())
    assert back == txn
    assert [op.WhichOneof("request") for op in back.success] == [
        "request_put",
        "request_txn",
    ]
    assert back.failure[0].request_range.limit == 1
    inner = back.success[1].request_txn.success[0]
    assert inner.request_delete_range.key == b"x"


def test_watch_round_trip() -> None:
    req = rpc_pb2.WatchRequest(
        create_request=rpc_pb2.WatchCreateRequest(
            key=b"a",
            filters=[rpc_pb2.WatchCreateRequest.NODELETE],
            watch_id=7,
            fragment=True,
        )
    )
    back = rpc_pb2.WatchRequest.FromString(req.SerializeToString())
    assert back.WhichOneof("request_union") == "create_request"
    assert list(back.create_request.filters) == [1]
    progress = rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest())
    assert progress.SerializeToString() == b"\x1a\x00"

    resp = rpc_pb2.WatchResponse(
        header=rpc_pb2.ResponseHeader(revision=9),
        watch_id=-1,
        events=[
            kv_pb2.Event(
                type=kv_pb2.Event.DELETE,
                kv=kv_pb2.KeyValue(key=b"x", mod_revision=9),
                prev_kv=kv_pb2.KeyValue(key=b"x", value=b"old", version=3),
            )
        ],
    )
    data = resp.SerializeToString()
    assert b"\x5a" in data  # field 11, length-delimited
    back_resp = rpc_pb2.WatchResponse.FromString(data)
    assert back_resp == resp
    assert back_resp.events[0].prev_kv.value == b"old"
    assert back_resp.watch_id == -1


def test_status_and_auth_round_trip() -> None:
    status = rpc_pb2.StatusResponse(
        version="3.6.0",
        dbSizeQuota=2**31,
        storageVersion="3.6.0",
        downgradeInfo=rpc_pb2.DowngradeInfo(enabled=True, targetVersion="3.5.0"),
        errors=["NOSPACE"],
    )
    assert rpc_pb2.StatusResponse.FromString(status.SerializeToString()) == status
    role = rpc_pb2.AuthRoleGetResponse(
        perm=[auth_pb2.Permission(permType=auth_pb2.Permission.READWRITE, key=b"a")]
    )
    back = rpc_pb2.AuthRoleGetResponse.FromString(role.SerializeToString())
    assert back.perm[0].permType == auth_pb2.Permission.READWRITE
    user = rpc_pb2.AuthUserAddRequest(
        name="u", options=auth_pb2.UserAddOptions(no_password=True)
    )
    assert rpc_pb2.AuthUserAddRequest.FromString(user.SerializeToString()) == user


def test_unknown_fields_survive() -> None:
    # a newer server's field must not break an older message definition
    data = rpc_pb2.HashKVResponse(hash=1, hash_revision=5).SerializeToString()
    back = rpc_pb2.HashResponse.FromString(data)
    assert back.hash == 1
    assert back.SerializeToString() == data


# ---------------------------------------------------------------------------
# Generated files and the private pool
# ---------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    return env


# Run in a fresh interpreter: registers etcd-like protos in protobuf's default
# pool (as python-etcd3 does) before or after importing ours.
_CLASH_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf.internal import api_implementation

    file_name, order = sys.argv[1], sys.argv[2]

    def register_foreign():
        fdp = descriptor_pb2.FileDescriptorProto(
            name=file_name, package="etcdserverpb", syntax="proto3"
        )
        msg = fdp.message_type.add(name="RangeRequest")
        msg.field.add(name="foreign", number=1, type=9, label=1)
        pool = descriptor_pool.Default()
        pool.AddSerializedFile(fdp.SerializeToString())
        desc = pool.FindMessageTypeByName("etcdserverpb.RangeRequest")
        get_class = getattr(message_factory, "GetMessageClass", None)
        if get_class is None:
            get_class = message_factory.MessageFactory(pool).GetPrototype
        return get_class(desc)

    if order == "foreign-first":
        Foreign = register_foreign()
    from pyetcd_wire._proto import kv_pb2, auth_pb2, rpc_pb2
    if order == "ours-first":
        Foreign = register_foreign()

    ours = rpc_pb2.RangeRequest(key=b"a", limit=3)
    back = rpc_pb2.RangeRequest.FromString(ours.SerializeToString())
    foreign = Foreign(foreign="x")
    default = descriptor_pool.Default()
    found = default.FindMessageTypeByName("etcdserverpb.RangeRequest")
    leaked = []
    for name in ("mvccpb.KeyValue", "authpb.Permission", "etcdserverpb.TxnRequest"):
        try:
            default.FindMessageTypeByName(name)
        except KeyError:
            pass
        else:
            leaked.append(name)
    print(json.dumps({
        "impl": api_implementation.Type(),
        "limit": back.limit,
        "foreign": Foreign.FromString(foreign.SerializeToString()).foreign,
        "default_fields": sorted(f.name for f in found.fields),
        "leaked": leaked,
    }))
    """
)


@pytest.mark.parametrize("implementation", ["default", "python"])
@pytest.mark.parametrize("file_name", ["rpc.proto", "etcd/etcdserverpb/rpc.proto"])
@pytest.mark.parametrize("order", ["foreign-first", "ours-first"])
def test_no_clash_with_default_pool(
    implementation: str, file_name: str, order: str
) -> None:
    env = _env()
    if implementation == "python":
        env["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"
    else:
        env.pop("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", None)
    proc = subprocess.run(
        [sys.executable, "-c", _CLASH_SCRIPT, file_name, order],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if implementation == "python":
        assert result["impl"] == "python"
    assert result["limit"] == 3
    assert result["foreign"] == "x"
    assert result["default_fields"] == ["foreign"]
    assert result["leaked"] == []
