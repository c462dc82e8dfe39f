"""Runs a page's Python blocks, one request at a time, in one namespace, as a
reader following the page would (tests/docs/run_docs.py starts one per page).

Requests and answers are JSON lines: the request on stdin, the answer on the
descriptor that was stdout at start.  While a block runs, fd 1 is stderr, so
nothing a block or its child processes print can garble an answer; what the
block prints through `sys.stdout` is captured and sent back.
"""

from __future__ import annotations

import io
import json
import os
import sys
import traceback
from typing import Any, Dict


def run(request: Dict[str, Any], namespace: Dict[str, Any]) -> Dict[str, Any]:
    # Blank lines first, so tracebacks name the page's own line numbers.
    source = "\n" * (request["first_line"] - 1) + request["code"]
    captured = io.StringIO()
    sys.stdout = captured
    try:
        exec(compile(source, request["filename"], "exec"), namespace)
    except BaseException as exc:
        return {
            "ok": False,
            "types": [cls.__name__ for cls in type(exc).__mro__],
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
            "stdout": captured.getvalue(),
        }
    finally:
        sys.stdout = sys.__stdout__
    return {"ok": True, "stdout": captured.getvalue()}


def main() -> None:
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(
        os.fdopen(1, "wb", closefd=False), line_buffering=True
    )
    namespace: Dict[str, Any] = {"__name__": "__main__"}
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("fresh"):
            namespace = {"__name__": "__main__"}
        answer = run(request, namespace)
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
