"""The code blocks of README.md and docs/*.md, and the markers that say how
each one runs (the doc-test session: `nox -s docs`, docs/testing.md).

A fenced block whose language is ``python``, ``bash``, ``sh``, ``shell`` or
``console`` is a doc test; its id is ``<page>:<line of the opening fence>``.
An HTML comment right before the fence (blank lines between are allowed)
gives the block's markers::

    <!-- doc-test: skip reason="runs until Ctrl-C" -->
    <!-- doc-test: cluster=3 raises=CompactedError -->

and ``<!-- doc-test-page: ... -->`` anywhere on a page gives every block of
the page a marker (a block's own marker wins).  `MARKERS` lists them all;
an unknown one, or a ``skip`` without a reason, fails the block's test.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]

#: The languages that run: Python, and shell commands.
PYTHON = ("python",)
SHELL = ("bash", "sh", "shell", "console")

#: Every marker and what it means (docs/testing.md repeats this table).
MARKERS: Dict[str, str] = {
    "skip": "do not run the block; needs reason=",
    "reason": "why the block is skipped (or its output ignored)",
    "raises": "Python: the block must raise this exception (a class name in its MRO)",
    "exit": "shell: the exit status every command must end with (default 0)",
    "cluster": "3: run against a three-member etcd (127.0.0.1:2379, :22379, :32379)",
    "endpoints": "comma-separated addresses that stand for the test etcd's members",
    "tls": "an etcd serving TLS (tls=mutual: asking for client certificates); "
    "/etc/etcd/ca.pem, client.pem and client-key.pem stand for test certificates",
    "own-process": "Python: run the block alone in a new interpreter (e.g. gevent)",
    "fresh": "Python: start a new namespace instead of continuing the page's",
    "pytest": "Python: the block is a test file; pytest must pass it, skipping nothing",
    "setup": "hidden code run first, in the block's language (files the block needs)",
    "output": "shell: 'ignore' to run the commands but not compare their output",
    "interrupt": "shell: each command runs until it printed the shown output (with a "
    "value: a line holding that text), then gets Ctrl-C and must exit 0",
    "free-port": "this port number in the block becomes a free one (to bind); with "
    "background, for the rest of the page too",
    "background": "shell: like interrupt, but the command is left running until the "
    "page ends (a server the page's next blocks use)",
    "cwd": "shell: 'repo' runs the commands from the repository root",
    "timeout": "seconds the block may take (default 60)",
}

#: Markers that take no value.
FLAGS = {"skip", "own-process", "fresh", "pytest"}
#: Markers that may come with or without a value.
OPTIONAL = {"interrupt", "tls", "background"}

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*doc-test(-page)?:(.*?)-->\s*$")


@dataclass
class Block:
    page: str  # relative to the repository root
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    markers: Dict[str, str] = field(default_factory=dict)
    errors: List[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def first_line(self) -> int:
        """The page's line number of the block's first code line."""
        return self.line + 1


def parse_markers(text: str) -> Tuple[Dict[str, str], List[str]]:
    """``key=value`` pairs (values may be quoted, shell-style) and flags."""
    markers: Dict[str, str] = {}
    errors: List[str] = []
    try:
        words = shlex.split(text)
    except ValueError as exc:
        return markers, [f"bad doc-test marker {text!r}: {exc}"]
    for word in words:
        key, eq, value = word.partition("=")
        if key not in MARKERS:
            errors.append(
                f"unknown doc-test marker {key!r} (known: {', '.join(MARKERS)})"
            )
        elif key in FLAGS and eq:
            errors.append(f"doc-test marker {key!r} takes no value")
        elif key not in FLAGS | OPTIONAL and not eq:
            errors.append(f"doc-test marker {key!r} needs a value ({key}=...)")
        markers[key] = value if eq else ""
    return markers, errors


def check(block: Block) -> List[str]:
    """What is wrong with the block's markers."""
    errors = list(block.errors)
    m = block.markers
    if "skip" in m and not m.get("reason", "").strip():
        errors.append('a skipped block needs a reason: skip reason="..."')
    if m.get("output", "ignore") != "ignore":
        errors.append("output= takes only 'ignore'")
    if m.get("cluster", "3") != "3":
        errors.append("cluster= takes only 3")
    if m.get("tls", "") not in ("", "mutual"):
        errors.append("tls takes no value or 'mutual'")
    if "tls" in m and "cluster" in m:
        errors.append("tls and cluster=3 do not go together (yet)")
    if m.get("cwd", "repo") != "repo":
        errors.append("cwd= takes only 'repo'")
    lang_only = dict.fromkeys(("raises", "own-process", "fresh", "pytest"), PYTHON)
    shell_only = ("exit", "output", "interrupt", "background", "cwd")
    lang_only.update(dict.fromkeys(shell_only, SHELL))
    for key, langs in lang_only.items():
        if key in m and block.lang not in langs:
            errors.append(f"doc-test marker {key!r} is not for {block.lang} blocks")
    return errors


