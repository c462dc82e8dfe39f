"""RPC metrics, under go-grpc-prometheus's names (clientv3.md §6).

Pass an `RpcMetrics` as ``Client(metrics=...)``; the client reports each
logical unary call (retries included: one start, one outcome).  Streams
(Watch, LeaseKeepAlive, Snapshot) are not reported yet.
`PrometheusMetrics` is the ready one: it registers

* ``grpc_client_started_total{grpc_type, grpc_service, grpc_method}``
* ``grpc_client_handled_total{grpc_type, grpc_service, grpc_method, grpc_code}``
* ``grpc_client_handling_seconds{grpc_type, grpc_service, grpc_method}``
  (a histogram with Prometheus's default buckets)

with label values as Go's (``unary``/``bidi_stream``..., ``etcdserverpb.KV``,
``Range``, ``OK``/``Unavailable``...).  `prometheus_client` is imported only
when a `PrometheusMetrics` is made; without it nothing is.
"""

from __future__ import annotations

from typing import Any, Optional

from ._api.methods import Method, MethodKind
from ._core.grpc.status import StatusCode
from .errors import (
    DeadlineExceededError,
    EtcdError,
    RpcError,
    TransportError,
)

#: grpc_type label per cardinality.
GRPC_TYPES = {
    MethodKind.UNARY: "unary",
    MethodKind.SERVER_STREAM: "server_stream",
    MethodKind.BIDI: "bidi_stream",
}


def code_name(error: Optional[EtcdError]) -> str:
    """The grpc_code label for a call's outcome: Go's code names (``OK``,
    ``Unavailable``, ``DeadlineExceeded``...); a transport failure counts as
    Unavailable, as grpc-go reports it."""
    if error is None:
        return "OK"
    if isinstance(error, RpcError):  # RpcCancelledError too: code CANCELLED
        code = error.code
    elif isinstance(error, DeadlineExceededError):
        code = StatusCode.DEADLINE_EXCEEDED
    elif isinstance(error, TransportError):
        code = StatusCode.UNAVAILABLE
    else:
        code = StatusCode.UNKNOWN
    if code is StatusCode.CANCELLED:
        return "Canceled"  # Go's spelling
    return "".join(part.capitalize() for part in code.name.split("_"))


class RpcMetrics:
    """What the client reports; subclass and override what you need (every
    method does nothing here)."""

    def started(self, method: Method) -> None:
        """A call (or stream) of `method` starts."""

    def handled(self, method: Method, code: str, seconds: float) -> None:
        """It ended with grpc_code `code` after `seconds`."""


class PrometheusMetrics(RpcMetrics):
    """`RpcMetrics` as go-grpc-prometheus's client series.

    Args:
        registry: the prometheus_client registry (default: the global one).
        handling_time_histogram: also keep grpc_client_handling_seconds.

    Raises:
        ImportError: prometheus_client is not installed.
    """

    def __init__(
        self, registry: Any = None, *, handling_time_histogram: bool = True
    ) -> None:
        try:
            import prometheus_client
        except ImportError as exc:
            raise ImportError(
                "PrometheusMetrics needs the prometheus_client package"
                " (pip install prometheus-client)"
            ) from exc
        options: dict[str, Any] = {}
        if registry is not None:
            options["registry"] = registry
        labels = ["grpc_type", "grpc_service", "grpc_method"]
        self._started = prometheus_client.Counter(
            "grpc_client_started_total",
            "Total number of RPCs started on the client.",
            labels,
            **options,
        )
        self._handled = prometheus_client.Counter(
            "grpc_client_handled_total",
            "Total number of RPCs completed by the client, regardless of"
            " success or failure.",
            [*labels, "grpc_code"],
            **options,
        )
        self._seconds = (
            prometheus_client.Histogram(
                "grpc_client_handling_seconds",
                "Histogram of response latency (seconds) of the gRPC until it"
                " is finished by the application.",
                labels,
                **options,
            )
            if handling_time_histogram
            else None
        )

    def started(self, method: Method) -> None:
        self._started.labels(*_labels(method)).inc()

    def handled(self, method: Method, code: str, seconds: float) -> None:
        labels = _labels(method)
        self._handled.labels(*labels, code).inc()
        if self._seconds is not None:
            self._seconds.labels(*labels).observe(seconds)


def _labels(method: Method) -> tuple[str, str, str]:
    service = method.path.split("/")[1]  # "etcdserverpb.KV"
    return GRPC_TYPES[method.kind], service, method.name


__all__ = ["PrometheusMetrics", "RpcMetrics", "code_name"]
