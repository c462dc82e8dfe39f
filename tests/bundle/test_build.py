"""The bundle builder: reproducible output, what goes in, the relocation, the
errors for wrong inputs, and the loader's bytecode cache."""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict

import pytest

from pyetcd_wire._bundle import Bundle, BundleError, build, closure, rewrite, sources
from pyetcd_wire._bundle.pins import PINS, Pin
from pyetcd_wire.cli import main as cli_main


def members(bundle: Bundle) -> Dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle.archive)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_same_input_same_bytes(
    built: Bundle, pinned_wheels: Path, tmp_path: Path
) -> None:
    again = build(wheels=pinned_wheels)
    assert (again.module(), again.zipapp()) == (built.module(), built.zipapp())
    first = built.write(tmp_path / "a")
    second = again.write(tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    with zipfile.ZipFile(io.BytesIO(built.archive)) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {(i.date_time, i.external_attr >> 16) for i in infos} == {
        ((1980, 1, 1, 0, 0, 0), 0o100644)
    }


def test_contents_are_trimmed(built: Bundle) -> None:
    names = set(members(built))
    ours = {n for n in names if n.startswith("pyetcd_wire/") and "_vendor" not in n}
    left_out = ("testing/", "pytest_plugin.py", "cli_dev.py", "_demo.py", "_bundle/")
    assert not {n for n in ours if n[len("pyetcd_wire/") :].startswith(left_out)}
    assert {"pyetcd_wire/__init__.py", "pyetcd_wire/_proto/rpc_pb2.py"} <= ours
    assert all(n.endswith((".py", ".json", "LICENSE")) for n in names)
    vendor = "pyetcd_wire/_vendor/google/protobuf/"
    assert f"{vendor}descriptor_pb2.py" in names
    assert f"{vendor}internal/python_message.py" in names
    for dropped in ("compiler/", "pyext/", "json_format.py", "any_pb2.py", "util/"):
        assert not any(n.startswith(vendor + dropped) for n in names), dropped
    assert "pyetcd_wire/_vendor/hpack/huffman_table.py" in names
    assert "__main__.py" in names


def test_licenses_and_manifest(built: Bundle, pinned_wheels: Path) -> None:
    files = members(built)
    for pin in PINS:
        assert f"pyetcd_wire/_vendor/{pin.name}-{pin.version}.LICENSE" in files
    manifest = json.loads(files["pyetcd_wire/_vendor/manifest.json"])
    assert manifest == built.manifest
    for pin in PINS:
        entry = manifest["vendored"][pin.name]
        assert (entry["version"], entry["source"]) == (
            pin.version,
            f"wheel sha256:{pin.sha256}",
        )
    assert manifest["pyetcd_wire"]["version"] == __import__("pyetcd_wire").__version__
    text = built.module().decode()
    assert f"sha256 {built.sha256}" in text
    assert (
        hashlib.sha256(built.zipapp()[len(b"#!/usr/bin/env python3\n") :]).hexdigest()
        == built.sha256
    )


def test_nothing_reaches_the_users_packages(built: Bundle) -> None:
    for name, data in members(built).items():
        if name.endswith(".py"):
            rewrite.check(name, ast.parse(data))  # raises if not relocated
    api = members(built)[
        "pyetcd_wire/_vendor/google/protobuf/internal/api_implementation.py"
    ].decode()
    assert "_implementation_type = 'python'" in api
    assert "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION'," not in api


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            "from google.protobuf import message\n",
            "from pyetcd_wire._vendor.google.protobuf import message\n",
        ),
        (
            "    from google.protobuf.internal import x as y\n",
            "    from pyetcd_wire._vendor.google.protobuf.internal import x as y\n",
        ),
        ("import hpack\n", "from pyetcd_wire._vendor import hpack\n"),
        ("import hpack as h\n", "from pyetcd_wire._vendor import hpack as h\n"),
        (
            "import google.protobuf.message as m\n",
            "import pyetcd_wire._vendor.google.protobuf.message as m\n",
        ),
        ("from googleapis import x\n", "from googleapis import x\n"),
        ("from .hpack import Encoder\n", "from .hpack import Encoder\n"),
        (
            "x = 'from google.protobuf import y'\n",
            "x = 'from google.protobuf import y'\n",
        ),
    ],
)
def test_relocate(before: str, after: str) -> None:
    assert rewrite.relocate(before) == after


@pytest.mark.parametrize(
    "source",
    [
        "import google.protobuf.message\n",  # binds `google`: refused
        "import hpack, os\n",
        "x = 'google._upb._message'\n",
        "def f():\n    from hpack import Encoder\n",  # missed by a broken rule
    ],
)
def test_check_refuses_what_escapes(source: str) -> None:
    with pytest.raises(BundleError, match="not relocated"):
        rewrite.check("m.py", ast.parse(source))


def test_patch_needs_the_upstream_text() -> None:
    path = "google/protobuf/internal/api_implementation.py"
    with pytest.raises(BundleError, match="expected the text"):
        rewrite.patch(path, "# another release\n")
    assert rewrite.patch("other.py", "unchanged") == "unchanged"


def test_closure_follows_imports_only_from_the_roots() -> None:
    trees = {
        path: ast.parse(text)
        for path, text in {
            "p/__init__.py": "",
            "p/a.py": "from p.v import b\n",
            "p/v/__init__.py": "",
            "p/v/b.py": "def f():\n    from .c import g\n",
            "p/v/c.py": "",
            "p/v/unused.py": "import p.v.b\n",
        }.items()
    }
    assert closure.reachable(trees, ["p/__init__.py", "p/a.py"]) == {
        "p/__init__.py",
        "p/a.py",
        "p/v/__init__.py",
        "p/v/b.py",
        "p/v/c.py",
    }


