"""The command line's pure pieces, without etcd."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

from pyetcd_wire import __version__
from pyetcd_wire._proto import rpc_pb2 as pb
from pyetcd_wire.cli import app, gojson, printers
from pyetcd_wire.cli.app import main
from pyetcd_wire.cli.cluster import go_duration
from pyetcd_wire.cli.errors import CliError
from pyetcd_wire.cli.flags import parse_duration
from pyetcd_wire.cli.output import Out, silence_stdout
from pyetcd_wire.cli.parsing import Commands
from pyetcd_wire.cli.txn import parse_compare, parse_request


def test_json_is_gos() -> None:
    assert gojson.dumps({"a": "<&>\u2028", "n": 2**64 - 1}) == (
        '{"a":"\\u003c\\u0026\\u003e\\u2028","n":18446744073709551615}'
    )
    resp = pb.TxnResponse(responses=[pb.ResponseOp(response_put=pb.PutResponse())])
    assert gojson.message(resp) == {"responses": [{"Response": {"response_put": {}}}]}


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [
        (b"plain", '"plain"'),
        (b'q"\\', '"q\\"\\\\"'),
        (b"\n\x00\xff", '"\\n\\x00\\xff"'),
        ("é".encode(), '"é"'),
    ],
)
def test_go_quote(raw: bytes, quoted: str) -> None:
    assert printers.go_quote(raw) == quoted


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (9, "9 B"),
        (20480, "20 kB"),
        (1234567, "1.2 MB"),
        (25_000_000, "25 MB"),
    ],
)
def test_humanize_bytes(size: int, text: str) -> None:
    assert printers.humanize_bytes(size) == text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2s", 2.0), ("500ms", 0.5), ("1m30s", 90.0), ("1.5", 1.5), ("100us", 1e-4)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text, "x") == pytest.approx(seconds)


def test_bad_duration() -> None:
    with pytest.raises(CliError) as info:
        parse_duration("soon", "dial-timeout")
    assert info.value.code == 128


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3.513298e-3, "3.513298ms"), (0.00085, "850µs"), (1.25, "1.25s"), (5e-7, "500ns")],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_table_layout() -> None:
    out = Out()
    printers.table(out, ["ID", "Name"], [["abc", "x"], [12, True]])
    assert b"".join(out._parts).decode().splitlines() == [
        "+-----+------+",
        "| ID  | NAME |",
        "+-----+------+",
        "| abc |    x |",
        "|  12 | true |",
        "+-----+------+",
    ]


def test_compares_and_requests() -> None:
    compare = parse_compare('mod("k") > "3"').to_proto()
    assert (compare.key, compare.mod_revision, compare.result) == (
        b"k",
        3,
        pb.Compare.GREATER,
    )
    assert parse_compare('lease("k") = "1f"').to_proto().lease == 31
    for bad in ("nope", 'value("k") ~ "v"', 'size("k") = "1"', 'ver("k") = "x"'):
        with pytest.raises(CliError) as info:
            parse_compare(bad)
        assert info.value.code == 3
    assert (
        parse_request('put k "two words"').to_request_op().request_put.value
        == b"two words"
    )
    with pytest.raises(CliError):
        parse_request("put")


def test_silence_stdout_points_stdout_at_devnull_and_leaks_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (tests/conftest.py fails a test that leaves a descriptor open: the
    # /dev/null one, before the fix.)
    with open(tmp_path / "out", "w") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)
        silence_stdout()
        assert os.readlink(f"/proc/self/fd/{stdout.fileno()}") == os.devnull


def test_version_flag_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"pyetcd version: {__version__}"


@pytest.mark.parametrize("argv", [["--bogus"], ["lease", "--bogus"]])
def test_unknown_flag_of_a_group_fails(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err == "Error: unknown flag: --bogus\n"
    assert captured.out.startswith("NAME:")


@pytest.mark.parametrize("module", sorted(app.COMMAND_MODULES))
def test_the_command_catalogue_names_each_modules_commands(module: str) -> None:
    # A command line imports only the module the catalogue gives its first word.
    root = Commands()
    importlib.import_module(f"pyetcd_wire.cli.{module}").register(root)
    words = {*root.leaves, *root.groups}
    assert words == set(app.COMMAND_MODULES[module])
    assert app.build(sorted(words)[0]).summaries.keys() >= words


def test_the_root_help_lists_every_command() -> None:
    every = {w for words in app.COMMAND_MODULES.values() for w in words}
    for first in (None, "no-such-command"):
        root = app.build(first)
        assert set(root.summaries) == every | {"dev", "demo", "bundle"}
