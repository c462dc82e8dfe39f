"""Run pytest with ``pyetcd_wire`` imported from a bundle, not the checkout.

    python tests/bundle/against_bundle.py DIR [pytest args...]

imports ``DIR/pyetcd_wire.py`` first, so every ``pyetcd_wire.X`` the tests
import afterwards comes from the bundle's zip (its finder is first on
``sys.meta_path``), whatever pytest puts on ``sys.path``.  The noxfile's
``bundle`` session runs the unit tests (tests/core, tests/api, tests/policy) so.
"""

from __future__ import annotations

import os
import sys
from typing import List


def main(argv: List[str]) -> int:
    bundle_dir = os.path.abspath(argv[0])
    sys.path.insert(0, bundle_dir)
    import pyetcd_wire

    sys.path.remove(bundle_dir)
    origin = os.path.join(bundle_dir, "pyetcd_wire.py")
    assert pyetcd_wire.__file__.startswith(origin), pyetcd_wire.__file__
    import pytest

    status = int(
        pytest.main(["-p", "no:cacheprovider", "-p", "no:pyetcd_wire", *argv[1:]])
    )
    strays = sorted(
        name
        for name, module in sys.modules.items()
        if name.startswith("pyetcd_wire.")
        and not getattr(module, "__file__", origin).startswith(origin)
    )
    if strays:
        print(f"not from the bundle: {strays}", file=sys.stderr)
        return status or 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
