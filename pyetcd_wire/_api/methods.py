"""The RPC catalogue: every etcdserverpb method as data.

For each of etcd's 42 RPCs (v3.7; 41 before KV/RangeStream): the full gRPC
path, the request and response message names, the cardinality and the
retry class.  Paths and kinds are those of proto/rpc.proto and
proto/admin.proto; retry classes are Go's (client/v3/retry.go: which calls
get ``withRepeatablePolicy()``).
Each row is a named constant, and ``METHODS`` maps paths to rows.

Retry classes, as Go assigns them (client/v3/retry.go, retry_interceptor.go):

* REPEATABLE: safe to repeat; Go retries on UNAVAILABLE unless the error is a
  typed etcd error with another code (``isSafeRetryImmutableRPC``).  Go counts
  LeaseGrant here although a lost answer plus a retry can grant two leases,
  and MoveLeader and Alarm (also its activate/deactivate actions).  Snapshot
  is the one stream that opts in: it is re-opened until its first message.
* AT_MOST_ONCE: Go's nonRepeatable; retried only when the request provably
  never left the client (``isSafeRetryMutableRPC``).
* NONE: streams the call layer never retries; Watch and LeaseKeepAlive have
  their own resume loops, RangeStream has no policy at all.

One row is ours, not Go's: ``KV_TXN_READ``, a Txn whose every op (nested
ones included) is a Range, so it writes nothing.  It is REPEATABLE, like a
Range, and not ``cancellable``: etcd 3.5.0-3.5.4 run such a Txn in the
call's own context and *panic* when that context ends mid-range
("unexpected error during txn: context canceled", etcd#14110, fixed in
3.5.5), so the client never cancels one on the server: no grpc-timeout, no
RST_STREAM; a caller that gives up abandons it (_core/grpc/connection.py).
"""

from __future__ import annotations

import enum
from typing import Dict, NamedTuple, Type

from google.protobuf.message import Message

from .._proto import rpc_pb2 as pb


class MethodKind(enum.Enum):
    """Cardinality of an RPC (gRPC PROTOCOL-HTTP2.md)."""

    UNARY = "unary"  # one request, one response
    SERVER_STREAM = "server_stream"  # one request, a stream of responses
    BIDI = "bidi"  # a stream each way


class RetryClass(enum.Enum):
    """When a failed call may be sent again (see the module docstring)."""

    REPEATABLE = "repeatable"
    AT_MOST_ONCE = "at_most_once"
    NONE = "none"


class Method(NamedTuple):
    """One RPC: a row of the catalogue."""

    #: "/etcdserverpb.<Service>/<Method>", the HTTP/2 :path.
    path: str
    #: The request and response messages, by name in package etcdserverpb
    #: (names, not classes: admin_pb2's are built when first used).
    request_name: str
    response_name: str
    kind: MethodKind
    retry: RetryClass
    #: False: the server must never see this call cancelled (see above).
    cancellable: bool = True

    @property
    def request_type(self) -> Type[Message]:
        cls: Type[Message] = getattr(pb, self.request_name)
        return cls

    @property
    def response_type(self) -> Type[Message]:
        cls: Type[Message] = getattr(pb, self.response_name)
        return cls

    @property
    def service(self) -> str:
        """The service name without its package: "KV", "Watch", ..."""
        return self.path.split("/")[1].rpartition(".")[2]

    @property
    def name(self) -> str:
        """The method name: "Range", "Put", ..."""
        return self.path.rpartition("/")[2]


UNARY = MethodKind.UNARY
SERVER_STREAM = MethodKind.SERVER_STREAM
BIDI = MethodKind.BIDI
REPEATABLE = RetryClass.REPEATABLE
AT_MOST_ONCE = RetryClass.AT_MOST_ONCE
NONE = RetryClass.NONE

# service KV
KV_RANGE = Method(
    "/etcdserverpb.KV/Range", "RangeRequest", "RangeResponse", UNARY, REPEATABLE
)
KV_RANGE_STREAM = Method(
    "/etcdserverpb.KV/RangeStream",
    "RangeRequest",
    "RangeStreamResponse",
    SERVER_STREAM,
    NONE,
)
KV_PUT = Method(
    "/etcdserverpb.KV/Put", "PutRequest", "PutResponse", UNARY, AT_MOST_ONCE
)
KV_DELETE_RANGE = Method(
    "/etcdserverpb.KV/DeleteRange",
    "DeleteRangeRequest",
    "DeleteRangeResponse",
    UNARY,
    AT_MOST_ONCE,
)
KV_TXN = Method(
    "/etcdserverpb.KV/Txn", "TxnRequest", "TxnResponse", UNARY, AT_MOST_ONCE
)
#: A read-only Txn (see the module docstring): the same RPC as KV_TXN.
KV_TXN_READ = KV_TXN._replace(retry=REPEATABLE, cancellable=False)
KV_COMPACT = Method(
    "/etcdserverpb.KV/Compact",
    "CompactionRequest",
    "CompactionResponse",
    UNARY,
    AT_MOST_ONCE,
)

