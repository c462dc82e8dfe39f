"""The file a snapshot is saved to, as Go's snapshot package writes it: the
data goes to ``<path>.part``, owner-only, and is renamed to `path` only once
the whole snapshot arrived (its checksum matched) and was fsynced; on any
failure the part file is removed and `path` is untouched."""

from __future__ import annotations

import contextlib
import os
from typing import BinaryIO, Iterator, TypeVar, Union

#: Go's fileutil.PrivateFileMode: a snapshot holds every key, and the auth
#: store's users and password hashes.
SNAPSHOT_FILE_MODE = 0o600

#: What `snapshot_save` takes and returns: the caller's path, as given.
PathT = TypeVar("PathT", str, "os.PathLike[str]")


@contextlib.contextmanager
def part_file(path: Union[str, os.PathLike[str]]) -> Iterator[BinaryIO]:
    """The open part file; the caller writes, flushes and fsyncs it (the
    asyncio client fsyncs in an executor), and it becomes `path` when the
    block ends without an error."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, not {type(path).__name__}")
    part = os.fspath(path) + ".part"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    try:
        with open(os.open(part, flags, SNAPSHOT_FILE_MODE), "wb") as file:
            yield file
        os.replace(part, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(part)
        raise


__all__ = ["SNAPSHOT_FILE_MODE", "PathT", "part_file"]
