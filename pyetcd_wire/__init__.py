"""pyetcd_wire: the etcd v3 client for Python that speaks gRPC itself (no grpcio)."""

from __future__ import annotations

from ._version import __version__
from .errors import (
    ConnectionFailedError,
    ConnectionLostError,
    DeadlineExceededError,
    EtcdError,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    RpcCancelledError,
    RpcError,
    StatusCode,
    TransportError,
)

__all__ = [
    "ConnectionFailedError",
    "ConnectionLostError",
    "DeadlineExceededError",
    "EtcdError",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "RpcCancelledError",
    "RpcError",
    "StatusCode",
    "TransportError",
    "__version__",
]
