"""The dependencies a bundle vendors, pinned: the one place their versions and
wheel hashes live.

Each pin is the newest release that still runs on Python 3.9 (the oldest
interpreter we support), as a pure-Python ``py3-none-any`` wheel: protobuf
6.33.x and hpack 4.1.x (their newer releases need Python 3.10).  The sha256 is the
wheel's, as PyPI serves it; ``pyetcd bundle --wheels DIR`` refuses any other
file, and without ``--wheels`` an installed distribution of exactly this
version is used after its files match its own RECORD hashes.
"""

from __future__ import annotations

from typing import Tuple


class Pin:
    """One vendored distribution.

    Attributes:
        name: the distribution's name on PyPI.
        version: the exact release.
        wheel: the file name of its pure-Python wheel.
        sha256: that wheel's sha256 (hex).
        packages: the top-level import packages it provides (``google`` is a
            namespace holding ``google.protobuf``).
        license: its SPDX license identifier.
    """

    __slots__ = ("license", "name", "packages", "sha256", "version", "wheel")

    def __init__(
        self,
        *,
        name: str,
        version: str,
        sha256: str,
        packages: Tuple[str, ...],
        license: str,
    ) -> None:
        self.name = name
        self.version = version
        self.wheel = f"{name}-{version}-py3-none-any.whl"
        self.sha256 = sha256
        self.packages = packages
        self.license = license

    def requirement(self) -> str:
        """``name==version``, as pip takes it."""
        return f"{self.name}=={self.version}"


PINS: Tuple[Pin, ...] = (
    Pin(
        name="protobuf",
        version="6.33.6",
        sha256="77179e006c476e69bf8e8ce866640091ec42e1beb80b213c3900006ecfba6901",
        packages=("google",),
        license="BSD-3-Clause",
    ),
    Pin(
        name="hpack",
        version="4.1.0",
        sha256="157ac792668d995c657d93111f46b4535ed114f0c9c8d672271bbec7eae1b496",
        packages=("hpack",),
        license="MIT",
    ),
)


def download_command(directory: str = "WHEELS") -> str:
    """The pip command that fetches every pinned wheel into `directory`."""
    requirements = " ".join(pin.requirement() for pin in PINS)
    return (
        "pip download --no-deps --only-binary=:all: --platform any"
        " --implementation py --abi none --python-version 3.9"
        f" {requirements} -d {directory}"
    )
