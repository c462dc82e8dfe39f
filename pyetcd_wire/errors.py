"""The exception tree of pyetcd_wire.

Every error a caller can see derives from `EtcdError` and carries attributes,
not just a string.  Which errors are *expected* (the server or network said no)
and which point at a *bug* is said on each class.  The layout follows
STYLE.md §4 and API.md "Errors".

A non-OK gRPC status becomes an exception in one place, `error_from_status`:
first by the exact etcd message (the catalogue `ETCD_SERVER_ERRORS` below, as Go's
`rpctypes.Error` does), then by the status code.  The message decides because
etcd changed three codes in 3.6 and sends two of its errors as UNKNOWN.
"""

from __future__ import annotations

from typing import ClassVar, Dict, Optional, Sequence, Tuple, Type

from ._core.grpc.status import Status, StatusCode

__all__ = [
    "AbortedError",
    "AlreadyExistsError",
    "AuthFailedError",
    "AuthNotEnabledError",
    "AuthOldRevisionError",
    "BadLeaderTransfereeError",
    "ClusterIDMismatchError",
    "ClusterVersionUnavailableError",
    "CompactedError",
    "ConnectionFailedError",
    "ConnectionLostError",
    "CorruptError",
    "DataLossError",
    "DeadlineExceededError",
    "DowngradeInProcessError",
    "DuplicateKeyError",
    "ElectionNoLeaderError",
    "EmptyKeyError",
    "EtcdError",
    "FailedPreconditionError",
    "FutureRevisionError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidAuthMgmtError",
    "InvalidAuthTokenError",
    "InvalidClientAPIVersionError",
    "InvalidDowngradeTargetVersionError",
    "InvalidSortOptionError",
    "KeepAliveHaltedError",
    "KeyNotFoundError",
    "LeaderChangedError",
    "LeaseError",
    "LeaseExistError",
    "LeaseExpiredError",
    "LeaseNotFoundError",
    "LeaseProvidedError",
    "LeaseTTLTooLargeError",
    "LocalProtocolError",
    "LockReleasedError",
    "LockedError",
    "MemberBadURLsError",
    "MemberExistError",
    "MemberLearnerNotReadyError",
    "MemberNotEnoughStartedError",
    "MemberNotFoundError",
    "MemberNotLearnerError",
    "NoEndpointAvailableError",
    "NoInflightDowngradeError",
    "NoLeaderError",
    "NoSpaceError",
    "NotCapableError",
    "NotFoundError",
    "NotLeaderError",
    "NotSupportedForLearnerError",
    "OldClusterError",
    "OutOfRangeError",
    "PeerURLExistError",
    "PermissionDeniedError",
    "PermissionNotGivenError",
    "PermissionNotGrantedError",
    "ProtocolError",
    "RecipeError",
    "RemoteProtocolError",
    "RequestCanceledError",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "ResourceExhaustedError",
    "RoleAlreadyExistError",
    "RoleEmptyError",
    "RoleNotFoundError",
    "RoleNotGrantedError",
    "RootRoleNotExistError",
    "RootUserNotExistError",
    "RpcCancelledError",
    "RpcError",
    "ServerNotLeaderError",
    "ServerWatchCanceledError",
    "SessionExpiredError",
    "StatusCode",
    "StoppedError",
    "TimeoutDueToConnectionLostError",
    "TimeoutDueToLeaderFailError",
    "TimeoutWaitAppliedIndexError",
    "TooManyLearnersError",
    "TooManyOpsError",
    "TooManyRequestsError",
    "TransportError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnhealthyError",
    "UnimplementedError",
    "UnknownError",
    "UserAlreadyExistError",
    "UserEmptyError",
    "UserNotFoundError",
    "ValueProvidedError",
    "WatchCanceledError",
    "WatchError",
    "WrongDowngradeVersionFormatError",
]

