"""get, put, del, compaction: etcdctl's KV commands (get_command.go,
put_command.go, del_command.go, compaction_command.go in etcdctl 3.5)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, Dict, Sequence, Union

from . import gojson
from .context import Context
from .errors import bad_args, go_parse_error
from .parsing import Commands, Flags, flag, go_int
from .printers import field, header_fields, kv_fields, print_kv

if TYPE_CHECKING:
    from .._proto import kv_pb2
    from .._proto import rpc_pb2 as pb

# get --sort-by / --order values -> Client.get keywords (get_command.go).
SORT_TARGETS = {
    "CREATE": "create",
    "KEY": "key",
    "MODIFY": "mod",
    "VALUE": "value",
    "VERSION": "version",
}
SORT_ORDERS = {"ASCEND": "ascend", "DESCEND": "descend"}


def register(commands: Commands) -> None:
    get = commands.add("get", "Gets the key or a range of keys", run_get)
    add_get_flags(get)
    get.add_argument(
        "--consistency", default="l", help="Linearizable(l) or Serializable(s)"
    )
    flag(get, "--print-value-only", help="Only write values")
    flag(get, "--count-only", help="Get only the count")
    put = commands.add("put", "Puts the given key into the store", run_put)
    add_put_flags(put)
    rm = commands.add("del", "Removes the specified key or range of keys", run_del)
    add_del_flags(rm)
    compact = commands.add(
        "compaction", "Compacts the event history in etcd", run_compaction
    )
    flag(
        compact,
        "--physical",
        help="wait for compaction to physically remove all old revisions",
    )


def add_get_flags(parser: Flags) -> None:
    """The flags a get in a txn takes too."""
    flag(parser, "--prefix", help="Get keys with matching prefix")
    flag(parser, "--from-key", help="Get keys >= the given key")
    parser.add_argument(
        "--limit", type=int, default=0, help="Maximum number of results"
    )
    parser.add_argument("--rev", type=int, default=0, help="Specify the kv revision")
    flag(parser, "--keys-only", help="Get only the keys")
    parser.add_argument(
        "--sort-by", default="", help="CREATE, KEY, MODIFY, VALUE, or VERSION"
    )
    parser.add_argument("--order", default="", help="ASCEND or DESCEND")


def add_put_flags(parser: Flags) -> None:
    parser.add_argument(
        "--lease", default="0", help="lease ID (in hexadecimal) to attach"
    )
    flag(parser, "--prev-kv", help="return the previous key-value pair")
    flag(parser, "--ignore-value", help="updates the key using its current value")
    flag(parser, "--ignore-lease", help="updates the key using its current lease")


def add_del_flags(parser: Flags) -> None:
    flag(parser, "--prefix", help="delete keys with matching prefix")
    flag(parser, "--prev-kv", help="return deleted key-value pairs")
    flag(parser, "--from-key", help="delete keys >= the given key")


def range_kwargs(args: argparse.Namespace, command: str) -> Dict[str, Any]:
    """The key range of get and del: `key [range_end]`, --prefix, --from-key
    (getGetOp, getDelOp)."""
    if not args.args:  # more than two: etcdctl ignores the rest
        raise bad_args(
            f"{command} command needs one argument as key "
            "and an optional argument as range_end"
        )
    if args.prefix and args.from_key:
        raise bad_args(
            "`--prefix` and `--from-key` cannot be set at the same time, choose one"
        )
    kwargs: Dict[str, Any] = {"prefix": args.prefix, "from_key": args.from_key}
    if len(args.args) >= 2:
        if args.prefix or args.from_key:
            raise bad_args(
                "too many arguments, only accept one argument "
                "when `--prefix` or `--from-key` is set"
            )
        kwargs["range_end"] = args.args[1]
    return kwargs


def get_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    """Client.get keywords from get's arguments (get_command.go getGetOp)."""
    kwargs = range_kwargs(args, "get")
    kwargs.update(limit=args.limit, revision=args.rev)
    kwargs["keys_only"] = args.keys_only
    sort_by, order = args.sort_by.upper(), args.order.upper()
    if sort_by and sort_by not in SORT_TARGETS:
        raise bad_args("bad sort target")
    if order and order not in SORT_ORDERS:
        raise bad_args("bad sort order")
    if sort_by or order:
        kwargs["sort_target"] = SORT_TARGETS[sort_by or "KEY"]
        kwargs["sort_order"] = SORT_ORDERS[order or "ASCEND"]
    consistency = getattr(args, "consistency", "l")
    if consistency not in ("l", "s"):
        raise bad_args(f"unknown consistency flag {consistency!r}")
    kwargs["serializable"] = consistency == "s"
    return kwargs


