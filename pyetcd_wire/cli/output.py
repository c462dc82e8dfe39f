"""Where the commands write: stdout as bytes, as Go does.

etcd keys and values are arbitrary bytes and etcdctl writes them unchanged;
so does `Out`, through the binary buffer under `sys.stdout` when there is one.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import List, Sequence, Union

Text = Union[str, bytes]


def _as_bytes(text: Text) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")


class Out:
    """Line-oriented output; `flush()` after each unit (a response, an event
    batch) so a pipe sees watch events as they arrive."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: List[bytes] = []

    def line(self, text: Text = "") -> None:
        self._parts.append(_as_bytes(text) + b"\n")

    def lines(self, texts: Sequence[Text]) -> None:
        for text in texts:
            self.line(text)

    def flush(self) -> None:
        if not self._parts:
            return
        data = b"".join(self._parts)
        self._parts.clear()
        stream = sys.stdout
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            stream.write(data.decode("utf-8", "replace"))
        else:
            stream.flush()
            buffer.write(data)
            buffer.flush()


def silence_stdout() -> None:
    """After the reader of stdout went away (`pyetcd watch k | head -1`):
    point stdout at /dev/null, so the interpreter's last flush cannot fail."""
    # No file descriptor (captured in tests): nothing to protect.
    with contextlib.suppress(OSError, ValueError):
        stdout = sys.stdout.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, stdout)
        finally:
            os.close(null)  # stdout is a copy of it now


def err_line(text: str) -> None:
    """One line on stderr (messages, never data)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