# Every etcd server error: gRPC code as sent by etcd 3.6+ -> {exact message: class}.
# Copied from etcd-io/etcd api/v3rpc/rpctypes/error.go, the union of v3.4.0 to v3.7
# (reference/clientv3.md §3).  etcd sends the text exactly (status.Error, then
# percent-encoding that status.py undoes), so the match is exact, as in Go.  The
# classes are defined below and resolved into ETCD_ERROR_BY_MESSAGE at the end.
ETCD_SERVER_ERRORS: Dict[StatusCode, Dict[str, str]] = {
    StatusCode.INVALID_ARGUMENT: {
        "etcdserver: key is not provided": "EmptyKeyError",
        "etcdserver: key not found": "KeyNotFoundError",
        "etcdserver: value is provided": "ValueProvidedError",
        "etcdserver: lease is provided": "LeaseProvidedError",
        "etcdserver: too many operations in txn request": "TooManyOpsError",
        "etcdserver: duplicate key given in txn request": "DuplicateKeyError",
        "etcdserver: invalid client api version": "InvalidClientAPIVersionError",
        "etcdserver: invalid sort option": "InvalidSortOptionError",
        "etcdserver: given member URLs are invalid": "MemberBadURLsError",
        "etcdserver: request is too large": "RequestTooLargeError",
        "etcdserver: user name is empty": "UserEmptyError",
        "etcdserver: role name is empty": "RoleEmptyError",
        "etcdserver: authentication failed, invalid user ID or password": (
            "AuthFailedError"
        ),
        "etcdserver: permission not given": "PermissionNotGivenError",
        "etcdserver: invalid auth management": "InvalidAuthMgmtError",
        "etcdserver: revision of auth store is old": "AuthOldRevisionError",
        "etcdserver: wrong downgrade target version format": (
            "WrongDowngradeVersionFormatError"
        ),
        "etcdserver: invalid downgrade target version": (
            "InvalidDowngradeTargetVersionError"
        ),
    },
    StatusCode.OUT_OF_RANGE: {
        "etcdserver: mvcc: required revision has been compacted": "CompactedError",
        "etcdserver: mvcc: required revision is a future revision": (
            "FutureRevisionError"
        ),
        "etcdserver: too large lease TTL": "LeaseTTLTooLargeError",
    },
    StatusCode.RESOURCE_EXHAUSTED: {
        "etcdserver: mvcc: database space exceeded": "NoSpaceError",
        # Sent as UNKNOWN: the server returns the client-side EtcdError value.
        "etcdserver: too many requests": "TooManyRequestsError",
    },
    StatusCode.NOT_FOUND: {
        "etcdserver: requested lease not found": "LeaseNotFoundError",
        "etcdserver: member not found": "MemberNotFoundError",
    },
    StatusCode.FAILED_PRECONDITION: {
        "etcdserver: lease already exists": "LeaseExistError",
        "etcdserver: member ID already exist": "MemberExistError",
        "etcdserver: Peer URLs already exists": "PeerURLExistError",
        # Sent as UNKNOWN: the server returns the client-side EtcdError value.
        "etcdserver: re-configuration failed due to not enough started members": (
            "MemberNotEnoughStartedError"
        ),
        "etcdserver: can only promote a learner member": "MemberNotLearnerError",
        "etcdserver: can only promote a learner member which is in sync with leader": (
            "MemberLearnerNotReadyError"
        ),
        "etcdserver: too many learner members in cluster": "TooManyLearnersError",
        "etcdserver: cluster ID mismatch": "ClusterIDMismatchError",
        "etcdserver: root user does not exist": "RootUserNotExistError",
        "etcdserver: root user does not have root role": "RootRoleNotExistError",
        "etcdserver: user name already exists": "UserAlreadyExistError",
        "etcdserver: user name not found": "UserNotFoundError",
        "etcdserver: role name already exists": "RoleAlreadyExistError",
        "etcdserver: role name not found": "RoleNotFoundError",
        "etcdserver: role is not granted to the user": "RoleNotGrantedError",
        "etcdserver: permission is not granted to the role": (
            "PermissionNotGrantedError"
        ),
        "etcdserver: authentication is not enabled": "AuthNotEnabledError",
        "etcdserver: not leader": "ServerNotLeaderError",
        # The next three were UNAVAILABLE up to etcd 3.5.
        "etcdserver: not capable": "NotCapableError",
        "etcdserver: rpc not supported for learner": "NotSupportedForLearnerError",
        "etcdserver: cluster version not found during downgrade": (
            "ClusterVersionUnavailableError"
        ),
        "etcdserver: bad leader transferee": "BadLeaderTransfereeError",
        "etcdserver: cluster has a downgrade job in progress": (
            "DowngradeInProcessError"
        ),
        "etcdserver: no inflight downgrade job": "NoInflightDowngradeError",
    },
    StatusCode.PERMISSION_DENIED: {
        "etcdserver: permission denied": "PermissionDeniedError",
    },
    StatusCode.UNAUTHENTICATED: {
        "etcdserver: invalid auth token": "InvalidAuthTokenError",
    },
    StatusCode.UNAVAILABLE: {
        "etcdserver: no leader": "NoLeaderError",
        "etcdserver: leader changed": "LeaderChangedError",
        "etcdserver: server stopped": "StoppedError",
        "etcdserver: request timed out": "RequestTimeoutError",
        "etcdserver: request timed out, possibly due to previous leader failure": (
            "TimeoutDueToLeaderFailError"
        ),
        "etcdserver: request timed out, possibly due to connection lost": (
            "TimeoutDueToConnectionLostError"
        ),
        # Missing from Go's errStringToError, so Go returns it untyped; we map it.
        "etcdserver: request timed out, waiting for the applied index took too long": (
            "TimeoutWaitAppliedIndexError"
        ),
        "etcdserver: unhealthy cluster": "UnhealthyError",
    },
    StatusCode.DATA_LOSS: {
        "etcdserver: corrupt cluster": "CorruptError",
    },
    StatusCode.CANCELLED: {
        "etcdserver: watch canceled": "ServerWatchCanceledError",
        "etcdserver: request canceled": "RequestCanceledError",
    },
    StatusCode.DEADLINE_EXCEEDED: {
        "etcdserver: context deadline exceeded": "DeadlineExceededError",
    },
}


