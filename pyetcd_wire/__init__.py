"""pyetcd_wire: the etcd v3 client for Python that speaks gRPC itself (no grpcio)."""

from __future__ import annotations

from . import errors
from ._api.compare import Compare
from ._api.op import Op
from ._api.util import prefix_range_end
from ._async.client import AsyncClient
from ._sync.client import Client
from ._sync.tls_config import TLS
from ._version import __version__
from .errors import *  # noqa: F403 - every error is importable from the package (API.md)

__all__ = [
    "AsyncClient",
    "Client",
    "Compare",
    "Op",
    "TLS",
    "__version__",
    "errors",
    "prefix_range_end",
    *errors.__all__,
]
