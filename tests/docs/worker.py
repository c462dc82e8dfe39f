"""Runs a page's Python blocks, one request at a time, in one namespace, as a
reader following the page would (tests/docs/run_docs.py starts one per page).

A ``print(x)`` whose comment is a Python literal (``print(v)  # b'world'``,
or ``# [b'config']: the prefix is stripped``) is a claim: the block fails
if ``x`` is not equal to it.

Requests and answers are JSON lines: the request on stdin, the answer on the
descriptor that was stdout at start.  While a block runs, fd 1 is stderr, so
nothing a block or its child processes print can garble an answer; what the
block prints through `sys.stdout` is captured and sent back.
"""

from __future__ import annotations

import ast
import io
import json
import os
import sys
import tokenize
import traceback
from typing import Any, Dict, Optional


def claimed(comment: str) -> Optional[ast.expr]:
    """The literal a comment claims, if it starts with one."""
    text = comment.lstrip("#").strip()
    for candidate in (text, text.split(": ", 1)[0], text.split(" (", 1)[0]):
        try:
            node = ast.parse(candidate, mode="eval").body
            ast.literal_eval(node)
        except (SyntaxError, ValueError):
            continue
        return node
    return None


class Claims(ast.NodeTransformer):
    """``print(x)  # literal`` becomes ``__doc_claim__(x, literal, line)``."""

    def __init__(self, comments: Dict[int, str]) -> None:
        self.comments = comments

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        call = node.value
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "print"
            and len(call.args) == 1
            and not call.keywords
            and node.end_lineno in self.comments
        ):
            literal = claimed(self.comments[node.end_lineno or 0])
            if literal is not None:
                claim = ast.Call(
                    ast.Name("__doc_claim__", ast.Load()),
                    [call.args[0], literal, ast.Constant(node.lineno)],
                    [],
                )
                return ast.copy_location(ast.Expr(claim), node)
        return node


def claim(value: Any, expected: Any, line: int) -> None:
    print(value)
    if value != expected:
        raise AssertionError(f"line {line} printed {value!r}; the doc: {expected!r}")


def compiled(source: str, filename: str) -> Any:
    comments = {
        tok.start[0]: tok.string
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    }
    tree = ast.fix_missing_locations(Claims(comments).visit(ast.parse(source)))
    return compile(tree, filename, "exec")


def run(request: Dict[str, Any], namespace: Dict[str, Any]) -> Dict[str, Any]:
    # Blank lines first, so tracebacks name the page's own line numbers.
    source = "\n" * (request["first_line"] - 1) + request["code"]
    captured = io.StringIO()
    stdout, sys.stdout = sys.stdout, captured
    try:
        namespace["__doc_claim__"] = claim
        exec(compiled(source, request["filename"]), namespace)
    except BaseException as exc:
        return {
            "ok": False,
            "types": [cls.__name__ for cls in type(exc).__mro__],
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
            "stdout": captured.getvalue(),
        }
    finally:
        sys.stdout = stdout
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
