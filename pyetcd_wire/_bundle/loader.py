"""Import machinery of the single-file bundle.  The builder copies this module,
verbatim, into ``pyetcd_wire.py``, followed by the zip (base64) and a call of
`install`; it imports nothing of pyetcd_wire and runs on Python 3.9+ and PyPy.

Theory of operation:

* The zip is decoded once (base64: binascii is C; base85 would be pure Python
  and 50x slower) and its central directory read by `read_zip` (zipfile
  costs ~20 ms to import; we wrote this zip ourselves: no zip64, no comment).
* `BundleFinder` goes first on ``sys.meta_path`` and answers for
  ``pyetcd_wire`` and every ``pyetcd_wire.X`` found in the zip, so the
  package never resolves to the file itself (``sys.path[0]`` holds it when it
  runs as a script), nor to another installed copy.
* `install` builds the package module from the zip and puts it in
  ``sys.modules``: when the file is imported as ``pyetcd_wire``, the import
  system returns what ``sys.modules`` holds once the file ran: the package.
* Compiled code is cached on disk when possible (`CodeCache`): one file per
  module under ``$XDG_CACHE_HOME/pyetcd-wire/bundle-<sha>/<cache_tag>``, the
  bundle's sha256 and the interpreter's cache tag in the path, so an entry is
  never stale.  A write goes to a file of its own and is renamed into place
  (atomic: concurrent first imports by several processes read a whole file
  or none).  Any failure (read-only home, no home) only skips the cache.
"""

from __future__ import annotations

import binascii
import contextlib
import marshal
import os
import struct
import sys
import zlib
from importlib.machinery import ModuleSpec
from importlib.util import MAGIC_NUMBER, module_from_spec
from types import CodeType, ModuleType
from typing import TYPE_CHECKING, Dict, Optional, Sequence, Tuple, cast

if TYPE_CHECKING:
    from importlib.abc import Loader

PACKAGE = "pyetcd_wire"
# The zip's end-of-central-directory record and central directory entry
# (APPNOTE.TXT 4.3.16, 4.3.12), and the local header before each file (4.3.7).
_END = struct.Struct("<4s4H2LH")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_LOCAL_SIZE = 30
_DEFLATED = 8
# Where a member's data is: (offset, compressed size, method).
_Member = Tuple[int, int, int]


def read_zip(data: bytes) -> Dict[str, _Member]:
    """Member name -> where its data lies in `data` (a zip without comment)."""
    end = _END.unpack_from(data, len(data) - _END.size)
    count, offset = end[4], end[6]
    members: Dict[str, _Member] = {}
    for _ in range(count):
        entry = _CENTRAL.unpack_from(data, offset)
        method, size, name_len = entry[4], entry[8], entry[10]
        extra_len, comment_len, local = entry[11], entry[12], entry[16]
        start = offset + _CENTRAL.size
        name = data[start : start + name_len].decode("utf-8")
        local_name, local_extra = struct.unpack_from("<2H", data, local + 26)
        members[name] = (local + _LOCAL_SIZE + local_name + local_extra, size, method)
        offset = start + name_len + extra_len + comment_len
    return members


class CodeCache:
    """Compiled modules of one bundle on one interpreter, on disk."""

    def __init__(self, directory: Optional[str]) -> None:
        self.directory = directory

    def load(self, name: str) -> Optional[CodeType]:
        if self.directory is None:
            return None
        try:
            with open(os.path.join(self.directory, name + ".pyc"), "rb") as file:
                data = file.read()
            if data[: len(MAGIC_NUMBER)] == MAGIC_NUMBER:
                code = marshal.loads(data[len(MAGIC_NUMBER) :])
                if isinstance(code, CodeType):
                    return code
        except (OSError, ValueError, EOFError, TypeError):
            pass
        return None

    def store(self, name: str, code: CodeType) -> None:
        if self.directory is None or sys.dont_write_bytecode:
            return
        path = os.path.join(self.directory, name + ".pyc")
        temporary = f"{path}.{os.getpid()}.{id(code)}.tmp"
        try:
            os.makedirs(self.directory, exist_ok=True)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, MAGIC_NUMBER + marshal.dumps(code))
            finally:
                os.close(fd)
            os.replace(temporary, path)
        except OSError:
            self.directory = None  # not writable: compile in memory from now on
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def cache_directory(sha256: str) -> Optional[str]:
    """This bundle's cache directory on this interpreter, or None."""
    tag = sys.implementation.cache_tag
    if tag is None:
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.environ.get("LOCALAPPDATA", "") if os.name == "nt" else ""
        base = home or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None  # no home: no cache
    return os.path.join(base, "pyetcd-wire", f"bundle-{sha256[:16]}", tag)


