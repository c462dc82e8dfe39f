"""The RPC catalogue against the generated service descriptors and clientv3.md.

Paths and kinds: shared/reference/clientv3.md §8.2; retry classes: §2.1 (Go
client/v3/retry.go).
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import descriptor_pb2

from pyetcd_wire._api import methods
from pyetcd_wire._api.methods import (
    METHODS,
    Method,
    MethodKind,
    RetryClass,
)
from pyetcd_wire._proto import admin_pb2, rpc_pb2

# §2.1, "repeatable" column (plus Snapshot, the one stream that opts in).
REPEATABLE = {
    "/etcdserverpb.KV/Range",
    "/etcdserverpb.Lease/LeaseGrant",
    "/etcdserverpb.Lease/LeaseRevoke",
    "/etcdserverpb.Lease/LeaseTimeToLive",
    "/etcdserverpb.Lease/LeaseLeases",
    "/etcdserverpb.Cluster/MemberList",
    "/etcdserverpb.Maintenance/Alarm",
    "/etcdserverpb.Maintenance/Status",
    "/etcdserverpb.Maintenance/Hash",
    "/etcdserverpb.Maintenance/HashKV",
    "/etcdserverpb.Maintenance/Snapshot",
    "/etcdserverpb.Maintenance/MoveLeader",
    "/etcdserverpb.Auth/UserList",
    "/etcdserverpb.Auth/UserGet",
    "/etcdserverpb.Auth/RoleGet",
    "/etcdserverpb.Auth/RoleList",
}
# Streams without a call-level retry: their own resume loops, or no policy.
NOT_RETRIED = {
    "/etcdserverpb.KV/RangeStream",
    "/etcdserverpb.Watch/Watch",
    "/etcdserverpb.Lease/LeaseKeepAlive",
}
STREAMS = {
    "/etcdserverpb.KV/RangeStream": MethodKind.SERVER_STREAM,
    "/etcdserverpb.Watch/Watch": MethodKind.BIDI,
    "/etcdserverpb.Lease/LeaseKeepAlive": MethodKind.BIDI,
    "/etcdserverpb.Maintenance/Snapshot": MethodKind.SERVER_STREAM,
}


def _kind(method: Any) -> MethodKind:
    # upb on protobuf 4.21 has no MethodDescriptor.client_streaming or
    # server_streaming; the descriptor proto has them everywhere.
    client = getattr(method, "client_streaming", None)
    server = getattr(method, "server_streaming", None)
    if client is None or server is None:
        proto = descriptor_pb2.MethodDescriptorProto()
        method.CopyToProto(proto)
        client, server = proto.client_streaming, proto.server_streaming
    if client and server:
        return MethodKind.BIDI
    assert not client, "etcd has no client-streaming RPC"
    return MethodKind.SERVER_STREAM if server else MethodKind.UNARY


def _descriptor_paths() -> set:
    # .keys()/.values() on purpose: upb on protobuf 4.21 iterates maps oddly.
    return {
        f"/{service.full_name}/{method.name}"
        for part in (rpc_pb2, admin_pb2)
        for service in part.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }


def test_42_paths() -> None:
    assert len(METHODS) == 42
    assert all(path == method.path for path, method in METHODS.items())
    assert set(METHODS) == _descriptor_paths()


def test_every_method_is_a_named_constant() -> None:
    constants = {
        value.path: name
        for name, value in vars(methods).items()
        if isinstance(value, Method)
    }
    assert set(constants) == set(METHODS)
    assert constants["/etcdserverpb.KV/Range"] == "KV_RANGE"
    assert constants["/etcdserverpb.KV/DeleteRange"] == "KV_DELETE_RANGE"
    assert constants["/etcdserverpb.Lease/LeaseKeepAlive"] == "LEASE_KEEP_ALIVE"
    assert constants["/etcdserverpb.Maintenance/HashKV"] == "MAINTENANCE_HASH_KV"
    assert constants["/etcdserverpb.Auth/UserGet"] == "AUTH_USER_GET"


@pytest.mark.parametrize("path", sorted(METHODS))
def test_method_matches_the_service_descriptor(path: str) -> None:
    method = METHODS[path]
    part = (
        admin_pb2 if method.service in ("Cluster", "Maintenance", "Auth") else rpc_pb2
    )
    service = part.DESCRIPTOR.services_by_name[method.service]
    descriptor = service.methods_by_name[method.name]
    assert f"/{service.full_name}/{descriptor.name}" == path
    # The message classes exist in rpc_pb2 and are the descriptor's types.
    assert getattr(rpc_pb2, method.request_type.__name__) is method.request_type
    assert getattr(rpc_pb2, method.response_type.__name__) is method.response_type
    assert method.request_type.DESCRIPTOR is descriptor.input_type
    assert method.response_type.DESCRIPTOR is descriptor.output_type
    assert method.kind is _kind(descriptor)


@pytest.mark.parametrize("path", sorted(METHODS))
def test_every_rpc_has_a_retry_class(path: str) -> None:
    method = METHODS[path]
    assert isinstance(method.retry, RetryClass)
    if path in REPEATABLE:
        assert method.retry is RetryClass.REPEATABLE
    elif path in NOT_RETRIED:
        assert method.retry is RetryClass.NONE
    else:
        assert method.retry is RetryClass.AT_MOST_ONCE


def test_kinds() -> None:
    for path, method in METHODS.items():
        assert method.kind is STREAMS.get(path, MethodKind.UNARY)


def test_writes_are_at_most_once() -> None:
    for method in (
        methods.KV_PUT,
        methods.KV_DELETE_RANGE,
        methods.KV_TXN,
        methods.KV_COMPACT,
        methods.MAINTENANCE_DEFRAGMENT,
        methods.AUTH_AUTHENTICATE,
    ):
        assert method.retry is RetryClass.AT_MOST_ONCE


def test_named_constants() -> None:
    expected = Method(
        "/etcdserverpb.KV/Range",
        "RangeRequest",
        "RangeResponse",
        MethodKind.UNARY,
        RetryClass.REPEATABLE,
    )
    assert expected == methods.KV_RANGE
    assert methods.KV_RANGE_STREAM.request_type is rpc_pb2.RangeRequest
    assert methods.KV_COMPACT.request_type is rpc_pb2.CompactionRequest
    assert methods.WATCH_WATCH.kind is MethodKind.BIDI
    assert methods.AUTH_USER_ADD.request_type is rpc_pb2.AuthUserAddRequest


def test_service_and_name() -> None:
    assert (methods.KV_RANGE.service, methods.KV_RANGE.name) == ("KV", "Range")
    method = methods.AUTH_ROLE_REVOKE_PERMISSION
    assert (method.service, method.name) == ("Auth", "RoleRevokePermission")
