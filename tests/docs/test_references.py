"""What README.md, docs/ and the package's docstrings point to is in the
repository: files they name, the README's layout, the API reference."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import List

import pytest

from .blocks import ROOT, pages

#: Repository paths as the docs write them, in backticks or as link targets.
_PATH = re.compile(
    r"(?:`|\]\()((?:\.\./)?(?:benchmarks|docs|pyetcd_wire|proto|scripts|tests)"
    r"/[\w./{},-]*)"
)


#: Before a path: it is a command's output (benchmarks/results/ is not kept).
_WRITES = re.compile(r"\b(writes|written to)\b[^.]*$")


def tracked(path: str) -> bool:
    """The path is in git (a file, or a folder holding tracked files)."""
    out = subprocess.run(
        ["git", "ls-files", "--", path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return bool(out.strip())


def expand(path: str) -> List[str]:
    """`unary.{md,json}` names two files."""
    match = re.search(r"\{([^}]*)\}", path)
    if not match:
        return [path]
    head, tail = path[: match.start()], path[match.end() :]
    return [p for part in match.group(1).split(",") for p in expand(head + part + tail)]


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_files_a_page_names_are_in_the_repository(page: Path) -> None:
    base = page.parent.relative_to(ROOT)
    missing = []
    text = page.read_text(encoding="utf-8")
    for match in _PATH.finditer(text):
        raw = match.group(1).rstrip(".,")
        if _WRITES.search(text[max(0, match.start() - 120) : match.start()]):
            continue  # what a command writes, not a file to read now
        for path in expand(raw):
            rel = (base / path).as_posix() if path.startswith("../") else path
            rel = str(Path(rel)) if not rel.startswith("..") else rel
            if not tracked(rel):
                missing.append(raw)
    assert missing == []


#: A Markdown link's target.
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def prose(page: Path) -> List[str]:
    """The page's lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchors(page: Path) -> List[str]:
    """The page's headings as GitHub names their anchors: lower case, no
    punctuation but hyphens and underscores, spaces as hyphens."""
    return [
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in prose(page)
        if line.startswith("#")
    ]


def test_every_link_between_the_pages_leads_somewhere() -> None:
    """`[...](getting-started.md)`, `(../README.md)`, `(api.md#endpoints)`:
    a page of the repository, and a heading of it (the check above looks
    only at paths that start with a top-level folder)."""
    broken, checked = [], 0
    for page in pages():
        where = page.relative_to(ROOT)
        for line in prose(page):
            for target in _LINK.findall(line):
                if re.match(r"[a-z]+:", target):
                    continue  # https:, mailto:
                checked += 1
                path, _, anchor = target.partition("#")
                dest = (page.parent / path).resolve() if path else page
                rel = dest.relative_to(ROOT).as_posix() if ROOT in dest.parents else ""
                if not rel or not tracked(rel):
                    broken.append(f"{where}: {target} (no such file)")
                elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                    broken.append(f"{where}: {target} (no such heading)")
    assert checked > 50  # the pages link to each other: the pattern finds them
    assert broken == []


