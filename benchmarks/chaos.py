"""The fault campaign: a 3-member etcd behind proxies, random faults, a
workload of sync and asyncio clients, and checks of everything they saw
against etcd's own history.

    python benchmarks/chaos.py --seconds 60 --seed 1 [--json FILE]

Exit status 1 on any violation.  See benchmarks/README.md ("The fault campaign").
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

from fault_campaign.campaign import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
