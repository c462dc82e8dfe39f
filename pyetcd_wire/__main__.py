"""`python -m pyetcd_wire demo`: the wire layer against a throwaway local etcd."""

from __future__ import annotations

import sys

from ._demo import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
