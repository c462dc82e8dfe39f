"""Relocating the vendored packages under ``pyetcd_wire._vendor``.

Only import statements are rewritten (``from google.protobuf.x import y``
becomes ``from pyetcd_wire._vendor.google.protobuf.x import y``, ``import
hpack`` becomes ``from pyetcd_wire._vendor import hpack``), in the vendored
files and in ours alike: the installed package keeps importing the user's
protobuf and hpack, unchanged, at no cost per call.  Strings that name a
module (protobuf's implementation probes) are changed by the `PATCHES`
catalogue below, each of which must match exactly once, so a new upstream
release that moved the text fails the build instead of shipping a bundle that
loads a foreign ``_upb`` extension.

`check` then proves the result from the syntax tree: no import of a
top-level ``google`` or ``hpack`` is left, and no probe string.
"""

from __future__ import annotations

import ast
import re
from typing import List, Tuple

from .errors import BundleError

#: The private package the dependencies live under, in the bundle.
VENDOR = "pyetcd_wire._vendor"
#: Top-level packages relocated under `VENDOR` (pins.py: `Pin.packages`).
RELOCATED = ("google", "hpack")

_NAMES = "|".join(RELOCATED)
# `from google.protobuf.x import ...` (any indentation: imports inside
# functions and try blocks too).
_FROM = re.compile(
    rf"^(?P<indent>[ \t]*)from (?P<module>(?:{_NAMES})(?:\.\w+)*) import ", re.M
)
# `import hpack` or `import google.protobuf.x as y`, alone on its line.
_IMPORT = re.compile(
    rf"^(?P<indent>[ \t]*)import (?P<module>(?:{_NAMES})(?:\.\w+)*)"
    r"(?P<alias>[ \t]+as[ \t]+\w+)?[ \t]*$",
    re.M,
)

#: (file, text upstream, text in the bundle): the strings that name a module
#: in protobuf 6.33 (pins.py).  The bundle always runs protobuf's pure-Python
#: implementation: upb and cpp are extension modules that a zip cannot load,
#: and the user's ``google._upb`` belongs to the user's protobuf (the
#: two ``google`` namespace packages would clash).
PATCHES: Tuple[Tuple[str, str, str], ...] = (
    (
        "google/protobuf/internal/api_implementation.py",
        "if _implementation_type is None:\n"
        "  if _CanImport('google._upb._message'):\n"
        "    _implementation_type = 'upb'\n"
        "  elif _CanImport('google.protobuf.pyext._message'):\n"
        "    _implementation_type = 'cpp'\n"
        "  else:\n"
        "    _implementation_type = 'python'\n",
        "# pyetcd_wire bundle: always pure Python (never a google._upb).\n"
        "_implementation_type = 'python'\n",
    ),
    (
        "google/protobuf/internal/api_implementation.py",
        "_implementation_type = os.getenv('PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION',\n"
        "                                 _implementation_type)\n",
        "# pyetcd_wire bundle: PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION is the\n"
        "# setting of the user's protobuf, not of this one.\n",
    ),
    (
        "google/protobuf/descriptor_pb2.py",
        "'google.protobuf.descriptor_pb2'",
        f"'{VENDOR}.google.protobuf.descriptor_pb2'",
    ),
)

# Module names that must not survive in a string of the bundle.
_PROBES = ("google._upb", "google.protobuf.pyext")


def relocate(text: str) -> str:
    """`text` (a module's source) with its imports of the relocated
    packages pointing under `VENDOR`."""
    text = _FROM.sub(rf"\g<indent>from {VENDOR}.\g<module> import ", text)
    return _IMPORT.sub(_import_line, text)


def _import_line(match: re.Match[str]) -> str:
    indent, module, alias = match["indent"], match["module"], match["alias"]
    if "." not in module:  # `import hpack [as h]`: the same name bound
        return f"{indent}from {VENDOR} import {module}{alias or ''}"
    if alias:
        return f"{indent}import {VENDOR}.{module}{alias}"
    return match[0]  # `import google.protobuf.x` binds `google`: check() refuses it


def patch(path: str, text: str) -> str:
    """`text` of the vendored file `path` with its `PATCHES` applied.

    Raises:
        BundleError: a patch's upstream text is not there exactly once.
    """
    for target, old, new in PATCHES:
        if target != path:
            continue
        count = text.count(old)
        if count != 1:
            raise BundleError(
                f"{path}: expected the text {old!r} once, found it {count} times"
                " (a protobuf release other than the pinned one?)"
            )
        text = text.replace(old, new)
    return text


def check(path: str, tree: ast.AST) -> None:
    """Refuse a module that still reaches the user's packages.

    Raises:
        BundleError: an import of a top-level ``google``/``hpack``, or a
            string naming protobuf's extension modules, remains.
    """
    found: List[str] = []
    for node in ast.walk(tree):
        for name in _imported(node):
            if name.split(".")[0] in RELOCATED:
                found.append(f"{path}:{getattr(node, 'lineno', '?')}: import of {name}")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith(_PROBES)
        ):
            found.append(f"{path}:{node.lineno}: string {node.value!r}")
    if found:
        raise BundleError("not relocated:\n  " + "\n  ".join(found))


def _imported(node: ast.AST) -> List[str]:
    """The absolute module names an import statement binds from."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []
