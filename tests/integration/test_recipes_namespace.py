"""namespace / AsyncNamespace (Go's client/v3/namespace) against real etcd:
etcdctl sees the prefixed keys, results come back stripped, range ends are
translated as Go's prefixInterval (from-key reaches only the namespace's
end), Txn compares and nested ops are prefixed, watch events and lease keys
are stripped and confined, and the asyncio twin does the same."""

from __future__ import annotations

import uuid
from typing import Iterator, List, Tuple

import pytest

import pyetcd_wire as etcd
from pyetcd_wire import Compare, Op, prefix_range_end
from pyetcd_wire.errors import CompactedError, EmptyKeyError
from pyetcd_wire.recipes._async.namespace import AsyncNamespace
from pyetcd_wire.recipes._async.namespace import namespace as async_namespace
from pyetcd_wire.recipes._sync.namespace import Namespace, namespace
from pyetcd_wire.testing import EtcdMember
from tests.aio import run

PUT, DELETE = 0, 1
WAIT = 10.0


@pytest.fixture
def base() -> str:
    """A fresh directory of the keyspace; namespaces live below it."""
    return f"/ns-test/{uuid.uuid4().hex}/"


@pytest.fixture
def client(etcd_single: EtcdMember, base: str) -> Iterator[etcd.Client]:
    """A sync client; what the test wrote under `base` is deleted after it."""
    with etcd.Client(etcd_single.endpoint, timeout=10) as c:
        yield c
        c.delete(base, prefix=True)


def keys(response) -> List[bytes]:
    return [kv.key for kv in response.kvs]


def etcdctl_keys(member: EtcdMember, prefix: str) -> List[str]:
    return member.etcdctl("get", prefix, "--prefix", "--keys-only").stdout.split()


def events(w, count: int) -> List[Tuple[int, bytes, bytes, bytes]]:
    """The next `count` events of `w`: (type, key, value, prev_kv key)."""
    found: List[Tuple[int, bytes, bytes, bytes]] = []
    while len(found) < count:
        response = w.get(timeout=WAIT)
        assert response is not None, f"{count} events expected, {found} came"
        found += [
            (e.type, e.kv.key, e.kv.value, e.prev_kv.key) for e in response.events
        ]
    return found


def test_keys_are_prefixed_on_the_wire_and_stripped_in_results(
    etcd_single: EtcdMember, client: etcd.Client, base: str
) -> None:
    ns = namespace(client, base + "app/")
    assert isinstance(ns, Namespace)
    ns.put("a", "1")
    first = ns.put("a", "2", prev_kv=True)
    ns.put("b/c", "3")
    etcd_single.etcdctl("put", base + "outside", "x")
    assert etcdctl_keys(etcd_single, base) == [
        f"{base}app/a",
        f"{base}app/b/c",
        f"{base}outside",
    ]
    assert first.prev_kv.key == b"a"
    assert first.prev_kv.value == b"1"
    got = ns.get("a")
    assert keys(got) == [b"a"]
    assert got.kvs[0].value == b"2"
    assert keys(ns.get("", prefix=True)) == [b"a", b"b/c"]
    assert ns.get("", prefix=True, count_only=True).count == 2
    assert keys(ns.get("", prefix=True, limit=1, sort_order="descend")) == [b"b/c"]
    deleted = ns.delete("", prefix=True, prev_kv=True)
    assert deleted.deleted == 2
    assert sorted(kv.key for kv in deleted.prev_kvs) == [b"a", b"b/c"]
    assert etcdctl_keys(etcd_single, base) == [f"{base}outside"]


