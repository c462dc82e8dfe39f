"""The package's import rules (ARCHITECTURE.md, "Layers"), read from the
source with `ast`: every import counts, those under ``if TYPE_CHECKING:`` and
inside functions included.

* Each package imports only from its own layer or from layers below it.
* Sync code never imports async code, nor the other way round: a module with
  a ``_sync`` package in its path imports none with ``_async``, and so on.
* No module imports itself back through others (no cycles).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, Iterator, List, Set

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pyetcd_wire"

#: Bottom to top.  A package is named by its first component below
#: ``pyetcd_wire`` ("" is the package's own ``__init__``).
LAYERS: List[Set[str]] = [
    {"_version", "_proto", "_log"},
    # The sans-IO core, and the error classes it raises (they take
    # StatusCode from `_core.grpc.status`).
    {"_core", "errors", "_errors_base", "_errors_etcd"},
    {"_api"},  # requests and responses of each RPC
    {"_policy"},  # decisions: retry, balancing, auth, ping keepalive
    {"_client", "metrics", "_fork"},  # what both drivers share
    {"_managers"},  # the watch and lease managers, driver-neutral
    {"_sync", "_async"},  # the drivers: sockets and asyncio
    {"", "recipes", "compat", "testing", "_bundle"},
    {"cli", "cli_dev", "_demo", "pytest_plugin", "__main__"},
]


def layer_of(package: str) -> int:
    for index, packages in enumerate(LAYERS):
        if package in packages:
            return index
    raise AssertionError(f"pyetcd_wire.{package} is in no layer: add it to LAYERS")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: Dict[str, Path] = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported(name: str, path: Path) -> Iterator[str]:
    """The package's modules that `name` imports (a name imported from a
    package counts as its module if it is one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bases = [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = here[: len(here) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            bases = [(base, [alias.name for alias in node.names])]
        else:
            continue
        for base, names in bases:
            if base != "pyetcd_wire" and not base.startswith("pyetcd_wire."):
                continue
            targets = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
            for target in targets or [base]:
                while target not in MODULES:
                    target = target.rpartition(".")[0]
                if target != name:
                    yield target


GRAPH: Dict[str, Set[str]] = {
    name: set(imported(name, path)) for name, path in MODULES.items()
}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def edges() -> Iterator[tuple[str, str]]:
    for source, targets in sorted(GRAPH.items()):
        for target in sorted(targets):
            yield source, target


def test_every_package_is_in_a_layer() -> None:
    for module in MODULES:
        layer_of(package_of(module))


def test_packages_import_only_their_own_layer_or_below() -> None:
    wrong = []
    for source, target in edges():
        if layer_of(package_of(target)) > layer_of(package_of(source)):
            wrong.append(f"{source} imports {target}")
    assert wrong == []


def flavour(module: str) -> Set[str]:
    return {"_sync", "_async"} & set(module.split("."))


def test_sync_and_async_code_never_import_each_other() -> None:
    wrong = [
        f"{source} imports {target}"
        for source, target in edges()
        if flavour(source) and flavour(target) and flavour(source) != flavour(target)
    ]
    assert wrong == []


def cycles() -> List[List[str]]:
    """The graph's strongly connected components of more than one module
    (Tarjan's algorithm)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(GRAPH[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back() -> None:
    assert cycles() == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_the_cycle_finder_finds_cycles(
    graph: Dict[str, Set[str]], expected: List[List[str]], monkeypatch
) -> None:
    monkeypatch.setattr(f"{__name__}.GRAPH", graph)
    assert cycles() == expected


ARCHITECTURE = PACKAGE.parent / "ARCHITECTURE.md"


def test_the_architecture_page_lists_these_layers() -> None:
    """ARCHITECTURE.md's layer table says what `LAYERS` says."""
    rows = re.findall(
        r"^\| (\d) \| (.*?) \|", ARCHITECTURE.read_text(encoding="utf-8"), re.M
    )
    assert [int(index) for index, _ in rows] == list(range(len(LAYERS)))
    for index, cell in rows:
        named = set(re.findall(r"`(\w+)`", cell))
        if "the package" in cell:
            named.add("")
        assert named == LAYERS[int(index)], f"layer {index}"


def test_the_architecture_page_names_modules_that_exist() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:[\w.]+/)*[\w.]+(?:\.py|/))`", text))
    bases = (PACKAGE.parent, PACKAGE)

    def exists(name: str) -> bool:
        if "/" not in name:  # a module named within its package's row
            return any(PACKAGE.rglob(name))
        return any((base / name).exists() for base in bases)

    missing = sorted(n for n in named if not exists(n))
    assert missing == []
    assert len(named) > 40  # the pattern still finds the page's paths
