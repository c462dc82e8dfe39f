"""Byte-for-byte against etcdctl 3.5 on the same etcd: stdout, stderr (less
etcdctl's log lines) and exit status, for `simple` and `json` (and, where
etcdctl has them, `fields` and `table`)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from typing import Callable

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.errors import LeaseNotFoundError
from pyetcd_wire.testing import EtcdMember
from tests.cli.conftest import LOG_LINE, Result, Runner

FORMATS = ["simple", "json"]

# Fields that differ between two otherwise identical writes.
_MOVING = re.compile(rb'"(revision|mod_revision|create_revision|version|ID|id)":\d+')
_LEASE_HEX = re.compile(rb"lease [0-9a-f]{16} ")


def masked(result: Result) -> Result:
    out = _MOVING.sub(rb'"\1":N', result.out)
    return result._replace(out=_LEASE_HEX.sub(b"lease L ", out))


# A lease's attached keys, as `timetolive --keys` prints them (simple, json).
_KEY_LISTS = re.compile(rb"(attached keys\(\[)([^\]]*)(\]\))|(\"keys\":\[)([^\]]*)(\])")


def keys_sorted(result: Result) -> Result:
    """`result` with a lease's attached keys in sorted order: etcd lists them
    from a Go map, in an order that differs from one answer to the next."""

    def sort(match: re.Match[bytes]) -> bytes:
        head, keys, tail = (g for g in match.groups() if g is not None)
        separator = b" " if head.startswith(b"attached") else b","
        return head + separator.join(sorted(keys.split(separator))) + tail

    return result._replace(out=_KEY_LISTS.sub(sort, result.out))


def same(ours: Result, theirs: Result) -> None:
    assert (ours.code, ours.err) == (theirs.code, theirs.err)
    assert ours.out == theirs.out


# The remaining TTL (simple, json), which etcd counts down between answers.
_TTL_LEFT = re.compile(rb'remaining\((\d+)s\)|"ttl":(\d+)')


def remaining(result: Result) -> int:
    """The remaining TTL `lease timetolive` printed."""
    found = _TTL_LEFT.search(result.out)
    assert found, result
    return int(found[1] or found[2])


def without_remaining(result: Result) -> Result:
    """`result` with its remaining TTL masked and its keys sorted."""
    return keys_sorted(result._replace(out=_TTL_LEFT.sub(b"REMAINING", result.out)))


def same_eventually(run: Callable[[], tuple[Result, Result]], tries: int = 3) -> None:
    """For outputs that move on their own (raft index, remaining TTL)."""
    for _ in range(tries - 1):
        a, b = run()
        if a == b:
            return
    same(*run())


@pytest.fixture
def filled(client: etcd.Client, key: str) -> str:
    for name, value in (("a", "1"), ("b", "two words"), ("c", "3\n"), ("d", "")):
        client.put(key + name, value)
    client.put(key + "b", "changed")
    return key


GET_CASES = [
    ["a"],
    ["", "--prefix"],
    ["a", "c"],
    ["b", "--from-key", "--limit=2"],
    ["", "--prefix", "--keys-only"],
    ["", "--prefix", "--sort-by=MODIFY", "--order=DESCEND"],
    ["", "--prefix", "--sort-by=value"],
    ["nothere"],
    ["", "--prefix", "--consistency=s"],
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("args", GET_CASES, ids=lambda a: " ".join(a) or "-")
def test_get(
    ours: Runner, theirs: Runner, filled: str, fmt: str, args: list[str]
) -> None:
    argv = [
        "get",
        filled + args[0],
        *[filled + a if a[:1] != "-" else a for a in args[1:]],
    ]
    same(ours(*argv, "-w", fmt), theirs(*argv, "-w", fmt))


@pytest.mark.parametrize(
    "extra",
    [
        ["--print-value-only"],
        ["--hex"],
        ["-w", "fields"],
        ["-w", "table"],
        ["--count-only"],
    ],
)
def test_get_flags(ours: Runner, theirs: Runner, filled: str, extra: list[str]) -> None:
    argv = ["get", filled, "--prefix", *extra]
    same(ours(*argv), theirs(*argv))
    argv = ["get", filled, "--prefix", "--count-only", "-w", "fields"]
    same(ours(*argv), theirs(*argv))


def test_get_at_revision(
    ours: Runner, theirs: Runner, client: etcd.Client, filled: str
) -> None:
    rev = client.get(filled + "b").kvs[0].create_revision
    for fmt in FORMATS:
        argv = ["get", filled, "--prefix", f"--rev={rev}", "-w", fmt]
        same(ours(*argv), theirs(*argv))


@pytest.mark.parametrize("fmt", [*FORMATS, "fields"])
@pytest.mark.parametrize("flags", [[], ["--prev-kv"]])
def test_put(
    ours: Runner,
    theirs: Runner,
    client: etcd.Client,
    key: str,
    fmt: str,
    flags: list[str],
) -> None:
    client.put(key, "before")
    mine = masked(ours("put", key, "before", *flags, "-w", fmt))
    real = masked(theirs("put", key, "before", *flags, "-w", fmt))
    if fmt == "fields":
        pattern = re.compile(rb'("(Revision|PrevModRevision|PrevVersion)" : )\d+')
        mine = mine._replace(out=pattern.sub(rb"\1N", mine.out))
        real = real._replace(out=pattern.sub(rb"\1N", real.out))
    same(mine, real)


def test_put_value_from_stdin(
    ours: Runner, theirs: Runner, client: etcd.Client, key: str
) -> None:
    same(
        ours("put", key, stdin=b"from stdin\n"),
        theirs("put", key, stdin=b"from stdin\n"),
    )
    assert client.get(key).kvs[0].value == b"from stdin\n"
    same(ours("put", key), theirs("put", key))  # empty stdin: exit 128


def test_put_with_lease_and_ignore(
    ours: Runner, theirs: Runner, client: etcd.Client, key: str
) -> None:
    lease = client.grant(300).ID
    for run in (ours, theirs):
        assert run("put", key, "v", f"--lease={lease:x}").out == b"OK\n"
        assert client.get(key).kvs[0].lease == lease
        assert run("put", key, "--ignore-value", "--ignore-lease").code == 0
    same(ours("put", key, "v", "--lease=zz"), theirs("put", key, "v", "--lease=zz"))
    client.revoke(lease)


@pytest.mark.parametrize("fmt", FORMATS)
def test_del(
    ours: Runner, theirs: Runner, client: etcd.Client, key: str, fmt: str
) -> None:
    results = []
    for run in (theirs, ours):
        client.put(key + "a", "1")
        client.put(key + "b", "two")
        results.append(masked(run("del", key, "--prefix", "--prev-kv", "-w", fmt)))
    same(results[1], results[0])
    same(ours("del", key + "none", "-w", fmt), theirs("del", key + "none", "-w", fmt))


@pytest.mark.parametrize("fmt", [*FORMATS, "table", "fields"])
def test_member_list(ours: Runner, theirs: Runner, fmt: str) -> None:
    same(ours("member", "list", "-w", fmt), theirs("member", "list", "-w", fmt))


@pytest.mark.parametrize("fmt", [*FORMATS, "table", "fields"])
def test_endpoint_status(ours: Runner, theirs: Runner, fmt: str) -> None:
    argv = ("endpoint", "status", "-w", fmt)
    same_eventually(lambda: (ours(*argv), theirs(*argv)))


def revoke_all(client: etcd.Client) -> None:
    """Revoke every lease, such as the ones etcdctl's lock and elect leave
    behind in earlier tests: one that expired between our `lease list` and
    etcdctl's would make them differ."""
    for leftover in client.leases().leases:
        with contextlib.suppress(LeaseNotFoundError):  # expired meanwhile
            client.revoke(leftover.ID)


