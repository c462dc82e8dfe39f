"""lease grant, revoke, timetolive, list, keep-alive (lease_command.go and
the printers of etcdctl 3.5).  etcdctl prints clientv3's lease structs in
json: the header is flattened into the top level (an embedded
`*pb.ResponseHeader`) and the field names are clientv3's, not the proto's."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Dict

from ..errors import EtcdError, LeaseExpiredError, LeaseNotFoundError
from . import gojson
from .context import Context
from .errors import (
    EXIT_BAD_CONNECTION,
    CliError,
    bad_args,
    error_message,
)
from .parsing import Commands, flag, hex_id
from .printers import field, header_fields

if TYPE_CHECKING:
    from .._proto import rpc_pb2 as pb


def register(commands: Commands) -> None:
    group = commands.group("lease", "Lease related commands")
    group.add("grant", "Creates leases", run_grant, usage="pyetcd lease grant <ttl>")
    group.add(
        "revoke", "Revokes leases", run_revoke, usage="pyetcd lease revoke <leaseID>"
    )
    ttl = group.add("timetolive", "Get lease information", run_timetolive)
    flag(ttl, "--keys", help="Get keys attached to this lease")
    group.add("list", "List all active leases", run_list)
    flag(
        group.add("keep-alive", "Keeps leases alive (renew)", run_keep_alive),
        "--once",
        help="Resets the keep-alive time to its original value and exits immediately",
    )


def lease_id(args: argparse.Namespace, command: str) -> int:
    return hex_id(args, f"{command} command needs 1 argument", "lease", "ParseInt")


def run_grant(ctx: Context, args: argparse.Namespace) -> None:
    if len(args.args) != 1:
        raise bad_args("lease grant command needs TTL argument")
    try:
        ttl = int(args.args[0])
    except ValueError:
        raise bad_args(f"bad TTL ({args.args[0]})") from None
    ctx.refuse_table()
    try:
        resp = ctx.client.grant(ttl, timeout=ctx.timeout)
    except EtcdError as exc:
        raise CliError(1, f"failed to grant lease ({error_message(exc)})") from exc
    show_lease(ctx, resp, f"granted with TTL({resp.TTL}s)", Error=resp.error)


def show_lease(ctx: Context, resp: Any, done: str, **more: Any) -> None:
    """A grant or keep-alive response: clientv3's struct in json (`more`
    after ID and TTL), ID and TTL in fields, `lease <id> <done>` in simple."""
    if ctx.format == "json":
        doc: Dict[str, Any] = gojson.header_fields(resp)
        doc.update(ID=resp.ID, TTL=resp.TTL, **more)
        ctx.out.line(gojson.dumps(doc))
    elif ctx.format == "fields":
        header_fields(ctx.out, resp.header)
        field(ctx.out, "ID", resp.ID)
        field(ctx.out, "TTL", resp.TTL)
    else:
        ctx.out.line(f"lease {resp.ID:016x} {done}")


def run_revoke(ctx: Context, args: argparse.Namespace) -> None:
    lid = lease_id(args, "lease revoke")
    ctx.refuse_table()
    try:
        resp = ctx.client.revoke(lid, timeout=ctx.timeout)
    except EtcdError as exc:
        raise CliError(1, f"failed to revoke lease ({error_message(exc)})") from exc
    if ctx.format == "json":
        ctx.out.line(gojson.dumps(gojson.message(resp)))
    elif ctx.format == "fields":
        header_fields(ctx.out, resp.header)
    else:
        ctx.out.line(f"lease {lid:016x} revoked")


def run_timetolive(ctx: Context, args: argparse.Namespace) -> None:
    lid = lease_id(args, "lease timetolive")
    ctx.refuse_table()
    resp = ctx.client.time_to_live(lid, keys=args.keys, timeout=ctx.timeout)
    show_timetolive(ctx, resp, keys=args.keys)


def show_timetolive(
    ctx: Context, resp: pb.LeaseTimeToLiveResponse, *, keys: bool
) -> None:
    out = ctx.out
    if ctx.format == "json":
        doc = gojson.header_fields(resp)
        doc.update(
            {
                "id": resp.ID,
                "ttl": resp.TTL,
                "granted-ttl": resp.grantedTTL,
                "keys": gojson.base64_list(list(resp.keys)) or None,
            }
        )
        out.line(gojson.dumps(doc))
    elif ctx.format == "fields":
        header_fields(out, resp.header)
        field(out, "ID", resp.ID)
        field(out, "TTL", resp.TTL)
        field(out, "GrantedTTL", resp.grantedTTL)
        for key in resp.keys:
            field(out, "Key", key)
    elif resp.grantedTTL == 0 and resp.TTL == -1:
        out.line(f"lease {resp.ID:016x} already expired")
    else:
        text = (
            f"lease {resp.ID:016x} granted with TTL({resp.grantedTTL}s), "
            f"remaining({resp.TTL}s)"
        )
        if keys:
            names = " ".join(k.decode("utf-8", "surrogateescape") for k in resp.keys)
            text += f", attached keys([{names}])"
        out.line(text)


def run_list(ctx: Context, args: argparse.Namespace) -> None:
    if args.args:
        raise bad_args("lease list command does not accept argument")
    ctx.refuse_table()
    resp = ctx.client.leases(timeout=ctx.timeout)
    out = ctx.out
    if ctx.format == "json":
        doc = gojson.header_fields(resp)
        doc["leases"] = [{"id": item.ID} for item in resp.leases]
        out.line(gojson.dumps(doc))
    elif ctx.format == "fields":
        header_fields(out, resp.header)
        for item in resp.leases:
            field(out, "ID", item.ID)
    else:
        out.line(f"found {len(resp.leases)} leases")
        for item in resp.leases:
            out.line(f"{item.ID:016x}")


def show_keep_alive(ctx: Context, resp: pb.LeaseKeepAliveResponse) -> None:
    show_lease(ctx, resp, f"keepalived with TTL({resp.TTL})")
    ctx.out.flush()


def run_keep_alive(ctx: Context, args: argparse.Namespace) -> None:
    lid = lease_id(args, "lease keep-alive")
    ctx.refuse_table()
    if args.once:
        try:
            resp = ctx.client.keep_alive_once(lid, timeout=ctx.timeout)
        except EtcdError as exc:
            raise CliError(EXIT_BAD_CONNECTION, error_message(exc)) from exc
        show_keep_alive(ctx, resp)
        return
    try:
        with ctx.client.keep_alive(lid) as renewals:
            for resp in renewals:
                show_keep_alive(ctx, resp)
    except (LeaseNotFoundError, LeaseExpiredError):
        # etcdctl: the renewals' channel closed, at once for a lease that
        # does not exist (keep_alive() raises LeaseNotFoundError).
        ctx.out.line(f"lease {lid:016x} expired or revoked.")
