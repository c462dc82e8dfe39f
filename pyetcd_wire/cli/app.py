"""`main`: parse, run one command, turn its failure into etcdctl's
"Error: ..." line and exit code."""

from __future__ import annotations

import importlib
import sys
from typing import List, Optional, Sequence

from ..errors import EtcdError
from .context import Context
from .errors import EXIT_ERROR, EXIT_IO, EXIT_SIGINT, CliError, error_message, exit_code
from .interrupts import Interrupts, SignalCaughtError
from .output import err_line, silence_stdout
from .parsing import Commands, first_word, parse_leaf, split_globals

SUMMARY = "A simple command line client for etcd3 (etcdctl-compatible)."

#: The command modules, in the order of `pyetcd --help`, with the first word
#: of each of their commands: a command line imports the module of its own
#: command only (tests/cli checks this against what each module registers).
COMMAND_MODULES = {
    "kv": ("get", "put", "del", "compaction"),
    "txn": ("txn",),
    "watch": ("watch",),
    "lease": ("lease",),
    "cluster": ("member", "endpoint"),
    "maintenance": ("alarm", "defrag", "snapshot", "version"),
    "auth": ("auth", "user", "role"),
    "recipes": ("lock", "elect"),
}


def build(first: Optional[str] = None) -> Commands:
    """The command tree: the commands of the module that has `first` (a
    command line's first word), or, for any other word or none, all."""
    root = Commands(summary=SUMMARY)
    names = [m for m, words in COMMAND_MODULES.items() if first in words]
    for name in names or COMMAND_MODULES:
        importlib.import_module(f".{name}", __package__).register(root)
    root.summaries["dev"] = "Runs a throwaway local etcd (or cluster) until Ctrl-C"
    root.summaries["demo"] = "A tour of pyetcd-wire against a throwaway local etcd"
    root.summaries["bundle"] = "Writes pyetcd-wire as one file (.py) and a zipapp"
    return root


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command line (without the program name); returns the exit
    status.  `pyetcd` and `python -m pyetcd_wire` call it without `argv`:
    then it owns the process, and a signal ends it as it ends etcdctl
    (interrupts.py): at once, or after the command cleaned up; given `argv`,
    it returns 128 + the signal's number instead."""
    words: List[str] = list(sys.argv[1:] if argv is None else argv)
    if words[:1] in (["demo"], ["dev"], ["bundle"]):
        return _delegate(words)
    with Interrupts(owns_process=argv is None) as interrupts:
        try:
            return _run(words, interrupts)
        except SignalCaughtError as exc:
            signum = exc.signum
    interrupts.die()
    return 128 + signum


def _run(words: List[str], interrupts: Interrupts) -> int:
    """Parse and run; each failure but `SignalCaughtError` is an exit code."""
    ctx: Optional[Context] = None
    try:
        global_args, rest = split_globals(words)
        if rest == ["--version"]:  # etcdctl has no such flag; Python's tools do
            rest = ["version"]
        leaf, group, rest = build(first_word(rest)).resolve(rest)
        if leaf is None:
            return _group_help(group, rest)
        parser, run = leaf
        try:
            args = parse_leaf(parser, rest, global_args)
        except SystemExit as exc:  # --help
            return int(exc.code or 0)
        ctx = Context(args, interrupts)
        return run(ctx, args) or 0
    except CliError as exc:
        _flush(ctx)
        err_line(f"Error: {exc.message}")
        return exc.code
    except EtcdError as exc:
        _flush(ctx)
        err_line(f"Error: {error_message(exc)}")
        return exit_code(exc)
    except KeyboardInterrupt:  # Python's handler: `main` was given `argv`
        _flush(ctx)
        return EXIT_SIGINT
    except BrokenPipeError:  # stdout's reader is gone: nothing left to say
        silence_stdout()
        return EXIT_IO
    finally:
        if ctx is not None:
            ctx.close()


def _delegate(words: List[str]) -> int:
    """`dev`, `demo` and `bundle` own their flags and their messages."""
    try:
        if words[0] == "dev":
            from ..cli_dev import run as dev

            return dev(words[1:])
        if words[0] == "bundle":
            from .bundle import run as bundle

            return bundle(words[1:])
        from .._demo import main as demo

        return demo(words)
    except SystemExit as exc:  # their --help, or an argparse error
        return exc.code if isinstance(exc.code, int) else 2
    except ModuleNotFoundError as exc:  # the single-file bundle leaves them out
        if not (exc.name or "").startswith("pyetcd_wire."):
            raise
        err_line(
            f"Error: pyetcd {words[0]} is not part of the single-file bundle;"
            " install the pyetcd-wire package for it"
        )
        return 1


def _flush(ctx: Optional[Context]) -> None:
    if ctx is not None:
        ctx.out.flush()


def _group_help(group: Commands, rest: List[str]) -> int:
    """A group named without a command (or with --help): its help, as cobra
    prints it, exit 0; after the error, exit 1, for a flag it does not know
    (as etcdctl)."""
    unknown = [word for word in rest if word not in ("-h", "--help")]
    if unknown:
        err_line(f"Error: unknown flag: {unknown[0].split('=')[0]}")
    sys.stdout.write(group.help_text() + "\n")
    return EXIT_ERROR if unknown else 0
