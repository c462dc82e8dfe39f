"""The exception tree of pyetcd_wire.

Every error a caller can see derives from `EtcdError` and carries attributes,
not just a string.  Which errors are *expected* (the server or network said no)
and which point at a *bug* is said on each class.  The layout follows
STYLE.md §4 and API.md "Errors".
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple, Type

from ._core.grpc.status import Status, StatusCode

__all__ = [
    "AbortedError",
    "AlreadyExistsError",
    "ConnectionFailedError",
    "ConnectionLostError",
    "DataLossError",
    "DeadlineExceededError",
    "EtcdError",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "LocalProtocolError",
    "NotFoundError",
    "OutOfRangeError",
    "PermissionDeniedError",
    "ProtocolError",
    "RemoteProtocolError",
    "ResourceExhaustedError",
    "RpcCancelledError",
    "RpcError",
    "StatusCode",
    "TransportError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "UnknownError",
]


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


class DeadlineExceededError(EtcdError, TimeoutError):
    """The call's deadline passed (client side, or DEADLINE_EXCEEDED from the
    server).  Expected.  Also a builtin `TimeoutError`."""

    code = StatusCode.DEADLINE_EXCEEDED

    def __init__(self, msg: str, *, endpoint: str = "") -> None:
        super().__init__(msg)
        self.endpoint = endpoint


class RpcError(EtcdError):
    """The server answered with a non-OK gRPC status.  Expected.

    Attributes:
        code: the `StatusCode`.
        details: the status message (grpc-message), decoded.
        endpoint: the endpoint that answered.
        trailers: the raw trailers, as (name, value) byte pairs.
        not_processed: True if the server provably never processed the call.
    """

    def __init__(
        self,
        code: StatusCode,
        details: str,
        *,
        endpoint: str = "",
        trailers: Sequence[Tuple[bytes, bytes]] = (),
        status_details: Optional[bytes] = None,
        not_processed: bool = False,
    ) -> None:
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
    """PERMISSION_DENIED."""


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


def error_from_status(status: Status, *, endpoint: str = "") -> EtcdError:
    """The exception for a non-OK status (the one place statuses become errors)."""
    if status.code is StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceededError(
            f"server reported DEADLINE_EXCEEDED: {status.message}", endpoint=endpoint
        )
    cls = RPC_ERROR_BY_CODE.get(status.code, UnknownError)
    return cls(
        status.code,
        status.message,
        endpoint=endpoint,
        trailers=status.trailers,
        status_details=status.details,
        not_processed=status.not_processed,
    )
