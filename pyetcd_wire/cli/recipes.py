"""lock and elect over the public recipes (lock_command.go,
elect_command.go of etcdctl 3.5), so a `pyetcd lock` and an `etcdctl lock`
exclude each other.

The recipes are looked up by name in `pyetcd_wire.recipes` when a command
runs: until that package exports `Lock` and `Election`, the commands say
they are not available yet.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import threading
from typing import Any, List

from .context import Context
from .errors import EXIT_BAD_FEATURE, EXIT_ERROR, CliError, bad_args
from .kv import show_get
from .parsing import Commands, flag

# etcdctl's default --ttl for lock and elect sessions, in seconds.
DEFAULT_TTL = 10


def register(commands: Commands) -> None:
    lock = commands.add(
        "lock",
        "Acquires a named lock",
        run_lock,
        usage="pyetcd lock <lockname> [exec-command arg1 arg2 ...]",
        rest=True,
    )
    lock.add_argument(
        "--ttl", type=int, default=DEFAULT_TTL, help="timeout for session"
    )
    elect = commands.add(
        "elect", "Observes and participates in leader election", run_elect
    )
    flag(elect, "-l", "--listen", help="observation mode")
    elect.add_argument(
        "--ttl", type=int, default=DEFAULT_TTL, help="timeout for session"
    )


def recipe(name: str) -> Any:
    """A class pyetcd_wire.recipes exports, or a CliError: not there yet."""
    module = importlib.import_module("pyetcd_wire.recipes")
    found = getattr(module, name, None)
    if found is None:
        raise CliError(EXIT_BAD_FEATURE, f"not yet: pyetcd_wire.recipes has no {name}")
    return found


def _hold(session: Any) -> None:
    """Until Ctrl-C, or until the session's lease is lost."""
    wait_lost = getattr(session, "wait_lost", None)
    if wait_lost is not None:
        wait_lost()
    else:
        threading.Event().wait()


def run_lock(ctx: Context, args: argparse.Namespace) -> None:
    if not args.args:
        raise bad_args(
            "lock takes a lock name argument and an optional command to execute"
        )
    name: str = args.args[0]
    command: List[str] = args.args[1:]
    if command[:1] == ["--"]:
        command = command[1:]
    lock_class, session_class = recipe("Lock"), recipe("Session")
    with session_class(ctx.client, ttl=args.ttl) as session:
        lock = lock_class(session, name)
        with lock:
            if not command:
                ctx.out.line(lock.key)
                ctx.out.flush()
                _hold(session)
                return
            env = dict(
                os.environ, ETCD_LOCK_KEY=lock.key.decode("utf-8", "surrogateescape")
            )
            env["ETCD_LOCK_REV"] = str(lock.revision)
            ctx.out.flush()
            code = subprocess.run(command, env=env, check=False).returncode
    if code != 0:
        raise CliError(EXIT_ERROR, f"exit status {code}")


def run_elect(ctx: Context, args: argparse.Namespace) -> None:
    if len(args.args) != (1 if args.listen else 2):
        raise bad_args(
            "elect takes one election name argument and one proposal argument."
        )
    election_class, session_class = recipe("Election"), recipe("Session")
    with session_class(ctx.client, ttl=args.ttl) as session:
        election = election_class(session, args.args[0])
        if args.listen:
            with election.observe() as leaders:
                for resp in leaders:
                    show_get(ctx, resp)
                    ctx.out.flush()
            return
        election.campaign(args.args[1])
        show_get(ctx, ctx.client.get(election.key, timeout=ctx.timeout))
        ctx.out.flush()
        try:
            _hold(session)
        finally:
            election.resign(timeout=ctx.timeout)
