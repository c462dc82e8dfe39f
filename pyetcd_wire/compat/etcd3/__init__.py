"""python-etcd3's public API (0.12.0, plus its master's
`MultiEndpointEtcd3Client` and `Endpoint`) over `pyetcd_wire.Client`, with
no grpcio: ``import pyetcd_wire.compat.etcd3 as etcd3``.

The submodules python-etcd3 had are here under the same names
(``etcd3.client``, ``.exceptions``, ``.utils``, ``.transactions``,
``.leases``, ``.locks``, ``.members``, ``.events``, ``.watch``,
``.etcdrpc``); ``etcd3.events`` is loaded when first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import etcdrpc, exceptions, leases, locks, members, transactions, utils
from .client import (
    Endpoint,
    Etcd3Client,
    MultiEndpointEtcd3Client,
    Transactions,
    client,
)
from .exceptions import Etcd3Exception
from .leases import Lease
from .locks import Lock
from .members import Member

#: The python-etcd3 release whose API this is.
__version__ = "0.12.0"

#: Submodules imported when first named (``etcd3.events``).
_LAZY = ("events",)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Endpoint",
    "Etcd3Client",
    "Etcd3Exception",
    "Lease",
    "Lock",
    "Member",
    "MultiEndpointEtcd3Client",
    "Transactions",
    "client",
    "etcdrpc",
    "exceptions",
    "leases",
    "locks",
    "members",
    "transactions",
    "utils",
]