class EtcdError(Exception):
    """Base of every error raised by pyetcd_wire."""


class ProtocolError(EtcdError):
    """HTTP/2 or gRPC was broken; the connection is unusable afterwards.

    Attributes:
        error_code: the HTTP/2 error code (RFC 9113 §7) sent in GOAWAY.
        frame: name of the frame type that broke the rule, or "" if none.
    """

    def __init__(self, msg: str, *, error_code: int = 0x1, frame: str = "") -> None:
        super().__init__(msg)
        self.error_code = error_code
        self.frame = frame


class LocalProtocolError(ProtocolError):
    """We, or the caller at wire level, broke the protocol.  A bug if raised
    from a public method other than through misuse of the wire layer."""


class RemoteProtocolError(ProtocolError):
    """The server broke HTTP/2 or gRPC.  Expected from broken or hostile peers."""


class TransportError(EtcdError):
    """The network failed (wraps OSError and ssl errors).  Expected."""


class ConnectionFailedError(TransportError):
    """No connection could be made.

    Attributes:
        failures: (endpoint, reason) for every endpoint tried.
    """

    def __init__(self, failures: Sequence[Tuple[str, str]]) -> None:
        self.failures = list(failures)
        tried = "; ".join(f"{ep}: {why}" for ep, why in self.failures)
        super().__init__(f"could not connect to etcd ({tried})")


class ConnectionLostError(TransportError):
    """The connection ended before the call completed.

    Attributes:
        endpoint: where the call was sent.
        not_processed: True if the server provably never processed the call
            (GOAWAY above its stream, REFUSED_STREAM, or never sent), so it is
            safe to retry even a write.
    """

    def __init__(self, msg: str, *, endpoint: str = "", not_processed: bool = False):
        super().__init__(msg)
        self.endpoint = endpoint
        self.not_processed = not_processed


