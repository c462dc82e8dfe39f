"""Lease request builders: every argument onto its protobuf field, and every check."""

from __future__ import annotations

import enum
from typing import Any, Callable

import pytest

from pyetcd_wire._api import lease
from pyetcd_wire._proto import rpc_pb2

INT64_MAX = 2**63 - 1


class _Id(enum.IntEnum):
    SEVEN = 7


# --- field mapping ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((5,), {}, rpc_pb2.LeaseGrantRequest(TTL=5)),
        ((1,), {}, rpc_pb2.LeaseGrantRequest(TTL=1)),
        ((5,), {"id": 0}, rpc_pb2.LeaseGrantRequest(TTL=5)),
        ((5,), {"id": 0x1234}, rpc_pb2.LeaseGrantRequest(TTL=5, ID=0x1234)),
        ((5,), {"id": INT64_MAX}, rpc_pb2.LeaseGrantRequest(TTL=5, ID=INT64_MAX)),
        (
            (lease.MAX_LEASE_TTL,),
            {},
            rpc_pb2.LeaseGrantRequest(TTL=9_000_000_000),
        ),
        ((_Id.SEVEN,), {"id": _Id.SEVEN}, rpc_pb2.LeaseGrantRequest(TTL=7, ID=7)),
    ],
)
def test_grant_fields(args: Any, kwargs: Any, expected: Any) -> None:
    request = lease.lease_grant_request(*args, **kwargs)
    assert type(request) is rpc_pb2.LeaseGrantRequest
    assert request == expected
    assert type(request.TTL) is int
    assert type(request.ID) is int


def test_grant_wire_bytes() -> None:
    # field 1 (TTL) varint 10, field 2 (ID) varint 3.
    request = lease.lease_grant_request(10, id=3)
    assert request.SerializeToString() == b"\x08\x0a\x10\x03"


def test_revoke_fields() -> None:
    request = lease.lease_revoke_request(42)
    assert request == rpc_pb2.LeaseRevokeRequest(ID=42)
    assert request.SerializeToString() == b"\x08\x2a"
    assert lease.lease_revoke_request(INT64_MAX).ID == INT64_MAX


@pytest.mark.parametrize(
    ("kwargs", "keys"),
    [({}, False), ({"keys": False}, False), ({"keys": True}, True)],
)
def test_time_to_live_fields(kwargs: Any, keys: bool) -> None:
    request = lease.lease_time_to_live_request(9, **kwargs)
    assert request == rpc_pb2.LeaseTimeToLiveRequest(ID=9, keys=keys)
    assert request.keys is keys


def test_time_to_live_wire_bytes() -> None:
    request = lease.lease_time_to_live_request(9, keys=True)
    assert request.SerializeToString() == b"\x08\x09\x10\x01"


def test_leases_request_is_empty() -> None:
    request = lease.lease_leases_request()
    assert request == rpc_pb2.LeaseLeasesRequest()
    assert request.SerializeToString() == b""


def test_keep_alive_fields() -> None:
    request = lease.lease_keep_alive_request(0x7E57)
    assert request == rpc_pb2.LeaseKeepAliveRequest(ID=0x7E57)
    assert lease.lease_keep_alive_request(_Id.SEVEN).ID == 7


# --- validation -------------------------------------------------------------------


@pytest.mark.parametrize("ttl", [0, -1, -(2**63), lease.MAX_LEASE_TTL + 1, INT64_MAX])
def test_grant_ttl_out_of_range(ttl: int) -> None:
    with pytest.raises(ValueError, match=r"ttl must be between 1 and 9000000000"):
        lease.lease_grant_request(ttl)


def test_grant_ttl_beyond_int64() -> None:
    with pytest.raises(ValueError, match="ttl must fit in int64"):
        lease.lease_grant_request(2**63)


@pytest.mark.parametrize("ttl", [True, False, 5.0, "5", None, b"5"])
def test_grant_ttl_type(ttl: Any) -> None:
    with pytest.raises(TypeError, match="ttl must be an int, not"):
        lease.lease_grant_request(ttl)


@pytest.mark.parametrize("id_", [-1, -(2**63)])
def test_grant_negative_id(id_: int) -> None:
    with pytest.raises(ValueError, match=r"id must be >= 0 \(0: the server picks\)"):
        lease.lease_grant_request(5, id=id_)


@pytest.mark.parametrize("id_", [2**63, -(2**63) - 1])
def test_grant_id_beyond_int64(id_: int) -> None:
    with pytest.raises(ValueError, match="id must fit in int64"):
        lease.lease_grant_request(5, id=id_)


@pytest.mark.parametrize("id_", [True, False, 1.0, "1", None])
def test_grant_id_type(id_: Any) -> None:
    with pytest.raises(TypeError, match="id must be an int, not"):
        lease.lease_grant_request(5, id=id_)


def test_grant_checks_ttl_before_id() -> None:
    with pytest.raises(TypeError, match="ttl"):
        lease.lease_grant_request(True, id=-1)


def test_grant_id_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        lease.lease_grant_request(5, 3)  # type: ignore[call-arg]


BY_LEASE_ID: list[Callable[[Any], Any]] = [
    lease.lease_revoke_request,
    lease.lease_time_to_live_request,
    lease.lease_keep_alive_request,
]


@pytest.mark.parametrize("build", BY_LEASE_ID)
@pytest.mark.parametrize("lease_id", [0, -1, -(2**63)])
def test_lease_id_must_be_positive(build: Callable[[Any], Any], lease_id: int) -> None:
    with pytest.raises(ValueError, match=f"lease_id must be > 0, got {lease_id}"):
        build(lease_id)


@pytest.mark.parametrize("build", BY_LEASE_ID)
def test_lease_id_beyond_int64(build: Callable[[Any], Any]) -> None:
    with pytest.raises(ValueError, match="lease_id must fit in int64"):
        build(2**63)


@pytest.mark.parametrize("build", BY_LEASE_ID)
@pytest.mark.parametrize("lease_id", [True, False, 1.0, "1", None, b"\x01"])
def test_lease_id_type(build: Callable[[Any], Any], lease_id: Any) -> None:
    with pytest.raises(TypeError, match="lease_id must be an int, not"):
        build(lease_id)


def test_time_to_live_keys_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        lease.lease_time_to_live_request(1, True)  # type: ignore[call-arg]
