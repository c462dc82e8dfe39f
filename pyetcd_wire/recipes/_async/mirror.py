"""`AsyncMirror`: a copy of a prefix at one revision, then every change
after it (Go's client/v3/mirror.Syncer, the algorithm of
``etcdctl make-mirror``).

Theory of operation:

* `sync_base` reads the prefix page by page, `BATCH_LIMIT` keys a page,
  sorted by key, each page starting at the last key of the one before plus
  "\\0", until a page says there is no more.  Every page is read at one
  revision: the mirror's `revision` if given, else the revision of the
  first page, which is read at the newest revision and pins it.  (Go pins
  it with a separate read of the prefix key first; the first page's own
  header does the same without the extra round trip.)  The result is the
  prefix exactly as it was at that revision, however long the paging takes
  and whatever is written meanwhile.
* `sync_updates` watches the prefix from `revision` + 1: every change after
  the snapshot, none twice, none missed.  A compaction past the snapshot
  revision, during the paging or before the watch starts, raises
  CompactedError: start again with a new mirror.
* An empty prefix mirrors the whole keyspace (from key "\\0" onwards).
"""

from __future__ import annotations

from typing import AsyncIterator, Optional, Union

from ... import prefix_range_end
from ..._api.util import bytesify, non_negative_int64
from ..._async.client import AsyncClient
from ..._async.watch import AsyncWatch
from ..._proto import kv_pb2
from ...errors import MirrorNotSyncedError

Key = Union[str, bytes]

#: Keys per page of `sync_base` (Go's mirror batchLimit).
BATCH_LIMIT = 1000
#: The smallest key; as a range end, "every key >= key" (rpc.proto).
_ZERO_KEY = b"\x00"


class AsyncMirror:
    """Mirrors the keys under `prefix`: `sync_base` for a snapshot, then
    `sync_updates` for the changes after it (Go's NewSyncer).

    Args:
        client: the client to read and watch with.
        prefix: the keys to mirror (str is encoded as UTF-8); b"" for all.
        revision: the revision of the snapshot (0: the newest, pinned by
            the first page of `sync_base`).

    Attributes:
        client, prefix: as given (prefix as bytes).
        revision: the snapshot's revision (0 until it is known).
    """

    def __init__(self, client: AsyncClient, prefix: Key = b"", revision: int = 0):
        self.client = client
        self.prefix = bytesify(prefix, "prefix")
        self.revision = non_negative_int64(revision, "revision")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.prefix!r} revision={self.revision}>"

    async def sync_base(
        self, *, timeout: Optional[float] = None
    ) -> AsyncIterator[kv_pb2.KeyValue]:
        """Yield every key-value under the prefix at `revision`, by key
        (Go's SyncBase); pins `revision` on the first page if it was 0.

        Args:
            timeout: deadline of each page's read (None: the client default).

        Raises:
            CompactedError: `revision` was compacted.
            FutureRevisionError: `revision` is newer than the store.
            EtcdError: a read failed.
        """
        if self.prefix:
            key, end = self.prefix, prefix_range_end(self.prefix)
        else:
            key, end = _ZERO_KEY, _ZERO_KEY  # the whole keyspace
        while True:
            page = await self.client.get(
                key,
                range_end=end,
                revision=self.revision,
                limit=BATCH_LIMIT,
                sort_target="key",
                sort_order="ascend",
                timeout=timeout,
            )
            if not self.revision:
                self.revision = page.header.revision
            # unasync: sync only: yield from page.kvs
            # unasync: async only (begin)
            for kv in page.kvs:  # an async generator cannot `yield from`
                yield kv
            # unasync: async only (end)
            if not page.more:
                return
            key = page.kvs[-1].key + b"\x00"  # the next key after the last

    def sync_updates(self, *, timeout: Optional[float] = None) -> AsyncWatch:
        """Watch the prefix from `revision` + 1 (Go's SyncUpdates): the
        client's watch, with every change after the snapshot.

        Args:
            timeout: bound on creating the watch (None: the client default).

        Raises:
            MirrorNotSyncedError: the revision is not known yet: iterate
                `sync_base` first (or give `revision`).
            CompactedError: (when iterating) `revision` + 1 was compacted.
        """
        if not self.revision:
            raise MirrorNotSyncedError()
        return self.client.watch(
            self.prefix, prefix=True, start_revision=self.revision + 1, timeout=timeout
        )


__all__ = ["BATCH_LIMIT", "AsyncMirror"]
