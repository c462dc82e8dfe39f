"""Bad arguments at the public API fail before anything is sent: TypeError for
a wrong type, ValueError for a value out of range, the message naming the
argument (docs/errors-and-retries.md, "Bad arguments").

Each client talks to a listening socket that never answers: a check that is
missing shows as a connection the socket was offered (and as a deadline or
connection error instead of the TypeError/ValueError expected)."""

from __future__ import annotations

import inspect
import math
import re
import socket
from typing import Any, Dict, Iterator, Tuple

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.recipes import AsyncElection, AsyncLock, AsyncSession
from tests import aio

T, V = TypeError, ValueError
# A call's timeout of 0 or less is a deadline already passed, not a bad value.
D = etcd.DeadlineExceededError
NAN, INF = math.nan, math.inf

#: (method, args, kwargs, error, the argument the message names)
CALLS = [
    ("get", (None,), {}, T, "key"),
    ("get", (1,), {}, T, "key"),
    ("get", ([b"a"],), {}, T, "key"),
    ("get", (b"",), {}, V, "key"),
    ("get", ("k",), {"range_end": 5}, T, "range_end"),
    ("get", ("k",), {"revision": -1}, V, "revision"),
    ("get", ("k",), {"revision": 1.5}, T, "revision"),
    ("get", ("k",), {"revision": "3"}, T, "revision"),
    ("get", ("k",), {"revision": True}, T, "revision"),
    ("get", ("k",), {"revision": 2**63}, V, "revision"),
    ("get", ("k",), {"limit": -1}, V, "limit"),
    ("get", ("k",), {"limit": None}, T, "limit"),
    ("get", ("k",), {"min_mod_revision": -2}, V, "min_mod_revision"),
    ("get", ("k",), {"sort_target": "size"}, V, "sort_target"),
    ("get", ("k",), {"sort_target": 9}, V, "sort_target"),
    ("get", ("k",), {"sort_order": "up"}, V, "sort_order"),
    ("get", ("k",), {"sort_order": None}, V, "sort_order"),
    ("get", ("k",), {"prefix": True, "from_key": True}, V, "from_key"),
    ("get", ("k",), {"prefix": "/a"}, T, "prefix"),
    ("get", ("k",), {"serializable": 1}, T, "serializable"),
    ("get", ("k",), {"keys_only": None}, T, "keys_only"),
    ("get", ("k",), {"timeout": -1}, D, "deadline"),
    ("get", ("k",), {"timeout": 0}, D, "deadline"),
    ("get", ("k",), {"timeout": NAN}, V, "timeout"),
    ("get", ("k",), {"timeout": INF}, V, "timeout"),
    ("get", ("k",), {"timeout": "1"}, T, "timeout"),
    ("get", ("k",), {"timeout": True}, T, "timeout"),
    ("put", ("k", None), {}, T, "value"),
    ("put", ("k", 3), {}, T, "value"),
    ("put", (None, "v"), {}, T, "key"),
    ("put", ("", "v"), {}, V, "key"),
    ("put", ("k", "v"), {"lease": -1}, V, "lease"),
    ("put", ("k", "v"), {"lease": 2**63}, V, "lease"),
    ("put", ("k", "v"), {"lease": "5"}, T, "lease"),
    ("put", ("k", "v"), {"lease": 1.0}, T, "lease"),
    ("put", ("k", "v"), {"prev_kv": "no"}, T, "prev_kv"),
    ("put", ("k", "v"), {"timeout": -1}, D, "deadline"),
    ("delete", (None,), {}, T, "key"),
    ("delete", ("",), {}, V, "key"),
    ("delete", ("k",), {"range_end": 1}, T, "range_end"),
    ("delete", ("k",), {"prefix": 1}, T, "prefix"),
    ("compact", (-1,), {}, V, "revision"),
    ("compact", ("1",), {}, T, "revision"),
    ("compact", (None,), {}, T, "revision"),
    ("compact", (1.0,), {}, T, "revision"),
    ("txn", (5,), {}, T, "compare"),
    ("txn", ([1],), {}, T, "compare"),
    ("txn", ((), [1]), {}, T, "success"),
    ("txn", ((), (), "x"), {}, T, "failure"),
    ("txn", ((), [etcd.Op.put("k", "v")]), {"timeout": NAN}, V, "timeout"),
    ("grant", (0,), {}, V, "ttl"),
    ("grant", (-5,), {}, V, "ttl"),
    ("grant", (2**63,), {}, V, "ttl"),
    ("grant", (1.5,), {}, T, "ttl"),
    ("grant", ("10",), {}, T, "ttl"),
    ("grant", (None,), {}, T, "ttl"),
    ("grant", (10,), {"id": -1}, V, "id"),
    ("grant", (10,), {"id": 2**63}, V, "id"),
    ("revoke", (-1,), {}, V, "lease_id"),
    ("revoke", (0,), {}, V, "lease_id"),
    ("revoke", (2**63,), {}, V, "lease_id"),
    ("revoke", ("1",), {}, T, "lease_id"),
    ("time_to_live", (1.0,), {}, T, "lease_id"),
    ("time_to_live", (1,), {"timeout": 0}, D, "deadline"),
    ("keep_alive", (-1,), {}, V, "lease_id"),
    ("keep_alive", ("x",), {}, T, "lease_id"),
    ("keep_alive", (1,), {"timeout": -1}, D, "deadline"),
    ("keep_alive_once", (-1,), {}, V, "lease_id"),
    ("keep_alive_once", (1,), {"timeout": NAN}, V, "timeout"),
    ("watch", (None,), {}, T, "key"),
    ("watch", ("",), {}, V, "key"),
    ("watch", ("k",), {"start_revision": -1}, V, "start_revision"),
    ("watch", ("k",), {"start_revision": "1"}, T, "start_revision"),
    ("watch", ("k",), {"range_end": 3}, T, "range_end"),
    ("watch", ("k",), {"prev_kv": "x"}, T, "prev_kv"),
    ("watch", ("k",), {"timeout": -1}, D, "deadline"),
    ("member_add", ("localhost",), {}, V, "peer URL"),
    ("member_add", (None,), {}, T, "peer_urls"),
    ("member_remove", (-1,), {}, V, "member_id"),
    ("member_remove", ("1",), {}, T, "member_id"),
    ("member_update", (1, 5), {}, T, "peer_urls"),
    ("member_promote", (0,), {}, V, "member_id"),
    ("member_list", (), {"timeout": -1}, D, "deadline"),
    ("move_leader", (-1,), {}, V, "target_id"),
    ("move_leader", ("a",), {}, T, "target_id"),
    ("hash_kv", ("127.0.0.1:1", -1), {}, V, "revision"),
    ("hash_kv", ("127.0.0.1:1", "2"), {}, T, "revision"),
    ("hash_kv", (None,), {}, V, "endpoint"),
    ("defragment", ("ftp://x:1",), {}, V, "endpoint"),
    ("defragment", ("localhost",), {}, V, "endpoint"),
    ("status", (5,), {}, V, "endpoint"),
    ("status", (None,), {"timeout": "x"}, T, "timeout"),
    ("alarm_list", (), {"timeout": "x"}, T, "timeout"),
    ("alarm_disarm", (-1,), {}, V, "member_id"),
    ("alarm_disarm", (0, "boom"), {}, V, "alarm"),
    ("authenticate", (None, "pw"), {}, T, "name"),
    ("authenticate", ("root", b"pw"), {}, T, "password"),
    ("user_add", ("u", 5), {}, T, "password"),
    ("user_add", ("u",), {}, V, "password"),
    ("user_get", (3,), {}, T, "name"),
    ("user_change_password", ("u", None), {}, T, "password"),
    ("user_grant_role", ("u", None), {}, T, "role"),
    ("role_delete", (3,), {}, T, "role"),
    ("role_grant_permission", ("r", "k"), {"perm": "rw"}, V, "perm"),
    ("role_grant_permission", ("r", None), {"perm": "read"}, T, "key"),
    ("role_grant_permission", ("r", "k", 5), {"perm": "read"}, T, "range_end"),
    ("role_revoke_permission", ("r", ""), {}, V, "key"),
    ("set_endpoints", (), {}, V, "endpoint"),
    ("set_endpoints", ("ftp://h:1",), {}, V, "endpoint"),
    ("snapshot", (), {"timeout": -1}, D, "deadline"),
    ("snapshot_save", (None,), {}, T, "path"),
    ("sync", (), {"timeout": 0}, D, "deadline"),
]

