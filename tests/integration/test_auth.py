"""Password auth against a real etcd whose tokens live 2 seconds.

The client obtains a token at its first call, sends it on every call and on
the watch and keep-alive streams, and gets a new one (once, for all threads)
when the server says it expired; etcdctl sets up users and roles.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest

from pyetcd_wire import Client
from pyetcd_wire.errors import AuthFailedError, PermissionDeniedError, UserEmptyError
from pyetcd_wire.testing import EtcdMember
from tests.async_bridge import AnyClient
from tests.helpers import internal, token_deleted, wait_for

#: Seconds that only bound a hang (what must not wait ends far sooner).
HANG_BOUND = 10
TOKEN_TTL = 2  # seconds (--auth-token-ttl): the tests outlive it


@pytest.fixture(scope="module")
def secured(etcd_binary):
    """An etcd with auth on: root (all), and alice (read /a/ only)."""
    args = ["--auth-token-ttl", str(TOKEN_TTL), "--log-level", "info"]  # see expire
    with EtcdMember("auth", binary=etcd_binary, extra_args=args) as member:
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


def expire(member: EtcdMember, c: AnyClient) -> None:
    """Wait, without a call, until etcd dropped the client's token: it
    expired unused (`tests.helpers.token_deleted`)."""
    token = internal(c, lambda t: dict(t._md.calls)["token"])
    wait_for(lambda: token_deleted(member, token), timeout=TOKEN_TTL + 30, every=0.1)


def root_etcdctl(member, *args):
    return member.etcdctl("--user", "root:rootpw", *args).stdout


def enable_root_only_auth(member: EtcdMember) -> None:
    """Auth on, with root (root:rootpw) its only user."""
    for args in (
        ("user", "add", "root:rootpw"),
        ("user", "grant-role", "root", "root"),
        ("auth", "enable"),
    ):
        member.etcdctl(*args)


@pytest.fixture(scope="module")
def secured_versioned(server_binary: str):
    """An etcd of each supported minor with auth on (only root)."""
    with EtcdMember("auth-versioned", binary=server_binary) as member:
        enable_root_only_auth(member)
        yield member


class FirstCall:
    """What a first call may need: the member, a live lease, a directory."""

    def __init__(self, member: EtcdMember, tmp_path: Path) -> None:
        self.member = member
        self.tmp_path = tmp_path
        granted = root_etcdctl(member, "lease", "grant", "60")  # "lease <hex> granted"
        self.lease = int(granted.split()[1], 16)
        self.key = f"/first/{uuid.uuid4().hex}"


def _get(c: AnyClient, env: FirstCall) -> None:
    assert c.get(env.key).count == 0


def _snapshot(c: AnyClient, env: FirstCall) -> None:
    assert len(b"".join(c.snapshot())) > 32  # the database, then its SHA-256


def _snapshot_save(c: AnyClient, env: FirstCall) -> None:
    path = c.snapshot_save(str(env.tmp_path / "first.db"))
    assert Path(path).stat().st_size > 32


def _hash_kv(c: AnyClient, env: FirstCall) -> None:  # a call to one endpoint
    assert c.hash_kv(env.member.endpoint).header.revision > 0


def _watch(c: AnyClient, env: FirstCall) -> None:
    with c.watch(env.key) as w:
        root_etcdctl(env.member, "put", env.key, "v")
        response = w.get(timeout=10)
        assert response is not None
        assert [e.kv.value for e in response.events] == [b"v"]


def _keep_alive(c: AnyClient, env: FirstCall) -> None:
    with c.keep_alive(env.lease) as ka:
        response = ka.get(timeout=10)
        assert response is not None
        assert response.TTL > 0


def _keep_alive_once(c: AnyClient, env: FirstCall) -> None:
    assert c.keep_alive_once(env.lease).TTL > 0


def _request_progress(c: AnyClient, env: FirstCall) -> None:
    c.request_progress()  # no watch yet: nothing to ask
    with c.watch(env.key) as w:
        c.request_progress()
        response = w.get(timeout=10)
        assert response is not None
        assert list(response.events) == []


FIRST_CALLS: Dict[str, Callable[[AnyClient, FirstCall], None]] = {
    "unary-get": _get,
    "server-stream-snapshot": _snapshot,
    "server-stream-snapshot_save": _snapshot_save,
    "endpoint-hash_kv": _hash_kv,
    "bidi-watch": _watch,
    "bidi-keep_alive": _keep_alive,
    "bidi-keep_alive_once": _keep_alive_once,
    "bidi-request_progress": _request_progress,
}


@pytest.mark.parametrize("call", FIRST_CALLS.values(), ids=list(FIRST_CALLS))
def test_every_kind_of_call_may_be_the_first(
    secured_versioned, client_class, tmp_path, call
):
    """The token is fetched before whatever call comes first (issue 14: a
    Snapshot as the first call went without one: `user name is empty`)."""
    env = FirstCall(secured_versioned, tmp_path)
    with client_class(
        secured_versioned.endpoint, username="root", password="rootpw", timeout=10
    ) as c:
        call(c, env)
        assert internal(c, lambda t: t._auth.generation) == 1  # one Authenticate


def spoil_token(c: AnyClient, token: Optional[str]) -> None:
    """Make the client send `token` (None: none) while it believes its token
    good: as after a lost or an expired token, without waiting for one."""
    internal(c, lambda t: t._md.set_token(token))


@pytest.mark.parametrize(
    "token", [None, "bogus.1"], ids=["lost-user-name-is-empty", "invalid"]
)
@pytest.mark.parametrize(
    "call", [_snapshot, _hash_kv, _watch], ids=["server-stream", "endpoint", "watch"]
)
def test_a_call_refused_for_its_token_gets_a_new_one(
    secured_versioned, client_class, tmp_path, call, token
):
    """etcd <= 3.5 refuses a Maintenance call without a good token with the
    auth store's own message, as UNKNOWN (`auth: user name is empty`, `auth:
    invalid auth token`), also as a stream's status: still the typed error,
    and the call is sent again with a new token.  A watch's create refused
    so (3.5: permission denied; 3.4: user name is empty) is made again."""
    env = FirstCall(secured_versioned, tmp_path)
    with client_class(
        secured_versioned.endpoint, username="root", password="rootpw", timeout=10
    ) as c:
        c.get(env.key)
        spoil_token(c, token)
        call(c, env)
        assert internal(c, lambda t: t._auth.generation) == 2  # one refresh


def test_a_watch_refused_for_its_token_gets_one_without_holding_the_worker(secured):
    """The stream worker gets the new token for a refused watch create with
    its lock released: Authenticate is a call to the server, and the calls
    that change watches (watch(), cancel(), request_progress()) need that
    lock.  The sync worker only (asyncio refreshes in a task)."""
    with Client(secured.endpoint, username="root", password="rootpw", timeout=10) as c:
        c.get(b"/a/k")  # the first token
        spoil_token(c, None)  # the Watch stream opens without one: refused
        started, release = threading.Event(), threading.Event()
        refresh = c._auth.refresh

        def slow_refresh(seen: int) -> None:
            started.set()
            release.wait(HANG_BOUND)
            refresh(seen)

        c._auth.refresh = slow_refresh  # type: ignore[method-assign]
        watcher = threading.Thread(target=lambda: c.watch(b"/a/k").cancel())
        watcher.start()
        assert started.wait(HANG_BOUND)
        asker = threading.Thread(target=c.request_progress)  # takes the lock
        asker.start()
        asker.join(HANG_BOUND)
        released = not asker.is_alive()
        release.set()
        watcher.join(HANG_BOUND)
        assert released, "request_progress() waited for the token refresh"
        assert not watcher.is_alive()
        assert c._auth.generation == 2  # one refresh, and the watch was made


def test_calls_carry_a_token_and_survive_its_expiry(secured, client_class):
    with client_class(secured.endpoint, username="root", password="rootpw") as c:
        c.put(b"/a/k", b"v1")
        first = c._auth.generation
        expire(secured, c)
        c.put(b"/a/k", b"v2")  # refused once, then sent again with a new token
        assert c.get(b"/a/k").kvs[0].value == b"v2"
        assert c._auth.generation == first + 1
    assert root_etcdctl(secured, "get", "/a/k", "--print-value-only").strip() == "v2"


def test_one_refresh_for_all_threads(secured, client_class, monkeypatch):
    with client_class(secured.endpoint, username="root", password="rootpw") as c:
        c.get(b"/a/")
        expire(secured, c)
        installed = record_tokens(c, monkeypatch)
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
        # One refresh for the eight refusals.  Another comes only if etcd
        # dropped the new token before a thread's call used it (unused for
        # TOKEN_TTL on a slow machine): every token replaced is one etcd
        # deleted, never one it still had.
        assert installed
        assert [t for t in installed[:-1] if not token_deleted(secured, t)] == []


def test_a_call_refused_after_another_refreshed_does_not_refresh_again(
    secured, client_class, monkeypatch
):
    """A call refused with the old token, whose retry begins after another
    caller installed a new one, sends again with that one: no second
    Authenticate (which replaced a token etcd still had, under load)."""
    with client_class(secured.endpoint, username="root", password="rootpw") as c:
        c.get(b"/a/")
        expire(secured, c)
        installed = record_tokens(c, monkeypatch)
        target = internal(c, lambda client: client)
        retry = type(target)._retry

        if asyncio.iscoroutinefunction(retry):

            async def others_refresh_first(self, *args):  # another task's refresh
                await self._auth.refresh(self._auth.generation)
                return await retry(self, *args)

        else:

            def others_refresh_first(self, *args):  # another thread's refresh
                self._auth.refresh(self._auth.generation)
                return retry(self, *args)

        monkeypatch.setattr(type(target), "_retry", others_refresh_first)
        c.get(b"/a/k")
        assert len(installed) == 1, installed


def record_tokens(c, monkeypatch) -> List[str]:
    """The tokens `c` installs from now on, in order."""
    installed: List[str] = []
    source = c._auth
    install = source.install

    def recording(token):
        installed.append(token)
        install(token)

    monkeypatch.setattr(source, "install", recording)
    return installed


def test_an_open_watch_and_a_new_one_work_after_expiry(secured, client_class):
    with client_class(secured.endpoint, username="root", password="rootpw") as c:
        watch = c.watch(b"/a/w", timeout=5)
        expire(secured, c)
        root_etcdctl(secured, "put", "/a/w", "x")
        response = watch.get(timeout=5)
        assert [e.kv.value for e in response.events] == [b"x"]
        late = c.watch(b"/a/late", timeout=5)  # created after the expiry
        c.put(b"/a/late", b"y")
        assert [e.kv.value for e in late.get(timeout=5).events] == [b"y"]
        watch.cancel()
        late.cancel()


def test_a_watch_survives_a_restart_of_the_server(etcd_binary, client_class):
    """A restarted etcd has forgotten every token: the watch resumes on a
    new stream whose create it refuses, gets a new token and is made again
    from where it was, with nothing lost or repeated."""
    with EtcdMember("auth-restart", binary=etcd_binary) as member:
        enable_root_only_auth(member)
        with client_class(member.endpoint, username="root", password="rootpw") as c:
            watch = c.watch(b"/r/", prefix=True, timeout=HANG_BOUND)
            c.put(b"/r/1", b"a")
            assert [e.kv.value for e in watch.get(timeout=HANG_BOUND).events] == [b"a"]
            member.restart()
            c.put(b"/r/2", b"b")
            response = watch.get(timeout=HANG_BOUND)
            assert [e.kv.value for e in response.events] == [b"b"]
            watch.cancel()


def test_keep_alive_outlives_the_token(secured, client_class):
    with client_class(secured.endpoint, username="root", password="rootpw") as c:
        lease = c.grant(2).ID
        keep = c.keep_alive(lease)
        expire(secured, c)
        time.sleep(3)  # longer than the lease's TTL: renewed after the expiry
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


def test_no_credentials_on_an_auth_cluster_says_what_to_do(secured, client_class):
    # etcd's own words were all a newcomer got: "user name is empty".
    with client_class(secured.endpoint, timeout=10) as c:
        for call in (lambda: c.get(b"/a/k"), lambda: c.put(b"/a/k", b"v")):
            with pytest.raises(UserEmptyError) as info:
                call()
            error = info.value
            assert error.details == "etcdserver: user name is empty"  # as sent
            assert str(error).endswith(
                "(auth is enabled on this cluster:"
                " give the client username= and password=)"
            )
            assert (error.retryable, error.outcome_known) == (False, True)

        # A watch's create refused so (3.5: permission denied; 3.4: user name
        # is empty) says it too.
        with pytest.raises((PermissionDeniedError, UserEmptyError)) as refused:
            c.watch(b"/a/k")
        assert str(refused.value).endswith(
            "(auth is enabled on this cluster: give the client username= and password=)"
        )