# service Watch
WATCH_WATCH = Method(
    "/etcdserverpb.Watch/Watch", "WatchRequest", "WatchResponse", BIDI, NONE
)

# service Lease
LEASE_GRANT = Method(
    "/etcdserverpb.Lease/LeaseGrant",
    "LeaseGrantRequest",
    "LeaseGrantResponse",
    UNARY,
    REPEATABLE,
)
LEASE_REVOKE = Method(
    "/etcdserverpb.Lease/LeaseRevoke",
    "LeaseRevokeRequest",
    "LeaseRevokeResponse",
    UNARY,
    REPEATABLE,
)
LEASE_KEEP_ALIVE = Method(
    "/etcdserverpb.Lease/LeaseKeepAlive",
    "LeaseKeepAliveRequest",
    "LeaseKeepAliveResponse",
    BIDI,
    NONE,
)
LEASE_TIME_TO_LIVE = Method(
    "/etcdserverpb.Lease/LeaseTimeToLive",
    "LeaseTimeToLiveRequest",
    "LeaseTimeToLiveResponse",
    UNARY,
    REPEATABLE,
)
LEASE_LEASES = Method(
    "/etcdserverpb.Lease/LeaseLeases",
    "LeaseLeasesRequest",
    "LeaseLeasesResponse",
    UNARY,
    REPEATABLE,
)

# service Cluster
CLUSTER_MEMBER_ADD = Method(
    "/etcdserverpb.Cluster/MemberAdd",
    "MemberAddRequest",
    "MemberAddResponse",
    UNARY,
    AT_MOST_ONCE,
)
CLUSTER_MEMBER_REMOVE = Method(
    "/etcdserverpb.Cluster/MemberRemove",
    "MemberRemoveRequest",
    "MemberRemoveResponse",
    UNARY,
    AT_MOST_ONCE,
)
CLUSTER_MEMBER_UPDATE = Method(
    "/etcdserverpb.Cluster/MemberUpdate",
    "MemberUpdateRequest",
    "MemberUpdateResponse",
    UNARY,
    AT_MOST_ONCE,
)
CLUSTER_MEMBER_LIST = Method(
    "/etcdserverpb.Cluster/MemberList",
    "MemberListRequest",
    "MemberListResponse",
    UNARY,
    REPEATABLE,
)
CLUSTER_MEMBER_PROMOTE = Method(
    "/etcdserverpb.Cluster/MemberPromote",
    "MemberPromoteRequest",
    "MemberPromoteResponse",
    UNARY,
    AT_MOST_ONCE,
)

# service Maintenance
MAINTENANCE_ALARM = Method(
    "/etcdserverpb.Maintenance/Alarm",
    "AlarmRequest",
    "AlarmResponse",
    UNARY,
    REPEATABLE,
)
MAINTENANCE_STATUS = Method(
    "/etcdserverpb.Maintenance/Status",
    "StatusRequest",
    "StatusResponse",
    UNARY,
    REPEATABLE,
)
MAINTENANCE_DEFRAGMENT = Method(
    "/etcdserverpb.Maintenance/Defragment",
    "DefragmentRequest",
    "DefragmentResponse",
    UNARY,
    AT_MOST_ONCE,
)
MAINTENANCE_HASH = Method(
    "/etcdserverpb.Maintenance/Hash", "HashRequest", "HashResponse", UNARY, REPEATABLE
)
MAINTENANCE_HASH_KV = Method(
    "/etcdserverpb.Maintenance/HashKV",
    "HashKVRequest",
    "HashKVResponse",
    UNARY,
    REPEATABLE,
)
MAINTENANCE_SNAPSHOT = Method(
    "/etcdserverpb.Maintenance/Snapshot",
    "SnapshotRequest",
    "SnapshotResponse",
    SERVER_STREAM,
    REPEATABLE,
)
MAINTENANCE_MOVE_LEADER = Method(
    "/etcdserverpb.Maintenance/MoveLeader",
    "MoveLeaderRequest",
    "MoveLeaderResponse",
    UNARY,
    REPEATABLE,
)
MAINTENANCE_DOWNGRADE = Method(
    "/etcdserverpb.Maintenance/Downgrade",
    "DowngradeRequest",
    "DowngradeResponse",
    UNARY,
    AT_MOST_ONCE,
)