#: (Client keyword arguments, error, the argument the message names)
CONSTRUCTOR = [
    ({"endpoints": 5}, T, "endpoints"),
    ({"endpoints": None}, T, "endpoints"),
    ({"endpoints": b"127.0.0.1:2379"}, T, "endpoints"),
    ({"endpoints": []}, V, "endpoints"),
    ({"endpoints": "localhost"}, V, "endpoint"),
    ({"endpoints": "ftp://h:1"}, V, "endpoint"),
    ({"endpoints": ["127.0.0.1:1", 5]}, V, "endpoint"),
    ({"endpoints": "h:99999"}, V, "endpoint"),
    ({"dial_timeout": 0}, V, "dial_timeout"),
    ({"dial_timeout": NAN}, V, "dial_timeout"),
    ({"dial_timeout": "5"}, T, "dial_timeout"),
    ({"timeout": -1}, V, "timeout"),
    ({"timeout": INF}, V, "timeout"),
    ({"timeout": "1"}, T, "timeout"),
    ({"tls": True}, T, "tls"),
    ({"username": "u"}, V, "password"),
    ({"username": 5, "password": "x"}, T, "username"),
    ({"username": "u", "password": b"x"}, T, "password"),
    ({"keepalive_time": -1}, V, "keepalive_time"),
    ({"keepalive_time": "x"}, T, "keepalive_time"),
    ({"keepalive_time": 10, "keepalive_timeout": NAN}, V, "keepalive_timeout"),
    ({"max_send_message_size": 0}, V, "max_send_message_size"),
    ({"max_send_message_size": 1.5}, T, "max_send_message_size"),
    ({"max_recv_message_size": None}, T, "max_recv_message_size"),
    ({"auto_sync_interval": -1}, V, "auto_sync_interval"),
    ({"auto_sync_interval": "x"}, T, "auto_sync_interval"),
    ({"require_leader": "yes"}, T, "require_leader"),
    ({"reject_old_cluster": 1}, T, "reject_old_cluster"),
    ({"metrics": 5}, T, "metrics"),
    ({"metrics": object()}, T, "metrics"),
]


