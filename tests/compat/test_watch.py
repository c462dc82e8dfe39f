"""python-etcd3's watch API (`pyetcd_wire.compat.etcd3.watch`, `.events`).

The events as python-etcd3's code reads them."""

from __future__ import annotations

import pytest

from pyetcd_wire._proto import kv_pb2
from pyetcd_wire.compat.etcd3.events import DeleteEvent, PutEvent, new_event


def test_events_read_as_python_etcd3s() -> None:
    kv = kv_pb2.KeyValue(
        key=b"k", value=b"v2", create_revision=3, mod_revision=5, version=2, lease=7
    )
    prev = kv_pb2.KeyValue(key=b"k", value=b"v1", mod_revision=3, version=1)
    put = new_event(kv_pb2.Event(type=kv_pb2.Event.PUT, kv=kv, prev_kv=prev))
    assert isinstance(put, PutEvent)
    assert (put.key, put.value, put.create_revision, put.mod_revision) == (
        b"k",
        b"v2",
        3,
        5,
    )
    assert (put.version, put.lease) == (2, 7)
    assert (put.prev_key, put.prev_value, put.prev_mod_revision) == (b"k", b"v1", 3)
    assert (put.prev_version, put.prev_create_revision, put.prev_lease) == (1, 0, 0)
    assert str(put) == f"{PutEvent} key=b'k' value=b'v2'"
    gone = new_event(
        kv_pb2.Event(type=kv_pb2.Event.DELETE, kv=kv_pb2.KeyValue(key=b"k"))
    )
    assert isinstance(gone, DeleteEvent)
    assert (gone.key, gone.value, gone.prev_value) == (b"k", b"", b"")
    with pytest.raises(ValueError, match="event type"):
        new_event(kv_pb2.Event(type=5))  # type: ignore[arg-type]
