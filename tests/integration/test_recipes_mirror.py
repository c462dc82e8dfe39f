"""Mirror / AsyncMirror (Go's mirror.Syncer, etcdctl make-mirror) against
real etcd: a snapshot of a prefix of more than 1000 keys, paged at one
revision while etcdctl writes, then a watch from the revision after it that
brings every later write once; etcdctl reads the truth at each step."""

from __future__ import annotations

import uuid
from typing import Dict, Iterator, List, Tuple

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.errors import CompactedError, MirrorNotSyncedError
from pyetcd_wire.recipes._async.mirror import BATCH_LIMIT, AsyncMirror
from pyetcd_wire.recipes._sync.mirror import Mirror
from pyetcd_wire.testing import EtcdMember
from tests.aio import run

PUT, DELETE = 0, 1
WAIT = 10.0  # seconds an expected event may take, at most


class Paging:
    """A client that records the Range requests a mirror pages with."""

    def __init__(self, client: etcd.Client) -> None:
        self.client = client
        self.pages: List[Tuple[bytes, int]] = []  # (first key, revision)

    def get(self, key, **options):
        self.pages.append((key, options["revision"]))
        return self.client.get(key, **options)

    def watch(self, key, **options):
        return self.client.watch(key, **options)


@pytest.fixture(scope="module")
def client(etcd_single: EtcdMember) -> Iterator[etcd.Client]:
    """One client for the module's sync tests."""
    shared = etcd.Client(etcd_single.endpoint, timeout=10)
    yield shared
    shared.close()


@pytest.fixture
def base() -> str:
    """The prefix a test mirrors: a fresh one each time."""
    return f"/mirror-test/{uuid.uuid4().hex}/"


def fill(client, base: str, count: int) -> int:
    """Keys base + k00000 ... with their number as value, 100 a Txn; the
    revision after the last."""
    revision = 0
    for first in range(0, count, 100):
        ops = [
            etcd.Op.put(f"{base}k{n:05d}", str(n))
            for n in range(first, min(first + 100, count))
        ]
        revision = client.txn(success=ops).header.revision
    return revision


def etcdctl_state(
    member: EtcdMember, base: str, revision: int = 0
) -> Dict[bytes, bytes]:
    """The prefix as etcdctl reads it (at `revision`, 0: now)."""
    args = ["get", base, "--prefix"] + ([f"--rev={revision}"] if revision else [])
    lines = member.etcdctl(*args).stdout.splitlines()
    return {k.encode(): v.encode() for k, v in zip(lines[::2], lines[1::2])}


def collect(w, count: int) -> List[Tuple[int, bytes, bytes, int]]:
    """The first `count` events of `w`: (type, key, value, mod revision)."""
    found: List[Tuple[int, bytes, bytes, int]] = []
    for response in w:
        found += [
            (e.type, e.kv.key, e.kv.value, e.kv.mod_revision) for e in response.events
        ]
        if len(found) >= count:
            break
    assert len(found) == count, found
    return found


def apply(state: Dict[bytes, bytes], events) -> None:
    for kind, key, value, _ in events:
        if kind == PUT:
            state[key] = value
        else:
            del state[key]


def test_snapshot_in_pages_at_one_revision_then_every_later_write(
    etcd_single: EtcdMember, base: str
) -> None:
    count = 2 * BATCH_LIMIT + 500  # three pages
    with etcd.Client(etcd_single.endpoint, timeout=10) as client:
        fill(client, base, count)
        paging = Paging(client)
        mirror = Mirror(paging, base)  # type: ignore[arg-type]
        pages = mirror.sync_base()
        first = next(pages)  # the first page is read: the revision is pinned
        pinned = mirror.revision
        assert pinned == client.get(base, prefix=True, count_only=True).header.revision
        # Writes while the mirror pages: none of them may show in the snapshot.
        later = [
            ("put", f"{base}k00000", "changed"),
            ("del", f"{base}k01500"),
            ("put", f"{base}k01000x", "inserted into page two"),
            ("put", f"{base}z", "after the last key"),
        ]
        for args in later:
            etcd_single.etcdctl(*args)
        snapshot = [first, *pages]
        # Three pages, each after the last key of the one before, at `pinned`.
        assert paging.pages == [
            (base.encode(), 0),
            (snapshot[BATCH_LIMIT - 1].key + b"\x00", pinned),
            (snapshot[2 * BATCH_LIMIT - 1].key + b"\x00", pinned),
        ]
        mirrored = {kv.key: kv.value for kv in snapshot}
        assert [kv.key for kv in snapshot] == sorted(mirrored)  # by key, no repeats
        assert len(snapshot) == count
        assert mirrored == etcdctl_state(etcd_single, base, pinned)
        assert all(kv.mod_revision <= pinned for kv in snapshot)

        with mirror.sync_updates() as w:
            updates = collect(w, len(later))
            etcd_single.etcdctl("put", f"{base}k00001", "after the watch started")
            updates += collect(w, 1)
            assert w.get(timeout=0.3) is None  # nothing more, nothing twice
        revisions = [revision for *_, revision in updates]
        assert revisions == sorted(set(revisions))
        assert revisions[0] == pinned + 1
        apply(mirrored, updates)
        assert mirrored == etcdctl_state(etcd_single, base)


