"""Watch requests: create, cancel and progress (client/v3/watch.go, op.go).

The Watch RPC is one bidirectional stream carrying ``WatchRequest`` messages,
each holding exactly one of ``create_request``, ``cancel_request`` or
``progress_request``.  These builders check their arguments and return the
message Go's watcher would send; the bookkeeping of the watches on a stream
(IDs, resume revisions, fragments) lives in ``_core/watch.py``.

Client-side checks, all raised before anything is sent:

* the key range follows the KV rules (``resolve_range``: ``prefix`` and
  ``from_key`` exclude each other and ``range_end``; an empty key is refused
  unless ``prefix`` or ``from_key`` turns it into "\\0");
* ``start_revision`` is a non-negative ``int64`` (0 = "from the next
  revision"); etcd answers a negative one by cancelling the watch as
  compacted, which hides the bug;
* ``watch_id`` is a non-negative ``int64`` (0 = let the server pick, Go's
  ``AutoWatchID``; -1 is Go's ``InvalidWatchID`` and never a valid request);
* the flags are real ``bool``: ``prev_kv=1`` is accepted by protobuf but is
  a bug here.

``filter_put`` with ``filter_delete`` is allowed, as in Go: the watch then
delivers no events at all, only progress notifications and its end.
"""

from __future__ import annotations

from typing import List, Optional

from .._proto import rpc_pb2
from .check import flag
from .kv import resolve_range
from .util import BytesLike, non_negative_int64

_FILTER_NOPUT = rpc_pb2.WatchCreateRequest.NOPUT
_FILTER_NODELETE = rpc_pb2.WatchCreateRequest.NODELETE


def watch_create_request(
    key: BytesLike,
    *,
    range_end: Optional[BytesLike] = None,
    prefix: bool = False,
    from_key: bool = False,
    start_revision: int = 0,
    prev_kv: bool = False,
    progress_notify: bool = False,
    filter_put: bool = False,
    filter_delete: bool = False,
    fragment: bool = False,
    watch_id: int = 0,
) -> rpc_pb2.WatchRequest:
    """Builds a WatchRequest whose ``create_request`` opens one watch.

    Args:
        key: the key, or the first key of the range.
        range_end: exclusive end of the range (Go ``WithRange``), or None.
        prefix: watch every key starting with `key` (``WithPrefix``).
        from_key: watch every key >= `key` (``WithFromKey``).
        start_revision: first revision to report (``WithRev``); 0 means the
            revision after the current one.
        prev_kv: report each event's previous key-value (``WithPrevKV``).
        progress_notify: ask the server for periodic progress responses while
            idle (``WithProgressNotify``).
        filter_put: drop PUT events on the server (``WithFilterPut``).
        filter_delete: drop DELETE events on the server (``WithFilterDelete``).
        fragment: let the server split oversized responses (``WithFragment``).
        watch_id: the watch ID to ask for (etcd 3.4+), unique on the stream;
            0 lets the server pick.

    Returns:
        The WatchRequest.

    Raises:
        ValueError: bad range options, empty key, or a negative
            start_revision or watch_id.
        TypeError: key or range_end not str/bytes; a number or flag of the
            wrong type.
    """
    key_bytes, end = resolve_range(
        key, range_end, flag(prefix, "prefix"), flag(from_key, "from_key")
    )
    filters: List[rpc_pb2.WatchCreateRequest.FilterType] = []
    if flag(filter_put, "filter_put"):
        filters.append(_FILTER_NOPUT)
    if flag(filter_delete, "filter_delete"):
        filters.append(_FILTER_NODELETE)
    create = rpc_pb2.WatchCreateRequest(
        key=key_bytes,
        range_end=end,
        start_revision=non_negative_int64(start_revision, "start_revision"),
        progress_notify=flag(progress_notify, "progress_notify"),
        filters=filters,
        prev_kv=flag(prev_kv, "prev_kv"),
        watch_id=non_negative_int64(watch_id, "watch_id"),
        fragment=flag(fragment, "fragment"),
    )
    return rpc_pb2.WatchRequest(create_request=create)


def watch_cancel_request(watch_id: int) -> rpc_pb2.WatchRequest:
    """Builds a WatchRequest whose ``cancel_request`` ends watch `watch_id`.

    The server confirms with a response ``canceled=true`` for that ID; an
    unknown ID gets no answer.

    Raises:
        ValueError: `watch_id` is negative (no watch has such an ID).
        TypeError: `watch_id` is not an int.
    """
    cancel = rpc_pb2.WatchCancelRequest(
        watch_id=non_negative_int64(watch_id, "watch_id")
    )
    return rpc_pb2.WatchRequest(cancel_request=cancel)


def watch_progress_request() -> rpc_pb2.WatchRequest:
    """Builds a WatchRequest whose ``progress_request`` asks for the stream's
    progress: one response with ``watch_id=-1`` and the store revision (since
    etcd 3.5.8/3.4.25 only once every watch on the stream has caught up)."""
    return rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest())