# service Auth
AUTH_ENABLE = Method(
    "/etcdserverpb.Auth/AuthEnable",
    "AuthEnableRequest",
    "AuthEnableResponse",
    UNARY,
    AT_MOST_ONCE,
)
AUTH_DISABLE = Method(
    "/etcdserverpb.Auth/AuthDisable",
    "AuthDisableRequest",
    "AuthDisableResponse",
    UNARY,
    AT_MOST_ONCE,
)
AUTH_STATUS = Method(
    "/etcdserverpb.Auth/AuthStatus",
    "AuthStatusRequest",
    "AuthStatusResponse",
    UNARY,
    AT_MOST_ONCE,
)
AUTH_AUTHENTICATE = Method(
    "/etcdserverpb.Auth/Authenticate",
    "AuthenticateRequest",
    "AuthenticateResponse",
    UNARY,
    AT_MOST_ONCE,
)
AUTH_USER_ADD = Method(
    "/etcdserverpb.Auth/UserAdd",
    "AuthUserAddRequest",
    "AuthUserAddResponse",
    UNARY,
    AT_MOST_ONCE,
)
AUTH_USER_GET = Method(
    "/etcdserverpb.Auth/UserGet",
    "AuthUserGetRequest",
    "AuthUserGetResponse",
    UNARY,
    REPEATABLE,
)
AUTH_USER_LIST = Method(
    "/etcdserverpb.Auth/UserList",
    "AuthUserListRequest",
    "AuthUserListResponse",
    UNARY,
    REPEATABLE,
)
AUTH_USER_DELETE = Method(
    "/etcdserverpb.Auth/UserDelete",
    "AuthUserDeleteRequest",
    "AuthUserDeleteResponse",
    UNARY,
    AT_MOST_ONCE,
)
AUTH_USER_CHANGE_PASSWORD = Method(
    "/etcdserverpb.Auth/UserChangePassword",
    "AuthUserChangePasswordRequest",
    "AuthUserChangePasswordResponse",
    UNARY,
    AT_MOST_ONCE,
)
AUTH_USER_GRANT_ROLE = Method(
    "/etcdserverpb.Auth/UserGrantRole",
    "AuthUserGrantRoleRequest",
    "AuthUserGrantRoleResponse",
    UNARY,
    AT_MOST_ONCE,
)
AUTH_USER_REVOKE_ROLE = Method(
    "/etcdserverpb.Auth/UserRevokeRole",
    "AuthUserRevokeRoleRequest",
    "AuthUserRevokeRoleResponse",
    UNARY,
    AT_MOST_ONCE,
)
AUTH_ROLE_ADD = Method(
    "/etcdserverpb.Auth/RoleAdd",
    "AuthRoleAddRequest",
    "AuthRoleAddResponse",
    UNARY,
    AT_MOST_ONCE,
)
AUTH_ROLE_GET = Method(
    "/etcdserverpb.Auth/RoleGet",
    "AuthRoleGetRequest",
    "AuthRoleGetResponse",
    UNARY,
    REPEATABLE,
)
AUTH_ROLE_LIST = Method(
    "/etcdserverpb.Auth/RoleList",
    "AuthRoleListRequest",
    "AuthRoleListResponse",
    UNARY,
    REPEATABLE,
)
AUTH_ROLE_DELETE = Method(
    "/etcdserverpb.Auth/RoleDelete",
    "AuthRoleDeleteRequest",
    "AuthRoleDeleteResponse",
    UNARY,
    AT_MOST_ONCE,
)
AUTH_ROLE_GRANT_PERMISSION = Method(
    "/etcdserverpb.Auth/RoleGrantPermission",
    "AuthRoleGrantPermissionRequest",
    "AuthRoleGrantPermissionResponse",
    UNARY,
    AT_MOST_ONCE,
)
AUTH_ROLE_REVOKE_PERMISSION = Method(
    "/etcdserverpb.Auth/RoleRevokePermission",
    "AuthRoleRevokePermissionRequest",
    "AuthRoleRevokePermissionResponse",
    UNARY,
    AT_MOST_ONCE,
)

#: Every RPC by its full path.
METHODS: Dict[str, Method] = {
    method.path: method
    for method in (
        KV_RANGE,
        KV_RANGE_STREAM,
        KV_PUT,
        KV_DELETE_RANGE,
        KV_TXN,
        KV_COMPACT,
        WATCH_WATCH,
        LEASE_GRANT,
        LEASE_REVOKE,
        LEASE_KEEP_ALIVE,
        LEASE_TIME_TO_LIVE,
        LEASE_LEASES,
        CLUSTER_MEMBER_ADD,
        CLUSTER_MEMBER_REMOVE,
        CLUSTER_MEMBER_UPDATE,
        CLUSTER_MEMBER_LIST,
        CLUSTER_MEMBER_PROMOTE,
        MAINTENANCE_ALARM,
        MAINTENANCE_STATUS,
        MAINTENANCE_DEFRAGMENT,
        MAINTENANCE_HASH,
        MAINTENANCE_HASH_KV,
        MAINTENANCE_SNAPSHOT,
        MAINTENANCE_MOVE_LEADER,
        MAINTENANCE_DOWNGRADE,
        AUTH_ENABLE,
        AUTH_DISABLE,
        AUTH_STATUS,
        AUTH_AUTHENTICATE,
        AUTH_USER_ADD,
        AUTH_USER_GET,
        AUTH_USER_LIST,
        AUTH_USER_DELETE,
        AUTH_USER_CHANGE_PASSWORD,
        AUTH_USER_GRANT_ROLE,
        AUTH_USER_REVOKE_ROLE,
        AUTH_ROLE_ADD,
        AUTH_ROLE_GET,
        AUTH_ROLE_LIST,
        AUTH_ROLE_DELETE,
        AUTH_ROLE_GRANT_PERMISSION,
        AUTH_ROLE_REVOKE_PERMISSION,
    )
}