class BundleFinder:
    """Finds and loads ``pyetcd_wire`` and its submodules from the zip."""

    def __init__(
        self, data: bytes, sha256: str, location: str, cache: CodeCache
    ) -> None:
        self.data = data
        self.bundle_sha256 = sha256
        self.location = location
        self.cache = cache
        self.members = read_zip(data)

    def find_spec(
        self,
        fullname: str,
        path: Optional[Sequence[str]] = None,
        target: Optional[ModuleType] = None,
    ) -> Optional[ModuleSpec]:
        if fullname != PACKAGE and not fullname.startswith(PACKAGE + "."):
            return None
        member = self._member(fullname)
        if member is None:
            return None
        is_package = member.endswith("/__init__.py")
        spec = ModuleSpec(
            fullname,
            cast("Loader", self),
            origin=self.get_filename(fullname),
            is_package=is_package,
        )
        spec.has_location = True
        if is_package:
            spec.submodule_search_locations = [
                os.path.join(self.location, *fullname.split("."))
            ]
        return spec

    def create_module(self, spec: ModuleSpec) -> Optional[ModuleType]:
        return None

    def exec_module(self, module: ModuleType) -> None:
        exec(self.get_code(module.__name__), module.__dict__)

    def get_code(self, fullname: str) -> CodeType:
        code = self.cache.load(fullname)
        if code is None:
            code = compile(
                self._source(fullname),
                self.get_filename(fullname),
                "exec",
                dont_inherit=True,
            )
            self.cache.store(fullname, code)
        return code

    def get_source(self, fullname: str) -> str:
        """The module's text (for tracebacks, through linecache)."""
        return self._source(fullname).decode("utf-8")

    def is_package(self, fullname: str) -> bool:
        return str(self._member(fullname)).endswith("/__init__.py")

    def get_filename(self, fullname: str) -> str:
        """A path inside the bundle, as zipimport names its modules."""
        member = self._member(fullname)
        if member is None:
            raise ImportError(f"{fullname} is not in the bundle", name=fullname)
        return os.path.join(self.location, *member.split("/"))

    def _member(self, fullname: str) -> Optional[str]:
        base = fullname.replace(".", "/")
        for member in (base + "/__init__.py", base + ".py"):
            if member in self.members:
                return member
        return None

    def _source(self, fullname: str) -> bytes:
        member = self._member(fullname)
        if member is None:
            raise ImportError(f"{fullname} is not in the bundle", name=fullname)
        start, size, method = self.members[member]
        raw = self.data[start : start + size]
        return zlib.decompress(raw, -15) if method == _DEFLATED else raw


def install(encoded: str, sha256: str, location: str) -> ModuleType:
    """Put the bundle's finder first on ``sys.meta_path`` and import the
    package from it (once per process: a second copy of the same bundle,
    such as the file imported under another name, gets the first package)."""
    existing = sys.modules.get(PACKAGE)
    loader = getattr(existing, "__loader__", None)
    if existing is not None and getattr(loader, "bundle_sha256", None) == sha256:
        return existing
    finder = BundleFinder(
        binascii.a2b_base64(encoded),
        sha256,
        os.path.abspath(location),
        CodeCache(cache_directory(sha256)),
    )
    sys.meta_path.insert(0, finder)
    spec = finder.find_spec(PACKAGE)
    if spec is None:
        raise ImportError(f"{location} holds no {PACKAGE} package", name=PACKAGE)
    module = module_from_spec(spec)
    sys.modules[PACKAGE] = module
    try:
        finder.exec_module(module)
    except BaseException:
        del sys.modules[PACKAGE]
        raise
    return module
