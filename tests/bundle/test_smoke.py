"""The bundle against a real etcd, from a folder holding only the bundle,
with ``python -S -E`` (no site-packages): smoke.py on each interpreter of
``$PYETCD_BUNDLE_PYTHONS`` (os.pathsep-separated; default: this one), as
``pyetcd_wire.py`` and as ``pyetcd.pyz``.  Then beside the user's own
protobuf (``$PYETCD_BUNDLE_CLASH_PYTHON``, a venv's python with protobuf
installed; default: this one), on upb and on pure Python.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from pyetcd_wire.pytest_plugin import etcd_binary_for
from pyetcd_wire.testing import EtcdMember

pytestmark = pytest.mark.integration

SMOKE = (Path(__file__).parent / "smoke.py").read_text()
PYTHONS = os.environ.get("PYETCD_BUNDLE_PYTHONS", sys.executable).split(os.pathsep)
CLASH_PYTHON = os.environ.get("PYETCD_BUNDLE_CLASH_PYTHON", sys.executable)
BUNDLE_FILES = {"MODULE": "pyetcd_wire.py", "ZIPAPP": "pyetcd.pyz"}


@pytest.fixture(scope="module")
def member(request: pytest.FixtureRequest) -> Iterator[EtcdMember]:
    """An etcd of this module's own: the smoke restarts it."""
    with EtcdMember("bundle-smoke", binary=etcd_binary_for(request.config)) as m:
        yield m


def run_smoke(
    member: EtcdMember,
    folder: Path,
    command: List[str],
    env: Optional[Dict[str, str]] = None,
) -> List[bytes]:
    """Run smoke.py; restart etcd when it asks; it must end with OK.  Returns
    its output lines."""
    with subprocess.Popen(
        command,
        cwd=folder,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as child:
        assert child.stdout is not None
        assert child.stdin is not None
        first = child.stdout.readline()
        if first == b"RESTART\n":
            member.restart()
            child.stdin.write(b"go\n")
            child.stdin.flush()
        out, err = child.communicate(timeout=90)
    assert (first, child.returncode, out.splitlines()[-1:]) == (
        b"RESTART\n",
        0,
        [b"OK"],
    ), err.decode(errors="replace")
    return out.splitlines()


def only_the_bundle(bundle_dir: Path, folder: Path) -> Path:
    """`folder`, holding nothing but a copy of the two bundle files."""
    folder.mkdir()
    for name in BUNDLE_FILES.values():
        shutil.copy2(bundle_dir / name, folder / name)
    return folder


@pytest.mark.parametrize("kind", sorted(BUNDLE_FILES))
@pytest.mark.parametrize("python", PYTHONS)
def test_smoke_without_site_packages(
    member: EtcdMember, bundle_dir: Path, tmp_path: Path, python: str, kind: str
) -> None:
    folder = only_the_bundle(bundle_dir, tmp_path / "empty")
    env = {"PATH": os.environ.get("PATH", ""), "XDG_CACHE_HOME": str(tmp_path)}
    command = [python, "-S", "-E", "-c", SMOKE, member.endpoint, kind]
    run_smoke(member, folder, command, env)


@pytest.mark.parametrize("implementation", ["default", "python"])
@pytest.mark.parametrize("kind", sorted(BUNDLE_FILES))
def test_beside_the_users_protobuf(
    member: EtcdMember, bundle_dir: Path, tmp_path: Path, kind: str, implementation: str
) -> None:
    folder = only_the_bundle(bundle_dir, tmp_path / "empty")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("PYTHONPATH", None)
    if implementation == "python":  # the user's choice, for the user's protobuf
        env["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"
    command = [CLASH_PYTHON, "-c", SMOKE, member.endpoint, kind, "--user-protobuf"]
    lines = run_smoke(member, folder, command, env)
    if implementation == "python":
        assert b"user's protobuf: python" in lines
    elif "PYETCD_BUNDLE_CLASH_PYTHON" in os.environ:  # the noxfile's: protobuf 7
        assert b"user's protobuf: upb" in lines
