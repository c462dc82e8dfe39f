"""Passwords and tokens never show: not in repr() or str() of the clients,
their options or the compat client, not in a log record at DEBUG (through a
login, a refused login and a token refreshed after etcd dropped it), not in
an error (its str, repr, args, attributes and cause chain), and not in the
CLI's output.  Against a real etcd with auth on and tokens that live 2 s."""

from __future__ import annotations

import logging
import re
from typing import Any, Iterator, List, Set

import pytest

import pyetcd_wire as etcd
import pyetcd_wire.compat.etcd3 as etcd3
from pyetcd_wire.cli import main
from pyetcd_wire.errors import AuthFailedError, PermissionDeniedError
from pyetcd_wire.testing import EtcdMember
from tests.helpers import internal, token_deleted, wait_for

PASSWORD = "pw-Kq83-secret"
WRONG = "pw-wrong-Zx19"
TOKEN_TTL = 2  # seconds (--auth-token-ttl)
#: etcd's simple tokens: 16 letters, ".", a counter (auth/simple_token.go).
SIMPLE_TOKEN = re.compile(r"[A-Za-z]{16}\.\d+")


@pytest.fixture(scope="module")
def secured(etcd_binary: str) -> Iterator[EtcdMember]:
    """An etcd with auth on: root, and alice, who may only read /a/."""
    args = ["--auth-token-ttl", str(TOKEN_TTL), "--log-level", "info"]
    with EtcdMember("secrets", binary=etcd_binary, extra_args=args) as member:
        for words in (
            ("user", "add", f"root:{PASSWORD}"),
            ("user", "grant-role", "root", "root"),
            ("user", "add", f"alice:{PASSWORD}"),
            ("role", "add", "reader"),
            ("role", "grant-permission", "reader", "read", "/a/", "--prefix"),
            ("user", "grant-role", "alice", "reader"),
            ("auth", "enable"),
        ):
            member.etcdctl(*words)
        yield member


def _token(client: Any) -> str:
    return internal(client, lambda c: dict(c._md.calls)["token"])


def _texts(error: BaseException) -> List[str]:
    """Everything an error shows, down its cause and context chain."""
    out: List[str] = []
    seen: Set[int] = set()
    current: Any = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        out += [str(current), repr(current), repr(current.args)]
        out += [repr(v) for v in vars(current).values()]
        current = current.__cause__ or current.__context__
    return out


def _refused_login(member: EtcdMember, client_class: Any) -> AuthFailedError:
    """The error of a call made with a wrong password."""
    client = client_class(member.endpoint, username="root", password=WRONG)
    try:
        with pytest.raises(AuthFailedError) as refused:
            client.get("/k")
    finally:
        client.close()
    return refused.value


def _assert_hidden(texts: List[str], *secrets: str) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, text
        assert not SIMPLE_TOKEN.search(text), text


def test_repr_and_str_of_clients_options_and_compat(secured: EtcdMember) -> None:
    ep = secured.endpoint
    with etcd.Client(ep, username="root", password=PASSWORD) as client:
        client.get("/k")
        token = _token(client)
        shown = [repr(client), str(client), repr(client._options), str(vars(client))]
        _assert_hidden(shown, PASSWORD, token)
    aclient = etcd.AsyncClient(ep, username="root", password=PASSWORD)
    _assert_hidden([repr(aclient), str(aclient), repr(aclient._options)], PASSWORD)
    compat = etcd3.client(
        "127.0.0.1", secured.client_port, user="root", password=PASSWORD
    )
    try:
        compat.get("/k")
        _assert_hidden([repr(compat), str(compat)], PASSWORD)
    finally:
        compat.close()


def test_logs_at_debug_show_no_secret(
    secured: EtcdMember, client_class: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pyetcd_wire")
    tokens = []
    with client_class(secured.endpoint, username="root", password=PASSWORD) as client:
        client.put("/k", "v")  # a login
        tokens.append(_token(client))
        wait_for(
            lambda: token_deleted(secured, tokens[0]),
            timeout=TOKEN_TTL + 30,
            every=0.1,
        )
        client.get("/k")  # refused token, a new login
        tokens.append(_token(client))
    assert tokens[0] != tokens[1]
    _refused_login(secured, client_class)
    assert caplog.records
    texts = [r.getMessage() for r in caplog.records]
    texts += [repr(r.args) + repr(r.exc_info) for r in caplog.records]
    _assert_hidden(texts, PASSWORD, WRONG, *tokens)


def test_errors_show_no_secret(secured: EtcdMember, client_class: Any) -> None:
    _assert_hidden(_texts(_refused_login(secured, client_class)), WRONG, PASSWORD)
    with client_class(secured.endpoint, username="alice", password=PASSWORD) as client:
        with pytest.raises(PermissionDeniedError) as denied:
            client.put("/b/k", "v")
        token = _token(client)
    _assert_hidden(_texts(denied.value), PASSWORD, token)


@pytest.mark.parametrize(
    "words",
    [
        ["get", "/a/k"],
        ["-w", "json", "get", "/a/k"],
        ["put", "/b/k", "v"],  # refused: alice reads /a/ only
    ],
)
@pytest.mark.parametrize("password", [PASSWORD, WRONG])
def test_cli_output_shows_no_secret(
    secured: EtcdMember,
    capsys: pytest.CaptureFixture[str],
    words: List[str],
    password: str,
) -> None:
    argv = ["--endpoints", secured.endpoint, "--user", f"alice:{password}", *words]
    status = main(argv)
    out, err = capsys.readouterr()
    assert (status == 0) is (password == PASSWORD and words[-2:] == ["get", "/a/k"])
    _assert_hidden([out, err], PASSWORD, WRONG)
