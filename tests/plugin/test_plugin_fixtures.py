"""The pytest plugin's fixtures (pyetcd_wire/pytest_plugin.py), used by this
project's own tests as a user's tests would use them."""

from __future__ import annotations

import asyncio

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.testing import EtcdCluster, EtcdMember

pytestmark = pytest.mark.integration


def test_etcd_server_is_one_running_member(etcd_server: EtcdMember) -> None:
    assert etcd_server.is_running
    assert etcd_server.endpoints == [etcd_server.endpoint]
    with etcd.Client(etcd_server.endpoints) as client:
        assert len(client.member_list().members) == 1


@pytest.mark.parametrize("turn", ["first", "second"])
def test_etcd_client_starts_with_no_keys_and_no_leases(
    etcd_client: etcd.Client, turn: str
) -> None:
    # Whichever turn runs second sees that the first one's writes are gone.
    assert etcd_client.get(b"\0", range_end=b"\0", count_only=True).count == 0
    assert not etcd_client.leases().leases
    lease = etcd_client.grant(60)
    etcd_client.put(f"/{turn}", "x", lease=lease.ID)
    etcd_client.put("plain", turn)


async def test_async_etcd_client_on_the_running_loop(
    async_etcd_client: etcd.AsyncClient,
) -> None:
    asyncio.get_running_loop()  # run by the plugin: no pytest-asyncio here
    resp = await async_etcd_client.get(b"\0", range_end=b"\0", count_only=True)
    assert resp.count == 0
    await async_etcd_client.put("/async", "value")
    async with async_etcd_client.watch("/async") as watch:
        await async_etcd_client.put("/async", "changed")
        news = await watch.get(timeout=10)
    assert news is not None
    assert [e.kv.value for e in news.events] == [b"changed"]


def test_etcd_cluster_replicates(etcd_cluster: EtcdCluster) -> None:
    assert len(etcd_cluster.endpoints) == 3
    with etcd.Client(etcd_cluster.endpoints[0]) as writer:
        writer.put("/cluster/key", "replicated")
    with etcd.Client(etcd_cluster.endpoints[2]) as reader:
        assert reader.get("/cluster/key").kvs[0].value == b"replicated"
        assert len(reader.member_list().members) == 3
