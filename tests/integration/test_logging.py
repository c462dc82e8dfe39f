"""What the clients log (docs/logging.md), against real etcd, for Client and
AsyncClient alike: dials and their failures, quarantine and its end,
retries, failovers, tokens (never a secret), watch resumes with their
revision, lost leases, and nothing at all for calls that succeed."""

from __future__ import annotations

import functools
import inspect
import logging
import re
import sys
import threading
import uuid
from pathlib import Path
from typing import Any, Callable, List, Set

import pytest

import pyetcd_wire
from pyetcd_wire.errors import AuthFailedError, EtcdError
from pyetcd_wire.testing import EtcdMember

from ..helpers import free_port, internal, wait_for

DEBUG, INFO, WARNING = logging.DEBUG, logging.INFO, logging.WARNING
RANGE = "/etcdserverpb.KV/Range"


def said(
    caplog: pytest.LogCaptureFixture, logger: str, level: int, pattern: str
) -> List[logging.LogRecord]:
    """The records of `logger` ("pyetcd_wire." + it) at `level` whose message
    matches `pattern` (a regular expression, searched)."""
    return [
        r
        for r in caplog.records
        if r.name == "pyetcd_wire." + logger
        and r.levelno == level
        and re.search(pattern, r.getMessage())
    ]


@pytest.fixture
def member(etcd_binary):
    """An etcd of the test's own, to kill and start again."""
    with EtcdMember("logging", binary=etcd_binary) as member:
        yield member


def test_a_dead_endpoint_logs_its_dial_quarantine_retry_and_failover(
    etcd_single, client_class, caplog
):
    caplog.set_level(DEBUG, logger="pyetcd_wire")
    dead = f"127.0.0.1:{free_port()}"
    live = etcd_single.endpoint
    with client_class([dead, live], timeout=5) as client:
        client.get(b"k")  # to the dead one first (round robin), then retried
    e = re.escape
    assert said(caplog, "connection", WARNING, f"^could not connect to {e(dead)}: .")
    assert said(caplog, "endpoints", WARNING, f"^{e(dead)} quarantined for ")
    assert said(caplog, "retry", DEBUG, f"^{RANGE} failed on {e(dead)} .*attempt 2")
    assert said(
        caplog, "endpoints", INFO, f"^{RANGE} failed over from {e(dead)} to {e(live)}$"
    )
    assert said(caplog, "connection", INFO, f"^connected to {e(live)}$")
    assert not said(caplog, "retry", DEBUG, "no retry")


def test_a_quarantine_and_its_end_are_logged(etcd_single, member, client_class, caplog):
    caplog.set_level(INFO, logger="pyetcd_wire")
    sick = re.escape(member.endpoint)

    def reading_until(level: int, pattern: str) -> None:
        wait_for(
            lambda: client.get(b"k") and said(caplog, "endpoints", level, pattern),
            timeout=60,
            every=0.05,
        )

    with client_class([member.endpoint, etcd_single.endpoint], timeout=5) as client:
        client.get(b"k")  # connects to `member`
        member.kill()
        reading_until(WARNING, f"^{sick} quarantined for ")
        assert said(caplog, "connection", WARNING, f"^connection to {sick} lost: ")
        member.start()
        reading_until(INFO, f"^{sick} is healthy again ")


def test_an_unanswered_keepalive_ping_is_logged(
    etcd_single, member, client_class, caplog
):
    """A frozen member (SIGSTOP) answers no PING: the connection is given up,
    and the call that waited on it, without a deadline, goes elsewhere."""
    caplog.set_level(INFO, logger="pyetcd_wire")
    frozen = re.escape(member.endpoint)
    ping = "PING "
    with client_class(
        [member.endpoint, etcd_single.endpoint], keepalive_time=5, keepalive_timeout=1
    ) as client:
        client.get(b"k")  # to `member`: it is picked first
        member.pause()
        try:
            wait_for(
                lambda: client.get(b"k") and said(caplog, "connection", WARNING, ping),
                timeout=30,
            )
        finally:
            member.resume()
    assert said(
        caplog,
        "connection",
        WARNING,
        f"^connection to {frozen} lost: keepalive: no answer to a PING within 1 s",
    )


