"""member list/add/remove/update/promote and endpoint status/health
(member_command.go, ep_command.go and the printers of etcdctl 3.5)."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Sequence, Tuple

from ..errors import EtcdError, PermissionDeniedError
from . import gojson
from .context import Context
from .errors import EXIT_ERROR, CliError, bad_args, error_message
from .flags import connect
from .output import err_line
from .parsing import Commands, Run, flag, hex_id
from .printers import (
    MEMBER_HEADER,
    field,
    header_fields,
    humanize_bytes,
    member_rows,
    simple_rows,
    table,
)

if TYPE_CHECKING:
    from .. import Client
    from .._proto import rpc_pb2 as pb

STATUS_HEADER = (
    "Endpoint",
    "ID",
    "Version",
    "DB Size",
    "Is Leader",
    "Is Learner",
    "Raft Term",
    "Raft Index",
    "Raft Applied Index",
    "Errors",
)
HEALTH_HEADER = ("endpoint", "health", "took", "error")
MemberCall = Callable[[Context, int, argparse.Namespace], Any]


def register(commands: Commands) -> None:
    member = commands.group("member", "Membership related commands")
    add = member.add("add", "Adds a member into the cluster", run_member_add)
    add.add_argument(
        "--peer-urls", default="", help="comma separated peer URLs for the new member"
    )
    flag(add, "--learner", help="indicates if the new member is raft learner")
    member.add("remove", "Removes a member from the cluster", run_member_remove)
    update = member.add("update", "Updates a member in the cluster", run_member_update)
    update.add_argument(
        "--peer-urls",
        default="",
        help="comma separated peer URLs for the updated member",
    )
    member.add("list", "Lists all members in the cluster", run_member_list)
    member.add(
        "promote", "Promotes a non-voting member in the cluster", run_member_promote
    )
    endpoint = commands.group("endpoint", "Endpoint related commands")
    for name, summary, run in (
        (
            "status",
            "Prints out the status of endpoints specified in `--endpoints` flag",
            run_status,
        ),
        (
            "health",
            "Checks the healthiness of endpoints specified in `--endpoints` flag",
            run_health,
        ),
    ):
        parser = endpoint.add(name, summary, run)
        flag(parser, "--cluster", help="use all endpoints from the cluster member list")


def _member_id(args: argparse.Namespace) -> int:
    return hex_id(args, "member ID is not provided", "member", "ParseUint")


def _peer_urls(text: str) -> List[str]:
    urls = [u.strip() for u in text.split(",") if u.strip()]
    if not urls:
        raise bad_args("member peer urls not provided")
    return urls


def _json_or(ctx: Context, resp: Any, simple: str) -> None:
    if ctx.format == "json":
        ctx.out.line(gojson.dumps(gojson.message(resp)))
    else:
        ctx.out.line(simple)


def run_member_add(ctx: Context, args: argparse.Namespace) -> None:
    if len(args.args) != 1:
        raise bad_args("member name not provided")
    name, urls = args.args[0], _peer_urls(args.peer_urls)
    resp = ctx.client.member_add(urls, learner=args.learner, timeout=ctx.timeout)
    new = resp.member
    _json_or(
        ctx, resp, f"Member {new.ID:16x} added to cluster {resp.header.cluster_id:16x}"
    )
    if ctx.format != "simple":
        return
    conf = [
        f"{name if m.ID == new.ID else m.name}={url}"
        for m in resp.members
        for url in m.peerURLs
    ]
    ctx.out.lines(
        [
            "",
            f'ETCD_NAME="{name}"',
            f'ETCD_INITIAL_CLUSTER="{",".join(conf)}"',
            f'ETCD_INITIAL_ADVERTISE_PEER_URLS="{",".join(new.peerURLs)}"',
            'ETCD_INITIAL_CLUSTER_STATE="existing"',
        ]
    )


def _member_change(call: MemberCall, done: str) -> Run:
    """remove, update, promote: one member by hex ID, one line when done."""

    def run(ctx: Context, args: argparse.Namespace) -> None:
        mid = _member_id(args)
        resp = call(ctx, mid, args)
        cluster = resp.header.cluster_id
        _json_or(ctx, resp, f"Member {mid:16x} {done} cluster {cluster:16x}")

    return run


run_member_remove = _member_change(
    lambda ctx, mid, args: ctx.client.member_remove(mid, timeout=ctx.timeout),
    "removed from",
)
run_member_update = _member_change(
    lambda ctx, mid, args: ctx.client.member_update(
        mid, _peer_urls(args.peer_urls), timeout=ctx.timeout
    ),
    "updated in",
)
run_member_promote = _member_change(
    lambda ctx, mid, args: ctx.client.member_promote(mid, timeout=ctx.timeout),
    "promoted in",
)


def run_member_list(ctx: Context, args: argparse.Namespace) -> None:
    resp = ctx.client.member_list(timeout=ctx.timeout)
    out = ctx.out
    if ctx.format == "json":
        out.line(gojson.dumps(gojson.message(resp)))
    elif ctx.format == "table":
        table(out, MEMBER_HEADER, member_rows(resp.members))
    elif ctx.format == "fields":
        header_fields(out, resp.header)
        for m in resp.members:
            field(out, "ID", m.ID)
            field(out, "Name", m.name)
            for url in m.peerURLs:
                field(out, "PeerURL", url)
            for url in m.clientURLs:
                field(out, "ClientURL", url)
            field(out, "IsLearner", m.isLearner)
            out.line()
    else:
        simple_rows(out, member_rows(resp.members))


def _endpoints(ctx: Context, args: argparse.Namespace) -> Sequence[str]:
    if not args.cluster:
        return ctx.client.endpoints
    members = ctx.client.member_list(timeout=ctx.timeout).members
    return [url for m in members for url in m.clientURLs]


def status_row(endpoint: str, resp: pb.StatusResponse) -> List[Any]:
    """ep_command.go makeEndpointStatusTable."""
    return [
        endpoint,
        f"{resp.header.member_id:x}",
        resp.version,
        humanize_bytes(resp.dbSize),
        resp.leader == resp.header.member_id,
        resp.isLearner,
        resp.raftTerm,
        resp.raftIndex,
        resp.raftAppliedIndex,
        ", ".join(resp.errors),
    ]


def run_status(ctx: Context, args: argparse.Namespace) -> int:
    done: List[Tuple[str, pb.StatusResponse]] = []
    failed = False
    for endpoint in _endpoints(ctx, args):
        try:
            done.append((endpoint, _status(ctx, endpoint, args.cluster)))
        except EtcdError as exc:
            failed = True
            err_line(
                f"Failed to get the status of endpoint {endpoint} "
                f"({error_message(exc)})"
            )
    out = ctx.out
    if ctx.format == "json":
        docs = [{"Endpoint": ep, "Status": gojson.message(resp)} for ep, resp in done]
        out.line(gojson.dumps(docs))
    elif ctx.format == "table":
        table(out, STATUS_HEADER, [status_row(ep, resp) for ep, resp in done])
    elif ctx.format == "fields":
        for ep, resp in done:
            _status_fields(ctx, ep, resp)
    else:
        simple_rows(out, [status_row(ep, resp) for ep, resp in done])
    return EXIT_ERROR if failed else 0


def _status(ctx: Context, endpoint: str, other: bool) -> pb.StatusResponse:
    if not other:
        return ctx.client.status(endpoint, timeout=ctx.timeout)
    with _client_for(ctx, endpoint) as client:
        return client.status(endpoint, timeout=ctx.timeout)


def _client_for(ctx: Context, endpoint: str) -> Client:
    one = argparse.Namespace(**vars(ctx.args))
    one.endpoints = endpoint
    return connect(one)


def _status_fields(ctx: Context, endpoint: str, resp: pb.StatusResponse) -> None:
    out = ctx.out
    header_fields(out, resp.header)
    for name, value in (
        ("Version", resp.version),
        ("DBSize", resp.dbSize),
        ("Leader", resp.leader),
        ("IsLearner", resp.isLearner),
        ("RaftIndex", resp.raftIndex),
        ("RaftTerm", resp.raftTerm),
        ("RaftAppliedIndex", resp.raftAppliedIndex),
    ):
        field(out, name, value)
    out.line(f'"Errors" : [{" ".join(resp.errors)}]')
    field(out, "Endpoint", endpoint)
    out.line()


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String() for durations under a minute."""
    nanos = round(seconds * 1e9)
    if nanos < 1000:
        return f"{nanos}ns"
    for unit, scale, digits in (("µs", 1e3, 3), ("ms", 1e6, 6), ("s", 1e9, 9)):
        if nanos < scale * 1000 or unit == "s":
            text = f"{nanos / scale:.{digits}f}".rstrip("0").rstrip(".")
            return text + unit
    raise AssertionError("unreachable")


