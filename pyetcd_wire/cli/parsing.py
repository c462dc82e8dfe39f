"""The command tree: leaf commands with argparse parsers of their own.

etcdctl (cobra) accepts global flags anywhere and intermixes positional
arguments with flags (`put k --lease=1 v`), up to a `--`, after which every
word is a positional argument (`lock name --ttl 5 -- cmd -x`).  argparse's
subparsers do neither, so dispatch is ours: one pass pulls the global flags
out of the whole command line, the first words pick a leaf command, and the
leaf's own parser reads the rest up to the `--` with `parse_intermixed_args`.

Only the leaf that runs gets a parser: each command records its flags
(`Leaf.add_argument`), and the parser is built from them when the command
line picks the leaf.  Building the parsers of all forty-odd commands cost
more than the rest of the command line's start-up before the client.
"""

from __future__ import annotations

import argparse
from typing import (
    Any,
    Callable,
    Dict,
    List,
    NoReturn,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    TypeVar,
)

from .context import Context
from .errors import EXIT_ERROR, CliError, bad_args, go_parse_error
from .flags import add_global_flags

Run = Callable[[Context, argparse.Namespace], Optional[int]]
PROG = "pyetcd"


class Flags(Protocol):
    """What a command's flags are added to: a `Leaf`, or a parser."""

    def add_argument(self, *names: str, **kwargs: Any) -> Any: ...


F = TypeVar("F", bound=Flags)


