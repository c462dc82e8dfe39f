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
import signal
from typing import Any, List

from .context import Context
from .errors import EXIT_BAD_FEATURE, EXIT_ERROR, CliError, bad_args
from .interrupts import SignalCaughtError
from .kv import show_get
from .parsing import Commands, flag
from .printers import go_quote

# etcdctl's lock --ttl default, in seconds (lock_command.go).
LOCK_TTL = 10
# etcdctl's elect session TTL, in seconds: Go's concurrency.NewSession default
# (session.go defaultSessionTTL); etcdctl 3.5 has no --ttl for elect.
ELECT_TTL = 60
# etcdctl's exit status after a command a signal ended: os.Exit(-1).
EXIT_KILLED_COMMAND = 255


def register(commands: Commands) -> None:
    lock = commands.add(
        "lock",
        "Acquires a named lock",
        run_lock,
        usage="pyetcd lock <lockname> [exec-command arg1 arg2 ...]",
    )
    lock.add_argument("--ttl", type=int, default=LOCK_TTL, help="timeout for session")
    elect = commands.add(
        "elect", "Observes and participates in leader election", run_elect
    )
    flag(elect, "-l", "--listen", help="observation mode")
    elect.add_argument("--ttl", type=int, default=ELECT_TTL, help="timeout for session")


def recipe(name: str) -> Any:
    """A class pyetcd_wire.recipes exports, or a CliError: not there yet."""
    module = importlib.import_module("pyetcd_wire.recipes")
    found = getattr(module, name, None)
    if found is None:
        raise CliError(EXIT_BAD_FEATURE, f"not yet: pyetcd_wire.recipes has no {name}")
    return found


def _session(ctx: Context, session_class: Any, ttl: int) -> Any:
    """The command's session, made while signals are caught so that a lease
    granted is never left behind.

    Raises:
        SignalCaughtError: a signal came meanwhile (the lease is revoked);
            etcdctl, which makes its session before it catches signals, dies
            of it.
    """
    session = session_class(ctx.client, ttl=ttl)
    if ctx.interrupts.received is not None:
        session.close()
        ctx.interrupts.check()
    return session


def _hold(ctx: Context, session: Any, lost: str) -> None:
    """Until a signal (then return), or until the session's lease is lost.

    Raises:
        CliError: the session was lost (with the message `lost`).
    """
    try:
        if ctx.interrupts.wait_for(session.wait_lost):
            raise CliError(EXIT_ERROR, lost)
    except SignalCaughtError:
        return


def _read_own_key(ctx: Context, key: bytes) -> Any:
    """etcdctl's Get of the lock or leader key, with the context a signal
    cancels.

    Raises:
        CliError: a signal came ("context canceled").
    """
    response = ctx.client.get(key, timeout=ctx.timeout)
    if ctx.interrupts.received is not None:
        raise CliError(EXIT_ERROR, "context canceled")
    return response


def _command_failed(code: int) -> CliError:
    """How etcdctl ends after a command that failed with exit status `code`
    (negative: ended by that signal): with the command's status, and Go's
    os.ProcessState.String() as the message, "exit status 3", or "signal:
    interrupt" and 255 for one that a signal ended (Go's ExitStatus() is -1
    then, which os.Exit makes 255)."""
    if code >= 0:
        return CliError(code, f"exit status {code}")
    name = signal.strsignal(-code) or f"signal {-code}"
    return CliError(EXIT_KILLED_COMMAND, f"signal: {name[:1].lower()}{name[1:]}")