def run_get(ctx: Context, args: argparse.Namespace) -> None:
    kwargs = get_kwargs(args)
    if args.count_only:
        if ctx.format != "fields":
            raise bad_args("--count-only is only for `--write-out=fields`")
        kwargs["count_only"] = True
    if args.print_value_only and ctx.format != "simple":
        raise bad_args("--print-value-only is only for `--write-out=simple`")
    ctx.refuse_table()
    resp = ctx.client.get(args.args[0], **kwargs, timeout=ctx.timeout)
    show_get(ctx, resp, value_only=args.print_value_only)


def show_get(ctx: Context, resp: pb.RangeResponse, *, value_only: bool = False) -> None:
    out = ctx.out
    if ctx.format == "json":
        out.line(gojson.dumps(gojson.message(resp)))
    elif ctx.format == "fields":
        header_fields(out, resp.header)
        for kv in resp.kvs:
            kv_fields(out, kv)
        field(out, "More", resp.more)
        field(out, "Count", resp.count)
    else:
        for kv in resp.kvs:
            print_kv(out, kv, hex=ctx.hex, value_only=value_only)


def parse_lease(text: str) -> int:
    """A lease ID in hexadecimal, as etcdctl takes it."""
    try:
        return int(text, 16)
    except ValueError:
        raise bad_args(
            f"bad lease ID ({go_parse_error('ParseInt', text)}), expecting ID in Hex"
        ) from None


def put_kwargs(args: argparse.Namespace, value: bytes | None) -> Dict[str, Any]:
    return {
        "lease": parse_lease(args.lease),
        "prev_kv": args.prev_kv,
        "ignore_value": args.ignore_value,
        "ignore_lease": args.ignore_lease,
    }


def put_value(args: argparse.Namespace) -> bytes:
    """The value: the second argument, or stdin when there is none
    (put_command.go getPutOp, util.go argOrStdin)."""
    if not args.args:
        raise bad_args(
            "put command needs 1 argument and input from stdin or 2 arguments"
        )
    if args.ignore_value:
        if len(args.args) > 1:
            raise bad_args(
                "put command needs only 1 argument when 'ignore-value' is set"
            )
        return b""
    if len(args.args) >= 2:  # more: etcdctl ignores the rest
        return str(args.args[1]).encode("utf-8", "surrogateescape")
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else b""
    if not data:
        raise bad_args(
            "put command needs 1 argument and input from stdin or 2 arguments"
        )
    return data


def run_put(ctx: Context, args: argparse.Namespace) -> None:
    value = put_value(args)
    ctx.refuse_table()
    kwargs = put_kwargs(args, value)
    resp = ctx.client.put(args.args[0], value, **kwargs, timeout=ctx.timeout)
    show_put(ctx, resp)


def show_put(ctx: Context, resp: pb.PutResponse) -> None:
    prev = [resp.prev_kv] if resp.HasField("prev_kv") else []
    show_write(ctx, resp, "OK", prev)


def show_head(ctx: Context, resp: Any, simple: str, **values: Union[int, bool]) -> bool:
    """The start of a write's output: in json the whole response (True:
    nothing more to print), in fields the header and `values`, else
    `simple`."""
    if ctx.format == "json":
        ctx.out.line(gojson.dumps(gojson.message(resp)))
        return True
    if ctx.format == "fields":
        header_fields(ctx.out, resp.header)
        for name, value in values.items():
            field(ctx.out, name, value)
    else:
        ctx.out.line(simple)
    return False


def show_write(
    ctx: Context,
    resp: Any,
    simple: str,
    prev: Sequence[kv_pb2.KeyValue],
    **counts: int,
) -> None:
    """put and del: `simple` then the previous pairs; in fields, `counts`
    then the previous pairs as Prev*."""
    out = ctx.out
    if show_head(ctx, resp, simple, **counts):
        return
    for kv in prev:
        if ctx.format == "fields":
            kv_fields(out, kv, prefix="Prev")
        else:
            print_kv(out, kv, hex=ctx.hex, value_only=False)


def del_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    """Client.delete keywords (del_command.go getDelOp)."""
    kwargs = range_kwargs(args, "del")
    kwargs["prev_kv"] = args.prev_kv
    return kwargs


def run_del(ctx: Context, args: argparse.Namespace) -> None:
    kwargs = del_kwargs(args)
    ctx.refuse_table()
    resp = ctx.client.delete(args.args[0], **kwargs, timeout=ctx.timeout)
    show_del(ctx, resp)


def show_del(ctx: Context, resp: pb.DeleteRangeResponse) -> None:
    show_write(ctx, resp, str(resp.deleted), resp.prev_kvs, Deleted=resp.deleted)


def run_compaction(ctx: Context, args: argparse.Namespace) -> None:
    if len(args.args) != 1:
        raise bad_args("compaction command needs 1 argument")
    revision = go_int(args.args[0])
    ctx.client.compact(revision, physical=args.physical, timeout=ctx.timeout)
    ctx.out.line(f"compacted revision {revision}")
