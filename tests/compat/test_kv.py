"""The compat client's KV calls and transactions against a real etcd: the
return shapes python-etcd3's users rely on (``(value, KVMetadata)`` pairs,
generators of them, the raw responses) and its transaction helpers."""

from __future__ import annotations

import types

import pytest

import pyetcd_wire.compat.etcd3 as etcd3
from pyetcd_wire.compat.etcd3.client import KVMetadata


def test_get_returns_a_value_and_its_metadata(etcd, prefix) -> None:
    assert etcd.get(prefix + "missing") == (None, None)
    put = etcd.put(prefix + "k", "v")
    value, meta = etcd.get(prefix + "k")
    assert value == b"v"
    assert isinstance(meta, KVMetadata)
    assert meta.key == (prefix + "k").encode()
    assert meta.create_revision == meta.mod_revision == put.header.revision
    assert (meta.version, meta.lease_id) == (1, 0)
    assert meta.response_header.revision >= put.header.revision


def test_get_response_is_etcds_range_response(etcd, prefix) -> None:
    etcd.put(prefix + "k", "v")
    response = etcd.get_response(prefix + "k")
    assert response.count == 1
    assert response.kvs[0].value == b"v"
    assert response.more is False
    empty = etcd.get_response(prefix + "none")
    assert empty.count == 0
    assert empty.header.revision > 0


def test_put_returns_the_response(etcd, prefix) -> None:
    etcd.put(prefix + "k", "old")
    response = etcd.put(prefix + "k", b"new", prev_kv=True)
    assert response.header.revision > 0
    assert response.prev_kv.value == b"old"


def test_prefix_range_and_all_are_generators(etcd, prefix) -> None:
    for key in "abcde":
        etcd.put(prefix + key, key.upper())
    etcd.put(prefix[:-1] + "0", "outside")  # sorts after the prefix's keys
    pairs = etcd.get_prefix(prefix)
    assert isinstance(pairs, types.GeneratorType)
    assert [v for v, _ in pairs] == [b"A", b"B", b"C", b"D", b"E"]
    backwards = etcd.get_prefix(prefix, sort_order="descend")
    assert [m.key[-1:] for _, m in backwards] == [b"e", b"d", b"c", b"b", b"a"]
    keys_only = list(etcd.get_prefix(prefix, keys_only=True))
    assert [v for v, _ in keys_only] == [b""] * 5
    in_range = etcd.get_range(prefix + "b", prefix + "d")
    assert isinstance(in_range, types.GeneratorType)
    assert [v for v, _ in in_range] == [b"B", b"C"]
    response = etcd.get_prefix_response(prefix, sort_order="ascend")
    assert response.count == 5
    everything = [m.key for _, m in etcd.get_all(keys_only=True)]
    assert {(prefix + k).encode() for k in "abcde"} <= set(everything)
    assert etcd.get_all_response().count >= 6


def test_delete(etcd, prefix) -> None:
    etcd.put(prefix + "k", "v")
    assert etcd.delete(prefix + "k") is True
    assert etcd.delete(prefix + "k") is False
    etcd.put(prefix + "k", "v")
    response = etcd.delete(prefix + "k", prev_kv=True, return_response=True)
    assert response.prev_kvs[0].value == b"v"
    for key in "ab":
        etcd.put(prefix + key, key)
    assert etcd.delete_prefix(prefix).deleted == 2
    assert list(etcd.get_prefix(prefix)) == []


def test_put_if_not_exists_and_replace(etcd, prefix) -> None:
    assert etcd.put_if_not_exists(prefix + "k", "1") is True
    assert etcd.put_if_not_exists(prefix + "k", "2") is False
    assert etcd.replace(prefix + "k", "2", "3") is False
    assert etcd.replace(prefix + "k", "1", "3") is True
    assert etcd.get(prefix + "k")[0] == b"3"


def test_transaction_returns_python_etcd3s_shapes(etcd, prefix) -> None:
    tx = etcd.transactions
    etcd.put(prefix + "k", "v")
    succeeded, responses = etcd.transaction(
        compare=[tx.value(prefix + "k") == "v", tx.version(prefix + "k") > 0],
        success=[
            tx.get(prefix + "k"),
            tx.put(prefix + "n", "1"),
            tx.delete(prefix + "k", prev_kv=True),
        ],
        failure=[],
    )
    assert succeeded is True
    [(value, meta)] = responses[0]
    assert value == b"v"
    assert meta.response_header.revision > 0
    assert responses[1].response_put.header.revision > 0
    assert responses[2].response_delete_range.prev_kvs[0].value == b"v"
    succeeded, responses = etcd.transaction(
        compare=[tx.create(prefix + "k") != 0], success=[], failure=[]
    )
    assert (succeeded, responses) == (False, [])


def test_nested_transactions_and_ranges(etcd, prefix) -> None:
    tx = etcd.transactions
    succeeded, responses = etcd.transaction(
        compare=[],
        success=[
            tx.put(prefix + "1", "1"),
            tx.txn(compare=[], success=[tx.put(prefix + "2", "2")], failure=[]),
        ],
    )  # no failure: python-etcd3 failed here with a TypeError
    assert succeeded is True
    assert responses[1].response_txn.succeeded is True
    assert etcd.get(prefix + "2")[0] == b"2"
    everything = [tx.value(prefix, prefix + "~") == "1"]
    assert etcd.transaction(compare=everything, success=[], failure=[])[0] is False
    etcd.put(prefix + "2", "1")
    assert etcd.transaction(compare=everything, success=[], failure=[])[0] is True


def test_ops_to_requests(etcd) -> None:
    [request] = etcd._ops_to_requests([etcd.transactions.put("k", "v")])
    assert request.request_put.key == b"k"
    with pytest.raises(TypeError):
        etcd._ops_to_requests(["not_transaction_type"])
    with pytest.raises(TypeError):
        etcd._ops_to_requests(0)


def test_keys_put_with_a_lease(etcd, prefix) -> None:
    lease = etcd.lease(30)
    assert isinstance(lease, etcd3.Lease)
    assert (isinstance(lease.id, int), lease.ttl) == (True, 30)
    assert lease.keys == []
    etcd.put(prefix + "k", "v", lease=lease)
    assert lease.keys == [(prefix + "k").encode()]
    assert lease.remaining_ttl <= lease.granted_ttl == 30
    [renewed] = lease.refresh()
    assert lease.id == renewed.ID
    assert renewed.TTL == 30
    assert etcd.get(prefix + "k")[1].lease_id == lease.id
    lease.revoke()
    assert etcd.get(prefix + "k") == (None, None)


def test_refreshing_a_lost_lease_gives_ttl_0(etcd) -> None:
    """As etcd answers, and python-etcd3 returned (our client raises
    LeaseNotFoundError for it)."""
    lease = etcd.lease(30)
    lease.revoke()
    [response] = lease.refresh()
    assert lease.id == response.ID
    assert response.TTL == 0
    assert lease.remaining_ttl == -1


def test_a_lease_with_an_id(etcd) -> None:
    lease = etcd.lease(30, lease_id=0x7E57)
    assert lease.id == 0x7E57
    etcd.revoke_lease(lease.id)
    info = etcd.get_lease_info(lease.id)
    assert info.TTL == -1
