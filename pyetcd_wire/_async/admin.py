"""`AsyncAdminCalls`: the Cluster, Maintenance and Auth APIs of
`AsyncClient`.

A mixin of one-line facades over the request builders in `_api.cluster`,
`_api.maintenance` and `_api.auth` and the client's call hooks (Go's
cluster.go, maintenance.go, auth.go).  Results are the etcd protobuf response
messages (docs/api.md).  The client itself has `snapshot` and
`snapshot_save`, which each driver streams and writes in its own way.

The hooks, which the client defines:

* ``_call(method, request, response_type, timeout)``: a unary call on the
  client's connection;
* ``_call_endpoint(endpoint, method, request, response_type, timeout)``: one
  call to exactly that endpoint (Go's per-endpoint Status, HashKV and
  Defragment, which dial the endpoint they are given);
* ``endpoints``: the client's endpoints.

Each method imports its request builder: importing pyetcd_wire loads what
every client needs, not the admin APIs some use.
"""

# unasync: async only (begin)
# The source of _sync/admin.py: change this module, then run
# python scripts/unasync.py.
# unasync: async only (end)

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
)

from google.protobuf.message import Message

from .._api.methods import (
    AUTH_AUTHENTICATE,
    AUTH_DISABLE,
    AUTH_ENABLE,
    AUTH_ROLE_ADD,
    AUTH_ROLE_DELETE,
    AUTH_ROLE_GET,
    AUTH_ROLE_GRANT_PERMISSION,
    AUTH_ROLE_LIST,
    AUTH_ROLE_REVOKE_PERMISSION,
    AUTH_STATUS,
    AUTH_USER_ADD,
    AUTH_USER_CHANGE_PASSWORD,
    AUTH_USER_DELETE,
    AUTH_USER_GET,
    AUTH_USER_GRANT_ROLE,
    AUTH_USER_LIST,
    AUTH_USER_REVOKE_ROLE,
    CLUSTER_MEMBER_ADD,
    CLUSTER_MEMBER_LIST,
    CLUSTER_MEMBER_PROMOTE,
    CLUSTER_MEMBER_REMOVE,
    CLUSTER_MEMBER_UPDATE,
    MAINTENANCE_ALARM,
    MAINTENANCE_DEFRAGMENT,
    MAINTENANCE_HASH_KV,
    MAINTENANCE_MOVE_LEADER,
    MAINTENANCE_STATUS,
    Method,
)
from .._proto import rpc_pb2 as pb

if TYPE_CHECKING:
    from .._api.cluster import PeerURLs

Key = Union[str, bytes]
R = TypeVar("R", bound=Message)


