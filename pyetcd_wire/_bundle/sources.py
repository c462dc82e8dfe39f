"""Where a pinned dependency's files come from, verified, with no network.

Either a directory of wheels (``--wheels DIR``): the pinned wheel's sha256
must equal the pin.  Or the distribution installed beside us: its version must
equal the pin, and every file taken must match the sha256 its RECORD lists
(a file edited or replaced after installation is refused).  Only the
distribution's Python modules are taken, and its license texts.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Dict, Optional

from .errors import BundleError
from .pins import Pin, download_command


class Distribution:
    """The files of one pinned distribution, as vendored.

    Attributes:
        pin: what was asked for.
        modules: relative path (``google/protobuf/message.py``) -> bytes.
        licenses: license file name -> text bytes.
        origin: where they came from, for the manifest: the wheel's sha256,
            or ``installed`` (RECORD verified).
    """

    __slots__ = ("licenses", "modules", "origin", "pin")

    def __init__(
        self,
        *,
        pin: Pin,
        modules: Dict[str, bytes],
        licenses: Dict[str, bytes],
        origin: str,
    ) -> None:
        self.pin = pin
        self.modules = modules
        self.licenses = licenses
        self.origin = origin


def load(pin: Pin, wheels: Optional[Path]) -> Distribution:
    """The files of `pin`: from the wheel in `wheels` when given, else from
    the installed distribution.

    Raises:
        BundleError: the wheel is missing or is not the pinned one, or the
            installed distribution is missing, of another version, or altered.
    """
    if wheels is not None:
        return from_wheel(pin, wheels)
    return from_installed(pin)


def from_wheel(pin: Pin, wheels: Path) -> Distribution:
    """The pinned wheel in the directory `wheels`, checked against its sha256."""
    path = wheels / pin.wheel
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(
            f"{path}: cannot read the pinned wheel ({exc.strerror}); fetch the"
            f" pinned wheels with:\n  {download_command(str(wheels))}"
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != pin.sha256:
        raise BundleError(
            f"{path}: sha256 {digest} is not the pinned {pin.sha256}"
            f" ({pin.requirement()}); fetch it again with:\n"
            f"  {download_command(str(wheels))}"
        )
    modules: Dict[str, bytes] = {}
    licenses: Dict[str, bytes] = {}
    with zipfile.ZipFile(path) as wheel:
        for name in wheel.namelist():
            if _is_module(pin, name):
                modules[name] = wheel.read(name)
            elif _is_license(pin, name):
                licenses[name.rsplit("/", 1)[1]] = wheel.read(name)
    return _checked(pin, modules, licenses, f"wheel sha256:{digest}")


def from_installed(pin: Pin) -> Distribution:
    """The installed distribution of `pin`, each file checked against RECORD."""
    try:
        dist = metadata.distribution(pin.name)
    except metadata.PackageNotFoundError:
        raise _not_installed(pin, "is not installed") from None
    if dist.version != pin.version:
        raise _not_installed(pin, f"{dist.version} is installed")
    modules: Dict[str, bytes] = {}
    licenses: Dict[str, bytes] = {}
    for file in dist.files or ():
        name = file.as_posix()
        if _is_module(pin, name):
            modules[name] = _verified(pin, file)
        elif _is_license(pin, name):
            licenses[name.rsplit("/", 1)[1]] = _verified(pin, file)
    return _checked(pin, modules, licenses, "installed, RECORD verified")


def _verified(pin: Pin, file: metadata.PackagePath) -> bytes:
    data = Path(str(file.locate())).read_bytes()
    if file.hash is None or file.hash.mode != "sha256":
        raise BundleError(f"{pin.name}: RECORD has no sha256 for {file}")
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    if digest.decode("ascii") != file.hash.value:
        raise BundleError(
            f"{pin.name}: {file.locate()} differs from the sha256 in its RECORD"
            f" (edited after installation?); use --wheels DIR instead:\n"
            f"  {download_command()}"
        )
    return data


def _not_installed(pin: Pin, what: str) -> BundleError:
    return BundleError(
        f"the bundle vendors {pin.requirement()} and {pin.name} {what}: pass"
        " --wheels DIR with the pinned wheels, fetched with:\n"
        f"  {download_command()}"
    )


def _is_module(pin: Pin, name: str) -> bool:
    return name.endswith(".py") and name.split("/", 1)[0] in pin.packages


def _is_license(pin: Pin, name: str) -> bool:
    parts = name.split("/")
    return parts[0].endswith(".dist-info") and parts[-1].upper().startswith(
        ("LICENSE", "COPYING")
    )


def _checked(
    pin: Pin, modules: Dict[str, bytes], licenses: Dict[str, bytes], origin: str
) -> Distribution:
    if not modules:
        raise BundleError(f"{pin.name}: no modules found in the distribution")
    if not licenses:
        raise BundleError(f"{pin.name}: no license text found in the distribution")
    return Distribution(pin=pin, modules=modules, licenses=licenses, origin=origin)