def test_ranges_are_translated_as_go_prefix_interval(
    etcd_single: EtcdMember, client: etcd.Client, base: str
) -> None:
    prefix = base + "ns/"
    for key in ("a", "b", "ba", "c"):
        etcd_single.etcdctl("put", prefix + key, key)
    # Neighbours just outside the namespace, on both sides of it.
    before, after = base + "ns.", prefix_range_end(prefix).decode()
    etcd_single.etcdctl("put", before, "x")
    etcd_single.etcdctl("put", after, "x")
    ns = namespace(client, prefix)
    assert keys(ns.get("b", prefix=True)) == [b"b", b"ba"]
    assert keys(ns.get("b", from_key=True)) == [b"b", b"ba", b"c"]  # not `after`
    assert keys(ns.get("", from_key=True)) == [b"a", b"b", b"ba", b"c"]
    assert keys(ns.get("a", range_end="c")) == [b"a", b"b", b"ba"]
    assert ns.delete("b", from_key=True).deleted == 3
    assert etcdctl_keys(etcd_single, base) == [before, prefix + "a", after]


def test_a_prefix_ending_in_0xff_ends_before_the_next_key(
    client: etcd.Client, base: str
) -> None:
    """Go's loop would end the namespace b"...a\\xff" at b"...b\\x00", which
    takes in the key b"...b"; prefix_range_end ends it at b"...b"."""
    prefix = base.encode() + b"a\xff"
    client.put(prefix + b"1", "in")
    client.put(base.encode() + b"b", "out")
    ns = namespace(client, prefix)
    assert keys(ns.get("", prefix=True)) == [b"1"]
    assert keys(ns.get("", from_key=True)) == [b"1"]


def test_an_all_0xff_prefix_reaches_to_the_end_of_the_keyspace(
    client: etcd.Client,
) -> None:
    prefix = b"\xff" * 8  # no key above it is outside it: its end is "\0"
    token = uuid.uuid4().hex.encode()
    client.put(prefix + token, "in")
    client.put(prefix[:-1] + b"\xfe" + token, "just before it")
    ns = namespace(client, prefix)
    try:
        assert keys(ns.get("", from_key=True)) == [token]
        assert keys(ns.get(token[:4], prefix=True)) == [token]
    finally:
        client.delete(prefix[:-1], prefix=True)


def test_the_empty_key_is_refused(client: etcd.Client, base: str) -> None:
    ns = namespace(client, base)
    with pytest.raises(EmptyKeyError):
        ns.get("")
    with pytest.raises(EmptyKeyError):
        ns.put("", "v")
    with pytest.raises(EmptyKeyError):
        ns.delete("", range_end="z")
    with pytest.raises(EmptyKeyError):
        ns.watch("")
    with pytest.raises(ValueError, match="prefix=True and from_key=True"):
        ns.get("a", prefix=True, from_key=True)
    assert client.get(base, prefix=True).count == 0


def test_txn_compares_and_ops_are_prefixed_and_responses_stripped(
    etcd_single: EtcdMember, client: etcd.Client, base: str
) -> None:
    ns = namespace(client, base + "ns/")
    ns.put("k", "v")
    ns.put("old", "x")
    client.put("k-outside", "other")  # a compare on "k" must not see this
    response = ns.txn(
        compare=[
            Compare.value("k") == "v",
            Compare.version("", prefix=True) > 0,
            Compare.create_revision("missing") == 0,
        ],
        success=[
            Op.put("k", "w", prev_kv=True),
            Op.get("", prefix=True, keys_only=True),
            Op.txn(
                [Compare.value("old") == "x"],
                [Op.put("n", "1"), Op.delete("old", prev_kv=True)],
                [],
            ),
        ],
    )
    assert response.succeeded
    put, got, nested = (r for r in response.responses)
    assert put.response_put.prev_kv.key == b"k"
    assert keys(got.response_range) == [b"k", b"old"]
    assert nested.response_txn.succeeded
    deleted = nested.response_txn.responses[1].response_delete_range
    assert [kv.key for kv in deleted.prev_kvs] == [b"old"]
    assert etcdctl_keys(etcd_single, base) == [f"{base}ns/k", f"{base}ns/n"]
    failed = ns.txn([Compare.value("n") == "2"], [], [Op.get("n")])
    assert not failed.succeeded
    assert keys(failed.responses[0].response_range) == [b"n"]
    client.delete("k-outside")


