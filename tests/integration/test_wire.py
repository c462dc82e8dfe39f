"""The wire layer against a real etcd: raw gRPC calls through a channel, the
sync driver's `Channel` and the asyncio driver's `AsyncChannel` (behind the
blocking bridge) in turn, with etcdctl as the independent oracle."""

from __future__ import annotations

import time
import uuid
from typing import Callable, Iterator, Union

import pytest

from pyetcd_wire._async.channel import AsyncChannel
from pyetcd_wire._proto import rpc_pb2
from pyetcd_wire._sync.channel import Channel
from pyetcd_wire.errors import (
    DeadlineExceededError,
    InvalidArgumentError,
    ResourceExhaustedError,
    UnimplementedError,
)
from pyetcd_wire.testing import EtcdMember
from tests.async_bridge import BlockingAsyncClient
from tests.helpers import in_threads

RANGE = "/etcdserverpb.KV/Range"
PUT = "/etcdserverpb.KV/Put"


class BlockingAsyncChannel(BlockingAsyncClient):
    """`AsyncChannel` behind `Channel`'s blocking interface: `unary()` runs
    on the bridge's loop, `close()` (and ``with``) closes it there."""

    __slots__ = ()
    target_class = AsyncChannel


AnyChannel = Union[Channel, BlockingAsyncChannel]


@pytest.fixture(scope="module", params=["sync", "async"])
def channel_class(request: pytest.FixtureRequest) -> Callable[..., AnyChannel]:
    """The channel under test: `Channel`, then `AsyncChannel` through the
    blocking bridge, so one test body checks both drivers' wire layer."""
    if request.param == "sync":
        return Channel
    return BlockingAsyncChannel


@pytest.fixture
def channel(
    etcd_single: EtcdMember, channel_class: Callable[..., AnyChannel]
) -> Iterator[AnyChannel]:
    with channel_class(etcd_single.endpoint) as ch:
        yield ch


@pytest.fixture
def prefix() -> bytes:
    return f"/test/{uuid.uuid4().hex}/".encode()


def put(ch: AnyChannel, key: bytes, value: bytes, **kwargs) -> rpc_pb2.PutResponse:
    raw = ch.unary(
        PUT, rpc_pb2.PutRequest(key=key, value=value).SerializeToString(), **kwargs
    )
    return rpc_pb2.PutResponse.FromString(raw)


def get(ch: AnyChannel, key: bytes, **fields) -> rpc_pb2.RangeResponse:
    request = rpc_pb2.RangeRequest(key=key, **fields)
    return rpc_pb2.RangeResponse.FromString(
        ch.unary(RANGE, request.SerializeToString(), timeout=30)
    )


def test_range_reads_what_etcdctl_wrote(etcd_single, channel, prefix):
    key = prefix + b"from-etcdctl"
    etcd_single.etcdctl("put", key.decode(), "hello")
    response = get(channel, key)
    assert [(kv.key, kv.value) for kv in response.kvs] == [(key, b"hello")]
    assert response.header.revision >= response.kvs[0].mod_revision


def test_etcdctl_reads_what_we_put(etcd_single, channel, prefix):
    key = prefix + b"from-us"
    value = bytes(range(256))
    response = put(channel, key, value)
    assert response.header.revision > 0
    out = etcd_single.etcdctl("get", key.decode(), "--print-value-only", "--hex")
    assert out.stdout.strip() == "".join(f"\\x{b:02x}" for b in value)


def test_binary_keys_and_values(channel, prefix):
    key = prefix + b"\x00\xff\x00"
    put(channel, key, b"\xff\x00" * 100)
    assert get(channel, key).kvs[0].value == b"\xff\x00" * 100


def test_one_mebibyte_value(channel, prefix):
    value = b"v" * (1024 * 1024)
    put(channel, prefix + b"big", value, timeout=30)
    assert get(channel, prefix + b"big").kvs[0].value == value


def test_large_range_response_is_not_stalled_by_flow_control(channel, prefix):
    value = b"x" * (1024 * 1024)
    for i in range(24):  # 24 MiB in one response: several windows' worth
        put(channel, prefix + b"k%02d" % i, value, timeout=30)
    response = get(channel, prefix, range_end=prefix[:-1] + b"0")
    assert len(response.kvs) == 24
    assert all(kv.value == value for kv in response.kvs)


def test_recv_limit_fails_the_call_and_keeps_the_connection(
    etcd_single, channel_class, prefix
):
    with channel_class(etcd_single.endpoint, max_recv_message_size=1000) as ch:
        put(ch, prefix + b"k", b"y" * 2000)
        with pytest.raises(ResourceExhaustedError, match="larger than max"):
            get(ch, prefix + b"k")
        assert get(ch, prefix + b"nothing").count == 0


def test_server_errors_are_typed(channel):
    with pytest.raises(UnimplementedError, match="unknown method"):
        channel.unary("/etcdserverpb.KV/NoSuchMethod", b"")
    with pytest.raises(InvalidArgumentError, match="key is not provided"):
        put(channel, b"", b"v")


def test_many_threads_share_one_connection(channel, prefix):
    def worker(n: int) -> None:
        for i in range(200):
            key = prefix + b"t%d-%d" % (n, i)
            put(channel, key, b"%d" % i)
            assert get(channel, key).kvs[0].value == b"%d" % i

    assert in_threads(worker, 8) == []
    assert (
        get(channel, prefix, range_end=prefix[:-1] + b"0", count_only=True).count
        == 1600
    )


def test_frozen_server_honours_deadline_and_client_recovers(
    etcd_binary, channel_class, prefix
):
    with (
        EtcdMember("frozen", binary=etcd_binary) as member,
        channel_class(member.endpoint) as ch,
    ):
        put(ch, prefix + b"k", b"v")
        member.pause()
        try:
            request = rpc_pb2.RangeRequest(key=prefix + b"k").SerializeToString()
            started = time.monotonic()
            with pytest.raises(DeadlineExceededError) as info:
                ch.unary(RANGE, request, timeout=0.5)
            assert time.monotonic() - started < 2.0
            assert isinstance(info.value, TimeoutError)
        finally:
            member.resume()
        assert get(ch, prefix + b"k").kvs[0].value == b"v"