def test_missing_wheels_say_how_to_fetch_them(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="pip download --no-deps") as info:
        build(wheels=tmp_path)
    assert "protobuf==6.33.6 hpack==4.1.0" in str(info.value)


def test_a_wheel_of_other_bytes_is_refused(pinned_wheels: Path, tmp_path: Path) -> None:
    for pin in PINS:
        (tmp_path / pin.wheel).write_bytes((pinned_wheels / pin.wheel).read_bytes())
    (tmp_path / PINS[1].wheel).write_bytes(b"PK not the pinned wheel")
    with pytest.raises(BundleError, match=f"is not the pinned {PINS[1].sha256}"):
        build(wheels=tmp_path)


def fake_distribution(site: Path, version: str) -> Path:
    """An installed distribution `fakedist` with one module, RECORD-hashed."""
    module = site / "fakepkg" / "__init__.py"
    module.parent.mkdir(parents=True)
    module.write_text("VALUE = 1\n")
    info = site / f"fakedist-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: fakedist\nVersion: {version}\n"
    )
    (info / "LICENSE").write_text("MIT\n")
    digest = (
        sources.base64.urlsafe_b64encode(hashlib.sha256(module.read_bytes()).digest())
        .rstrip(b"=")
        .decode()
    )
    license_digest = (
        sources.base64.urlsafe_b64encode(hashlib.sha256(b"MIT\n").digest())
        .rstrip(b"=")
        .decode()
    )
    (info / "RECORD").write_text(
        f"fakepkg/__init__.py,sha256={digest},10\n"
        f"{info.name}/LICENSE,sha256={license_digest},4\n"
        f"{info.name}/METADATA,,\n{info.name}/RECORD,,\n"
    )
    return module


FAKE = Pin(
    name="fakedist",
    version="1.0",
    sha256="0" * 64,
    packages=("fakepkg",),
    license="MIT",
)


def test_installed_distribution_verified_against_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = fake_distribution(tmp_path, "1.0")
    monkeypatch.syspath_prepend(str(tmp_path))
    dist = sources.from_installed(FAKE)
    assert (dist.modules, dist.licenses) == (
        {"fakepkg/__init__.py": b"VALUE = 1\n"},
        {"LICENSE": b"MIT\n"},
    )
    module.write_text("VALUE = 2\n")
    with pytest.raises(BundleError, match="differs from the sha256 in its RECORD"):
        sources.from_installed(FAKE)


def test_installed_distribution_of_another_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_distribution(tmp_path, "2.0")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(BundleError, match=r"2\.0 is installed: pass --wheels DIR"):
        sources.from_installed(FAKE)
    missing = Pin(
        name="no-such-dist", version="1", sha256="", packages=("x",), license=""
    )
    with pytest.raises(BundleError, match="no-such-dist is not installed"):
        sources.from_installed(missing)


def test_cli_writes_both_files_or_says_why_not(
    pinned_wheels: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["bundle", "--wheels", str(tmp_path), "-o", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("Error: ")
    out = tmp_path / "out"
    assert cli_main(["bundle", "--wheels", str(pinned_wheels), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["pyetcd.pyz", "pyetcd_wire.py"]
    assert cli_main(["bundle", "--help"]) == 0
    assert "--wheels" in capsys.readouterr().out


IMPORT = (
    "import pyetcd_wire, sys;"
    "print(pyetcd_wire.Client.__module__, pyetcd_wire.__file__.startswith(sys.argv[1]))"
)


def import_in(folder: Path, cache_home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "XDG_CACHE_HOME": str(cache_home)}
    return subprocess.run(
        [sys.executable, "-S", "-E", "-c", IMPORT, str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bytecode_cache(bundle_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "only"
    folder.mkdir()
    (folder / "pyetcd_wire.py").write_bytes(
        (bundle_dir / "pyetcd_wire.py").read_bytes()
    )
    # Several processes fill an empty cache at once: each write is atomic.
    children = [
        subprocess.Popen(
            [sys.executable, "-S", "-E", "-c", IMPORT, str(folder)],
            cwd=folder,
            env={"PATH": os.environ.get("PATH", ""), "XDG_CACHE_HOME": str(tmp_path)},
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outs = [child.communicate(timeout=120)[0] for child in children]
    assert outs == ["pyetcd_wire._sync.client True\n"] * 4
    (cached,) = (tmp_path / "pyetcd-wire").iterdir()
    (tagged,) = cached.iterdir()
    assert tagged.name == sys.implementation.cache_tag
    files = sorted(p.name for p in tagged.iterdir())
    assert "pyetcd_wire._sync.client.pyc" in files
    assert not [name for name in files if name.endswith(".tmp")]
    # A damaged entry is compiled again; an unwritable cache is skipped.
    (tagged / "pyetcd_wire._sync.client.pyc").write_bytes(b"garbage")
    assert import_in(folder, tmp_path).stdout == "pyetcd_wire._sync.client True\n"
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    result = import_in(folder, blocked)
    assert (result.stdout, result.stderr) == ("pyetcd_wire._sync.client True\n", "")


def test_cli_parts_left_out_of_the_bundle_say_so(
    bundle_dir: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-S",
            "-E",
            str(bundle_dir / "pyetcd_wire.py"),
            "dev",
            "--help",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stderr) == (
        1,
        "Error: pyetcd dev is not part of the single-file bundle;"
        " install the pyetcd-wire package for it\n",
    )
