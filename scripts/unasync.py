#!/usr/bin/env python3
"""Write the sync twins of the asyncio modules: the asyncio code is the one
source, as in httpcore.

    python scripts/unasync.py          # write every twin
    python scripts/unasync.py --check  # exit 1 if a twin is not current

Sources and twins (`PAIRS`): the client's facades (``pyetcd_wire/_async/``
kv_calls.py, admin.py, watch_lease_calls.py, one-line methods over the driver's
hooks) and every recipe (``pyetcd_wire/recipes/_async/*.py``), each written
to the same name under ``_sync/``.

A twin is its source with the asyncio spelled out of it: in the code (not
in docstrings and comments) ``async def`` → ``def``, ``await x`` → ``x``,
``async with`` / ``async for`` → ``with`` / ``for``; everywhere
``Awaitable[T]`` → ``T``, ``_async`` packages → ``_sync``, and the names in
`NAMES` (``AsyncClient`` → ``Client``, ``__aenter__`` → ``__enter__``,
``import asyncio`` → ``import time``, ...) as whole words.  A source uses
asyncio only through what `NAMES` maps, so its twin never needs a loop.
Prose that differs between the twins names "the sync client" and "the
asyncio client".  Two markers, in comments:

* lines between ``# unasync: async only (begin)`` and ``(end)`` are left out
  of the twin;
* ``# unasync: sync only: CODE`` becomes ``CODE`` in the twin (what only the
  sync side does, such as I/O in a constructor).

The twin's docstring starts with the line saying it is generated, and from
what.  Every rule must be used by some source: ``--check`` (and a write)
fails on one that matched nothing, as on a stale twin or a twin without a
source.
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pyetcd_wire"
#: (source folder, twin folder, the sources: None for every module there).
PAIRS: List[Tuple[Path, Path, List[str] | None]] = [
    (
        PACKAGE / "_async",
        PACKAGE / "_sync",
        ["kv_calls.py", "admin.py", "watch_lease_calls.py"],
    ),
    (PACKAGE / "recipes" / "_async", PACKAGE / "recipes" / "_sync", None),
]
BEGIN = "# unasync: async only (begin)"
END = "# unasync: async only (end)"
SYNC_ONLY = re.compile(r"^(\s*)# unasync: sync only: (.*)$")

#: Whole words replaced, in this order (longest first where they overlap).
NAMES = {
    "AsyncClient": "Client",
    "AsyncKVCalls": "KVCalls",
    "AsyncAdminCalls": "AdminCalls",
    "AsyncWatchLeaseCalls": "WatchLeaseCalls",
    "AsyncStreamWorker": "StreamWorker",
    "AsyncSession": "Session",
    "AsyncLock": "Lock",
    "AsyncElection": "Election",
    "AsyncNamespace": "Namespace",
    "AsyncMirror": "Mirror",
    "AsyncSTM": "STM",
    "AsyncWatch": "Watch",
    "AsyncKeepAlive": "KeepAlive",
    "AsyncIterator": "Iterator",
    "async_stm": "stm",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "StopAsyncIteration": "StopIteration",
    "aclose": "close",
    "import asyncio": "import time",
}
_NAME = re.compile(
    "|".join(rf"(?<!\w){re.escape(old)}\b" for old in NAMES), flags=re.MULTILINE
)
#: Keywords dropped from the code (never from docstrings or comments: prose
#: may speak of ``async with``).
KEYWORDS = ["async def", "async with", "async for", "await"]
#: (what a rule is called in a report, pattern, replacement), in order.
_REWRITES: List[Tuple[str, re.Pattern[str], str]] = [
    ("Awaitable[T]", re.compile(r"\bAwaitable\[(\w+)\]"), r"\1"),
    ("_async package", re.compile(r"(?<=\.)_async\."), "_sync."),
]


class Twins:
    """Writes twins, counting what each rule matched."""

    def __init__(self) -> None:
        self.used: Dict[str, int] = dict.fromkeys(
            [
                *KEYWORDS,
                *(name for name, _, _ in _REWRITES),
                *NAMES,
                BEGIN,
                "sync only",
            ],
            0,
        )
        self.grammar = set(KEYWORDS)  # always applied: not rules to use

    def twin(self, source: Path) -> str:
        lines = []
        skipping = False
        for line in source.read_text().splitlines():
            if line.strip() == BEGIN:
                skipping = True
                self.used[BEGIN] += 1
            elif line.strip() == END:
                skipping = False
            elif not skipping:
                code, found = SYNC_ONLY.subn(r"\1\2", line)
                self.used["sync only"] += found
                lines.append(code)
        text = self._without_keywords("\n".join(lines) + "\n")
        for name, pattern, replacement in _REWRITES:
            text, found = pattern.subn(replacement, text)
            self.used[name] += found

        def rename(match: re.Match[str]) -> str:
            self.used[match.group(0)] += 1
            return NAMES[match.group(0)]

        text = _without_repeated_imports(_NAME.sub(rename, text))
        shown = source.relative_to(ROOT)
        assert text.startswith('"""'), f"{shown}: a module docstring comes first"
        header = (
            f'"""Generated by scripts/unasync.py from {shown}:\n'
            "do not edit; change the asyncio source and run the script.\n\n"
        )
        return header + text[3:]

    def _without_keywords(self, text: str) -> str:
        """`text` with ``async`` (before def, with, for) and ``await`` taken
        out of the code, each with the space after it."""
        lines = text.splitlines(keepends=True)
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
        cuts: List[Tuple[int, int, int]] = []  # (row, from column, to column)
        for token, after in zip(tokens, tokens[1:]):
            if token.type != tokenize.NAME:
                continue
            if token.string == "await":
                rule = "await"
            elif token.string == "async" and after.string in ("def", "with", "for"):
                rule = f"async {after.string}"
            else:
                continue
            assert token.start[0] == after.start[0], f"line {token.start[0]}"
            cuts.append((token.start[0], token.start[1], after.start[1]))
            self.used[rule] += 1
        for row, start, end in reversed(cuts):  # right to left within a line
            line = lines[row - 1]
            lines[row - 1] = line[:start] + line[end:]
        return "".join(lines)

    def unused(self) -> List[str]:
        return [
            name
            for name, count in self.used.items()
            if not count and name not in self.grammar
        ]