def test_a_given_revision_is_mirrored_from(
    etcd_single: EtcdMember, client: etcd.Client, base: str
) -> None:
    old = fill(client, base, 3)
    client.put(f"{base}k00000", "new")
    client.delete(f"{base}k00002")
    mirror = Mirror(client, base, revision=old)
    watch_first = mirror.sync_updates()  # the revision is known: no base needed
    with watch_first:
        assert [e[:3] for e in collect(watch_first, 2)] == [
            (PUT, f"{base}k00000".encode(), b"new"),
            (DELETE, f"{base}k00002".encode(), b""),
        ]
    state = {kv.key: kv.value for kv in mirror.sync_base()}
    assert state == etcdctl_state(etcd_single, base, old)
    assert len(state) == 3
    assert mirror.revision == old


def test_updates_need_a_revision(client: etcd.Client, base: str) -> None:
    with pytest.raises(MirrorNotSyncedError, match=r"iterate sync_base\(\) first"):
        Mirror(client, base).sync_updates()

    async def main() -> None:
        async with etcd.AsyncClient(client.endpoints) as aclient:
            with pytest.raises(MirrorNotSyncedError, match="revision="):
                AsyncMirror(aclient, base).sync_updates()

    run(main())
    with pytest.raises(ValueError, match="revision"):
        Mirror(client, base, revision=-1)


def test_a_compacted_revision_raises(client: etcd.Client, base: str) -> None:
    old = client.put(f"{base}k", "1").header.revision
    client.put(f"{base}k", "2")
    latest = client.put(f"{base}k", "3").header.revision
    client.compact(latest)
    mirror = Mirror(client, base, revision=old)  # old and old + 1 are gone
    with pytest.raises(CompactedError):
        list(mirror.sync_base())
    with pytest.raises(CompactedError), mirror.sync_updates() as w:
        w.get(timeout=WAIT)


def test_the_empty_prefix_mirrors_the_whole_keyspace(
    client: etcd.Client, base: str
) -> None:
    fill(client, base, 5)
    mirror = Mirror(client)
    keys = [kv.key for kv in mirror.sync_base()]
    everything = client.get(b"\x00", from_key=True, revision=mirror.revision)
    assert keys == [kv.key for kv in everything.kvs]
    assert {f"{base}k{n:05d}".encode() for n in range(5)} <= set(keys)
    with mirror.sync_updates() as w:
        client.put(f"{base}k00009", "v")
        assert collect(w, 1)[0][1] == f"{base}k00009".encode()


def test_async_mirror(etcd_single: EtcdMember, base: str) -> None:
    count = BATCH_LIMIT + 200

    async def main():
        async with etcd.AsyncClient(etcd_single.endpoint, timeout=10) as client:
            mirror = AsyncMirror(client, base)
            state = {}
            async for kv in mirror.sync_base():
                if not state:
                    await client.put(f"{base}k00001", "during the paging")
                state[kv.key] = kv.value
            async with mirror.sync_updates() as w:
                await client.delete(f"{base}k00002")
                events = []
                async for response in w:
                    events.extend(
                        (e.type, e.kv.key, e.kv.value, e.kv.mod_revision)
                        for e in response.events
                    )
                    if len(events) == 2:
                        break
            return mirror.revision, state, events

    with etcd.Client(etcd_single.endpoint, timeout=10) as client:
        fill(client, base, count)
    revision, state, events = run(main())
    assert state == etcdctl_state(etcd_single, base, revision)
    assert len(state) == count
    assert [e[:3] for e in events] == [
        (PUT, f"{base}k00001".encode(), b"during the paging"),
        (DELETE, f"{base}k00002".encode(), b""),
    ]
    apply(state, events)
    assert state == etcdctl_state(etcd_single, base)
