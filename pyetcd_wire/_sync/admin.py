"""`AdminCalls`: the Cluster, Maintenance and Auth APIs of `Client` (sync).

A mixin of one-line facades over the request builders in `_api.cluster`,
`_api.maintenance` and `_api.auth` and the client's call hooks (Go's
cluster.go, maintenance.go, auth.go).  Results are the etcd protobuf response
messages (docs/api.md); `snapshot` yields the raw database chunks.

The hooks, which `Client` defines:

* ``_call(method, request, response_type, timeout)``: a unary call on the
  client's connection;
* ``_call_endpoint(endpoint, method, request, response_type, timeout)``: one
  call to exactly that endpoint (Go's per-endpoint Status, HashKV and
  Defragment, which dial the endpoint they are given);
* ``_server_stream(method, request, timeout)``: the raw messages of a
  server-streaming call (Snapshot);
* ``endpoints``: the client's endpoints.
"""

from __future__ import annotations

import contextlib
import os
from typing import (
    TYPE_CHECKING,
    Generator,
    Iterator,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
)

from google.protobuf.message import Message

from .._api import auth as auth_api
from .._api import cluster as cluster_api
from .._api import maintenance as maintenance_api
from .._api.cluster import PeerURLs
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
    MAINTENANCE_SNAPSHOT,
    MAINTENANCE_STATUS,
    Method,
)
from .._proto import rpc_pb2 as pb

Key = Union[str, bytes]
R = TypeVar("R", bound=Message)
PathT = TypeVar("PathT", bound=Union[str, "os.PathLike[str]"])

# Go's snapshot package writes the file owner-only (fileutil.PrivateFileMode):
# a snapshot holds every key, and the auth store's users and password hashes.
SNAPSHOT_FILE_MODE = 0o600


