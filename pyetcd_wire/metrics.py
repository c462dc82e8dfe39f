"""RPC metrics, under go-grpc-prometheus's names.

Pass an `RpcMetrics` as ``Client(metrics=...)``; the client reports each
logical unary call (retries included: one start, one outcome).  Streams
(Watch, LeaseKeepAlive, Snapshot) are not reported yet.
`PrometheusMetrics` is the ready one: it registers

* ``grpc_client_started_total{grpc_type, grpc_service, grpc_method}``
* ``grpc_client_handled_total{grpc_type, grpc_service, grpc_method, grpc_code}``
* ``grpc_client_handling_seconds{grpc_type, grpc_service, grpc_method}``
  (a histogram with Prometheus's default buckets)

with label values as Go's (``unary``/``bidi_stream``..., ``etcdserverpb.KV``,
``Range``, ``OK``/``Unavailable``...).  Every `PrometheusMetrics` of one
registry shares these three series, so one per client works, and the clients'
counts add up.  `prometheus_client` is imported only when a
`PrometheusMetrics` is made; without it nothing is.
"""

from __future__ import annotations

import weakref
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

    Make one per client, or share one: every `PrometheusMetrics` of a
    registry counts into the same three series (made and registered by the
    first one), so the counts of all the clients that use it add up, as
    Go's clients add up in go-grpc-prometheus's default metrics.  To count
    clients apart, give each a registry of its own.

    Args:
        registry: the prometheus_client registry (default: the global one).
        handling_time_histogram: also keep grpc_client_handling_seconds
            (a client made without it times none of its calls, even if
            another client of the registry times its own).

    Raises:
        ImportError: prometheus_client is not installed.
        ValueError: `registry` has one of the names already, from something
            else than a `PrometheusMetrics` (e.g. another gRPC library's
            client metrics).
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
        if registry is None:
            registry = prometheus_client.REGISTRY
        names = list(_SERIES)
        if not handling_time_histogram:
            names.remove("grpc_client_handling_seconds")
        series = _shared(registry, names)
        self._started = series["grpc_client_started_total"]
        self._handled = series["grpc_client_handled_total"]
        self._seconds = series.get("grpc_client_handling_seconds")

    def started(self, method: Method) -> None:
        self._started.labels(*_labels(method)).inc()

    def handled(self, method: Method, code: str, seconds: float) -> None:
        labels = _labels(method)
        self._handled.labels(*labels, code).inc()
        if self._seconds is not None:
            self._seconds.labels(*labels).observe(seconds)


_LABELS = ("grpc_type", "grpc_service", "grpc_method")
# go-grpc-prometheus client_metrics.go: name -> (kind, help, labels).
_SERIES = {
    "grpc_client_started_total": (
        "Counter",
        "Total number of RPCs started on the client.",
        _LABELS,
    ),
    "grpc_client_handled_total": (
        "Counter",
        "Total number of RPCs completed by the client, regardless of success"
        " or failure.",
        (*_LABELS, "grpc_code"),
    ),
    "grpc_client_handling_seconds": (
        "Histogram",
        "Histogram of response latency (seconds) of the gRPC until it is"
        " finished by the application.",
        _LABELS,
    ),
}
# registry -> {name: collector}: the series each registry's PrometheusMetrics
# share.  Weak, so that a registry dropped takes its series with it.
_SHARED: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def _shared(registry: Any, names: list[str]) -> dict[str, Any]:
    """The collectors of series `names` in `registry`; the ones missing are
    made and registered, all or none.

    Raises:
        ValueError: `registry` refused one (its name is taken); the ones
            registered by this call are unregistered and forgotten.
    """
    series = _SHARED.setdefault(registry, {})
    found: dict[str, Any] = {}
    made: list[str] = []
    try:
        for name in names:
            found[name], new = _one(registry, series, name)
            if new:
                made.append(name)
    except ValueError:
        for name in made:
            registry.unregister(series.pop(name))
        raise
    return found


def _one(registry: Any, series: dict[str, Any], name: str) -> tuple[Any, bool]:
    """The collector of `name` in `registry`, and whether this call made
    and registered it.  Without a lock: each thread that finds none makes an
    unregistered candidate, and the one that ``setdefault`` keeps registers
    it (dict.setdefault is atomic); a thread that gets the winner before it
    is registered counts into it all the same.

    Raises:
        ValueError: `registry` refused it (the name is taken).
    """
    found = series.get(name)
    if found is not None:
        return found, False
    import prometheus_client

    kind, help_text, labels = _SERIES[name]
    candidate = getattr(prometheus_client, kind)(name, help_text, labels, registry=None)
    found = series.setdefault(name, candidate)
    if found is not candidate:
        return found, False
    try:
        registry.register(candidate)
    except ValueError:
        del series[name]
        raise
    return candidate, True


def _labels(method: Method) -> tuple[str, str, str]:
    service = method.path.split("/")[1]  # "etcdserverpb.KV"
    return GRPC_TYPES[method.kind], service, method.name


__all__ = ["PrometheusMetrics", "RpcMetrics", "code_name"]