@pytest.mark.parametrize("fmt", FORMATS)
def test_lease_grant_list_timetolive(
    ours: Runner, theirs: Runner, client: etcd.Client, key: str, fmt: str
) -> None:
    revoke_all(client)
    same(
        masked(ours("lease", "grant", "300", "-w", fmt)),
        masked(theirs("lease", "grant", "300", "-w", fmt)),
    )
    same(ours("lease", "list", "-w", fmt), theirs("lease", "list", "-w", fmt))
    lease = client.grant(600).ID
    client.put(key + "x", "1", lease=lease)
    client.put(key + "y", "2", lease=lease)
    for flags in ([], ["--keys"]):
        argv = ("lease", "timetolive", f"{lease:x}", *flags, "-w", fmt)
        mine, etcdctls = ours(*argv), theirs(*argv)
        assert 0 < remaining(etcdctls) <= remaining(mine) <= 600  # counting down
        same(without_remaining(mine), without_remaining(etcdctls))
    client.revoke(lease)
    argv = ("lease", "timetolive", f"{lease:x}", "-w", fmt)
    same(ours(*argv), theirs(*argv))
    revoke_all(client)
    same(ours("lease", "list", "-w", fmt), theirs("lease", "list", "-w", fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_lease_keep_alive_once_and_revoke(
    ours: Runner, theirs: Runner, client: etcd.Client, fmt: str
) -> None:
    lease = client.grant(100).ID
    argv = ("lease", "keep-alive", "--once", f"{lease:x}", "-w", fmt)
    same(masked(ours(*argv)), masked(theirs(*argv)))
    if fmt == "simple":
        assert (
            ours("lease", "revoke", f"{lease:x}").out
            == f"lease {lease:016x} revoked\n".encode()
        )
    else:
        client.revoke(lease)
    for argv in (
        ("lease", "revoke", f"{lease:x}"),
        ("lease", "keep-alive", "--once", f"{lease:x}"),
        ("lease", "keep-alive", f"{lease:x}"),  # "lease ... expired or revoked."
        ("lease", "timetolive", "zz"),
        ("lease", "grant"),
    ):
        same(ours(*argv), theirs(*argv))


TXNS = [
    b'value("{k}a") = "1"\nmod("{k}a") > "0"\n\n'
    b'put {k}a "new value"\nget {k}a\ndel {k}b --prev-kv\n\nget {k}a\n\n',
    b'value("{k}a") = "nope"\n\nput {k}a x\n\n'
    b"get {k} --prefix\nput {k}c v --prev-kv\n\n",
    b'version("{k}a") != "0"\ncreate("{k}a") < "999999999"\n\n\n\n',
    b"\n\n\n",
    b"bogus\n\n\n",
    b'value("{k}a") = "1"\n\nnot a request\n\n\n',
    b'value("{k}a") = "1"\n\n',
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("text", TXNS, ids=range(len(TXNS)))
def test_txn(
    ours: Runner, theirs: Runner, client: etcd.Client, key: str, fmt: str, text: bytes
) -> None:
    stdin = text.replace(b"{k}", key.encode())
    results = []
    for run in (theirs, ours):
        client.delete(key, prefix=True)
        client.put(key + "a", "1")
        client.put(key + "b", "2")
        results.append(masked(run("txn", "-w", fmt, stdin=stdin)))
    same(results[1], results[0])


def test_txn_interactive_prompts(
    ours: Runner, theirs: Runner, client: etcd.Client, key: str
) -> None:
    client.put(key + "a", "exists")
    stdin = f'mod("{key}a") > "0"\n\nput {key}a o\n\nput {key}a c\n\n'.encode()
    same(ours("txn", "-i", stdin=stdin), theirs("txn", "-i", stdin=stdin))


ERRORS = [
    ["get"],
    ["get", "a", "b", "c"],  # etcdctl ignores the third
    ["put", "a", "--ignore-value", "b"],
    ["get", "a", "--prefix", "--from-key"],
    ["get", "a", "b", "--prefix"],
    ["get", ""],
    ["get", "a", "--rev=99999999"],
    ["get", "a", "--bogus"],
    ["--bogus"],
    ["lease", "--bogus=1"],
    ["put"],
    ["put", "a", "b", "c"],
    ["del"],
    ["txn", "extra"],
    ["watch"],
    ["compaction"],
    ["member", "remove", "zz"],
    ["member", "remove", "1234"],
    ["member", "add"],
    ["member", "add", "x"],
    ["user", "get", "nobody"],
    ["role", "get", "nobody"],
    ["get", "a", "-w", "table"],
    ["put", "a", "b", "-w", "table"],
]


@pytest.mark.parametrize("argv", ERRORS, ids=lambda a: " ".join(a))
def test_errors(ours: Runner, theirs: Runner, argv: list[str]) -> None:
    mine, real = ours(*argv), theirs(*argv)
    assert mine.code == real.code
    # etcdctl prints its usage after an unknown flag and says "Error:" twice.
    assert mine.err.splitlines()[:1] == real.err.splitlines()[:1]
    if real.code != 1 or "unknown flag" not in real.err:
        same(mine, real)


def test_compaction(
    ours: Runner, theirs: Runner, client: etcd.Client, key: str
) -> None:
    rev = client.put(key, "v").header.revision
    assert (
        theirs("compaction", str(rev - 1)).out
        == f"compacted revision {rev - 1}\n".encode()
    )
    assert (
        ours("compaction", "--physical", str(rev)).out
        == f"compacted revision {rev}\n".encode()
    )
    same(ours("compaction", str(rev - 1)), theirs("compaction", str(rev - 1)))
    same(ours("compaction", "x"), theirs("compaction", "x"))


# The command `lock` runs while holding: how it ends is how the lock command
# ends (lock_command.go, getExitCodeFromError).
LOCKED_COMMANDS = {
    "exits 3": ["sh", "-c", "exit 3"],
    "exits 200": ["sh", "-c", "exit 200"],
    "killed by a signal": ["sh", "-c", "kill -TERM $$"],  # Go's ExitStatus() -1: 255
    "not in PATH": ["no-such-command-for-pyetcd"],
    "no such file": ["./no/such/file"],
    "not a program": ["/dev/null"],
    "a directory": ["/"],
}


@pytest.mark.parametrize("command", LOCKED_COMMANDS.values(), ids=LOCKED_COMMANDS)
def test_lock_ends_as_its_command(
    ours: Runner,
    theirs: Runner,
    client: etcd.Client,
    key: str,
    command: list[str],
) -> None:
    """The command's exit status (255 for one a signal ended), or 1 and Go's
    message for one that could not start; the lock released either way."""
    results = []
    for run in (theirs, ours):
        results.append(run("lock", key, "--", *command))
        assert list(client.get(key, prefix=True).kvs) == []
    same(*reversed(results))
    assert results[0].code != 0


def both_as_processes(
    cli_etcd: EtcdMember,
    etcdctl_binary: str,
    *argv: str,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
) -> list[Result]:
    """etcdctl's result, then ours, each run as a process (the command that
    `lock` runs writes to the process's own stdout), with `env` added to the
    environment."""
    results = []
    for tool in ([etcdctl_binary], [sys.executable, "-m", "pyetcd_wire"]):
        done = subprocess.run(
            [*tool, f"--endpoints={cli_etcd.endpoint}", *argv],
            input=stdin,
            capture_output=True,
            timeout=30,
            env={**os.environ, "ETCDCTL_API": "3", **(env or {})},
            check=False,
        )
        err = LOG_LINE.sub("", done.stderr.decode("utf-8", "replace"))
        results.append(Result(done.returncode, done.stdout, err))
    return results


def test_lock_gives_its_command_no_stdin(
    cli_etcd: EtcdMember, etcdctl_binary: str, key: str
) -> None:
    """etcdctl runs the command with stdin from /dev/null, not its own."""
    theirs, ours = both_as_processes(
        cli_etcd, etcdctl_binary, "lock", key, "--", "cat", stdin=b"for lock itself\n"
    )
    assert ours == theirs == (0, b"", "")


# What the locked command prints: its arguments, and its session's TTL.
SHOW_TTL = (
    'echo "$@"; "$ETCDCTL" --endpoints="$ENDPOINT" lease timetolive'
    ' "${ETCD_LOCK_KEY##*/}"'
)
_REMAINING = re.compile(
    rb"lease [0-9a-f]+ (granted with TTL\(\d+s\)), remaining\(\d+s\)"
)


@pytest.mark.parametrize(
    "words",
    [
        ["--ttl", "7", "{name}"],
        ["{name}", "--ttl", "7"],
        ["{name}", "--ttl=7", "--", "sh", "-c", SHOW_TTL, "sh", "--ttl", "3"],
        ["{name}", "--", "sh", "-c", SHOW_TTL, "sh", "--ttl", "3", "--", "x"],
        ["--", "{name}", "sh", "-c", SHOW_TTL, "sh", "-w", "json"],
    ],
    ids=["before", "after", "before --", "after --", "all after --"],
)
def test_lock_reads_its_flags_as_etcdctl(
    cli_etcd: EtcdMember, etcdctl_binary: str, key: str, words: list[str]
) -> None:
    """As cobra: lock's flags anywhere before a `--`, every word after it the
    command's (the lock name too, if it comes after)."""
    argv = [word.replace("{name}", key) for word in words]
    if "--" not in argv:
        argv += ["--", "sh", "-c", SHOW_TTL]
    env = {"ETCDCTL": etcdctl_binary, "ENDPOINT": cli_etcd.endpoint}
    results = both_as_processes(cli_etcd, etcdctl_binary, "lock", *argv, env=env)
    theirs, ours = (r._replace(out=_REMAINING.sub(rb"\1", r.out)) for r in results)
    assert ours == theirs
    assert theirs.code == 0
    assert b"granted with TTL(" in theirs.out


@pytest.mark.parametrize(
    "words",
    [[], ["name"], ["-l", "name", "proposal"], ["a", "b", "c"], ["-l"]],
    ids=["nothing", "name only", "-l and a proposal", "three", "-l only"],
)
def test_elect_refuses_wrong_arguments_as_etcdctl(
    ours: Runner, theirs: Runner, words: list[str]
) -> None:
    same(ours("elect", *words), theirs("elect", *words))