def _without_repeated_imports(text: str) -> str:
    """`import asyncio` became `import time`, which the source may import
    too: keep the first."""
    seen, out = set(), []
    for line in text.splitlines(keepends=True):
        if line.startswith("import "):
            if line in seen:
                continue
            seen.add(line)
        out.append(line)
    return "".join(out)


def formatted(text: str, path: Path) -> str:
    """`text` without the imports the twin no longer uses, as `ruff format`
    leaves it (the lint session checks the files)."""
    for command in (
        ["ruff", "check", "--fix", "--select", "F401,I001", "--exit-zero", "-q"],
        ["ruff", "format"],
    ):
        text = subprocess.run(
            [*command, "--stdin-filename", str(path.relative_to(ROOT)), "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare")
    args = parser.parse_args()
    twins = Twins()
    problems: List[str] = []
    for source_dir, twin_dir, names in PAIRS:
        sources = names or sorted(p.name for p in source_dir.glob("*.py"))
        for name in sources:
            target = twin_dir / name
            text = formatted(twins.twin(source_dir / name), target)
            shown = target.relative_to(ROOT)
            if not args.check:
                target.write_text(text)
                print(f"wrote {shown}")
            elif not target.exists() or target.read_text() != text:
                problems.append(f"not current: {shown}")
        if names is None:
            orphans = sorted(
                str(p.relative_to(ROOT))
                for p in twin_dir.glob("*.py")
                if p.name not in sources
            )
            problems += [f"a twin without a source: {o}" for o in orphans]
    problems += [f"a rule that matched nothing: {u!r}" for u in twins.unused()]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems and args.check:
        print("run: python scripts/unasync.py", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