class AdminCalls:
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

        def _call(
            self,
            method: Method,
            request: Message,
            response_type: Type[R],
            timeout: Optional[float],
        ) -> R: ...

        def _call_endpoint(
            self,
            endpoint: str,
            method: Method,
            request: Message,
            response_type: Type[R],
            timeout: Optional[float],
        ) -> R: ...

        # unasync: sync only (begin)
        def _server_stream(
            self, method: Method, request: Message, timeout: Optional[float]
        ) -> Iterator[bytes]: ...

        # unasync: sync only (end)

    # --- Cluster ----------------------------------------------------------------

    def member_list(
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
        request = cluster_api.member_list_request(linearizable=linearizable)
        return self._call(CLUSTER_MEMBER_LIST, request, pb.MemberListResponse, timeout)

    def member_add(
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
        request = cluster_api.member_add_request(peer_urls, learner=learner)
        return self._call(CLUSTER_MEMBER_ADD, request, pb.MemberAddResponse, timeout)

    def member_remove(
        self, member_id: int, *, timeout: Optional[float] = None
    ) -> pb.MemberRemoveResponse:
        """Remove a member from the cluster (etcd MemberRemove); `.members`
        is the new membership.

        Raises:
            MemberNotFoundError: no such member.
            MemberNotEnoughStartedError: it would leave too few started voters.
        """
        request = cluster_api.member_remove_request(member_id)
        response_type = pb.MemberRemoveResponse
        return self._call(CLUSTER_MEMBER_REMOVE, request, response_type, timeout)

    def member_update(
        self, member_id: int, peer_urls: PeerURLs, *, timeout: Optional[float] = None
    ) -> pb.MemberUpdateResponse:
        """Replace a member's peer URLs (etcd MemberUpdate).

        Raises:
            MemberNotFoundError, PeerURLExistError.
        """
        request = cluster_api.member_update_request(member_id, peer_urls)
        response_type = pb.MemberUpdateResponse
        return self._call(CLUSTER_MEMBER_UPDATE, request, response_type, timeout)

    def member_promote(
        self, member_id: int, *, timeout: Optional[float] = None
    ) -> pb.MemberPromoteResponse:
        """Make a learner a voting member (etcd MemberPromote, 3.4+).

        Raises:
            MemberLearnerNotReadyError: its log still lags; try again later.
            MemberNotLearnerError: it already votes.
            MemberNotFoundError: no such member.
        """
        request = cluster_api.member_promote_request(member_id)
        response_type = pb.MemberPromoteResponse
        return self._call(CLUSTER_MEMBER_PROMOTE, request, response_type, timeout)

    # --- Maintenance ------------------------------------------------------------

    def status(
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
        request = maintenance_api.status_request()
        return self._call_endpoint(
            target, MAINTENANCE_STATUS, request, pb.StatusResponse, timeout
        )

    def alarm_list(self, *, timeout: Optional[float] = None) -> pb.AlarmResponse:
        """Every active alarm (etcd Alarm GET): `.alarms[i]` with `.memberID`
        and `.alarm` (NOSPACE=1, CORRUPT=2)."""
        request = maintenance_api.alarm_list_request()
        return self._call(MAINTENANCE_ALARM, request, pb.AlarmResponse, timeout)

    def alarm_disarm(
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
        request = maintenance_api.alarm_disarm_request(member_id, alarm)
        if not maintenance_api.is_wildcard(request):
            return self._call(MAINTENANCE_ALARM, request, pb.AlarmResponse, timeout)
        listed = self.alarm_list(timeout=timeout)
        responses = [
            self._call(MAINTENANCE_ALARM, each, pb.AlarmResponse, timeout)
            for each in maintenance_api.disarm_requests(request, listed)
        ]
        return maintenance_api.join_alarm_responses(listed, responses)

    def defragment(
        self, endpoint: str, *, timeout: Optional[float] = None
    ) -> pb.DefragmentResponse:
        """Defragment one member's backend database, giving freed space back
        to the file system (etcd Defragment).  The member serves nothing
        while it runs; defragment members one at a time.

        Args:
            endpoint: the member, exactly.
        """
        request = maintenance_api.defragment_request()
        return self._call_endpoint(
            endpoint, MAINTENANCE_DEFRAGMENT, request, pb.DefragmentResponse, timeout
        )

    def hash_kv(
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
        request = maintenance_api.hash_kv_request(revision)
        return self._call_endpoint(
            endpoint, MAINTENANCE_HASH_KV, request, pb.HashKVResponse, timeout
        )

    def move_leader(
        self, target_id: int, *, timeout: Optional[float] = None
    ) -> pb.MoveLeaderResponse:
        """Hand raft leadership to member `target_id` (etcd MoveLeader).  The
        call must reach the current leader.

        Raises:
            ServerNotLeaderError: the endpoint is not the leader.
            BadLeaderTransfereeError: no such voting member.
        """
        request = maintenance_api.move_leader_request(target_id)
        response_type = pb.MoveLeaderResponse
        return self._call(MAINTENANCE_MOVE_LEADER, request, response_type, timeout)

    # unasync: sync only (begin)
    def snapshot(
        self, *, timeout: Optional[float] = None
    ) -> Generator[bytes, None, None]:
        """Stream the member's backend database (etcd Snapshot).

        Yields the raw chunks, the last one the 32-byte SHA-256 of all the
        others: written one after the other they make the file etcdctl's
        `snapshot save` writes.  The checksum is checked as the stream ends;
        the last chunk comes only if it matches.  The call starts at the
        first iteration; `close()` the iterator to stop early.

        Args:
            timeout: deadline for the whole download (None: the client
                default).

        Raises:
            RemoteProtocolError: the stream ended without a matching checksum.
        """
        request = maintenance_api.snapshot_request()
        messages = self._server_stream(MAINTENANCE_SNAPSHOT, request, timeout)
        return maintenance_api.snapshot_blobs(messages)

    def snapshot_save(self, path: PathT, *, timeout: Optional[float] = None) -> PathT:
        """Save a snapshot to `path` and return `path`.

        As Go's snapshot package: the data goes to `<path>.part` (mode 0600),
        is fsynced, and the file is renamed to `path` only once the whole
        snapshot arrived with a matching checksum.  On any failure the
        `.part` file is removed and the error raised; `path` is untouched.

        Args:
            path: the file to write (replaced if it exists).
            timeout: deadline for the whole download.

        Raises:
            RemoteProtocolError: the checksum is missing or wrong.
            OSError: the file cannot be written.
        """
        target: Union[str, os.PathLike[str]] = path
        part = os.fspath(target) + ".part"
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
        try:
            with open(os.open(part, flags, SNAPSHOT_FILE_MODE), "wb") as file:
                with contextlib.closing(self.snapshot(timeout=timeout)) as blobs:
                    for blob in blobs:
                        file.write(blob)
                file.flush()
                os.fsync(file.fileno())
            os.replace(part, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(part)
            raise
        return path

    # unasync: sync only (end)
    # --- Auth -------------------------------------------------------------------

    def auth_enable(self, *, timeout: Optional[float] = None) -> pb.AuthEnableResponse:
        """Turn authentication on (etcd AuthEnable).

        Raises:
            RootUserNotExistError, RootRoleNotExistError: create user "root"
                with role "root" first.
        """
        request = auth_api.auth_enable_request()
        return self._call(AUTH_ENABLE, request, pb.AuthEnableResponse, timeout)

    def auth_disable(
        self, *, timeout: Optional[float] = None
    ) -> pb.AuthDisableResponse:
        """Turn authentication off (etcd AuthDisable); needs the root role."""
        request = auth_api.auth_disable_request()
        return self._call(AUTH_DISABLE, request, pb.AuthDisableResponse, timeout)

    def auth_status(self, *, timeout: Optional[float] = None) -> pb.AuthStatusResponse:
        """`.enabled` and the auth store's `.authRevision` (etcd AuthStatus,
        3.5+; before 3.7 it needs a token once auth is on)."""
        request = auth_api.auth_status_request()
        return self._call(AUTH_STATUS, request, pb.AuthStatusResponse, timeout)

    def authenticate(
        self, name: str, password: str, *, timeout: Optional[float] = None
    ) -> pb.AuthenticateResponse:
        """Check a user's password and get a `.token` (etcd Authenticate).

        Raises:
            AuthFailedError: wrong name or password.
            AuthNotEnabledError: auth is off.
        """
        request = auth_api.authenticate_request(name, password)
        return self._call(AUTH_AUTHENTICATE, request, pb.AuthenticateResponse, timeout)

    def user_add(
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
        request = auth_api.user_add_request(name, password, no_password=no_password)
        return self._call(AUTH_USER_ADD, request, pb.AuthUserAddResponse, timeout)

    def user_delete(
        self, name: str, *, timeout: Optional[float] = None
    ) -> pb.AuthUserDeleteResponse:
        """Delete a user (etcd UserDelete).  Raises UserNotFoundError."""
        request = auth_api.user_delete_request(name)
        response_type = pb.AuthUserDeleteResponse
        return self._call(AUTH_USER_DELETE, request, response_type, timeout)

    def user_get(
        self, name: str, *, timeout: Optional[float] = None
    ) -> pb.AuthUserGetResponse:
        """A user's `.roles` (etcd UserGet).  Raises UserNotFoundError."""
        request = auth_api.user_get_request(name)
        return self._call(AUTH_USER_GET, request, pb.AuthUserGetResponse, timeout)

    def user_list(self, *, timeout: Optional[float] = None) -> pb.AuthUserListResponse:
        """Every user name, sorted, in `.users` (etcd UserList)."""
        request = auth_api.user_list_request()
        return self._call(AUTH_USER_LIST, request, pb.AuthUserListResponse, timeout)

    def user_change_password(
        self, name: str, password: str, *, timeout: Optional[float] = None
    ) -> pb.AuthUserChangePasswordResponse:
        """Set a user's password (etcd UserChangePassword).  Raises
        UserNotFoundError."""
        request = auth_api.user_change_password_request(name, password)
        response_type = pb.AuthUserChangePasswordResponse
        return self._call(AUTH_USER_CHANGE_PASSWORD, request, response_type, timeout)

    def user_grant_role(
        self, name: str, role: str, *, timeout: Optional[float] = None
    ) -> pb.AuthUserGrantRoleResponse:
        """Give user `name` the role `role` (etcd UserGrantRole).

        Raises:
            UserNotFoundError, RoleNotFoundError.
        """
        request = auth_api.user_grant_role_request(name, role)
        response_type = pb.AuthUserGrantRoleResponse
        return self._call(AUTH_USER_GRANT_ROLE, request, response_type, timeout)

    def user_revoke_role(
        self, name: str, role: str, *, timeout: Optional[float] = None
    ) -> pb.AuthUserRevokeRoleResponse:
        """Take the role `role` from user `name` (etcd UserRevokeRole).

        Raises:
            UserNotFoundError, RoleNotGrantedError.
        """
        request = auth_api.user_revoke_role_request(name, role)
        response_type = pb.AuthUserRevokeRoleResponse
        return self._call(AUTH_USER_REVOKE_ROLE, request, response_type, timeout)

    def role_add(
        self, role: str, *, timeout: Optional[float] = None
    ) -> pb.AuthRoleAddResponse:
        """Create a role (etcd RoleAdd).

        Raises:
            RoleAlreadyExistError; RoleEmptyError: `role` is empty.
        """
        request = auth_api.role_add_request(role)
        return self._call(AUTH_ROLE_ADD, request, pb.AuthRoleAddResponse, timeout)

    def role_delete(
        self, role: str, *, timeout: Optional[float] = None
    ) -> pb.AuthRoleDeleteResponse:
        """Delete a role (etcd RoleDelete).  Raises RoleNotFoundError."""
        request = auth_api.role_delete_request(role)
        response_type = pb.AuthRoleDeleteResponse
        return self._call(AUTH_ROLE_DELETE, request, response_type, timeout)

    def role_get(
        self, role: str, *, timeout: Optional[float] = None
    ) -> pb.AuthRoleGetResponse:
        """A role's permissions, `.perm[i]` with `.permType` (READ=0, WRITE=1,
        READWRITE=2), `.key`, `.range_end` (etcd RoleGet).  Raises
        RoleNotFoundError."""
        request = auth_api.role_get_request(role)
        return self._call(AUTH_ROLE_GET, request, pb.AuthRoleGetResponse, timeout)

    def role_list(self, *, timeout: Optional[float] = None) -> pb.AuthRoleListResponse:
        """Every role name, sorted, in `.roles` (etcd RoleList)."""
        request = auth_api.role_list_request()
        return self._call(AUTH_ROLE_LIST, request, pb.AuthRoleListResponse, timeout)

    def role_grant_permission(
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
        request = auth_api.role_grant_permission_request(
            role, key, range_end, perm=perm, prefix=prefix
        )
        response_type = pb.AuthRoleGrantPermissionResponse
        return self._call(AUTH_ROLE_GRANT_PERMISSION, request, response_type, timeout)

    def role_revoke_permission(
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
        request = auth_api.role_revoke_permission_request(
            role, key, range_end, prefix=prefix
        )
        response_type = pb.AuthRoleRevokePermissionResponse
        return self._call(AUTH_ROLE_REVOKE_PERMISSION, request, response_type, timeout)
