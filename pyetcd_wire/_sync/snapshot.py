"""`SnapshotCalls`: `snapshot` and `snapshot_save` of the sync `Client`, as
a mixin over its hook ``_server_stream(method, request, timeout)`` (the raw
messages of a server-streaming call).  The asyncio client has its own: it
streams with ``async for`` and fsyncs in an executor.  What they use loads
with the first snapshot, not with the client (start-up time)."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Generator, Iterator, Optional

from google.protobuf.message import Message

from .._api.methods import MAINTENANCE_SNAPSHOT, Method

if TYPE_CHECKING:
    from .._client.snapshot_file import PathT


class SnapshotCalls:
    """Snapshot downloads; the class using it provides `_server_stream`."""

    if TYPE_CHECKING:

        def _server_stream(
            self, method: Method, request: Message, timeout: Optional[float]
        ) -> Iterator[bytes]: ...

    def snapshot(
        self, *, timeout: Optional[float] = None
    ) -> Generator[bytes, None, None]:
        """Stream the member's backend database (etcd Snapshot).

        Yields the raw chunks, the last one the 32-byte SHA-256 of all the
        others: written one after the other they make the file etcdctl's
        `snapshot save` writes.  The checksum is checked as the stream ends;
        the last chunk comes only if it matches.  The call starts at the
        first iteration; `close()` the iterator to stop early.

        Args:
            timeout: deadline for the whole download (None: the client
                default).

        Raises:
            RemoteProtocolError: the stream ended without a matching checksum.
        """
        from .._api import maintenance as maintenance_api

        request = maintenance_api.snapshot_request()
        messages = self._server_stream(MAINTENANCE_SNAPSHOT, request, timeout)
        return maintenance_api.snapshot_blobs(messages)

    def snapshot_save(self, path: PathT, *, timeout: Optional[float] = None) -> PathT:
        """Save a snapshot to `path` and return `path`.

        As Go's snapshot package: the data goes to `<path>.part` (mode 0600),
        is fsynced, and the file is renamed to `path` only once the whole
        snapshot arrived with a matching checksum.  On any failure the
        `.part` file is removed and the error raised; `path` is untouched.

        Args:
            path: the file to write (replaced if it exists).
            timeout: deadline for the whole download.

        Raises:
            RemoteProtocolError: the checksum is missing or wrong.
            OSError: the file cannot be written.
        """
        from .._client.snapshot_file import part_file

        with part_file(path) as file:
            with contextlib.closing(self.snapshot(timeout=timeout)) as blobs:
                for blob in blobs:
                    file.write(blob)
            file.flush()
            os.fsync(file.fileno())
        return path


__all__ = ["SnapshotCalls"]
