"""alarm, defrag, snapshot save, version (alarm_command.go,
defrag_command.go, snapshot_command.go, version_command.go of etcdctl 3.5)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import TYPE_CHECKING, Iterator

from .. import __version__
from ..errors import EtcdError
from . import gojson
from .cluster import _client_for, _endpoints
from .context import Context
from .errors import EXIT_ERROR, bad_args, error_message
from .output import err_line
from .parsing import Commands, flag
from .printers import humanize_bytes

if TYPE_CHECKING:
    from .._proto import rpc_pb2 as pb

# The etcd API this command line speaks (etcdctl 3.5's "API version").
API_VERSION = "3.5"


def register(commands: Commands) -> None:
    alarm = commands.group("alarm", "Alarm related commands")
    alarm.add("disarm", "Disarms all alarms", run_alarm_disarm)
    alarm.add("list", "Lists all alarms", run_alarm_list)
    defrag = commands.add(
        "defrag",
        "Defragments the storage of the etcd members with given endpoints",
        run_defrag,
    )
    flag(defrag, "--cluster", help="use all endpoints from the cluster member list")
    snapshot = commands.group("snapshot", "Manages etcd node snapshots")
    snapshot.add(
        "save",
        "Stores an etcd node backend snapshot to a given file",
        run_snapshot_save,
    )
    commands.add("version", "Prints the version of pyetcd", run_version)


def show_alarms(ctx: Context, resp: pb.AlarmResponse) -> None:
    if ctx.format == "json":
        ctx.out.line(gojson.dumps(gojson.message(resp)))
        return
    from .._proto import rpc_pb2

    for alarm in resp.alarms:  # Go's %+v of the gogo struct
        name = rpc_pb2.AlarmType.Name(alarm.alarm)
        ctx.out.line(f"memberID:{alarm.memberID} alarm:{name} ")


def run_alarm_list(ctx: Context, args: argparse.Namespace) -> None:
    if args.args:
        raise bad_args("alarm list command accepts no arguments")
    show_alarms(ctx, ctx.client.alarm_list(timeout=ctx.timeout))


def run_alarm_disarm(ctx: Context, args: argparse.Namespace) -> None:
    if args.args:
        raise bad_args("alarm disarm command accepts no arguments")
    show_alarms(ctx, ctx.client.alarm_disarm(0, "none", timeout=ctx.timeout))


def run_defrag(ctx: Context, args: argparse.Namespace) -> int:
    failed = False
    for endpoint in _endpoints(ctx, args):
        try:
            with _client_for(ctx, endpoint) as client:
                client.defragment(endpoint, timeout=ctx.timeout)
        except EtcdError as exc:
            failed = True
            err_line(
                f"Failed to defragment etcd member[{endpoint}] ({error_message(exc)})"
            )
            continue
        ctx.out.line(f"Finished defragmenting etcd member[{endpoint}]")
    return EXIT_ERROR if failed else 0


def run_snapshot_save(ctx: Context, args: argparse.Namespace) -> None:
    if len(args.args) != 1:
        raise bad_args("snapshot save expects one argument")
    path = args.args[0]
    endpoints = ctx.client.endpoints
    if len(endpoints) != 1:
        raise bad_args(
            "snapshot must be requested to one selected node, "
            f"not multiple {list(endpoints)}"
        )
    if sys.stderr.isatty():
        _save_with_progress(ctx, path)
    else:
        ctx.client.snapshot_save(path, timeout=None)
    ctx.out.line(f"Snapshot saved at {path}")


def _save_with_progress(ctx: Context, path: str) -> None:
    """snapshot_save, plus a progress line on the terminal."""
    received = 0

    def counted() -> Iterator[bytes]:
        nonlocal received
        with contextlib.closing(ctx.client.snapshot(timeout=None)) as blobs:
            for blob in blobs:
                received += len(blob)
                sys.stderr.write(f"\rdownloading snapshot: {humanize_bytes(received)}")
                sys.stderr.flush()
                yield blob

    part = path + ".part"
    try:
        with open(part, "wb") as file:
            for blob in counted():
                file.write(blob)
            os.fsync(file.fileno())
        os.replace(part, path)
    finally:
        sys.stderr.write("\n")
        with contextlib.suppress(OSError):
            os.unlink(part)


def run_version(ctx: Context, args: argparse.Namespace) -> None:
    ctx.out.line(f"pyetcd version: {__version__}")
    ctx.out.line(f"API version: {API_VERSION}")