class NoEndpointAvailableError(TransportError):
    """The client has no endpoint to try (Go ErrNoAvailableEndpoints); give it some
    with set_endpoints().  A caller bug."""

    def __init__(self, msg: str = "etcdclient: no available endpoints") -> None:
        super().__init__(msg)


class DeadlineExceededError(EtcdError, TimeoutError):
    """The call's deadline passed (client side, or DEADLINE_EXCEEDED from the
    server).  Expected.  Also a builtin `TimeoutError`."""

    code = StatusCode.DEADLINE_EXCEEDED

    def __init__(self, msg: str, *, endpoint: str = "") -> None:
        super().__init__(msg)
        self.endpoint = endpoint


class OldClusterError(EtcdError):
    """A member runs an etcd older than the client supports (Go ErrOldCluster,
    checked with reject_old_cluster=True); upgrade the cluster.  Expected.

    Attributes:
        endpoint: the member that reported the old version.
        version: the version it reported.
    """

    def __init__(
        self,
        msg: str = "etcdclient: old cluster version",
        *,
        endpoint: str = "",
        version: str = "",
    ) -> None:
        if endpoint or version:
            msg = f"{msg} ({endpoint} runs {version or 'an unknown version'})"
        super().__init__(msg)
        self.endpoint = endpoint
        self.version = version


class RpcError(EtcdError):
    """The server answered with a non-OK gRPC status.  Expected.

    `code` and `details` may be left out for any class below RpcError: they
    default to its status code and, for etcd errors, to etcd's exact message, so
    `raise EmptyKeyError()` is what etcd would have sent (client-side checks).

    Attributes:
        code: the `StatusCode` (as received: etcd 3.5 and 3.6 differ, see classes).
        details: the status message (grpc-message), decoded.
        endpoint: the endpoint that answered.
        trailers: the raw trailers, as (name, value) byte pairs.
        status_details: grpc-status-details-bin, decoded from base64, or None.
        not_processed: True if the server provably never processed the call.

    Raises:
        TypeError: `code` left out on RpcError itself.
    """

    def __init__(
        self,
        code: Optional[StatusCode] = None,
        details: Optional[str] = None,
        *,
        endpoint: str = "",
        trailers: Sequence[Tuple[bytes, bytes]] = (),
        status_details: Optional[bytes] = None,
        not_processed: bool = False,
    ) -> None:
        if code is None or details is None:
            default_code, default_details = _defaults_for(type(self))
            code = default_code if code is None else code
            details = default_details if details is None else details
        where = f" from {endpoint}" if endpoint else ""
        super().__init__(f"{code.name}{where}: {details}")
        self.code = code
        self.details = details
        self.endpoint = endpoint
        self.trailers = tuple(trailers)
        self.status_details = status_details
        self.not_processed = not_processed


class RpcCancelledError(RpcError):
    """CANCELLED: the call was cancelled (by the caller or the server).  Never
    shadows asyncio.CancelledError."""


class UnknownError(RpcError):
    """UNKNOWN."""


class InvalidArgumentError(RpcError):
    """INVALID_ARGUMENT."""


class NotFoundError(RpcError):
    """NOT_FOUND."""


class AlreadyExistsError(RpcError):
    """ALREADY_EXISTS."""


class PermissionDeniedError(RpcError):
    """PERMISSION_DENIED, and etcd's "permission denied": the user lacks the
    permission for this key or call; grant it or use another user.  Expected."""


class ResourceExhaustedError(RpcError):
    """RESOURCE_EXHAUSTED (also: a message over max_recv_message_size)."""


class FailedPreconditionError(RpcError):
    """FAILED_PRECONDITION."""


class AbortedError(RpcError):
    """ABORTED."""


