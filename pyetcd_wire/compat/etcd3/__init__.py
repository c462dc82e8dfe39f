"""python-etcd3's public API (0.12.0, plus its master's
`MultiEndpointEtcd3Client` and `Endpoint`) over `pyetcd_wire.Client`, with
no grpcio: ``import pyetcd_wire.compat.etcd3 as etcd3``.

The submodules python-etcd3 had are here under the same names
(``etcd3.client``, ``.exceptions``, ``.utils``, ``.transactions``,
``.leases``, ``.locks``, ``.members``, ``.events``, ``.watch``,
``.etcdrpc``).
"""

from __future__ import annotations

from . import (
    etcdrpc,
    events,
    exceptions,
    leases,
    locks,
    members,
    transactions,
    utils,
    watch,
)
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
    "events",
    "exceptions",
    "leases",
    "locks",
    "members",
    "transactions",
    "utils",
    "watch",
]
