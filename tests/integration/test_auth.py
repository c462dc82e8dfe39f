"""Password auth against a real etcd whose tokens live 2 seconds.

The client obtains a token at its first call, sends it on every call and on
the watch and keep-alive streams, and gets a new one (once, for all threads)
when the server says it expired; etcdctl sets up users and roles.
"""

from __future__ import annotations

import threading
import time

import pytest

from pyetcd_wire.errors import AuthFailedError, PermissionDeniedError
from pyetcd_wire.testing import EtcdMember

TOKEN_TTL = 2  # seconds (--auth-token-ttl): the tests outlive it


@pytest.fixture(scope="module")
def secured(etcd_binary):
    """An etcd with auth on: root (all), and alice (read /a/ only)."""
    with EtcdMember(
        "auth", binary=etcd_binary, extra_args=["--auth-token-ttl", str(TOKEN_TTL)]
    ) as member:
        for args in (
            ("user", "add", "root:rootpw"),
            ("user", "grant-role", "root", "root"),
            ("user", "add", "alice:alicepw"),
            ("role", "add", "reader"),
            ("role", "grant-permission", "reader", "read", "/a/", "--prefix"),
            ("user", "grant-role", "alice", "reader"),
            ("auth", "enable"),
        ):
            member.etcdctl(*args)
        yield member


def root_etcdctl(member, *args):
    return member.etcdctl("--user", "root:rootpw", *args).stdout


def test_calls_carry_a_token_and_survive_its_expiry(secured, client_class):
    with client_class(secured.endpoint, username="root", password="rootpw") as c:
        c.put(b"/a/k", b"v1")
        first = c._auth.generation
        time.sleep(TOKEN_TTL + 1.5)  # the token expires unused
        c.put(b"/a/k", b"v2")  # refused once, then sent again with a new token
        assert c.get(b"/a/k").kvs[0].value == b"v2"
        assert c._auth.generation == first + 1
    assert root_etcdctl(secured, "get", "/a/k", "--print-value-only").strip() == "v2"


def test_one_refresh_for_all_threads(secured, client_class):
    with client_class(secured.endpoint, username="root", password="rootpw") as c:
        c.get(b"/a/")
        time.sleep(TOKEN_TTL + 1.5)
        before = c._auth.generation
        errors = []
        barrier = threading.Barrier(8)

        def call():
            barrier.wait()
            try:
                c.get(b"/a/k")
            except Exception as exc:  # every failure counts
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert c._auth.generation == before + 1


def test_an_open_watch_and_a_new_one_work_after_expiry(secured, client_class):
    with client_class(secured.endpoint, username="root", password="rootpw") as c:
        watch = c.watch(b"/a/w", timeout=5)
        time.sleep(TOKEN_TTL + 1.5)
        root_etcdctl(secured, "put", "/a/w", "x")
        response = watch.get(timeout=5)
        assert [e.kv.value for e in response.events] == [b"x"]
        late = c.watch(b"/a/late", timeout=5)  # created after the expiry
        c.put(b"/a/late", b"y")
        assert [e.kv.value for e in late.get(timeout=5).events] == [b"y"]
        watch.cancel()
        late.cancel()


def test_keep_alive_outlives_the_token(secured, client_class):
    with client_class(secured.endpoint, username="root", password="rootpw") as c:
        lease = c.grant(2).ID
        keep = c.keep_alive(lease)
        time.sleep(TOKEN_TTL * 2 + 1)
        assert not keep.lost
        assert c.time_to_live(lease).TTL > 0
        keep.close()


def test_wrong_password_is_auth_failed(secured, client_class):
    with (
        client_class(secured.endpoint, username="root", password="nope") as c,
        pytest.raises(AuthFailedError),
    ):
        c.get(b"/a/k")


def test_rbac_denial_is_permission_denied(secured, client_class):
    with client_class(secured.endpoint, username="alice", password="alicepw") as c:
        c.get(b"/a/k")  # allowed
        with pytest.raises(PermissionDeniedError):
            c.get(b"/b/k")
        with pytest.raises(PermissionDeniedError):
            c.put(b"/a/k", b"no")


def test_username_on_a_cluster_without_auth_is_tolerated(etcd_single, client_class):
    with client_class(etcd_single.endpoint, username="root", password="x") as c:
        c.put(b"/noauth/k", b"v")
        assert c.get(b"/noauth/k").kvs[0].value == b"v"


def test_username_without_password_is_refused(client_class):
    with pytest.raises(ValueError, match="username= and password="):
        client_class("127.0.0.1:2379", username="root")