class OutOfRangeError(RpcError):
    """OUT_OF_RANGE."""


class UnimplementedError(RpcError):
    """UNIMPLEMENTED: the server does not know the method."""


class InternalError(RpcError):
    """INTERNAL."""


class UnavailableError(RpcError):
    """UNAVAILABLE: transient; reads may be retried elsewhere."""


class DataLossError(RpcError):
    """DATA_LOSS."""


class UnauthenticatedError(RpcError):
    """UNAUTHENTICATED."""


# One class per status code (doc/statuscodes.md).  DEADLINE_EXCEEDED is the
# one code outside RpcError, so callers can catch TimeoutError.
RPC_ERROR_BY_CODE: Dict[StatusCode, Type[RpcError]] = {
    StatusCode.CANCELLED: RpcCancelledError,
    StatusCode.UNKNOWN: UnknownError,
    StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    StatusCode.NOT_FOUND: NotFoundError,
    StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    StatusCode.ABORTED: AbortedError,
    StatusCode.OUT_OF_RANGE: OutOfRangeError,
    StatusCode.UNIMPLEMENTED: UnimplementedError,
    StatusCode.INTERNAL: InternalError,
    StatusCode.UNAVAILABLE: UnavailableError,
    StatusCode.DATA_LOSS: DataLossError,
    StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}


# --- etcd server errors (ETCD_SERVER_ERRORS), grouped by their 3.6+ status class.
# Go names drop "Err"; FutureRev, Timeout and NotLeader are renamed (see below).


class EmptyKeyError(InvalidArgumentError, ValueError):
    """The key is empty; pass a non-empty key.  A caller bug, raised before
    anything is sent (hence also a ValueError) or by the server."""


class KeyNotFoundError(InvalidArgumentError):
    """put(ignore_value/ignore_lease=True) on a missing key; put it first.  Expected."""


class ValueProvidedError(InvalidArgumentError):
    """A value was given together with ignore_value=True.  A caller bug."""


class LeaseProvidedError(InvalidArgumentError):
    """A lease was given together with ignore_lease=True.  A caller bug."""


class TooManyOpsError(InvalidArgumentError):
    """The txn has more ops than the server's --max-txn-ops; split it.  Expected."""


class DuplicateKeyError(InvalidArgumentError):
    """A txn branch writes the same key twice; write each once.  A caller bug."""


class InvalidClientAPIVersionError(InvalidArgumentError):
    """The client API version metadata is not UTF-8 (etcd 3.6+).  A pyetcd_wire bug."""


class InvalidSortOptionError(InvalidArgumentError):
    """Unknown sort target or order; use a documented one.  A caller bug."""


class MemberBadURLsError(InvalidArgumentError):
    """The given peer URLs are malformed; fix them.  A caller bug."""


class RequestTooLargeError(InvalidArgumentError):
    """The request exceeds the server's --max-request-bytes; send less.  Expected."""


class UserEmptyError(InvalidArgumentError):
    """Empty user name, or auth is on and no token was sent; log in.  Expected."""


class RoleEmptyError(InvalidArgumentError):
    """The role name is empty; pass one.  A caller bug."""


class AuthFailedError(InvalidArgumentError):
    """Wrong user name or password; check the credentials.  Expected."""


class PermissionNotGivenError(InvalidArgumentError):
    """role_grant_permission() without a permission.  A caller bug."""


class InvalidAuthMgmtError(InvalidArgumentError):
    """A forbidden auth change (e.g. deleting root while auth is on).  Expected."""


class AuthOldRevisionError(InvalidArgumentError):
    """The token predates an auth change; authenticate again.  Expected."""


class WrongDowngradeVersionFormatError(InvalidArgumentError):
    """The downgrade target is not "major.minor"; fix it.  A caller bug."""


class InvalidDowngradeTargetVersionError(InvalidArgumentError):
    """The downgrade target is not one minor below the cluster's.  Expected."""


