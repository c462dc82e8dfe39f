"""`pyetcd bundle`: write ``pyetcd_wire.py`` and ``pyetcd.pyz`` (no network).

The build itself is `pyetcd_wire._bundle`; this module owns the flags and
the messages.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from .._bundle import BundleError, build
from .._bundle.pins import PINS, download_command


def parser() -> argparse.ArgumentParser:
    """The ``pyetcd bundle`` options."""
    pins = ", ".join(pin.requirement() for pin in PINS)
    p = argparse.ArgumentParser(
        prog="pyetcd bundle",
        description="Write pyetcd-wire as one importable module (pyetcd_wire.py)"
        f" and as a zipapp (pyetcd.pyz), with {pins} relocated inside.",
        epilog="Without --wheels the installed distributions are used when their"
        " versions are the pinned ones. To fetch the pinned wheels: "
        + download_command(),
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        default=".",
        help="directory to write both files into (default: the current one)",
    )
    p.add_argument(
        "--wheels",
        metavar="DIR",
        help="a directory holding the pinned wheels (checked against their sha256)",
    )
    return p


def run(argv: Sequence[str]) -> int:
    """``pyetcd bundle ARGS``; returns the exit status."""
    args = parser().parse_args(list(argv))
    wheels: Optional[Path] = Path(args.wheels) if args.wheels else None
    try:
        bundle = build(wheels=wheels)
        written = bundle.write(Path(args.output))
    except (BundleError, OSError) as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    lines: List[str] = [f"{path} ({path.stat().st_size:,} bytes)" for path in written]
    lines.append(f"bundle sha256 {bundle.sha256}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