class _Formatter(argparse.HelpFormatter):
    """argparse's help at a fixed 80 columns, as cobra's (etcdctl's) is:
    argparse makes a formatter for every flag it adds, to check it, and the
    default width asks shutil for the terminal's, an import (zlib, bz2,
    lzma) that cost the command line's start-up more than its parsing."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=80)


class Parser(argparse.ArgumentParser):
    """argparse that raises CliError (etcdctl's wording, exit 1) instead of
    printing usage and exiting 2, with help at 80 columns (`_Formatter`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            message = "unknown flag: " + message[len(prefix) :].split()[0]
        raise CliError(EXIT_ERROR, message)


class Leaf:
    """One command: what runs it, and its flags, recorded until `parser`
    builds its parser.  Positional arguments land in `args.args` (commands
    check their count, with etcdctl's messages)."""

    def __init__(self, prog: str, summary: str, run: Run, usage: str) -> None:
        self.prog = prog
        self.summary = summary
        self.run = run
        self.usage = usage
        self._flags: List[Tuple[Tuple[str, ...], Dict[str, Any]]] = []

    def add_argument(self, *names: str, **kwargs: Any) -> None:
        """A flag, as argparse's `add_argument` takes it."""
        self._flags.append((names, kwargs))

    def parser(self) -> Parser:
        parser = Parser(
            prog=self.prog,
            description=self.summary,
            usage=self.usage or None,
            allow_abbrev=False,
        )
        parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
        add_global_flags(parser)
        for names, kwargs in self._flags:
            parser.add_argument(*names, **kwargs)
        return parser


class Commands:
    """A group of commands (the root, or `lease`, `member`, ...)."""

    def __init__(self, path: Tuple[str, ...] = (), summary: str = "") -> None:
        self.path = path
        self.summary = summary
        self.leaves: Dict[str, Leaf] = {}
        self.groups: Dict[str, Commands] = {}
        self.summaries: Dict[str, str] = {}

    def add(self, name: str, summary: str, run: Run, usage: str = "") -> Leaf:
        """A leaf command; returns it, for its flags."""
        leaf = Leaf(" ".join((PROG, *self.path, name)), summary, run, usage)
        self.leaves[name] = leaf
        self.summaries[name] = summary
        return leaf

    def group(self, name: str, summary: str) -> Commands:
        group = Commands((*self.path, name), summary)
        self.groups[name] = group
        self.summaries[name] = summary
        return group

    def help_text(self) -> str:
        name = " ".join((PROG, *self.path))
        lines = [f"NAME:\n\t{name} - {self.summary}", "", "USAGE:"]
        lines.append(f"\t{name} <command> [options] [arguments]")
        lines += ["", "COMMANDS:"]
        width = max(len(n) for n in self.summaries)
        lines += [f"\t{n:<{width}}  {s}" for n, s in self.summaries.items()]
        lines += ["", f"Run '{name} <command> --help' for a command's options."]
        return "\n".join(lines)

    def resolve(
        self, words: List[str]
    ) -> Tuple[Optional[Tuple[Parser, Run]], Commands, List[str]]:
        """The leaf command `words` start with, the group it is in, and the
        remaining words; no leaf if `words` stop at a group."""
        commands, rest = self, list(words)
        while True:
            index = _first_word_index(rest)
            if index is None:
                return None, commands, rest
            word = rest[index]
            remaining = rest[:index] + rest[index + 1 :]
            if word in commands.groups:
                commands, rest = commands.groups[word], remaining
                continue
            if word in commands.leaves:
                leaf = commands.leaves[word]
                return (leaf.parser(), leaf.run), commands, remaining
            where = " ".join((PROG, *commands.path))
            raise CliError(
                EXIT_ERROR,
                f'unknown command "{word}" for "{where}"\n'
                f"Run '{where} --help' for usage.",
            )


def _first_word_index(words: Sequence[str]) -> Optional[int]:
    for index, word in enumerate(words):
        if word == "--":
            return None
        if not word.startswith("-"):
            return index
    return None


def first_word(words: Sequence[str]) -> Optional[str]:
    """The first word that is not a flag (before any `--`): the command."""
    index = _first_word_index(words)
    return None if index is None else words[index]


def parse_leaf(
    parser: Parser, words: List[str], into: argparse.Namespace
) -> argparse.Namespace:
    """The leaf command's arguments, added to the global ones; the words
    after the first `--` are positional arguments as they are (argparse's
    own `--` handling differs between its parse modes, and refuses some)."""
    if "--" not in words:
        return parser.parse_intermixed_args(words, namespace=into)
    cut = words.index("--")
    args = parser.parse_intermixed_args(words[:cut], namespace=into)
    args.args += words[cut + 1 :]
    return args


def split_globals(argv: Sequence[str]) -> Tuple[argparse.Namespace, List[str]]:
    """The global flags, wherever they are, and everything else in order."""
    parser = Parser(prog=PROG, add_help=False, allow_abbrev=False)
    add_global_flags(parser)
    return parser.parse_known_args(list(argv))


def go_int(text: str) -> int:
    """A decimal argument; etcdctl reports a malformed one as strconv does."""
    try:
        return int(text)
    except ValueError:
        raise CliError(EXIT_ERROR, go_parse_error("ParseInt", text)) from None


def go_bool(text: str) -> bool:
    """A Go bool flag's value (strconv.ParseBool)."""
    lowered = text.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def add_bool_flag(parser: Flags, flag: str, default: bool, help: str) -> None:
    """A flag given as `--flag`, `--flag=true` or `--flag=false`, as cobra's."""
    parser.add_argument(
        flag, type=go_bool, nargs="?", const=True, default=default, help=help
    )


def flag(parser: F, *names: str, help: str) -> F:
    """A boolean flag (`--prefix`), false unless given; returns `parser`."""
    parser.add_argument(*names, action="store_true", help=help)
    return parser


def hex_id(args: argparse.Namespace, missing: str, what: str, go_func: str) -> int:
    """The one argument, a hexadecimal lease or member ID, with etcdctl's
    messages for a missing or malformed one."""
    if len(args.args) != 1:
        raise bad_args(missing)
    try:
        return int(args.args[0], 16)
    except ValueError:
        raise bad_args(
            f"bad {what} ID arg ({go_parse_error(go_func, args.args[0])}), "
            "expecting ID in Hex"
        ) from None
