"""A client's constructor arguments, checked once for `Client` and
`AsyncClient` alike (docs/api.md, "Client"): what is wrong raises here, before
anything is dialed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence, Tuple, Union

from .._api.check import flag, optional_seconds, positive_int, seconds, text
from .._core.grpc.metadata import Metadata
from .._policy.endpoints import Endpoint, parse_endpoint
from .._policy.ping import PingKeepalive
from .tls import TLS, channel_settings
from .tokens import CallMetadata

if TYPE_CHECKING:
    import ssl

    from ..metrics import RpcMetrics

# clientv3 sends its API version as metadata on every call (rpctypes
# metadatafields.go); etcd counts it in its metrics.
CLIENT_API_VERSION = "3.7"
#: Bound on each auto-sync of the endpoints (Go's).
SYNC_TIMEOUT = 5.0


class Options:
    """The validated settings (see `Client` for each argument).

    Raises:
        ValueError: a malformed endpoint or an option out of range.
        TypeError: an option of the wrong type (`tls`, a timeout, a size,
            a flag, username or password).
    """

    def __init__(
        self,
        endpoints: Union[str, Sequence[str]],
        *,
        dial_timeout: Optional[float],
        timeout: Optional[float],
        tls: Union[TLS, ssl.SSLContext, None],
        username: Optional[str],
        password: Optional[str],
        keepalive_time: Optional[float],
        keepalive_timeout: float,
        max_send_message_size: int,
        max_recv_message_size: int,
        require_leader: bool,
        auto_sync_interval: Optional[float],
        reject_old_cluster: bool,
        metrics: Optional[RpcMetrics],
    ) -> None:
        self.ssl_context, self.server_name = channel_settings(tls)
        self.endpoints = parse_endpoints(endpoints)
        dial_timeout = optional_seconds(dial_timeout, "dial_timeout")
        timeout = optional_seconds(timeout, "timeout")
        positive_int(max_send_message_size, "max_send_message_size")
        positive_int(max_recv_message_size, "max_recv_message_size")
        if keepalive_time is not None:
            seconds(keepalive_time, "keepalive_time")
            seconds(keepalive_timeout, "keepalive_timeout")
            PingKeepalive(keepalive_time, keepalive_timeout)  # checks the values
        optional_seconds(auto_sync_interval, "auto_sync_interval")
        flag(require_leader, "require_leader")
        flag(reject_old_cluster, "reject_old_cluster")
        if metrics is not None and not all(
            callable(getattr(metrics, hook, None)) for hook in ("started", "handled")
        ):
            raise TypeError(
                "metrics must be an RpcMetrics (with started() and handled()),"
                f" not {type(metrics).__name__}"
            )
        self.credentials: Optional[Tuple[str, str]] = None
        if username is not None or password is not None:
            if not username or not password:
                raise ValueError(
                    "password auth needs both username= and password= (non-empty)"
                )
            self.credentials = (text(username, "username"), text(password, "password"))
        self.dial_timeout = dial_timeout
        self.timeout = timeout
        self.keepalive_time = keepalive_time
        self.keepalive_timeout = keepalive_timeout
        self.max_send_message_size = max_send_message_size
        self.max_recv_message_size = max_recv_message_size
        self.auto_sync_interval = auto_sync_interval
        self.reject_old_cluster = reject_old_cluster
        self.metrics = metrics
        base: Metadata = (("client-api-version", CLIENT_API_VERSION),)
        # Go opens the keep-alive stream require-leader whatever the client's
        # setting: a member cut off from its leader refuses it.
        lease_base: Metadata = (*base, ("hasleader", "true"))
        self.metadata = CallMetadata(lease_base if require_leader else base, lease_base)

    @property
    def first_keep_alive_timeout(self) -> float:
        """Go: the first keep-alive response may take dial_timeout + 1 s
        (without a dial timeout, Go's default; read with the first keep-alive,
        as the lease module it comes from)."""
        if self.dial_timeout is not None:
            return self.dial_timeout + 1.0
        from .._core.lease import FIRST_RESPONSE_TIMEOUT

        return FIRST_RESPONSE_TIMEOUT


def parse_endpoints(endpoints: Union[str, Sequence[str]]) -> Tuple[Endpoint, ...]:
    """One endpoint string or several, parsed (ValueError names a bad one,
    TypeError says `endpoints` is neither a str nor a sequence)."""
    if isinstance(endpoints, str):
        items: Tuple[str, ...] = (endpoints,)
    elif isinstance(endpoints, (bytes, bytearray)) or not hasattr(
        endpoints, "__iter__"
    ):
        raise TypeError(
            "endpoints must be a str or a sequence of str, "
            f"not {type(endpoints).__name__}"
        )
    else:
        items = tuple(endpoints)
    if not items:
        raise ValueError("endpoints: give at least one endpoint")
    return tuple(parse_endpoint(e) for e in items)


__all__ = ["CLIENT_API_VERSION", "Options", "parse_endpoints"]
