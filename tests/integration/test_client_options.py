"""Client options of the cluster-grade client: metrics, reject_old_cluster."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import prometheus_client  # a testing extra: missing, it fails
import pytest

import pyetcd_wire as etcd
from pyetcd_wire._async.client import AsyncClient
from pyetcd_wire.errors import OldClusterError
from pyetcd_wire.metrics import PrometheusMetrics, RpcMetrics, code_name
from pyetcd_wire.testing import EtcdMember


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