def parse_page(path: Path, root: Path = ROOT) -> List[Block]:
    """Every runnable fenced block of a Markdown page, with its markers."""
    rel = path.relative_to(root).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    page_markers: Dict[str, str] = {}
    page_errors: List[str] = []
    blocks: List[Block] = []
    pending: Optional[Tuple[Dict[str, str], List[str]]] = None
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = _MARKER.match(line)
        fence = _FENCE.match(line)
        if marker:
            parsed = parse_markers(marker.group(2))
            if marker.group(1):
                page_markers.update(parsed[0])
                page_errors.extend(parsed[1])
            else:
                pending = parsed
        elif fence:
            indent, ticks, lang = fence.groups()
            body: List[str] = []
            j = i + 1
            closing = re.compile(f"{re.escape(ticks[0])}{{{len(ticks)},}}")
            while j < len(lines) and not closing.fullmatch(lines[j].strip()):
                body.append(
                    lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j]
                )
                j += 1
            if lang in PYTHON + SHELL:
                own, errors = pending if pending else ({}, [])
                blocks.append(
                    Block(
                        rel,
                        i + 1,
                        lang,
                        "\n".join(body) + "\n",
                        dict(own),
                        list(errors),
                    )
                )
            elif pending:
                blocks.append(
                    Block(
                        rel,
                        i + 1,
                        lang or "text",
                        "",
                        {},
                        ["doc-test marker on a block that does not run"],
                    )
                )
            pending = None
            i = j
        elif line.strip() and pending is not None:
            pending = None  # a marker must be right before its fence
            page_errors.append(
                f"{rel}:{i}: doc-test marker not followed by a code block"
            )
        i += 1
    for block in blocks:
        block.markers = {**page_markers, **block.markers}
        block.errors = page_errors + block.errors
    return blocks


def pages(root: Path = ROOT) -> List[Path]:
    """README.md and every page of docs/, in a fixed order."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def all_blocks(root: Path = ROOT) -> List[Block]:
    return [block for page in pages(root) for block in parse_page(page, root)]


# --- shell blocks ---------------------------------------------------------


@dataclass
class Command:
    line: int  # the page's line of the command
    command: str
    output: List[str]  # the lines the doc shows after it (console only)


def shell_commands(block: Block) -> List[Command]:
    """A console block's ``$ `` commands with the output shown after each; in
    a block without prompts, every line (joined at trailing backslashes) is a
    command with no output shown."""
    lines = block.code.splitlines()
    prompted = any(line.startswith("$ ") for line in lines)
    commands: List[Command] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        number = block.first_line + i
        i += 1
        if prompted and not line.startswith("$ "):
            if commands:
                commands[-1].output.append(line)
            continue
        text = line[2:] if prompted else line
        while text.endswith("\\") and i < len(lines):
            text = text[:-1] + "\n" + lines[i]
            i += 1
        if text.strip() and not text.strip().startswith("#"):
            commands.append(Command(number, text, []))
    for command in commands:
        while command.output and not command.output[-1].strip():
            command.output.pop()
    return commands


# An ID: 8 or more hex digits, at least one of them a digit (a lease ID may
# hold no letter; a long decimal number is an ID too).
_HEX = re.compile(r"\b(?=[0-9a-f]*[0-9])[0-9a-f]{8,}\b")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"[ \t]+")
_DASHES = re.compile(r"-{2,}")


def normalize(line: str) -> str:
    """A line of output with what varies from run to run blurred: IDs in hex,
    numbers (ports, revisions, PIDs), and the padding that depends on them."""
    line = _HEX.sub("H", line.rstrip())
    line = _DIGITS.sub("0", line)
    line = _DASHES.sub("-", line)
    return _SPACE.sub(" ", line)


def output_matches(shown: List[str], actual: List[str]) -> bool:
    """The doc's output against what the command printed, line by line after
    `normalize`; ``...`` in a shown line matches any text, and a shown line
    that is only ``...`` matches any number of lines."""
    pattern = []
    for line in shown:
        if line.strip() == "...":
            pattern.append(r"(?:[^\n]*\n)*?")
            continue
        parts = [re.escape(part) for part in normalize(line).split("...")]
        pattern.append(r"[^\n]*?".join(parts) + r"\n")
    text = "".join(normalize(line) + "\n" for line in actual)
    return re.fullmatch("".join(pattern), text) is not None
