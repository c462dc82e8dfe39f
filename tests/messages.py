"""Watch messages as the stream tests build them: the core's
(tests/core/test_watch.py) and the managers' (tests/managers)."""

from __future__ import annotations

from typing import Any, Sequence

from pyetcd_wire._api.watch import watch_create_request
from pyetcd_wire._proto import kv_pb2, rpc_pb2


def create(key: str = "k", **options: Any) -> rpc_pb2.WatchCreateRequest:
    return watch_create_request(key, **options).create_request


def event(revision: int, key: bytes = b"k", value: bytes = b"v") -> kv_pb2.Event:
    kv = kv_pb2.KeyValue(
        key=key, value=value, mod_revision=revision, create_revision=1, version=1
    )
    return kv_pb2.Event(type=kv_pb2.Event.PUT, kv=kv)


def watch_response(
    watch_id: int,
    revision: int = 1,
    *,
    events: Sequence[kv_pb2.Event] = (),
    **fields: Any,
) -> rpc_pb2.WatchResponse:
    return rpc_pb2.WatchResponse(
        header=rpc_pb2.ResponseHeader(revision=revision),
        watch_id=watch_id,
        events=list(events),
        **fields,
    )