PASSWORD = f"pw-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def secured(etcd_binary):
    """An etcd with auth on, and a root user whose password is PASSWORD."""
    with EtcdMember("logging-auth", binary=etcd_binary) as member:
        for args in (
            ("user", "add", f"root:{PASSWORD}"),
            ("user", "grant-role", "root", "root"),
            ("auth", "enable"),
        ):
            member.etcdctl(*args)
        yield member


def _token(client) -> str:
    return internal(client, lambda c: dict(c._md.calls)["token"])


def test_tokens_are_logged_without_a_secret(secured, client_class, caplog):
    caplog.set_level(DEBUG, logger="pyetcd_wire")
    wrong = f"wrong-{uuid.uuid4().hex}"
    with client_class(
        secured.endpoint, username="root", password=PASSWORD, timeout=10
    ) as client:
        client.put(b"k", b"v")
        first = _token(client)
        internal(client, lambda c: c._md.set_token("bogus.1"))  # as if expired
        client.get(b"k")  # refused for its token: a new one, and sent again
        second = _token(client)
    with (
        client_class(secured.endpoint, username="root", password=wrong) as client,
        pytest.raises(AuthFailedError),
    ):
        client.get(b"k")
    assert said(caplog, "auth", INFO, "^obtained a token for user 'root'$")
    assert said(caplog, "auth", INFO, "^replaced the token of user 'root' ")
    assert said(caplog, "auth", WARNING, "^could not get a token for user 'root': ")
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logged = "\n".join(formatter.format(r) for r in caplog.records)
    for secret in (PASSWORD, wrong, first, second):
        assert secret not in logged


def test_a_watch_resume_logs_its_revision(member, client_class, caplog):
    caplog.set_level(INFO, logger="pyetcd_wire")
    with client_class(member.endpoint, timeout=10) as client:
        watch = client.watch(b"w/", prefix=True)
        revision = client.put(b"w/1", b"a").header.revision
        assert watch.get(timeout=10).events[0].kv.mod_revision == revision
        member.kill()
        member.start()
        client.put(b"w/2", b"b")
        response = watch.get(timeout=10)
        assert [e.kv.key for e in response.events] == [b"w/2"]
        watch.cancel()
    where = re.escape(member.endpoint)
    ended = f"^Watch stream on {where} ended .* 1 watch\\(es\\)$"
    assert said(caplog, "watch", INFO, ended)
    assert said(
        caplog,
        "watch",
        INFO,
        f"^watch \\d+ on b'w/' resumes on {where} from revision {revision + 1}$",
    )


def test_a_lost_lease_is_logged(etcd_single, client_class, caplog):
    caplog.set_level(INFO, logger="pyetcd_wire")
    with client_class(etcd_single.endpoint, timeout=5) as client:
        lease = client.grant(3).ID
        keep = client.keep_alive(lease)
        client.revoke(lease)
        wait_for(lambda: keep.lost, timeout=10)
        keep.close()
    assert said(caplog, "lease", WARNING, f"^lease {lease:x} lost: .*keep-alive ends")


def test_successful_calls_watch_events_and_renewals_log_nothing(
    etcd_single, client_class, caplog
):
    """The per-call success path logs nothing, even at DEBUG."""
    caplog.set_level(DEBUG, logger="pyetcd_wire")
    key = f"quiet/{uuid.uuid4().hex}".encode()
    with client_class(etcd_single.endpoint, timeout=5) as client:
        client.put(key, b"start")  # dials: logged, so before the count
        watch = client.watch(key)
        lease = client.grant(2).ID
        keep = client.keep_alive(lease)
        caplog.clear()
        for i in range(100):
            client.put(key, str(i).encode())
            assert client.get(key).kvs[0].value == str(i).encode()
        client.keep_alive_once(lease)
        events = 0
        while events < 100:
            events += len(watch.get(timeout=10).events)
        assert keep.get(timeout=5) is not None  # a renewal on the stream
        assert caplog.records == []
        keep.close()
        watch.cancel()
        client.revoke(lease)


