"""txn: etcdctl's transaction language read from stdin (txn_command.go in
etcdctl 3.5).

Three sections, each ended by a blank line: compares such as
`mod("key1") > "0"`, then the requests run if all hold, then those run if
any fails.  Requests are get, put and del command lines with their flags.
End of input before the third blank line is etcdctl's "Error: EOF".
"""

from __future__ import annotations

import argparse
import operator
import re
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, List

from .context import Context
from .errors import EXIT_INVALID_INPUT, CliError, bad_args
from .kv import (
    add_del_flags,
    add_get_flags,
    add_put_flags,
    del_kwargs,
    get_kwargs,
    put_kwargs,
    put_value,
    show_del,
    show_get,
    show_head,
    show_put,
)
from .parsing import Commands, Parser, flag

if TYPE_CHECKING:
    from .. import Compare, Op
    from .._proto import rpc_pb2 as pb

# Compare targets etcdctl accepts (ParseCompare) -> the name of pyetcd_wire's
# Compare constructor (names, not the methods: the client's modules load
# only when a txn runs).
TARGETS: Dict[str, str] = {
    "ver": "version",
    "version": "version",
    "c": "create_revision",
    "create": "create_revision",
    "m": "mod_revision",
    "mod": "mod_revision",
    "val": "value",
    "value": "value",
    "lease": "lease",
}
OPERATORS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt}
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_COMPARE = re.compile(rf"({_QUOTED})\)\s+(\S+)\s+({_QUOTED})$")
# etcdctl util.go Argify: a quoted string or a run of non-spaces.
_ARG = re.compile(rf"{_QUOTED}|\S+")


def register(commands: Commands) -> None:
    parser = commands.add(
        "txn", "Txn processes all the requests in one transaction", run_txn
    )
    flag(parser, "-i", "--interactive", help="Input transaction in interactive mode")


def run_txn(ctx: Context, args: argparse.Namespace) -> None:
    if args.args:
        raise bad_args("txn command does not accept argument")
    ctx.refuse_table()
    prompt = _prompter(ctx, args.interactive)
    prompt("compares:")
    compares = [parse_compare(line) for line in _section()]
    prompt("success requests (get, put, del):")
    success = [parse_request(line) for line in _section()]
    prompt("failure requests (get, put, del):")
    failure = [parse_request(line) for line in _section()]
    resp = ctx.client.txn(
        compare=compares, success=success, failure=failure, timeout=ctx.timeout
    )
    show_txn(ctx, resp)


def _prompter(ctx: Context, interactive: bool) -> Callable[[str], None]:
    def prompt(text: str) -> None:
        if interactive:
            ctx.out.line(text)
            ctx.out.flush()

    return prompt


def _section() -> List[str]:
    lines: List[str] = []
    while True:
        line = sys.stdin.readline()
        if not line.endswith("\n"):
            raise CliError(EXIT_INVALID_INPUT, "EOF")
        line = line.strip()
        if not line:
            return lines
        lines.append(line)


def unquote(text: str) -> str:
    """Go's strconv.Unquote of a double-quoted string."""
    import json  # here: only txn reads quoted strings

    try:
        value = json.loads(text)
    except ValueError:
        return text[1:-1]
    return str(value)


def parse_compare(line: str) -> Compare:
    """One compare line, e.g. `value("k") = "v"` (ParseCompare)."""
    target, paren, rest = line.partition("(")
    if not paren:
        raise CliError(EXIT_INVALID_INPUT, f"malformed comparison: {line}")
    match = _COMPARE.match(rest)
    if match is None or match.group(2) not in OPERATORS:
        raise CliError(EXIT_INVALID_INPUT, f"malformed comparison: {line}")
    key, value = unquote(match.group(1)), unquote(match.group(3))
    if target not in TARGETS:
        raise CliError(
            EXIT_INVALID_INPUT,
            f"malformed comparison: {line} (unknown target {target})",
        )
    from .._api.compare import Compare, KeyField

    field: KeyField = getattr(Compare, TARGETS[target])(
        key.encode("utf-8", "surrogateescape")
    )
    operand: Any = value.encode("utf-8", "surrogateescape")
    if target not in ("val", "value"):
        try:
            operand = int(value, 16 if target == "lease" else 10)
        except ValueError:
            raise CliError(
                EXIT_INVALID_INPUT, f"invalid txn compare request: {line}"
            ) from None
    result: Compare = OPERATORS[match.group(2)](field, operand)
    return result


def _request_parsers() -> Dict[str, Parser]:
    parsers = {
        name: Parser(prog=name, add_help=False, allow_abbrev=False)
        for name in ("get", "put", "del")
    }
    for parser in parsers.values():
        parser.add_argument("args", nargs="*")
    add_get_flags(parsers["get"])
    parsers["get"].add_argument("--consistency", default="l")
    add_put_flags(parsers["put"])
    add_del_flags(parsers["del"])
    return parsers


def parse_request(line: str) -> Op:
    """One request line: `put k v`, `get k --prefix`, `del k` (parseRequestUnion)."""
    words = [unquote(w) if w.startswith('"') else w for w in _ARG.findall(line)]
    parsers = _request_parsers()
    from .._api.op import Op

    if len(words) < 2 or words[0] not in parsers:
        raise CliError(EXIT_INVALID_INPUT, f"invalid txn request: {line}")
    try:
        args = parsers[words[0]].parse_intermixed_args(words[1:])
        if words[0] == "get":
            return Op.get(args.args[0], **get_kwargs(args))
        if words[0] == "del":
            return Op.delete(args.args[0], **del_kwargs(args))
        if len(args.args) != 2 and not args.ignore_value:
            raise bad_args("put needs a key and a value")
        value = put_value(args)
        return Op.put(args.args[0], value, **put_kwargs(args, value))
    except (CliError, ValueError):
        raise CliError(EXIT_INVALID_INPUT, f"invalid txn request: {line}") from None


def show_txn(ctx: Context, resp: pb.TxnResponse) -> None:
    out = ctx.out
    outcome = "SUCCESS" if resp.succeeded else "FAILURE"
    if show_head(ctx, resp, outcome, Succeeded=resp.succeeded):
        return
    for op in resp.responses:
        if ctx.format == "simple":
            out.line()
        kind = op.WhichOneof("response")
        if kind == "response_range":
            show_get(ctx, op.response_range)
        elif kind == "response_put":
            show_put(ctx, op.response_put)
        elif kind == "response_delete_range":
            show_del(ctx, op.response_delete_range)
        else:
            out.line(f"unexpected response {op}")
