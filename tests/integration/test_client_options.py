"""Client options of the cluster-grade client: metrics, reject_old_cluster."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from types import SimpleNamespace

import prometheus_client  # a testing extra: missing, it fails
import pytest

import pyetcd_wire as etcd
from pyetcd_wire._api.methods import KV_RANGE
from pyetcd_wire._async.client import AsyncClient
from pyetcd_wire.errors import OldClusterError
from pyetcd_wire.metrics import PrometheusMetrics, RpcMetrics, code_name
from pyetcd_wire.testing import EtcdMember
from tests.async_bridge import BlockingAsyncClient
from tests.helpers import in_threads

RANGE = {
    "grpc_type": "unary",
    "grpc_service": "etcdserverpb.KV",
    "grpc_method": "Range",
}


def sample(registry, name, **labels):
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_prometheus_metrics_use_go_grpc_prometheus_names(etcd_single, client_class):
    registry = prometheus_client.CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    rng = {"grpc_type": "unary", "grpc_service": "etcdserverpb.KV"}
    with client_class(etcd_single.endpoint, timeout=5, metrics=metrics) as client:
        client.put(b"/metrics/k", b"v")
        client.get(b"/metrics/k")
        client.get(b"/metrics/k")
        with pytest.raises(etcd.EtcdError):
            client.get(b"/metrics/k", revision=10**12)  # a future revision
    assert (
        sample(registry, "grpc_client_started_total", **rng, grpc_method="Range") == 3
    )
    assert sample(registry, "grpc_client_started_total", **rng, grpc_method="Put") == 1
    handled = "grpc_client_handled_total"
    assert sample(registry, handled, **rng, grpc_method="Range", grpc_code="OK") == 2
    assert (
        sample(registry, handled, **rng, grpc_method="Range", grpc_code="OutOfRange")
        == 1
    )
    count = sample(
        registry, "grpc_client_handling_seconds_count", **rng, grpc_method="Range"
    )
    assert count == 3
    text = prometheus_client.generate_latest(registry).decode()
    assert (
        'grpc_client_started_total{grpc_method="Put",grpc_service="etcdserverpb.KV",'
        'grpc_type="unary"} 1.0' in text
    )


def range_counts(registry):
    """(started, handled OK, timed) for Range in `registry`."""
    return (
        sample(registry, "grpc_client_started_total", **RANGE),
        sample(registry, "grpc_client_handled_total", **RANGE, grpc_code="OK"),
        sample(registry, "grpc_client_handling_seconds_count", **RANGE),
    )


@pytest.mark.parametrize("own_registry", [False, True], ids=["default", "own"])
def test_one_prometheus_metrics_per_client_and_the_counts_add_up(
    etcd_single, own_registry
):
    """As many `PrometheusMetrics()` as clients, sync and async, in one
    process: they share the registry's series (as Go's clients share
    go-grpc-prometheus's), so the counts of all add up.  The second one on
    the default registry raised DuplicateTimeseries."""
    registry = (
        prometheus_client.CollectorRegistry()
        if own_registry
        else prometheus_client.REGISTRY
    )
    before = range_counts(registry)
    classes = [etcd.Client, BlockingAsyncClient, etcd.Client, BlockingAsyncClient]
    with contextlib.ExitStack() as stack:
        clients = [
            stack.enter_context(
                client_class(
                    etcd_single.endpoint,
                    timeout=5,
                    metrics=PrometheusMetrics(registry)
                    if own_registry
                    else PrometheusMetrics(),
                )
            )
            for client_class in classes
        ]

        def calls(n: int) -> None:
            for _ in range(n + 1):
                clients[n].get(b"/metrics/shared")

        assert in_threads(calls, len(clients)) == []
    after = range_counts(registry)
    assert [a - b for a, b in zip(after, before)] == [10, 10, 10]  # 1+2+3+4


def test_the_histogram_times_only_the_clients_that_ask_for_it(
    etcd_single, client_class
):
    """Sharing a registry, a client without `handling_time_histogram` still
    counts its calls, and times none of them, whichever was made first."""
    registry = prometheus_client.CollectorRegistry()
    untimed = PrometheusMetrics(registry, handling_time_histogram=False)
    timed = PrometheusMetrics(registry)
    with (
        client_class(etcd_single.endpoint, timeout=5, metrics=untimed) as one,
        client_class(etcd_single.endpoint, timeout=5, metrics=timed) as two,
    ):
        one.get(b"/metrics/k")
        one.get(b"/metrics/k")
        two.get(b"/metrics/k")
    assert range_counts(registry) == (3, 3, 1)


def test_prometheus_metrics_made_at_once_share_the_series():
    """Threads that each make their own `PrometheusMetrics` on one registry
    at the same moment all get it (none DuplicateTimeseries), and count
    into the same series."""
    registry = prometheus_client.CollectorRegistry()
    threads = 8
    barrier = threading.Barrier(threads)

    def make_and_count(n: int) -> None:
        barrier.wait()
        metrics = PrometheusMetrics(registry)
        metrics.started(KV_RANGE)
        metrics.handled(KV_RANGE, "OK", 0.001)

    assert in_threads(make_and_count, threads) == []
    assert range_counts(registry) == (threads, threads, threads)


def test_a_registry_that_has_the_names_already_is_refused():
    """Another library's grpc_client_started_total in the registry: a
    ValueError naming the series, and nothing of ours left half-registered
    (a registry without it still works)."""
    taken = prometheus_client.CollectorRegistry()
    prometheus_client.Counter(
        "grpc_client_handled_total", "someone else's", registry=taken
    )
    for _ in range(2):  # the failure is not remembered as success
        with pytest.raises(ValueError, match="grpc_client_handled_total"):
            PrometheusMetrics(taken)
    assert sample(taken, "grpc_client_started_total", **RANGE) == 0
    assert "grpc_client_started_total" not in (
        prometheus_client.generate_latest(taken).decode()
    )
    free = prometheus_client.CollectorRegistry()
    PrometheusMetrics(free).started(KV_RANGE)
    assert range_counts(free)[0] == 1


def test_a_hook_of_ones_own_sees_each_logical_call_once(etcd_single, client_class):
    seen = []

    class Recorder(RpcMetrics):
        def handled(self, method, code, seconds):
            seen.append((method.name, code))

    with client_class(etcd_single.endpoint, timeout=5, metrics=Recorder()) as client:
        client.get(b"/metrics/none")
    assert seen == [("Range", "OK")]


def test_code_names_are_gos():
    assert code_name(None) == "OK"
    assert code_name(etcd.DeadlineExceededError("x")) == "DeadlineExceeded"
    assert code_name(etcd.ConnectionFailedError([("e", "refused")])) == "Unavailable"
    assert code_name(etcd.PermissionDeniedError()) == "PermissionDenied"
    assert code_name(etcd.RpcCancelledError(None, "x")) == "Canceled"


def test_nothing_of_prometheus_is_imported_without_metrics():
    code = (
        "import sys, pyetcd_wire\n"
        "pyetcd_wire.Client('127.0.0.1:1').close()\n"
        "assert 'prometheus_client' not in sys.modules, 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_reject_old_cluster_accepts_supported_servers(server_binary, client_class):
    with (
        EtcdMember("versions", binary=server_binary) as member,
        client_class(member.endpoint, reject_old_cluster=True, timeout=5) as client,
    ):
        assert client.get(b"k").header.revision >= 1


def test_reject_old_cluster_refuses_an_older_member(
    etcd_single, monkeypatch, client_class
):
    old = SimpleNamespace(version="3.3.27")

    def old_status(self, endpoint=None, *, timeout=None):
        return old

    async def old_status_async(self, endpoint=None, *, timeout=None):
        return old

    monkeypatch.setattr(etcd.Client, "status", old_status)
    monkeypatch.setattr(AsyncClient, "status", old_status_async)
    with pytest.raises(OldClusterError, match=r"3\.3\.27") as info:
        client_class(etcd_single.endpoint, reject_old_cluster=True)
    assert info.value.endpoint == etcd_single.endpoint