def test_the_readme_layout_names_what_is_there() -> None:
    """Every path in the README's Layout, and every module a line's
    description names (in that line's folder, or from the root if it has a
    slash), is in the repository."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = text.split("## Layout", 1)[1].split("```")[1]
    missing = []
    folder = ""
    for line in layout.splitlines():
        if not line.strip():
            continue
        description = line
        if not line.startswith(" "):
            first, _, description = line.partition("  ")
            head, _, rest = first.strip().partition(", ")
            names = [head] + ([str(Path(head).parent / rest)] if rest else [])
            missing += [name for name in names if not tracked(name)]
            folder = head if head.endswith("/") else str(Path(head).parent) + "/"
        for module in re.findall(r"[\w/]+\.py\b", description):
            path = module if "/" in module else folder + module
            if not tracked(path):
                missing.append(path)
    assert missing == []


def test_nothing_points_outside_the_repository() -> None:
    """The internal contract and the Go reference are not shipped: the
    package, the README and the docs name docs/api.md instead."""
    files = [*pages(), *sorted((ROOT / "pyetcd_wire").rglob("*.py"))]
    bad = re.compile(r"\.\./shared|shared/API\.md|shared/reference|(?<![\w/])API\.md")
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bad.search(line)
    ]
    assert hits == []


#: The unshipped notes the code was written from (Go's client, house style,
#: measurements): citing them names a file the reader does not have.
_UNSHIPPED = re.compile(
    r"clientv3\.md|STYLE\.md|transport-bench|vendoring\.md|python-peers"
)


def test_the_code_and_docs_cite_no_unshipped_reference() -> None:
    """`clientv3.md §5` and the like, in a page, a module's docstring or
    comment (private ones too), the benchmarks or the project's settings."""
    files = [
        *pages(),
        *sorted((ROOT / "pyetcd_wire").rglob("*.py")),
        *sorted((ROOT / "benchmarks").glob("*.py")),
        ROOT / "benchmarks" / "README.md",
        ROOT / "ARCHITECTURE.md",
        ROOT / "pyproject.toml",
        ROOT / "noxfile.py",
    ]
    hits = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _UNSHIPPED.search(line)
    ]
    assert hits == []


def test_the_api_reference_names_every_public_name() -> None:
    """docs/api.md, which help(Client) points to, lists the public surface:
    the package's names, every public method of both clients, the recipes."""
    import inspect

    import pyetcd_wire
    import pyetcd_wire.recipes

    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    names = set(pyetcd_wire.__all__) | set(pyetcd_wire.recipes.__all__)
    for cls in (pyetcd_wire.Client, pyetcd_wire.AsyncClient):
        names |= {
            name
            for name, _ in inspect.getmembers(cls)
            if not name.startswith("_") and name not in ("STREAM_FAILURE",)
        }
    missing = {name for name in names if not re.search(rf"\b{name}\b", text)}
    assert missing == set()


ERRORS_START = "<!-- the exception tree: tests/docs/test_references.py writes it -->"
ERRORS_END = "<!-- end of the exception tree -->"


def exception_tree() -> str:
    """Every exception class of pyetcd_wire.errors, under its first base in
    the tree, with its other bases."""
    import pyetcd_wire.errors as errors

    classes = [getattr(errors, name) for name in errors.__all__]
    classes = [c for c in classes if isinstance(c, type) and issubclass(c, Exception)]
    ours = set(classes)
    children: dict = {}
    for cls in classes:
        parent = next((base for base in cls.__bases__ if base in ours), None)
        children.setdefault(parent, []).append(cls)
    lines: List[str] = []

    def walk(cls: type, depth: int) -> None:
        others = [
            b.__name__ for b in cls.__bases__ if b not in ours and b is not Exception
        ]
        also = f" (also {', '.join(f'`{o}`' for o in others)})" if others else ""
        lines.append(f"{'  ' * depth}- `{cls.__name__}`{also}")
        for child in children.get(cls, []):
            walk(child, depth + 1)

    for root in children[None]:
        walk(root, 0)
    return "\n".join(lines)


def test_the_api_reference_has_the_exception_tree() -> None:
    """Run this module (python -m tests.docs.test_references) to rewrite it."""
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    listed = text.split(ERRORS_START, 1)[1].split(ERRORS_END, 1)[0]
    assert listed.strip() == exception_tree()


if __name__ == "__main__":
    api = ROOT / "docs" / "api.md"
    head, rest = api.read_text(encoding="utf-8").split(ERRORS_START, 1)
    tail = rest.split(ERRORS_END, 1)[1]
    tree = exception_tree()
    api.write_text(
        f"{head}{ERRORS_START}\n\n{tree}\n\n{ERRORS_END}{tail}", encoding="utf-8"
    )