def spy_on_logging(
    monkeypatch: pytest.MonkeyPatch, threads: Set[int], entered: List[str]
) -> None:
    """Wrap every function of the logging module, and every method of its
    classes, so that a call made on one of `threads` whose first caller
    outside logging is pyetcd_wire's code is recorded in `entered` (as
    "caller -> function").  The first caller outside logging, not the
    immediate one: a bound method such as ``log.debug`` kept in a variable
    escapes its wrapper, not the `isEnabledFor` it calls.

    Not `sys.setprofile`: switched on from a callback of a running event
    loop, PyPy 3.9 (7.3.11) crashes with a segmentation fault in the loop's
    thread, with no pyetcd_wire involved (a loop, a queue and the profile
    suffice)."""
    ours = str(Path(pyetcd_wire.__file__).parent)

    def spy(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        @functools.wraps(fn)
        def spied(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() in threads:
                frame = sys._getframe(1)
                while frame.f_code.co_filename == logging.__file__:
                    frame = frame.f_back
                if frame.f_code.co_filename.startswith(ours):
                    entered.append(f"{frame.f_code.co_name} -> {name}")
            return fn(*args, **kwargs)

        return spied

    for name, value in list(vars(logging).items()):
        if getattr(value, "__module__", None) != "logging":
            continue
        if inspect.isfunction(value):
            monkeypatch.setattr(logging, name, spy(value, name))
        elif inspect.isclass(value):
            for attr, method in list(vars(value).items()):
                if inspect.isfunction(method) and not attr.startswith("__"):
                    where = f"{name}.{attr}"
                    monkeypatch.setattr(value, attr, spy(method, where))


def test_successful_calls_do_not_even_ask_whether_logging_is_on(
    etcd_single, client_class, monkeypatch
):
    """No cost when logging is off: a call that succeeds never calls into the
    logging module (no `isEnabledFor` either) from the client's code, on the
    thread that runs it (the caller's for Client, the event loop's for
    AsyncClient).  (hpack, which decodes response headers, asks
    `isEnabledFor` for each header block it decodes: a new block only, the
    client caches the rest.)"""
    entered: List[str] = []
    key = f"quiet/{uuid.uuid4().hex}".encode()
    with client_class(etcd_single.endpoint, timeout=5) as client:
        client.put(key, b"start")  # dials (and logs it) before the count
        loop_thread = internal(client, lambda c: threading.get_ident())
        with monkeypatch.context() as patched:
            spy_on_logging(patched, {threading.get_ident(), loop_thread}, entered)
            for i in range(50):
                client.put(key, str(i).encode())
                client.get(key)
    assert entered == []


def test_an_outage_is_one_warning_not_one_per_attempt(client_class, caplog):
    """During an outage every attempt dials again (every 25 ms with one
    endpoint): the first failure is the WARNING, the others are DEBUG.  No
    deadline: the call makes its 100 attempts whatever the machine's load
    (within a 0.5 s deadline, a loaded one may make only one)."""
    caplog.set_level(DEBUG, logger="pyetcd_wire")
    dead = f"127.0.0.1:{free_port()}"
    e = re.escape(dead)
    with (
        client_class(dead, timeout=None) as client,
        pytest.raises(EtcdError),
    ):
        client.get(b"k")
    assert len(said(caplog, "connection", WARNING, f"^could not connect to {e}")) == 1
    assert said(caplog, "connection", DEBUG, f"^could not connect to {e}: .* in a row")
    assert len(said(caplog, "endpoints", WARNING, f"^{e} quarantined")) == 1
    assert said(caplog, "endpoints", DEBUG, f"^{e} quarantined .*failure 2 in a row")
