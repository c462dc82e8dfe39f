"""The plain values of python-etcd3's client module (``etcd3.client``
re-exports them): `Transactions`, `KVMetadata`, `Status`, `Alarm`,
`Endpoint`, `EtcdTokenCallCredentials`; and how python-etcd3's range and
gRPC channel options become `pyetcd_wire.Client`'s keywords."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple, Union

from . import transactions
from .members import Member

BytesLike = Union[str, bytes]

#: python-etcd3's sort orders and targets -> `pyetcd_wire.Client.get`'s.
SORT_ORDERS = {None: "none", "ascend": "ascend", "descend": "descend"}
SORT_TARGETS = {
    None: "key",
    "key": "key",
    "version": "version",
    "create": "create",
    "mod": "mod",
    "value": "value",
}


class Transactions:
    """``client.transactions``: the compares and operations of a transaction
    (``client.transactions.value(key) == b"v"``, ``.put(key, value)``)."""

    def __init__(self) -> None:
        self.value = transactions.Value
        self.version = transactions.Version
        self.create = transactions.Create
        self.mod = transactions.Mod
        self.put = transactions.Put
        self.get = transactions.Get
        self.delete = transactions.Delete
        self.txn = transactions.Txn


class KVMetadata:
    """A key's metadata: ``key``, ``create_revision``, ``mod_revision``,
    ``version``, ``lease_id``, and the response's ``response_header``."""

    def __init__(self, keyvalue: Any, header: Any) -> None:
        self.key = keyvalue.key
        self.create_revision = keyvalue.create_revision
        self.mod_revision = keyvalue.mod_revision
        self.version = keyvalue.version
        self.lease_id = keyvalue.lease
        self.response_header = header


class Status:
    """A member's status (``client.status()``); ``leader`` is a `Member`, or
    None if the member knows of no leader."""

    def __init__(
        self,
        version: str,
        db_size: int,
        leader: Optional[Member],
        raft_index: int,
        raft_term: int,
    ) -> None:
        self.version = version
        self.db_size = db_size
        self.leader = leader
        self.raft_index = raft_index
        self.raft_term = raft_term


class Alarm:
    """An alarm: ``alarm_type`` (``etcdrpc.NOSPACE``, ...) and ``member_id``."""

    def __init__(self, alarm_type: int, member_id: int) -> None:
        self.alarm_type = alarm_type
        self.member_id = member_id


class Endpoint:
    """One etcd endpoint of a `MultiEndpointEtcd3Client`.

    Args:
        host, port: where it listens.
        secure: use TLS (then `creds` is required: a `pyetcd_wire.TLS` or an
            ``ssl.SSLContext``, e.g. from ``get_secure_creds``).
        time_retry: kept for python-etcd3's signature; our balancer decides
            when a failed endpoint is tried again.
        opts: gRPC options (`grpc_client_options`).

    Raises:
        ValueError: `secure` without `creds`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        secure: bool = True,
        creds: Any = None,
        time_retry: float = 300.0,
        opts: Any = None,
    ) -> None:
        self.host = host
        self.port = port
        self.netloc = f"{host}:{port}"
        self.secure = secure
        self.protocol = "https" if secure else "http"
        if secure and creds is None:
            raise ValueError("Please set TLS credentials for secure connections")
        self.credentials = creds
        self.time_retry = time_retry
        self.opts = opts

    @property
    def url(self) -> str:
        """The endpoint as our client takes it (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.protocol}://{host}:{self.port}"

    def close(self) -> None:
        """Nothing to close: the connections are the client's."""

    def __str__(self) -> str:
        return f"Endpoint({self.protocol}://{self.netloc})"


class EtcdTokenCallCredentials:
    """python-etcd3's gRPC metadata plugin for a token: called with
    ``(context, callback)``, it calls ``callback((("token", token),), None)``.
    Our client sends its token itself; this is ``client.call_credentials``,
    holding the token fetched when the client was made."""

    def __init__(self, access_token: str) -> None:
        self._access_token = access_token

    def __call__(self, context: Any, callback: Callable[..., Any]) -> None:
        callback((("token", self._access_token),), None)


#: gRPC channel options that mean something here -> (our keyword, convert).
_GRPC_OPTIONS: Dict[str, Tuple[str, Callable[[Any], Any]]] = {
    "grpc.max_send_message_length": ("max_send_message_size", lambda v: _size(v)),
    "grpc.max_receive_message_length": ("max_recv_message_size", lambda v: _size(v)),
    "grpc.keepalive_time_ms": ("keepalive_time", lambda v: int(v) / 1000),
    "grpc.keepalive_timeout_ms": ("keepalive_timeout", lambda v: int(v) / 1000),
}


def _size(value: Any) -> int:
    """A grpc message size; -1 (no limit) is the largest one."""
    return 2**31 - 1 if int(value) < 0 else int(value)


def grpc_client_options(opts: Any) -> Dict[str, Any]:
    """`pyetcd_wire.Client` keywords for grpc channel options (a mapping or
    pairs): the message size limits and the keepalive time and timeout;
    the others are left out."""
    pairs: Iterable[Tuple[str, Any]]
    if opts is None:
        pairs = ()
    elif isinstance(opts, Mapping):
        pairs = opts.items()
    else:
        pairs = opts
    options = {}
    for name, value in pairs:
        if name in _GRPC_OPTIONS:
            keyword, convert = _GRPC_OPTIONS[name]
            options[keyword] = convert(value)
    return options


def range_options(
    range_end: Optional[BytesLike] = None,
    limit: Optional[int] = None,
    revision: Optional[int] = None,
    sort_order: Optional[str] = None,
    sort_target: Optional[str] = "key",
    serializable: bool = False,
    keys_only: bool = False,
    count_only: bool = False,
    min_mod_revision: Optional[int] = None,
    max_mod_revision: Optional[int] = None,
    min_create_revision: Optional[int] = None,
    max_create_revision: Optional[int] = None,
) -> Dict[str, Any]:
    """python-etcd3's range keywords as `pyetcd_wire.Client.get`'s
    (python-etcd3 sent the create revision bounds as min_mod_revision; they
    go where they belong here).

    Raises:
        ValueError: an unknown sort order or target (python-etcd3's messages).
    """
    order = SORT_ORDERS.get(sort_order)
    if order is None:
        raise ValueError(f'unknown sort order: "{sort_order}"')
    target = SORT_TARGETS.get(sort_target)
    if target is None:
        raise ValueError(
            'sort_target must be one of "key", "version", "create", "mod" or "value"'
        )
    return {
        "range_end": range_end,
        "limit": limit or 0,
        "revision": revision or 0,
        "sort_order": order,
        "sort_target": target,
        "serializable": serializable,
        "keys_only": keys_only,
        "count_only": count_only,
        "min_mod_revision": min_mod_revision or 0,
        "max_mod_revision": max_mod_revision or 0,
        "min_create_revision": min_create_revision or 0,
        "max_create_revision": max_create_revision or 0,
    }


__all__ = [
    "SORT_ORDERS",
    "SORT_TARGETS",
    "Alarm",
    "Endpoint",
    "EtcdTokenCallCredentials",
    "KVMetadata",
    "Status",
    "Transactions",
    "grpc_client_options",
    "range_options",
]
