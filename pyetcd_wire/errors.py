"""The exception tree of pyetcd_wire.

Every error a caller can see derives from `EtcdError` and carries attributes,
not just a string.  Which errors are *expected* (the server or network said no)
and which point at a *bug* is said on each class.  The tree is listed in
docs/api.md and docs/errors-and-retries.md.

A non-OK gRPC status becomes an exception in one place, `error_from_status`:
first by the exact etcd message (the catalogue `ETCD_SERVER_ERRORS`, as Go's
`rpctypes.Error` does, and `ETCD_AUTH_STORE_ERRORS`), then by the status code.
The message decides because etcd changed three codes in 3.6 and sends some of
its errors as UNKNOWN.

This is the public module; the classes are written in two private ones, only
to keep each file short, and re-exported here: `_errors_base` (the base tree:
protocol, transport and deadline errors, `RpcError` and one class per status
code, the client-side errors) and `_errors_etcd` (etcd's server errors and
their catalogue).  Here the catalogue is resolved and statuses are mapped.
"""

from __future__ import annotations

from typing import Dict, Type

from ._core.grpc.status import Status, StatusCode
from ._errors_base import (
    _DEFAULTS,
    RPC_ERROR_BY_CODE,
    AbortedError,
    AlreadyExistsError,
    ClientClosedError,
    ConnectionFailedError,
    ConnectionLostError,
    DataLossError,
    DeadlineExceededError,
    ElectionNoLeaderError,
    EtcdError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    KeepAliveHaltedError,
    LeaseError,
    LeaseExpiredError,
    LocalProtocolError,
    LockedError,
    LockReleasedError,
    MirrorNotSyncedError,
    NoEndpointAvailableError,
    NotFoundError,
    NotLeaderError,
    OldClusterError,
    OutOfRangeError,
    ParentProcessError,
    PermissionDeniedError,
    ProtocolError,
    RecipeError,
    RemoteProtocolError,
    ResourceExhaustedError,
    RetryableError,
    RpcCancelledError,
    RpcError,
    SessionExpiredError,
    TLSError,
    TransportError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
    UnknownError,
    WatchCanceledError,
    WatchError,
)
from ._errors_etcd import (
    ETCD_AUTH_STORE_ERRORS,
    ETCD_SERVER_ERRORS,
    GO_CONTEXT_ERRORS,
    AuthFailedError,
    AuthNotEnabledError,
    AuthOldRevisionError,
    BadLeaderTransfereeError,
    ClusterIDMismatchError,
    ClusterVersionUnavailableError,
    CompactedError,
    CorruptError,
    DowngradeInProcessError,
    DuplicateKeyError,
    EmptyKeyError,
    FutureRevisionError,
    InvalidAuthMgmtError,
    InvalidAuthTokenError,
    InvalidClientAPIVersionError,
    InvalidDowngradeTargetVersionError,
    InvalidSortOptionError,
    KeyNotFoundError,
    LeaderChangedError,
    LeaseExistError,
    LeaseNotFoundError,
    LeaseProvidedError,
    LeaseTTLTooLargeError,
    MemberBadURLsError,
    MemberExistError,
    MemberLearnerNotReadyError,
    MemberNotEnoughStartedError,
    MemberNotFoundError,
    MemberNotLearnerError,
    NoInflightDowngradeError,
    NoLeaderError,
    NoSpaceError,
    NotCapableError,
    NotSupportedForLearnerError,
    PeerURLExistError,
    PermissionNotGivenError,
    PermissionNotGrantedError,
    RequestCanceledError,
    RequestTimeoutError,
    RequestTooLargeError,
    RoleAlreadyExistError,
    RoleEmptyError,
    RoleNotFoundError,
    RoleNotGrantedError,
    RootRoleNotExistError,
    RootUserNotExistError,
    ServerNotLeaderError,
    ServerWatchCanceledError,
    StoppedError,
    TimeoutDueToConnectionLostError,
    TimeoutDueToLeaderFailError,
    TimeoutWaitAppliedIndexError,
    TooManyLearnersError,
    TooManyOpsError,
    TooManyRequestsError,
    UnhealthyError,
    UserAlreadyExistError,
    UserEmptyError,
    UserNotFoundError,
    ValueProvidedError,
    WrongDowngradeVersionFormatError,
)

__all__ = [
    "AbortedError",
    "AlreadyExistsError",
    "AuthFailedError",
    "AuthNotEnabledError",
    "AuthOldRevisionError",
    "BadLeaderTransfereeError",
    "ClientClosedError",
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
    "MirrorNotSyncedError",
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
    "ParentProcessError",
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
    "RetryableError",
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
    "TLSError",
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


def _resolve(name: str) -> Type[EtcdError]:
    cls = globals()[name]
    if not (isinstance(cls, type) and issubclass(cls, EtcdError)):
        raise TypeError(f"the catalogue names {name}, not an EtcdError")
    return cls


# Exact etcd message -> class, from ETCD_SERVER_ERRORS and ETCD_AUTH_STORE_ERRORS
# (the catalogues in _errors_etcd).  Resolved here, where every class they name
# is imported.
ETCD_ERROR_BY_MESSAGE: Dict[str, Type[EtcdError]] = {
    message: _resolve(name)
    for by_message in (*ETCD_SERVER_ERRORS.values(), ETCD_AUTH_STORE_ERRORS)
    for message, name in by_message.items()
}

# Go's context errors, sent as UNKNOWN (see GO_CONTEXT_ERRORS): the classes of
# the codes they stand for.
CONTEXT_ERROR_BY_MESSAGE: Dict[str, Type[EtcdError]] = {
    message: _resolve(name) for message, name in GO_CONTEXT_ERRORS.items()
}

# What RpcError() fills in for etcd's errors (see _errors_base._DEFAULTS, which
# already holds the status classes): the 3.6+ code and the exact message.
_DEFAULTS.update(
    {
        ETCD_ERROR_BY_MESSAGE[message]: (code, message)
        for code, by_message in ETCD_SERVER_ERRORS.items()
        for message in by_message
        if code is not StatusCode.DEADLINE_EXCEEDED
    }
)


def error_from_status(status: Status, *, endpoint: str = "") -> EtcdError:
    """The exception for a non-OK status (the one place statuses become errors).

    The exact etcd message picks the class (`ETCD_ERROR_BY_MESSAGE`), then
    Go's context errors sent as UNKNOWN (`CONTEXT_ERROR_BY_MESSAGE`), else the
    code does (`RPC_ERROR_BY_CODE`, unknown codes as UnknownError).
    DEADLINE_EXCEEDED, by code or by message, is `DeadlineExceededError`.
    """
    cls = ETCD_ERROR_BY_MESSAGE.get(status.message)
    if cls is None:
        if status.code is StatusCode.UNKNOWN:
            cls = CONTEXT_ERROR_BY_MESSAGE.get(status.message)
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


# The classes are defined in the private modules above, but this is where users
# import them from: make their __module__ say so, so that reprs, tracebacks,
# pickle and the docs show pyetcd_wire.errors.X rather than a private path.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and issubclass(_obj, EtcdError):
        _obj.__module__ = __name__
del _name, _obj
