"""`python -m pyetcd_wire`: the `pyetcd` command line (and its `demo`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