class AsyncAdminCalls:
    """Cluster membership, maintenance and auth management (see the module
    docstring for the hooks the class using it must provide).

    Every method takes `timeout=`: a deadline in seconds (None: the client
    default).  Server errors raise the typed exceptions of
    `pyetcd_wire.errors`; invalid arguments raise ValueError or TypeError
    before anything is sent.
    """

    if TYPE_CHECKING:

        @property
        def endpoints(self) -> Tuple[str, ...]: ...

        async def _call(
            self,
            method: Method,
            request: Message,
            response_type: Type[R],
            timeout: Optional[float],
        ) -> R: ...

        async def _call_endpoint(
            self,
            endpoint: str,
            method: Method,
            request: Message,
            response_type: Type[R],
            timeout: Optional[float],
        ) -> R: ...

    # --- Cluster ----------------------------------------------------------------

    async def member_list(
        self, *, linearizable: bool = True, timeout: Optional[float] = None
    ) -> pb.MemberListResponse:
        """Every member of the cluster (etcd MemberList): `.members[i]` with
        `.ID`, `.name` ("" until started), `.peerURLs`, `.clientURLs`,
        `.isLearner`.

        Args:
            linearizable: read the list through raft (Go's default); False
                answers from the member's local state (Go
                `WithSerializable()`; servers before 3.5 always do).
        """
        from .._api import cluster as cluster_api

        request = cluster_api.member_list_request(linearizable=linearizable)
        return await self._call(
            CLUSTER_MEMBER_LIST, request, pb.MemberListResponse, timeout
        )

    async def member_add(
        self,
        peer_urls: PeerURLs,
        *,
        learner: bool = False,
        timeout: Optional[float] = None,
    ) -> pb.MemberAddResponse:
        """Announce a new member (etcd MemberAdd); `.member.ID` is its ID,
        `.members` the new membership.  Start it afterwards with
        `--initial-cluster-state existing`.

        Args:
            peer_urls: its peer URL, or a list of them; checked here as Go
                does (ValueError naming a bad URL).
            learner: add it as a non-voting learner, promoted later with
                `member_promote` (Go `MemberAddAsLearner`, etcd 3.4+).

        Raises:
            PeerURLExistError, MemberBadURLsError, TooManyLearnersError,
            MemberNotEnoughStartedError (a voter that would break quorum).
        """
        from .._api import cluster as cluster_api

        request = cluster_api.member_add_request(peer_urls, learner=learner)
        return await self._call(
            CLUSTER_MEMBER_ADD, request, pb.MemberAddResponse, timeout
        )

    async def member_remove(
        self, member_id: int, *, timeout: Optional[float] = None
    ) -> pb.MemberRemoveResponse:
        """Remove a member from the cluster (etcd MemberRemove); `.members`
        is the new membership.

        Raises:
            MemberNotFoundError: no such member.
            MemberNotEnoughStartedError: it would leave too few started voters.
        """
        from .._api import cluster as cluster_api

        request = cluster_api.member_remove_request(member_id)
        response_type = pb.MemberRemoveResponse
        return await self._call(CLUSTER_MEMBER_REMOVE, request, response_type, timeout)

    async def member_update(
        self, member_id: int, peer_urls: PeerURLs, *, timeout: Optional[float] = None
    ) -> pb.MemberUpdateResponse:
        """Replace a member's peer URLs (etcd MemberUpdate).

        Raises:
            MemberNotFoundError, PeerURLExistError.
        """
        from .._api import cluster as cluster_api

        request = cluster_api.member_update_request(member_id, peer_urls)
        response_type = pb.MemberUpdateResponse
        return await self._call(CLUSTER_MEMBER_UPDATE, request, response_type, timeout)

    async def member_promote(
        self, member_id: int, *, timeout: Optional[float] = None
    ) -> pb.MemberPromoteResponse:
        """Make a learner a voting member (etcd MemberPromote, 3.4+).

        Raises:
            MemberLearnerNotReadyError: its log still lags; try again later.
            MemberNotLearnerError: it already votes.
            MemberNotFoundError: no such member.
        """
        from .._api import cluster as cluster_api

        request = cluster_api.member_promote_request(member_id)
        response_type = pb.MemberPromoteResponse
        return await self._call(CLUSTER_MEMBER_PROMOTE, request, response_type, timeout)

    # --- Maintenance ------------------------------------------------------------

    async def status(
        self, endpoint: Optional[str] = None, *, timeout: Optional[float] = None
    ) -> pb.StatusResponse:
        """The status of one member (etcd Status): `.version`, `.dbSize`,
        `.leader`, `.raftIndex`, `.raftTerm`, `.errors`, `.isLearner`, ...

        Args:
            endpoint: the member to ask, exactly; None: the client's first
                endpoint.

        Raises:
            ConnectionFailedError: that endpoint cannot be reached (no other
                is tried).
        """
        target = self.endpoints[0] if endpoint is None else endpoint
        from .._api import maintenance as maintenance_api

        request = maintenance_api.status_request()
        return await self._call_endpoint(
            target, MAINTENANCE_STATUS, request, pb.StatusResponse, timeout
        )

    async def alarm_list(self, *, timeout: Optional[float] = None) -> pb.AlarmResponse:
        """Every active alarm (etcd Alarm GET): `.alarms[i]` with `.memberID`
        and `.alarm` (NOSPACE=1, CORRUPT=2)."""
        from .._api import maintenance as maintenance_api

        request = maintenance_api.alarm_list_request()
        return await self._call(MAINTENANCE_ALARM, request, pb.AlarmResponse, timeout)

    async def alarm_disarm(
        self,
        member_id: int = 0,
        alarm: Union[str, int] = "nospace",
        *,
        timeout: Optional[float] = None,
    ) -> pb.AlarmResponse:
        """Disarm alarms (etcd Alarm DEACTIVATE); `.alarms` lists those
        disarmed.

        etcd only disarms an exact (member, type) pair.  As Go's AlarmDisarm
        does for member 0 with "none", a wildcard is expanded: the alarms are
        listed and each match disarmed, one call each (`timeout` applies to
        each call).

        Args:
            member_id: the member whose alarm to disarm; 0: every member.
            alarm: "nospace", "corrupt" or "none" (every type);
                case-insensitive.

        Raises:
            ValueError: an unknown alarm name.
        """
        from .._api import maintenance as maintenance_api

        request = maintenance_api.alarm_disarm_request(member_id, alarm)
        if not maintenance_api.is_wildcard(request):
            return await self._call(
                MAINTENANCE_ALARM, request, pb.AlarmResponse, timeout
            )
        listed = await self.alarm_list(timeout=timeout)
        responses = [
            await self._call(MAINTENANCE_ALARM, each, pb.AlarmResponse, timeout)
            for each in maintenance_api.disarm_requests(request, listed)
        ]
        return maintenance_api.join_alarm_responses(listed, responses)

    async def defragment(
        self, endpoint: str, *, timeout: Optional[float] = None
    ) -> pb.DefragmentResponse:
        """Defragment one member's backend database, giving freed space back
        to the file system (etcd Defragment).  The member serves nothing
        while it runs; defragment members one at a time.

        Args:
            endpoint: the member, exactly.
        """
        from .._api import maintenance as maintenance_api

        request = maintenance_api.defragment_request()
        return await self._call_endpoint(
            endpoint, MAINTENANCE_DEFRAGMENT, request, pb.DefragmentResponse, timeout
        )

    async def hash_kv(
        self, endpoint: str, revision: int = 0, *, timeout: Optional[float] = None
    ) -> pb.HashKVResponse:
        """One member's hash of its key-value history up to `revision` (0: the
        newest), to check members agree (etcd HashKV): `.hash`,
        `.compact_revision`.

        Args:
            endpoint: the member, exactly.

        Raises:
            CompactedError, FutureRevisionError: `revision` out of range.
        """
        from .._api import maintenance as maintenance_api

        request = maintenance_api.hash_kv_request(revision)
        return await self._call_endpoint(
            endpoint, MAINTENANCE_HASH_KV, request, pb.HashKVResponse, timeout
        )

    async def move_leader(
        self, target_id: int, *, timeout: Optional[float] = None
    ) -> pb.MoveLeaderResponse:
        """Hand raft leadership to member `target_id` (etcd MoveLeader).  The
        call must reach the current leader.

        Raises:
            ServerNotLeaderError: the endpoint is not the leader.
            BadLeaderTransfereeError: no such voting member.
        """
        from .._api import maintenance as maintenance_api

        request = maintenance_api.move_leader_request(target_id)
        response_type = pb.MoveLeaderResponse
        return await self._call(
            MAINTENANCE_MOVE_LEADER, request, response_type, timeout
        )

    # --- Auth -------------------------------------------------------------------

    async def auth_enable(
        self, *, timeout: Optional[float] = None
    ) -> pb.AuthEnableResponse:
        """Turn authentication on (etcd AuthEnable).

        Raises:
            RootUserNotExistError, RootRoleNotExistError: create user "root"
                with role "root" first.
        """
        from .._api import auth as auth_api

        request = auth_api.auth_enable_request()
        return await self._call(AUTH_ENABLE, request, pb.AuthEnableResponse, timeout)

    async def auth_disable(
        self, *, timeout: Optional[float] = None
    ) -> pb.AuthDisableResponse:
        """Turn authentication off (etcd AuthDisable); needs the root role."""
        from .._api import auth as auth_api

        request = auth_api.auth_disable_request()
        return await self._call(AUTH_DISABLE, request, pb.AuthDisableResponse, timeout)

    async def auth_status(
        self, *, timeout: Optional[float] = None
    ) -> pb.AuthStatusResponse:
        """`.enabled` and the auth store's `.authRevision` (etcd AuthStatus,
        3.5+; before 3.7 it needs a token once auth is on)."""
        from .._api import auth as auth_api

        request = auth_api.auth_status_request()
        return await self._call(AUTH_STATUS, request, pb.AuthStatusResponse, timeout)

    async def authenticate(
        self, name: str, password: str, *, timeout: Optional[float] = None
    ) -> pb.AuthenticateResponse:
        """Check a user's password and get a `.token` (etcd Authenticate).

        Raises:
            AuthFailedError: wrong name or password.
            AuthNotEnabledError: auth is off.
        """
        from .._api import auth as auth_api

        request = auth_api.authenticate_request(name, password)
        return await self._call(
            AUTH_AUTHENTICATE, request, pb.AuthenticateResponse, timeout
        )

    async def user_add(
        self,
        name: str,
        password: Optional[str] = None,
        *,
        no_password: bool = False,
        timeout: Optional[float] = None,
    ) -> pb.AuthUserAddResponse:
        """Create a user (etcd UserAdd).

        Args:
            password: its password (required unless `no_password`).
            no_password: a user that can only authenticate by TLS client
                certificate common name (etcd 3.4+).

        Raises:
            UserAlreadyExistError; UserEmptyError: `name` is empty;
            ValueError: both or neither of password and no_password.
        """
        from .._api import auth as auth_api

        request = auth_api.user_add_request(name, password, no_password=no_password)
        return await self._call(AUTH_USER_ADD, request, pb.AuthUserAddResponse, timeout)

    async def user_delete(
        self, name: str, *, timeout: Optional[float] = None
    ) -> pb.AuthUserDeleteResponse:
        """Delete a user (etcd UserDelete).  Raises UserNotFoundError."""
        from .._api import auth as auth_api

        request = auth_api.user_delete_request(name)
        response_type = pb.AuthUserDeleteResponse
        return await self._call(AUTH_USER_DELETE, request, response_type, timeout)

    async def user_get(
        self, name: str, *, timeout: Optional[float] = None
    ) -> pb.AuthUserGetResponse:
        """A user's `.roles` (etcd UserGet).  Raises UserNotFoundError."""
        from .._api import auth as auth_api

        request = auth_api.user_get_request(name)
        return await self._call(AUTH_USER_GET, request, pb.AuthUserGetResponse, timeout)

    async def user_list(
        self, *, timeout: Optional[float] = None
    ) -> pb.AuthUserListResponse:
        """Every user name, sorted, in `.users` (etcd UserList)."""
        from .._api import auth as auth_api

        request = auth_api.user_list_request()
        return await self._call(
            AUTH_USER_LIST, request, pb.AuthUserListResponse, timeout
        )

    async def user_change_password(
        self, name: str, password: str, *, timeout: Optional[float] = None
    ) -> pb.AuthUserChangePasswordResponse:
        """Set a user's password (etcd UserChangePassword).  Raises
        UserNotFoundError."""
        from .._api import auth as auth_api

        request = auth_api.user_change_password_request(name, password)
        response_type = pb.AuthUserChangePasswordResponse
        return await self._call(
            AUTH_USER_CHANGE_PASSWORD, request, response_type, timeout
        )

    async def user_grant_role(
        self, name: str, role: str, *, timeout: Optional[float] = None
    ) -> pb.AuthUserGrantRoleResponse:
        """Give user `name` the role `role` (etcd UserGrantRole).

        Raises:
            UserNotFoundError, RoleNotFoundError.
        """
        from .._api import auth as auth_api

        request = auth_api.user_grant_role_request(name, role)
        response_type = pb.AuthUserGrantRoleResponse
        return await self._call(AUTH_USER_GRANT_ROLE, request, response_type, timeout)

    async def user_revoke_role(
        self, name: str, role: str, *, timeout: Optional[float] = None
    ) -> pb.AuthUserRevokeRoleResponse:
        """Take the role `role` from user `name` (etcd UserRevokeRole).

        Raises:
            UserNotFoundError, RoleNotGrantedError.
        """
        from .._api import auth as auth_api

        request = auth_api.user_revoke_role_request(name, role)
        response_type = pb.AuthUserRevokeRoleResponse
        return await self._call(AUTH_USER_REVOKE_ROLE, request, response_type, timeout)

    async def role_add(
        self, role: str, *, timeout: Optional[float] = None
    ) -> pb.AuthRoleAddResponse:
        """Create a role (etcd RoleAdd).

        Raises:
            RoleAlreadyExistError; RoleEmptyError: `role` is empty.
        """
        from .._api import auth as auth_api

        request = auth_api.role_add_request(role)
        return await self._call(AUTH_ROLE_ADD, request, pb.AuthRoleAddResponse, timeout)

    async def role_delete(
        self, role: str, *, timeout: Optional[float] = None
    ) -> pb.AuthRoleDeleteResponse:
        """Delete a role (etcd RoleDelete).  Raises RoleNotFoundError."""
        from .._api import auth as auth_api

        request = auth_api.role_delete_request(role)
        response_type = pb.AuthRoleDeleteResponse
        return await self._call(AUTH_ROLE_DELETE, request, response_type, timeout)

    async def role_get(
        self, role: str, *, timeout: Optional[float] = None
    ) -> pb.AuthRoleGetResponse:
        """A role's permissions, `.perm[i]` with `.permType` (READ=0, WRITE=1,
        READWRITE=2), `.key`, `.range_end` (etcd RoleGet).  Raises
        RoleNotFoundError."""
        from .._api import auth as auth_api

        request = auth_api.role_get_request(role)
        return await self._call(AUTH_ROLE_GET, request, pb.AuthRoleGetResponse, timeout)

    async def role_list(
        self, *, timeout: Optional[float] = None
    ) -> pb.AuthRoleListResponse:
        """Every role name, sorted, in `.roles` (etcd RoleList)."""
        from .._api import auth as auth_api

        request = auth_api.role_list_request()
        return await self._call(
            AUTH_ROLE_LIST, request, pb.AuthRoleListResponse, timeout
        )

    async def role_grant_permission(
        self,
        role: str,
        key: Key,
        range_end: Optional[Key] = None,
        *,
        perm: Union[str, int],
        prefix: bool = False,
        timeout: Optional[float] = None,
    ) -> pb.AuthRoleGrantPermissionResponse:
        """Let role `role` read and/or write a key or range (etcd
        RoleGrantPermission).

        Args:
            key: the key, or the first key of the range.
            range_end: the exclusive end of the range; "\\0": every key >= key.
            perm: "read", "write" or "readwrite" (case-insensitive).
            prefix: every key starting with `key` (an empty key: all keys).

        Raises:
            RoleNotFoundError; ValueError: an unknown perm or a bad range.
        """
        from .._api import auth as auth_api

        request = auth_api.role_grant_permission_request(
            role, key, range_end, perm=perm, prefix=prefix
        )
        response_type = pb.AuthRoleGrantPermissionResponse
        return await self._call(
            AUTH_ROLE_GRANT_PERMISSION, request, response_type, timeout
        )

    async def role_revoke_permission(
        self,
        role: str,
        key: Key,
        range_end: Optional[Key] = None,
        *,
        prefix: bool = False,
        timeout: Optional[float] = None,
    ) -> pb.AuthRoleRevokePermissionResponse:
        """Remove the permission granted on exactly this key or range (etcd
        RoleRevokePermission); the range as in `role_grant_permission`.

        Raises:
            RoleNotFoundError, PermissionNotGrantedError.
        """
        from .._api import auth as auth_api

        request = auth_api.role_revoke_permission_request(
            role, key, range_end, prefix=prefix
        )
        response_type = pb.AuthRoleRevokePermissionResponse
        return await self._call(
            AUTH_ROLE_REVOKE_PERMISSION, request, response_type, timeout
        )