class CompactedError(OutOfRangeError):
    """The requested revision was compacted; re-read at a newer revision.  Expected.

    Attributes:
        compact_revision: the oldest revision still kept, when known (a watch
            response carries it), else 0.
    """

    def __init__(
        self,
        code: Optional[StatusCode] = None,
        details: Optional[str] = None,
        *,
        compact_revision: int = 0,
        endpoint: str = "",
        trailers: Sequence[Tuple[bytes, bytes]] = (),
        status_details: Optional[bytes] = None,
        not_processed: bool = False,
    ) -> None:
        super().__init__(
            code,
            details,
            endpoint=endpoint,
            trailers=trailers,
            status_details=status_details,
            not_processed=not_processed,
        )
        self.compact_revision = compact_revision


class FutureRevisionError(OutOfRangeError):
    """The revision is newer than the store's (Go ErrFutureRev); ask for an older
    one.  Expected."""


class LeaseTTLTooLargeError(OutOfRangeError):
    """The lease TTL exceeds the server's maximum; ask for less.  Expected."""


class NoSpaceError(ResourceExhaustedError):
    """The backend quota is full (NOSPACE alarm); compact, defrag, disarm.  Expected."""


class TooManyRequestsError(ResourceExhaustedError):
    """The server's apply lags far behind; back off and retry.  Expected.  Sent on
    the wire as UNKNOWN (mapped by message)."""


class LeaseNotFoundError(NotFoundError):
    """The lease does not exist (expired or revoked); grant a new one.  Expected."""


class MemberNotFoundError(NotFoundError):
    """No member has that ID (or it was removed); list members again.  Expected."""


class LeaseExistError(FailedPreconditionError):
    """A lease with the requested ID already exists; pick another ID.  Expected."""


class MemberExistError(FailedPreconditionError):
    """A member with that ID already exists.  Expected."""


class PeerURLExistError(FailedPreconditionError):
    """Another member already uses these peer URLs.  Expected."""


class MemberNotEnoughStartedError(FailedPreconditionError):
    """The change would leave too few started members; wait and retry.  Expected.
    Sent on the wire as UNKNOWN (mapped by message)."""


class MemberNotLearnerError(FailedPreconditionError):
    """Only a learner can be promoted; this member already votes.  Expected."""


class MemberLearnerNotReadyError(FailedPreconditionError):
    """The learner has not caught up with the leader; retry later.  Expected."""


class TooManyLearnersError(FailedPreconditionError):
    """The cluster already has the most learners it allows.  Expected."""


class ClusterIDMismatchError(FailedPreconditionError):
    """The request came from a member of another cluster; fix the config.  Expected."""


class RootUserNotExistError(FailedPreconditionError):
    """auth_enable() needs a "root" user; add it first.  Expected."""


class RootRoleNotExistError(FailedPreconditionError):
    """auth_enable() needs the "root" user to have the "root" role.  Expected."""


class UserAlreadyExistError(FailedPreconditionError):
    """The user already exists.  Expected."""


class UserNotFoundError(FailedPreconditionError):
    """The user does not exist.  Expected."""


class RoleAlreadyExistError(FailedPreconditionError):
    """The role already exists.  Expected."""


class RoleNotFoundError(FailedPreconditionError):
    """The role does not exist.  Expected."""


class RoleNotGrantedError(FailedPreconditionError):
    """The user does not have that role.  Expected."""


class PermissionNotGrantedError(FailedPreconditionError):
    """The role does not have that permission.  Expected."""


class AuthNotEnabledError(FailedPreconditionError):
    """This call needs auth enabled; call auth_enable() first.  Expected."""


class ServerNotLeaderError(FailedPreconditionError):
    """etcd's "not leader": the member must be the leader (e.g. move_leader);
    call the leader.  Expected.  Not the election recipe's `NotLeaderError`."""


class NotCapableError(FailedPreconditionError):
    """The cluster version lacks this feature; upgrade the cluster.  Expected.
    etcd 3.5 and older send UNAVAILABLE."""