def test_watch_events_are_confined_and_stripped(
    etcd_single: EtcdMember, client: etcd.Client, base: str
) -> None:
    ns = namespace(client, base + "ns/")
    with ns.watch("", prefix=True, prev_kv=True) as w, ns.watch("a") as only_a:
        etcd_single.etcdctl("put", base + "outside", "x")
        etcd_single.etcdctl("put", base + "ns/a", "1")
        ns.put("b", "2")
        ns.delete("a")
        assert events(w, 3) == [
            (PUT, b"a", b"1", b""),
            (PUT, b"b", b"2", b""),
            (DELETE, b"a", b"", b"a"),
        ]
        assert [e[:2] for e in events(only_a, 2)] == [(PUT, b"a"), (DELETE, b"a")]
        assert w.watch.watch_id != only_a.watch.watch_id
    # A later watch replays from a revision, with the same stripping.
    revision = client.get(base + "ns/b").kvs[0].mod_revision
    with ns.watch("b", start_revision=revision) as again:
        assert events(again, 1) == [(PUT, b"b", b"2", b"")]


def test_watch_iteration_and_from_key(client: etcd.Client, base: str) -> None:
    ns = namespace(client, base + "ns/")
    start = client.put(base + "ns/m", "1").header.revision
    client.put(base + "z-after-the-namespace", "x")
    client.put(base + "ns/n", "2")
    seen = []
    with ns.watch("m", from_key=True, start_revision=start) as w:
        for response in w:
            seen.extend(e.kv.key for e in response.events)
            if len(seen) == 2:
                break
    assert seen == [b"m", b"n"]


def test_lease_keys_are_filtered_to_the_namespace_and_stripped(
    client: etcd.Client, base: str
) -> None:
    ns = namespace(client, base + "ns/")
    lease = client.grant(60).ID
    ns.put("l1", "v", lease=lease)
    ns.put("l2", "v", lease=lease)
    client.put(base + "elsewhere", "v", lease=lease)
    assert sorted(ns.time_to_live(lease, keys=True).keys) == [b"l1", b"l2"]
    assert len(client.time_to_live(lease, keys=True).keys) == 3
    assert list(ns.time_to_live(lease).keys) == []
    client.revoke(lease)


def test_compact_passes_through(client: etcd.Client, base: str) -> None:
    ns = namespace(client, base + "ns/")
    old = ns.put("k", "1").header.revision
    latest = ns.put("k", "2").header.revision
    ns.compact(latest, physical=True)
    with pytest.raises(CompactedError):
        ns.get("k", revision=old)
    assert ns.get("k", revision=latest).kvs[0].value == b"2"


def test_async_namespace(etcd_single: EtcdMember, base: str) -> None:
    prefix = base + "ans/"

    async def main():
        async with etcd.AsyncClient(etcd_single.endpoint, timeout=10) as client:
            ns = async_namespace(client, prefix)
            assert isinstance(ns, AsyncNamespace)
            lease = (await client.grant(60)).ID
            async with ns.watch("", prefix=True, prev_kv=True) as w:
                await ns.put("a", "1", lease=lease)
                put = await ns.put("a", "2", prev_kv=True, lease=lease)
                txn = await ns.txn(
                    [Compare.value("a") == "2"],
                    [Op.put("b", "3"), Op.get("", prefix=True)],
                )
                await ns.delete("b")
                seen = []
                async for response in w:
                    seen.extend((e.kv.key, e.prev_kv.key) for e in response.events)
                    if len(seen) == 4:
                        break
            ttl = await ns.time_to_live(lease, keys=True)
            got = await ns.get("", from_key=True)
            await client.revoke(lease)
            created = await ns.watch("a")  # awaiting waits for creation
            created.cancel()
            return put, txn, seen, ttl, got

    put, txn, seen, ttl, got = run(main())
    assert put.prev_kv.key == b"a"
    assert keys(txn.responses[1].response_range) == [b"a", b"b"]
    assert seen == [(b"a", b""), (b"a", b"a"), (b"b", b""), (b"b", b"b")]
    assert list(ttl.keys) == [b"a"]
    assert keys(got) == [b"a"]
    assert etcdctl_keys(etcd_single, prefix) == []  # revoked with the lease