@pytest.fixture
def silent() -> Iterator[str]:
    """An endpoint that listens and never accepts; after the test, no client
    may have connected to it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        yield f"127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(BlockingIOError):
            listener.accept()[0].close()  # a connection: something was sent


def _ids(rows: Any) -> Any:
    return [f"{r[0]}{r[1]!r}{r[2]!r}"[:80] for r in rows]


def _named(name: str) -> str:
    return rf"(?<![a-z_]){re.escape(name)}"


def _call(client: etcd.Client, method: str, args: Any, kwargs: Any) -> None:
    result = getattr(client, method)(*args, **kwargs)
    if inspect.isgenerator(result):
        next(result)


async def _await(result: Any) -> None:
    if inspect.isasyncgen(result):
        await result.__anext__()
    elif inspect.isawaitable(result):
        await result


@pytest.mark.parametrize("driver", ["sync", "async"])
@pytest.mark.parametrize(
    ("method", "args", "kwargs", "error", "name"), CALLS, ids=_ids(CALLS)
)
def test_client_method(
    silent: str,
    driver: str,
    method: str,
    args: Tuple[Any, ...],
    kwargs: Dict[str, Any],
    error: type,
    name: str,
) -> None:
    if driver == "sync":
        client = etcd.Client(silent, dial_timeout=1.0, timeout=1.0)
        try:
            with pytest.raises(error, match=_named(name)):
                _call(client, method, args, kwargs)
            # No stream worker either: it would dial in its own time (the
            # silent port's check alone could miss it).
            assert client._worker is None
        finally:
            client.close()
        return

    async def main() -> None:
        async with etcd.AsyncClient(silent, dial_timeout=1.0, timeout=1.0) as client:
            with pytest.raises(error, match=_named(name)):
                await _await(getattr(client, method)(*args, **kwargs))
            assert client._worker is None

    aio.run(main())


@pytest.mark.parametrize("cls", [etcd.Client, etcd.AsyncClient])
@pytest.mark.parametrize(
    ("kwargs", "error", "name"), CONSTRUCTOR, ids=_ids(CONSTRUCTOR)
)
def test_constructor(
    silent: str, cls: type, kwargs: Dict[str, Any], error: type, name: str
) -> None:
    kwargs = {"endpoints": silent, **kwargs}
    with pytest.raises(error, match=_named(name)):
        cls(**kwargs)


#: (what, a coroutine function of a session, error, the argument named)
RECIPES = [
    ("Session client=int", lambda c: AsyncSession(5), T, "client"),
    ("Session ttl=0", lambda c: AsyncSession(c, ttl=0), V, "ttl"),
    ("Session ttl=str", lambda c: AsyncSession(c, ttl="5"), V, "ttl"),
    ("Lock name=None", lambda c: AsyncLock(AsyncSession(c), None), T, "name"),
    ("Lock name=int", lambda c: AsyncLock(AsyncSession(c), 5), T, "name"),
    ("Lock name=''", lambda c: AsyncLock(AsyncSession(c), ""), V, "name"),
    (
        "Lock.acquire timeout=str",
        lambda c: AsyncLock(AsyncSession(c), "l").acquire(timeout="1"),
        T,
        "timeout",
    ),
    (
        "Lock.acquire timeout=nan",
        lambda c: AsyncLock(AsyncSession(c), "l").acquire(timeout=NAN),
        V,
        "timeout",
    ),
    ("Election name=None", lambda c: AsyncElection(AsyncSession(c), None), T, "name"),
    (
        "Election.campaign value=None",
        lambda c: AsyncElection(AsyncSession(c), "e").campaign(None),
        T,
        "value",
    ),
    (
        "Election.campaign timeout=str",
        lambda c: AsyncElection(AsyncSession(c), "e").campaign("v", timeout="1"),
        T,
        "timeout",
    ),
    (
        "Session.wait_lost timeout=str",
        lambda c: AsyncSession(c).wait_lost(timeout="1"),
        T,
        "timeout",
    ),
]


@pytest.mark.parametrize(
    ("what", "make", "error", "name"), RECIPES, ids=[r[0] for r in RECIPES]
)
def test_recipes(silent: str, what: str, make: Any, error: type, name: str) -> None:
    # The recipes are written for asyncio; their sync twins are generated
    # from the same source (scripts/unasync.py).
    async def main() -> None:
        async with etcd.AsyncClient(silent, dial_timeout=1.0, timeout=1.0) as client:
            with pytest.raises(error, match=_named(name)):
                await _await(make(client))

    aio.run(main())