class NotSupportedForLearnerError(FailedPreconditionError):
    """A learner cannot serve this call; send it to a voting member.  Expected.
    etcd 3.5 and older send UNAVAILABLE."""


class BadLeaderTransfereeError(FailedPreconditionError):
    """move_leader() target is not a started voting member.  Expected."""


class ClusterVersionUnavailableError(FailedPreconditionError):
    """The cluster version is not known yet, so no downgrade; retry later.
    Expected.  etcd 3.5 sends UNAVAILABLE."""


class DowngradeInProcessError(FailedPreconditionError):
    """A downgrade is already in progress.  Expected."""


class NoInflightDowngradeError(FailedPreconditionError):
    """There is no downgrade in progress to cancel.  Expected."""


class InvalidAuthTokenError(UnauthenticatedError):
    """The auth token is invalid or expired; authenticate again.  Expected."""


class NoLeaderError(UnavailableError):
    """The member has no leader (election or partition); retry later.  Expected."""


class LeaderChangedError(UnavailableError):
    """The leader changed during the call; a write may have applied.  Expected."""


class StoppedError(UnavailableError):
    """The member is shutting down; use another endpoint.  Expected."""


class RequestTimeoutError(UnavailableError):
    """The server gave up on the call (Go ErrTimeout); a write may have applied.
    Expected.  Base of the three more specific server timeouts."""


class TimeoutDueToLeaderFailError(RequestTimeoutError):
    """Server timeout, probably a failed leader; a write may have applied.  Expected."""


class TimeoutDueToConnectionLostError(RequestTimeoutError):
    """Server timeout after a lost peer connection; a write may have applied.
    Expected."""


class TimeoutWaitAppliedIndexError(RequestTimeoutError):
    """The server's apply fell behind and a read timed out; retry.  Expected."""


class UnhealthyError(UnavailableError):
    """The change would make the cluster unhealthy (lose quorum).  Expected."""


class CorruptError(DataLossError):
    """The cluster found data corruption (CORRUPT alarm); an operator must act.
    Expected."""


class ServerWatchCanceledError(RpcCancelledError):
    """The server ended a Watch stream because it was cancelled.  Expected.  Not
    `WatchCanceledError` (one watch cancelled by the server, with a reason)."""


class RequestCanceledError(RpcCancelledError):
    """The server cancelled the call internally; retry if it is safe.  Expected."""


# --- client-side errors (reference/clientv3.md §1.9); never from a status.


class LeaseError(EtcdError):
    """Base of client-side lease errors.

    Attributes:
        lease_id: the lease concerned, or 0 if unknown.
    """

    def __init__(self, msg: str, *, lease_id: int = 0) -> None:
        super().__init__(msg)
        self.lease_id = lease_id


class LeaseExpiredError(LeaseError):
    """The kept-alive lease expired or was revoked; grant a new one.  Expected."""

    def __init__(self, msg: str = "", *, lease_id: int = 0) -> None:
        super().__init__(
            msg or f"lease {lease_id:x} expired or was revoked", lease_id=lease_id
        )


class KeepAliveHaltedError(LeaseError):
    """Keep-alive stopped for good (Go ErrKeepAliveHalted); the lease will expire.
    Expected.

    Attributes:
        reason: why it stopped.
    """

    def __init__(self, reason: str = "", *, lease_id: int = 0) -> None:
        why = reason or "unknown reason"
        super().__init__(
            f"etcdclient: leases keep alive halted: {why}", lease_id=lease_id
        )
        self.reason = reason


class WatchError(EtcdError):
    """Base of client-side watch errors.  (A compacted start revision raises
    `CompactedError`, with `compact_revision`.)"""


