"""AsyncClient against real etcd: the generated KV,
Lease and admin methods, failover, auth, concurrency.  Warnings are errors:
an unclosed transport or a pending task fails the test."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

import pyetcd_wire as etcd
from pyetcd_wire._async.client import AsyncClient
from pyetcd_wire.testing import EtcdCluster
from tests.aio import run, wait_until
from tests.helpers import token_deleted


def test_kv_lease_and_admin_calls_agree_with_etcdctl(etcd_single):
    async def main():
        async with AsyncClient(etcd_single.endpoint, timeout=5) as client:
            await client.put("/aclient/a", "1")
            await client.put("/aclient/b", "2")
            got = await client.get("/aclient/", prefix=True)
            ok = await client.txn(
                compare=[etcd.Compare.value("/aclient/a") == "1"],
                success=[etcd.Op.put("/aclient/a", "3")],
            )
            lease = await client.grant(30)
            await client.put("/aclient/l", "x", lease=lease.ID)
            ttl = await client.time_to_live(lease.ID, keys=True)
            deleted = await client.delete("/aclient/b")
            members = await client.member_list()
            status = await client.status()
            await client.revoke(lease.ID)
            return got, ok, ttl, deleted, members, status

    got, ok, ttl, deleted, members, status = run(main())
    assert [kv.value for kv in got.kvs] == [b"1", b"2"]
    assert ok.succeeded
    assert list(ttl.keys) == [b"/aclient/l"]
    assert deleted.deleted == 1
    assert len(members.members) == 1
    assert status.version.startswith("3.")
    ctl = etcd_single.etcdctl("get", "/aclient/", "--prefix", "--print-value-only")
    assert ctl.stdout.split() == ["3"]  # b deleted, l gone with its lease


def test_typed_errors():
    with pytest.raises(ValueError, match="endpoint"):
        AsyncClient("ftp://x:1")

    async def main():
        async with AsyncClient(["127.0.0.1:9", "127.0.0.1:7"], timeout=2) as c:
            await c.get("k")

    with pytest.raises(etcd.ConnectionFailedError):
        run(main())


def test_64_tasks_on_one_client(etcd_single):
    async def main():
        async with AsyncClient(etcd_single.endpoint, timeout=5) as client:
            await client.put("/aclient/c", "v")
            replies = await asyncio.gather(
                *(client.get("/aclient/c") for _ in range(64 * 5))
            )
            return {r.kvs[0].value for r in replies}

    assert run(main()) == {b"v"}


def test_a_killed_follower_fails_no_read_and_a_frozen_one_no_deadline(etcd_binary):
    with EtcdCluster(3, binary=etcd_binary) as cluster:
        victim, frozen = cluster.followers()

        async def main():
            async with AsyncClient(cluster.endpoints, timeout=1) as client:
                await client.put("k", "v")
                victim.kill()
                for _ in range(30):
                    assert (await client.get("k")).kvs[0].value == b"v"
                frozen.pause()
                try:
                    durations = []
                    for _ in range(30):
                        started = time.monotonic()
                        with contextlib.suppress(etcd.DeadlineExceededError):
                            await client.get("k", serializable=True)
                        durations.append(time.monotonic() - started)
                finally:
                    frozen.resume()
                return durations

        durations = run(main())
        assert max(durations) < 1.5
        assert sum(d > 0.5 for d in durations) <= 2


def test_password_auth_survives_token_expiry(etcd_binary):
    from pyetcd_wire.testing import EtcdMember

    flags = ["--auth-token-ttl", "1", "--log-level", "info"]  # token_deleted
    with EtcdMember("aauth", binary=etcd_binary, extra_args=flags) as member:
        for args in (
            ("user", "add", "root:pw"),
            ("user", "grant-role", "root", "root"),
            ("auth", "enable"),
        ):
            member.etcdctl(*args)

        async def main():
            async with AsyncClient(
                member.endpoint, username="root", password="pw", timeout=5
            ) as client:
                await client.put("a", "1")
                first = client._auth.generation
                token = dict(client._md.calls)["token"]
                await wait_until(lambda: token_deleted(member, token), 30, every=0.1)
                await client.put("a", "2")
                return first, client._auth.generation, (await client.get("a"))

        first, later, reply = run(main())
        assert later == first + 1
        assert reply.kvs[0].value == b"2"


def test_aclose_during_a_dial_leaves_nothing_behind():
    """A dial still in flight (here: a TLS handshake the server never
    answers) is cancelled by aclose(): the waiting call fails at once, and
    no task or transport is left (tests.aio.run checks both)."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent.setblocking(False)
        endpoint = f"https://127.0.0.1:{silent.getsockname()[1]}"

        async def main():
            client = AsyncClient(endpoint, dial_timeout=30, timeout=30)
            call = asyncio.ensure_future(client.get("k"))
            loop = asyncio.get_running_loop()
            # Accepted, and never answered: the client waits for the handshake.
            conn, _ = await asyncio.wait_for(loop.sock_accept(silent), 10)
            with conn:
                assert not call.done()
                await client.aclose()
                # At once, not after the 30 s dial_timeout (5 s bound a hang).
                with pytest.raises(etcd.EtcdError):
                    await asyncio.wait_for(call, 5)

        run(main())
