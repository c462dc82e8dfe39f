from __future__ import annotations

from typing import Any

import pytest

from pyetcd_wire._api.watch import (
    watch_cancel_request,
    watch_create_request,
    watch_progress_request,
)
from pyetcd_wire._proto import rpc_pb2
from pyetcd_wire.errors import EmptyKeyError

NOPUT = rpc_pb2.WatchCreateRequest.NOPUT
NODELETE = rpc_pb2.WatchCreateRequest.NODELETE


def test_single_key_defaults() -> None:
    request = watch_create_request("foo")
    assert request.WhichOneof("request_union") == "create_request"
    create = request.create_request
    assert create == rpc_pb2.WatchCreateRequest(key=b"foo")
    assert create.range_end == b""
    assert create.start_revision == 0
    assert list(create.filters) == []


@pytest.mark.parametrize(
    ("key", "kwargs", "expected_key", "expected_end"),
    [
        (b"a", {"prefix": True}, b"a", b"b"),
        (b"a\xff", {"prefix": True}, b"a\xff", b"b"),
        ("", {"prefix": True}, b"\x00", b"\x00"),
        ("a", {"from_key": True}, b"a", b"\x00"),
        ("", {"from_key": True}, b"\x00", b"\x00"),
        ("a", {"range_end": "c"}, b"a", b"c"),
    ],
)
def test_ranges(
    key: Any, kwargs: Any, expected_key: bytes, expected_end: bytes
) -> None:
    create = watch_create_request(key, **kwargs).create_request
    assert (create.key, create.range_end) == (expected_key, expected_end)


def test_every_option() -> None:
    create = watch_create_request(
        b"k",
        start_revision=42,
        prev_kv=True,
        progress_notify=True,
        filter_put=True,
        filter_delete=True,
        fragment=True,
        watch_id=7,
    ).create_request
    assert create.start_revision == 42
    assert create.prev_kv
    assert create.progress_notify
    assert create.fragment
    assert create.watch_id == 7
    assert list(create.filters) == [NOPUT, NODELETE]


def test_single_filters() -> None:
    assert list(watch_create_request("k", filter_put=True).create_request.filters) == [
        NOPUT
    ]
    assert list(
        watch_create_request("k", filter_delete=True).create_request.filters
    ) == [NODELETE]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"start_revision": -1}, ValueError),
        ({"watch_id": -1}, ValueError),
        ({"start_revision": 2**63}, ValueError),
        ({"start_revision": True}, TypeError),
        ({"start_revision": "1"}, TypeError),
        ({"prefix": True, "from_key": True}, ValueError),
        ({"prefix": True, "range_end": "z"}, ValueError),
        ({"prev_kv": 1}, TypeError),
        ({"fragment": None}, TypeError),
        ({"filter_put": "yes"}, TypeError),
    ],
)
def test_invalid_options(kwargs: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        watch_create_request("k", **kwargs)


def test_empty_key_refused() -> None:
    with pytest.raises(EmptyKeyError):
        watch_create_request("")
    with pytest.raises(TypeError):
        watch_create_request(None)  # type: ignore[arg-type]


def test_cancel_request() -> None:
    request = watch_cancel_request(5)
    assert request.WhichOneof("request_union") == "cancel_request"
    assert request.cancel_request.watch_id == 5
    with pytest.raises(ValueError, match="watch_id"):
        watch_cancel_request(-1)
    with pytest.raises(TypeError):
        watch_cancel_request(False)


def test_progress_request() -> None:
    request = watch_progress_request()
    assert request.WhichOneof("request_union") == "progress_request"
    assert request.SerializeToString() == b"\x1a\x00"