class WatchCanceledError(WatchError):
    """The server cancelled the watch (cancel_reason, e.g. permission lost).
    Expected.  Not `ServerWatchCanceledError` (the whole stream).

    Attributes:
        reason: the server's cancel_reason, or "".
        watch_id: the server's watch ID, or None if unknown.
    """

    def __init__(self, reason: str = "", *, watch_id: Optional[int] = None) -> None:
        super().__init__(f"watch canceled by the server: {reason or 'no reason'}")
        self.reason = reason
        self.watch_id = watch_id


class RecipeError(EtcdError):
    """Base of the errors of the recipes (Go's concurrency package)."""

    default_message: ClassVar[str] = "recipe failed"

    def __init__(self, msg: str = "") -> None:
        super().__init__(msg or self.default_message)


class LockedError(RecipeError):
    """try_acquire(): another session holds the lock (Go ErrLocked).  Expected."""

    default_message = "mutex: Locked by another session"


class SessionExpiredError(RecipeError):
    """The session's lease is gone (Go ErrSessionExpired); start a new one.
    Expected."""

    default_message = "mutex: session is expired"


class LockReleasedError(RecipeError):
    """release() on a lock not held (Go ErrLockReleased).  A caller bug."""

    default_message = "mutex: lock has already been released"


class NotLeaderError(RecipeError):
    """proclaim()/resign() without being the election leader (Go
    ErrElectionNotLeader).  Expected.  Not etcd's `ServerNotLeaderError`."""

    default_message = "election: not leader"


class ElectionNoLeaderError(RecipeError):
    """leader(): nobody has won the election yet (Go ErrElectionNoLeader).
    Expected.  Not etcd's `NoLeaderError` (raft has no leader)."""

    default_message = "election: no leader"


def _resolve(name: str) -> Type[EtcdError]:
    cls = globals()[name]
    if not (isinstance(cls, type) and issubclass(cls, EtcdError)):
        raise TypeError(f"ETCD_SERVER_ERRORS names {name}, not an EtcdError")
    return cls


# Exact etcd message -> class, from ETCD_SERVER_ERRORS (the catalogue at the top).
ETCD_ERROR_BY_MESSAGE: Dict[str, Type[EtcdError]] = {
    message: _resolve(name)
    for by_message in ETCD_SERVER_ERRORS.values()
    for message, name in by_message.items()
}

# What RpcError() fills in when code/details are left out: the status code
# with "" for the status classes, the 3.6+ code and exact message for etcd's.
_DEFAULTS: Dict[type, Tuple[StatusCode, str]] = {
    **{cls: (code, "") for code, cls in RPC_ERROR_BY_CODE.items()},
    **{
        ETCD_ERROR_BY_MESSAGE[message]: (code, message)
        for code, by_message in ETCD_SERVER_ERRORS.items()
        for message in by_message
        if code is not StatusCode.DEADLINE_EXCEEDED
    },
}


def _defaults_for(cls: type) -> Tuple[StatusCode, str]:
    for klass in cls.__mro__:
        if klass in _DEFAULTS:
            return _DEFAULTS[klass]
    raise TypeError(f"{cls.__name__} needs a status code")


def error_from_status(status: Status, *, endpoint: str = "") -> EtcdError:
    """The exception for a non-OK status (the one place statuses become errors).

    The exact etcd message picks the class (`ETCD_ERROR_BY_MESSAGE`), else the
    code does (`RPC_ERROR_BY_CODE`, unknown codes as UnknownError).
    DEADLINE_EXCEEDED, by code or by etcd's message, is `DeadlineExceededError`.
    """
    cls = ETCD_ERROR_BY_MESSAGE.get(status.message)
    if cls is None:
        cls = RPC_ERROR_BY_CODE.get(status.code, UnknownError)
    if status.code is StatusCode.DEADLINE_EXCEEDED or not issubclass(cls, RpcError):
        return DeadlineExceededError(
            f"server reported {status.code.name}: {status.message}", endpoint=endpoint
        )
    return cls(
        status.code,
        status.message,
        endpoint=endpoint,
        trailers=status.trailers,
        status_details=status.details,
        not_processed=status.not_processed,
    )
