"""What the code generators share (gen_async.py, gen_recipes.py): ruff's
formatting of a generated module, and writing or checking the outputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent


def formatted(text: str, path: str) -> str:
    """`text` without the imports the generated side no longer uses, as
    `ruff format` leaves it (the lint session checks the files)."""
    for command in (
        ["ruff", "check", "--fix", "--select", "F401,I001", "--exit-zero", "-q"],
        ["ruff", "format"],
    ):
        text = subprocess.run(
            [*command, "--stdin-filename", path, "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    return text


def write_or_check(outputs: Dict[Path, str], *, check: bool, script: str) -> int:
    """Write the generated files, or (`check`) report the ones that are not
    current; the exit status."""
    stale: List[str] = []
    for target, text in outputs.items():
        shown = str(target.relative_to(ROOT))
        if check:
            if not target.exists() or target.read_text() != text:
                stale.append(shown)
        else:
            target.write_text(text)
            print(f"wrote {shown}")
    if stale:
        print(
            f"not current (run python {script}): " + ", ".join(stale), file=sys.stderr
        )
        return 1
    return 0
