"""The base of the exception tree: everything but etcd's own server errors.

Private: import these names from `pyetcd_wire.errors`, which re-exports them
and sets their `__module__` to it.  Here: `EtcdError`, the protocol, transport
and deadline errors, `RpcError` with one class per status code
(`RPC_ERROR_BY_CODE`), and the client-side lease, watch and recipe errors.
etcd's server errors subclass the status classes, in `_errors_etcd`.
"""

from __future__ import annotations

from typing import ClassVar, Dict, Optional, Sequence, Tuple, Type

from ._core.grpc.status import StatusCode


class EtcdError(Exception):
    """Base of every error raised by pyetcd_wire.

    Two attributes on every error say what a caller can do about it (the
    table in docs/errors-and-retries.md gives them class by class):

    Attributes:
        retryable: sending the same call again, unchanged, may succeed: the
            cause may be transient (no connection, no leader, a deadline).
            True exactly on the subclasses of `RetryableError`.  False means
            something must change first (the request, the settings, the
            cluster's state).  The client has already retried what was safe
            to retry (see the docs); a True here says a retry of yours, later,
            may still work.
        outcome_known: True if it is certain what the call did: nothing
            (etcd refused it, or it was never sent), or what the error says.
            False if a write may or may not have been applied (the connection
            was lost, or the deadline passed, after it was sent; etcd gave up
            waiting for a leader): read before writing again, or make the
            write conditional.
    """

    retryable: ClassVar[bool] = False
    outcome_known: bool = True


class RetryableError(EtcdError):
    """Base of the errors a retry may cure (`retryable` is True): catch this
    class for "try again later".  A write that failed with `outcome_known`
    False may have been applied: retry it only if applying it twice is
    harmless, or check first."""

    retryable = True


class ProtocolError(EtcdError):
    """HTTP/2 or gRPC was broken; the connection is unusable afterwards.  A
    call in flight may have been applied (`outcome_known` False).

    Attributes:
        error_code: the HTTP/2 error code (RFC 9113 §7) sent in GOAWAY.
        frame: name of the frame type that broke the rule, or "" if none.
    """

    outcome_known = False

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


class _DialsFailedError(TransportError):
    """Base of the two errors of a call that got no connection.

    Attributes:
        failures: (endpoint, reason) for every endpoint tried.
    """

    summary: ClassVar[str] = "could not connect to etcd"

    def __init__(self, failures: Sequence[Tuple[str, str]]) -> None:
        self.failures = list(failures)
        tried = "; ".join(f"{ep}: {why}" for ep, why in self.failures)
        super().__init__(f"{self.summary} ({tried})")


class ConnectionFailedError(_DialsFailedError, RetryableError):
    """No connection could be made; the request was never sent.  Expected.

    Attributes:
        failures: (endpoint, reason) for every endpoint tried.
    """


class TLSError(_DialsFailedError):
    """TLS could not be agreed with the endpoints (each of them, if there
    are several), and trying again will not change that: the server's
    certificate failed verification, the server refused ours, the server
    expects TLS and the client spoke plaintext, the server answered the TLS
    handshake in plaintext, or no ALPN "h2".  Fix the client's TLS settings
    (or the server's certificate).  The request was never sent.  Expected.

    Attributes:
        failures: (endpoint, reason) for every endpoint tried.
    """

    summary = "could not connect to etcd: TLS failed"


class ConnectionLostError(TransportError, RetryableError):
    """The connection ended before the call completed.

    Attributes:
        endpoint: where the call was sent.
        not_processed: True if the server provably never processed the call
            (GOAWAY above its stream, REFUSED_STREAM, or never sent), so it is
            safe to retry even a write.  Same as `outcome_known`.
    """

    def __init__(self, msg: str, *, endpoint: str = "", not_processed: bool = False):
        super().__init__(msg)
        self.endpoint = endpoint
        self.not_processed = not_processed
        self.outcome_known = not_processed


class ClientClosedError(EtcdError, RuntimeError):
    """A call, watch or keep-alive on a client that was closed.  Nothing was
    sent.  A caller bug: retrying on this client cannot help; create a new
    client (or keep this one open until its last call)."""

    def __init__(self, msg: str = "") -> None:
        super().__init__(
            msg
            or "the client is closed: make calls before close(), or create a new client"
        )


class NoEndpointAvailableError(TransportError):
    """The client has no endpoint to try (Go ErrNoAvailableEndpoints); give it some
    with set_endpoints().  A caller bug."""

    def __init__(self, msg: str = "etcdclient: no available endpoints") -> None:
        super().__init__(msg)


class DeadlineExceededError(RetryableError, TimeoutError):
    """The call's deadline passed (client side, or DEADLINE_EXCEEDED from the
    server).  Expected.  Also a builtin `TimeoutError`.

    Attributes:
        endpoint: where the call was sent (or was being connected to).
        connecting: True if it passed while the client was still connecting,
            so the request was never sent.  Same as `outcome_known`.
    """

    code = StatusCode.DEADLINE_EXCEEDED

    def __init__(self, msg: str, *, endpoint: str = "", connecting: bool = False):
        super().__init__(msg)
        self.endpoint = endpoint
        self.connecting = connecting
        self.outcome_known = connecting


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
        if not_processed:
            self.outcome_known = True


class RpcCancelledError(RpcError):
    """CANCELLED: the call was cancelled (by the caller or the server).  Never
    shadows asyncio.CancelledError."""

    outcome_known = False


class UnknownError(RpcError):
    """UNKNOWN."""

    outcome_known = False


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

    outcome_known = False


class UnavailableError(RpcError, RetryableError):
    """UNAVAILABLE: transient; reads may be retried elsewhere.  A write may
    have been applied unless the class says otherwise (`outcome_known`)."""

    outcome_known = False


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

# What RpcError() fills in when code/details are left out, by class (the first
# class in the MRO found here wins): the status code with "" for the status
# classes.  errors.py adds the 3.6+ code and exact message for etcd's errors once
# it has resolved their catalogue; it runs on any import of pyetcd_wire.
_DEFAULTS: Dict[type, Tuple[StatusCode, str]] = {
    cls: (code, "") for code, cls in RPC_ERROR_BY_CODE.items()
}


def _defaults_for(cls: type) -> Tuple[StatusCode, str]:
    for klass in cls.__mro__:
        if klass in _DEFAULTS:
            return _DEFAULTS[klass]
    raise TypeError(f"{cls.__name__} needs a status code")


# --- client-side errors (Go's ErrNoAvailableEndpoints and kin); never from a
# status.


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


class ParentProcessError(EtcdError):
    """A watch or keep-alive used in a child process forked after it was
    made.  It belongs to the parent process: its stream is the parent's, read
    and renewed there, and the child never touches it (the parent still
    receives every event and keeps the lease alive).  A caller bug: create a
    new one in the child, where the inherited client dials afresh.
    `cancel()` or `close()` of it in the child does nothing.

    Attributes:
        owner_pid: the process it belongs to.
    """

    def __init__(self, what: str, *, owner_pid: int) -> None:
        super().__init__(
            f"this {what} belongs to the parent process (pid {owner_pid}), not to"
            " this forked child: create a new one in the child"
        )
        self.owner_pid = owner_pid


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


class MirrorNotSyncedError(RecipeError, RuntimeError):
    """Mirror.sync_updates() before the snapshot's revision is known.  A
    caller bug: iterate sync_base() first, or give the mirror a revision.
    Also a builtin RuntimeError (what it raised before it had a class)."""

    default_message = (
        "mirror: sync_updates() watches from the snapshot's revision, not known"
        " yet: iterate sync_base() first, or create the mirror with revision="
    )
