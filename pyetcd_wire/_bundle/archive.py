"""The two artifacts, byte for byte the same for the same files.

A zip written here has its members sorted, the zip epoch (1980-01-01) as
every timestamp, mode 0644, Unix as the creating system and deflate level 9:
nothing of the build machine's clock, umask or order of directory listing
(zipapp.create_archive stamps file times: not reproducible).  The deflate
stream itself comes from zlib, so another zlib release may compress
differently; on one machine the output is a function of the input.
"""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path
from typing import Mapping

#: The zip epoch: the earliest time a zip can record.
EPOCH = (1980, 1, 1, 0, 0, 0)
#: A regular file, rw-r--r--, in the high 16 bits of external_attr.
FILE_MODE = 0o100644 << 16
#: What `python pyetcd.pyz` runs.
ZIPAPP_MAIN = b"import sys\n\nfrom pyetcd_wire.cli import main\n\nsys.exit(main())\n"
SHEBANG = b"#!/usr/bin/env python3\n"

_LOADER = Path(__file__).with_name("loader.py")
# Runs last in pyetcd_wire.py: the package replaces the file's module, or,
# run as a script, the CLI runs.
_TAIL = """
_package = install(_ZIP, _SHA256, __file__)
if __name__ == "__main__":
    from pyetcd_wire.cli import main as _main

    sys.exit(_main())
sys.modules[__name__] = _package
"""


def zip_bytes(members: Mapping[str, bytes]) -> bytes:
    """A zip of `members` (name -> bytes), reproducibly."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.external_attr = FILE_MODE
            info.create_system = 3  # Unix, whatever the build machine
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, members[name], compresslevel=9)
    return buffer.getvalue()


def zipapp_bytes(archive: bytes) -> bytes:
    """The ``.pyz``: a shebang line, then the zip (which must hold a
    ``__main__.py``).  zipimport finds the zip's members from its end."""
    return SHEBANG + archive


def module_bytes(archive: bytes, sha256: str, header: str) -> bytes:
    """``pyetcd_wire.py``: `header` (comment lines), the loader, the zip as
    base64 in 76-column lines, and the call that installs it."""
    encoded = base64.encodebytes(archive).decode("ascii")
    text = (
        "#!/usr/bin/env python3\n"
        + header
        + _LOADER.read_text(encoding="utf-8")
        + f'\n_SHA256 = "{sha256}"\n'
        + f'_ZIP = """\n{encoded}"""\n'
        + _TAIL
    )
    return text.encode("utf-8")