def check_health(ctx: Context, endpoint: str) -> Dict[str, Any]:
    """ep_command.go: a linearizable get of "health" commits a proposal;
    a permission error also proves it."""
    start = time.monotonic()
    error = ""
    try:
        with _client_for(ctx, endpoint) as client:
            client.get("health", timeout=ctx.timeout)
    except PermissionDeniedError:
        pass
    except EtcdError as exc:
        error = error_message(exc)
    took = go_duration(time.monotonic() - start)
    doc: Dict[str, Any] = {"endpoint": endpoint, "health": not error, "took": took}
    if error:
        doc["error"] = error
    return doc


def run_health(ctx: Context, args: argparse.Namespace) -> None:
    results = [check_health(ctx, ep) for ep in _endpoints(ctx, args)]
    if ctx.format == "json":
        ctx.out.line(gojson.dumps(results))
    elif ctx.format == "table":
        rows = [
            [r["endpoint"], r["health"], r["took"], r.get("error", "")] for r in results
        ]
        table(ctx.out, HEALTH_HEADER, rows)
    else:
        for r in results:
            if r["health"]:
                err_line(
                    f"{r['endpoint']} is healthy: "
                    f"successfully committed proposal: took = {r['took']}"
                )
            else:
                err_line(
                    f"{r['endpoint']} is unhealthy: "
                    f"failed to commit proposal: {r['error']}"
                )
    if not all(r["health"] for r in results):
        raise CliError(EXIT_ERROR, "unhealthy cluster")
