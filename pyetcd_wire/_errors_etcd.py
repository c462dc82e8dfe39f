"""etcd's server errors: their catalogue and one class per error.

Private: import these names from `pyetcd_wire.errors`, which re-exports them,
sets their `__module__` to it, and resolves the catalogues `ETCD_SERVER_ERRORS`
and `ETCD_AUTH_STORE_ERRORS` (exact message -> class name) into
`ETCD_ERROR_BY_MESSAGE` for `error_from_status`.  Each class subclasses the
status class of the code etcd 3.6+ sends with it (from `_errors_base`).
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

from ._core.grpc.status import StatusCode
from ._errors_base import (
    DataLossError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    OutOfRangeError,
    ResourceExhaustedError,
    RetryableError,
    RpcCancelledError,
    UnauthenticatedError,
    UnavailableError,
)

# Every etcd server error: gRPC code as sent by etcd 3.6+ -> {exact message: class}.
# Copied from etcd-io/etcd api/v3rpc/rpctypes/error.go, the union of v3.4.0 to v3.7
# (api/v3rpc/rpctypes/error.go).  etcd sends the text exactly (status.Error, then
# percent-encoding that status.py undoes), so the match is exact, as in Go.  The
# classes are defined below (two, PermissionDeniedError and DeadlineExceededError,
# in _errors_base); errors.py resolves the names into ETCD_ERROR_BY_MESSAGE.
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

# The auth store's own errors (etcd-io/etcd server/auth/store.go) that reach the
# client unconverted, as UNKNOWN with the store's text: in etcd 3.4 and 3.5 the
# Maintenance calls that need the root role (Snapshot, Defragment, Hash, HashKV:
# v3rpc/maintenance.go, authMaintenanceServer.isAuthenticated) return the error
# of that check as it is, on a unary call or as a Snapshot stream's status.
# Later releases convert it (togRPCError) into the message above.  The check can
# fail only with these; each gets the class of its converted message.
ETCD_AUTH_STORE_ERRORS: Dict[str, str] = {
    "auth: invalid auth token": "InvalidAuthTokenError",
    "auth: user name is empty": "UserEmptyError",
    "auth: user not found": "UserNotFoundError",
    "auth: permission denied": "PermissionDeniedError",
}

# Go's context errors, which an etcd handler may return unconverted: a Range
# whose grpc-timeout passes while etcd 3.5 ranges over the keys (mvcc checks
# the context between keys) fails with ctx.Err(), which grpc-go sends as code
# UNKNOWN with Go's message.  They mean the call's deadline passed, or that
# it was cancelled, as the codes DEADLINE_EXCEEDED and CANCELLED would.
GO_CONTEXT_ERRORS: Dict[str, str] = {
    "context deadline exceeded": "DeadlineExceededError",
    "context canceled": "RpcCancelledError",
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


class TooManyRequestsError(ResourceExhaustedError, RetryableError):
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


class MemberNotEnoughStartedError(FailedPreconditionError, RetryableError):
    """The change would leave too few started members; wait and retry.  Expected.
    Sent on the wire as UNKNOWN (mapped by message)."""


class MemberNotLearnerError(FailedPreconditionError):
    """Only a learner can be promoted; this member already votes.  Expected."""


class MemberLearnerNotReadyError(FailedPreconditionError, RetryableError):
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


class ClusterVersionUnavailableError(FailedPreconditionError, RetryableError):
    """The cluster version is not known yet, so no downgrade; retry later.
    Expected.  etcd 3.5 sends UNAVAILABLE."""


class DowngradeInProcessError(FailedPreconditionError):
    """A downgrade is already in progress.  Expected."""


class NoInflightDowngradeError(FailedPreconditionError):
    """There is no downgrade in progress to cancel.  Expected."""


class InvalidAuthTokenError(UnauthenticatedError):
    """The auth token is invalid or expired; authenticate again.  Expected."""


class NoLeaderError(UnavailableError):
    """The member has no leader (election or partition); retry later.  Expected.
    etcd refused the call before proposing it: nothing was applied."""

    outcome_known = True


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
    """The change would make the cluster unhealthy (lose quorum).  Expected.
    Refused before it was proposed."""

    outcome_known = True


class CorruptError(DataLossError):
    """The cluster found data corruption (CORRUPT alarm); an operator must act.
    Expected."""


class ServerWatchCanceledError(RpcCancelledError):
    """The server ended a Watch stream because it was cancelled.  Expected.  Not
    `WatchCanceledError` (one watch cancelled by the server, with a reason)."""


class RequestCanceledError(RpcCancelledError):
    """The server cancelled the call internally; retry if it is safe.  Expected."""
