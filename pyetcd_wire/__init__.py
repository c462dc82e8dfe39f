"""pyetcd_wire: the etcd v3 client for Python that speaks gRPC itself (no grpcio).

The names below are imported when first used, so that importing the
package, or a light module of it (the pytest plugin, `testing`, the
command line's argument parser), does not load protobuf and the drivers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, List

from ._version import __version__ as __version__

if TYPE_CHECKING:
    from . import errors as errors
    from ._api.compare import Compare as Compare
    from ._api.op import Op as Op
    from ._api.util import prefix_range_end as prefix_range_end
    from ._async.client import AsyncClient as AsyncClient
    from ._client.tls import TLS as TLS
    from ._sync.client import Client as Client
    from .errors import *  # noqa: F403

#: Where each public name lives (the errors: `errors`).
_HOMES = {
    "AsyncClient": "._async.client",
    "Client": "._sync.client",
    "Compare": "._api.compare",
    "Op": "._api.op",
    "TLS": "._client.tls",
    "prefix_range_end": "._api.util",
}


def __getattr__(name: str) -> Any:
    if name == "errors":
        value: Any = importlib.import_module(".errors", __name__)
    elif name == "__all__":
        value = _public()
    elif name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name], __name__), name)
    else:
        errors_module = importlib.import_module(".errors", __name__)
        if name not in errors_module.__all__:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(errors_module, name)
    globals()[name] = value  # once: the next lookup is a plain global
    return value


def _public() -> List[str]:
    """Every public name, the errors included (docs/api.md)."""
    errors_module = importlib.import_module(".errors", __name__)
    return sorted({*_HOMES, "__version__", "errors", *errors_module.__all__})


def __dir__() -> List[str]:
    return _public()
