"""Trimming the vendored packages to what runs.

A vendored module is kept when an import statement reaches it from our
package: at module level or inside a function, through any chain of vendored
modules.  protobuf's compiler, test data, well-known types, JSON and the
rest that nothing imports stay out (about half of its files).  Modules
named only in strings (``importlib.import_module``) are not followed: rewrite.py
pins protobuf's implementation probes to pure Python, the only ones there are.
"""

from __future__ import annotations

import ast
from typing import Dict, Iterable, List, Set

#: Never followed, although an import names them: the C++ implementation,
#: imported only on the branch that api_implementation never takes in the
#: bundle (rewrite.py's PATCHES make it pure Python).
NEVER = ("pyetcd_wire._vendor.google.protobuf.pyext",)


def module_name(path: str) -> str:
    """``a/b/__init__.py`` -> ``a.b``; ``a/b.py`` -> ``a.b``."""
    dotted = path[: -len(".py")].replace("/", ".")
    return dotted[: -len(".__init__")] if dotted.endswith(".__init__") else dotted


def reachable(trees: Dict[str, ast.AST], roots: Iterable[str]) -> Set[str]:
    """The paths in `trees` that an import reaches from the paths `roots`
    (included), with the ``__init__.py`` of every package on the way."""
    by_module = {module_name(path): path for path in trees}
    seen: Set[str] = set()
    todo = list(roots)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        package = _package_of(path)
        for name in _imports(trees[path], package):
            todo.extend(_paths(name, by_module))
    return seen


def _paths(name: str, by_module: Dict[str, str]) -> List[str]:
    """The files of module `name` and of the packages above it."""
    if name.startswith(NEVER):
        return []
    parts = name.split(".")
    found = []
    for end in range(1, len(parts) + 1):
        path = by_module.get(".".join(parts[:end]))
        if path is not None:
            found.append(path)
    return found


def _package_of(path: str) -> str:
    name = module_name(path)
    return name if path.endswith("/__init__.py") else name.rpartition(".")[0]


def _imports(tree: ast.AST, package: str) -> List[str]:
    """Every module an import in `tree` may load: ``from a import b`` may
    load ``a`` and ``a.b``."""
    names: List[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names)
    return names


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if node.level == 0:
        return node.module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base
