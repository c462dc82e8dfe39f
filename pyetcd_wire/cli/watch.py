"""watch: print events as etcdctl does until interrupted (watch_command.go
and the printers of etcdctl 3.5).  `watch -i` (interactive) is not
supported."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Dict

from . import gojson
from .context import Context
from .errors import bad_args
from .parsing import Commands, flag
from .printers import field, header_fields, kv_fields, print_kv

if TYPE_CHECKING:
    from .._proto import rpc_pb2 as pb

# mvccpb.Event_EventType names, as Go's String() prints them.
EVENT_TYPES = {0: "PUT", 1: "DELETE"}


def register(commands: Commands) -> None:
    parser = commands.add(
        "watch", "Watches events stream on keys or prefixes", run_watch
    )
    flag(parser, "--prefix", help="Watch on a prefix if prefix is set")
    parser.add_argument("--rev", type=int, default=0, help="Revision to start watching")
    flag(
        parser,
        "--prev-kv",
        help="get the previous key-value pair before the event happens",
    )
    flag(
        parser,
        "--progress-notify",
        help="get periodic watch progress notification from server",
    )


def watch_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    if not 1 <= len(args.args) <= 2:
        raise bad_args("bad number of arguments")
    kwargs: Dict[str, Any] = {
        "prefix": args.prefix,
        "start_revision": args.rev,
        "prev_kv": args.prev_kv,
        "progress_notify": args.progress_notify,
    }
    if len(args.args) == 2:
        if args.prefix:
            raise bad_args("unexpected range_end with --prefix")
        kwargs["range_end"] = args.args[1]
    return kwargs


def run_watch(ctx: Context, args: argparse.Namespace) -> None:
    kwargs = watch_kwargs(args)
    ctx.refuse_table()
    with ctx.client.watch(args.args[0], **kwargs, timeout=ctx.timeout) as stream:
        for resp in stream:
            show_watch(ctx, resp)
            ctx.out.flush()


def watch_json(resp: pb.WatchResponse) -> Dict[str, Any]:
    """clientv3.WatchResponse through Go's json: untagged field names."""
    return {
        "Header": gojson.message(resp.header),
        "Events": [gojson.message(ev) for ev in resp.events] or None,
        "CompactRevision": resp.compact_revision,
        "Canceled": resp.canceled,
        "Created": False,
    }


def show_watch(ctx: Context, resp: pb.WatchResponse) -> None:
    out = ctx.out
    if ctx.format == "json":
        out.line(gojson.dumps(watch_json(resp)))
        return
    if ctx.format == "fields":
        header_fields(out, resp.header)
    for ev in resp.events:
        if ctx.format == "fields":
            field(out, "Type", EVENT_TYPES.get(ev.type, str(ev.type)))
            if ev.HasField("prev_kv"):
                kv_fields(out, ev.prev_kv, prefix="Prev")
            kv_fields(out, ev.kv)
            continue
        out.line(EVENT_TYPES.get(ev.type, str(ev.type)))
        if ev.HasField("prev_kv"):
            print_kv(out, ev.prev_kv, hex=ctx.hex, value_only=False)
        print_kv(out, ev.kv, hex=ctx.hex, value_only=False)