def run_lock(ctx: Context, args: argparse.Namespace) -> None:
    """etcdctl's lockUntilSignal: a signal while waiting fails the command
    ("context canceled"); one while holding releases the lock (exit 0); one
    while the command runs is noted, and the command is waited for."""
    if not args.args:
        raise bad_args(
            "lock takes a lock name argument and an optional command to execute"
        )
    name: str = args.args[0]
    command: List[str] = args.args[1:]
    lock_class, session_class = recipe("Lock"), recipe("Session")
    with ctx.interrupts.catching(), _session(ctx, session_class, args.ttl) as session:
        lock = lock_class(session, name)
        try:
            ctx.interrupts.wait_for(lock.acquire)
        except SignalCaughtError:  # the session's revoke takes the key with it
            raise CliError(EXIT_ERROR, "context canceled") from None
        try:
            if command:
                code = _run_holding(ctx, lock, command)
            else:
                code = 0
                held = _read_own_key(ctx, lock.key)
                if not held.kvs:
                    raise CliError(EXIT_ERROR, "lock lost on init")
                show_get(ctx, held)
                ctx.out.flush()
                _hold(ctx, session, "session expired")
        finally:
            lock.release()
    if code != 0:
        raise _command_failed(code)


def _run_holding(ctx: Context, lock: Any, command: List[str]) -> int:
    """Run `command` as etcdctl does (Go's exec.Command): with ETCD_LOCK_KEY
    and ETCD_LOCK_REV, stdin from /dev/null; its exit status.

    Raises:
        CliError: it could not start (Go's message).
    """
    env = dict(os.environ, ETCD_LOCK_KEY=lock.key.decode("utf-8", "surrogateescape"))
    env["ETCD_LOCK_REV"] = str(lock.revision)
    import subprocess  # here, not at the top: only `lock` with a command runs one

    program = _look_path(command[0])
    ctx.out.flush()
    try:
        done = subprocess.run(
            command,
            executable=program,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        reason = reason[:1].lower() + reason[1:]  # Go's syscall.Errno text
        raise CliError(EXIT_ERROR, f"fork/exec {program}: {reason}") from None
    return done.returncode


def _look_path(name: str) -> str:
    """The program Go's exec.Command runs for `name`: one that is its own
    filepath.Base (no slash, or "/") is looked up by exec.LookPath; any other
    is used as it is.

    Raises:
        CliError: LookPath found no program (with its message).
    """
    if name == "/":  # LookPath checks a name with a slash itself: no program
        raise CliError(EXIT_ERROR, f"exec: {go_quote(name)}: permission denied")
    if "/" in name or not name:
        return name
    import shutil  # here: only lock and elect with a command need it

    found = shutil.which(name)
    if not found:
        reason = "executable file not found in $PATH"
        raise CliError(EXIT_ERROR, f"exec: {go_quote(name)}: {reason}")
    return found


def run_elect(ctx: Context, args: argparse.Namespace) -> None:
    if len(args.args) not in (1, 2):
        raise bad_args(
            "elect takes one election name argument and an optional proposal argument"
        )
    if len(args.args) == 1 and not args.listen:
        raise bad_args("no proposal argument but -l not set")
    if len(args.args) == 2 and args.listen:
        raise bad_args("proposal given but -l is set")
    election_class, session_class = recipe("Election"), recipe("Session")
    with ctx.interrupts.catching(), _session(ctx, session_class, args.ttl) as session:
        election = election_class(session, args.args[0])
        if args.listen:
            _observe(ctx, election)
        else:
            _campaign(ctx, session, election, args.args[1])


def _observe(ctx: Context, election: Any) -> None:
    """etcdctl's observe(): print each leader until a signal (exit 0).

    Raises:
        CliError: the observation ended without a signal.
    """
    with election.observe() as leaders, ctx.interrupts.catching(leaders.close):
        for resp in leaders:
            show_get(ctx, resp)
            ctx.out.flush()
    if ctx.interrupts.received is None:
        raise CliError(EXIT_ERROR, "elect: observer lost")


def _campaign(ctx: Context, session: Any, election: Any, proposal: str) -> None:
    """etcdctl's campaign(): a signal while campaigning fails the command
    ("context canceled"; the session's revoke withdraws the candidacy); once
    elected, a signal resigns (exit 0).

    Raises:
        CliError: interrupted before leading, or the session was lost.
    """
    try:
        ctx.interrupts.wait_for(lambda: election.campaign(proposal))
    except SignalCaughtError:
        raise CliError(EXIT_ERROR, "context canceled") from None
    show_get(ctx, _read_own_key(ctx, election.key))
    ctx.out.flush()
    _hold(ctx, session, "elect: session expired")
    election.resign(timeout=ctx.timeout)
