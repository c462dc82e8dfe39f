"""`pyetcd bundle`: pyetcd_wire as one file, its dependencies inside.

Modules: pins.py (the pinned protobuf and hpack), sources.py (their files, from
wheels or the installed distributions, verified), rewrite.py (relocation under
``pyetcd_wire._vendor``), closure.py (trimming to what runs), archive.py (the
reproducible zip, ``.pyz`` and ``.py``), loader.py (the import machinery the
``.py`` carries), build.py (all of it together).
"""

from __future__ import annotations

from .build import Bundle, build
from .errors import BundleError

__all__ = ["Bundle", "BundleError", "build"]
