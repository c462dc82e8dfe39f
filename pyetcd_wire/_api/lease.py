"""Lease requests: Grant, Revoke, TimeToLive, Leases and KeepAlive
(client/v3/lease.go; server side server/etcdserver/api/v3rpc/lease.go).

Each builder checks its arguments and returns the protobuf request Go's
``Lease`` methods send.  The checks save a round trip, or refuse what etcd
would take silently as something else:

* a TTL is a positive ``int`` of seconds, at most clientv3's ``MaxLeaseTTL``
  (9 000 000 000); etcd answers a larger one with ErrLeaseTTLTooLarge, and a
  TTL of 0 or below would be raised to the server's minimum TTL without a word;
* a lease ID is a protobuf ``int64``.  Grant's ``id=0`` means "the server
  picks" (Go's ``Grant`` always sends 0; a client-chosen ID turns a retried
  Grant whose answer was lost into ErrLeaseExist instead of a leaked lease).
  Every other request names an existing lease, so its ID must be positive:
  etcd never hands out 0 or a negative ID (lease.NoLease is 0);
* ``bool`` is refused where an ``int`` is expected: ``grant(True)`` is a bug.

``keys`` is taken as a flag, as Go's ``WithAttachedKeys()``.
"""

from __future__ import annotations

from .._proto import rpc_pb2
from .util import int64

#: clientv3 ``MaxLeaseTTL`` (client/v3/options.go): the largest TTL, in
#: seconds, etcd accepts (lease.MaxLeaseTTL on the server).
MAX_LEASE_TTL = 9_000_000_000


def _ttl(ttl: int) -> int:
    ttl = int64(ttl, "ttl")
    if not 0 < ttl <= MAX_LEASE_TTL:
        raise ValueError(
            f"ttl must be between 1 and {MAX_LEASE_TTL} seconds, got {ttl}"
        )
    return ttl


def _lease_id(lease_id: int) -> int:
    lease_id = int64(lease_id, "lease_id")
    if lease_id <= 0:
        raise ValueError(f"lease_id must be > 0, got {lease_id}")
    return lease_id


def lease_grant_request(ttl: int, *, id: int = 0) -> rpc_pb2.LeaseGrantRequest:
    """Builds a LeaseGrantRequest: create a lease that lives `ttl` seconds.

    The lease expires unless kept alive; deleting it (Revoke, or expiry)
    deletes every key attached to it.  The server may grant more than `ttl`
    (it raises a TTL below its minimum, about 1.5 election timeouts); the
    response's TTL is what counts.

    Args:
        ttl: the time to live in seconds, 1 ... MAX_LEASE_TTL.
        id: the lease ID to create, or 0 to let the server pick one.  A taken
            ID fails with ErrLeaseExist.

    Returns:
        The request (fields TTL and ID).

    Raises:
        TypeError: `ttl` or `id` is a bool or not an int.
        ValueError: `ttl` is not in 1 ... MAX_LEASE_TTL, or `id` is negative
            or does not fit int64.
    """
    ttl = _ttl(ttl)
    id = int64(id, "id")
    if id < 0:
        raise ValueError(f"id must be >= 0 (0: the server picks), got {id}")
    return rpc_pb2.LeaseGrantRequest(TTL=ttl, ID=id)


def lease_revoke_request(lease_id: int) -> rpc_pb2.LeaseRevokeRequest:
    """Builds a LeaseRevokeRequest: end the lease now and delete its keys.

    An unknown or already expired lease fails with ErrLeaseNotFound.

    Args:
        lease_id: the lease to revoke (> 0).

    Raises:
        TypeError: `lease_id` is a bool or not an int.
        ValueError: `lease_id` is not positive or does not fit int64.
    """
    return rpc_pb2.LeaseRevokeRequest(ID=_lease_id(lease_id))


def lease_time_to_live_request(
    lease_id: int, *, keys: bool = False
) -> rpc_pb2.LeaseTimeToLiveRequest:
    """Builds a LeaseTimeToLiveRequest: the lease's remaining and granted TTL.

    The answer's TTL is -1 for a lease that has expired or never existed (no
    error); GrantedTTL is the TTL it was granted with.

    Args:
        lease_id: the lease to ask about (> 0).
        keys: also list the keys attached to the lease (Go's
            ``WithAttachedKeys()``).

    Raises:
        TypeError: `lease_id` is a bool or not an int.
        ValueError: `lease_id` is not positive or does not fit int64.
    """
    return rpc_pb2.LeaseTimeToLiveRequest(ID=_lease_id(lease_id), keys=bool(keys))


def lease_leases_request() -> rpc_pb2.LeaseLeasesRequest:
    """Builds a LeaseLeasesRequest: list the IDs of every live lease (3.3+)."""
    return rpc_pb2.LeaseLeasesRequest()


def lease_keep_alive_request(lease_id: int) -> rpc_pb2.LeaseKeepAliveRequest:
    """Builds a LeaseKeepAliveRequest: renew the lease to its granted TTL.

    Sent on the bidirectional LeaseKeepAlive stream, one per renewal.  The
    server answers each with the lease's new TTL, or with TTL 0 (not an
    error) when the lease has expired, was revoked or never existed.

    Args:
        lease_id: the lease to renew (> 0).

    Raises:
        TypeError: `lease_id` is a bool or not an int.
        ValueError: `lease_id` is not positive or does not fit int64.
    """
    return rpc_pb2.LeaseKeepAliveRequest(ID=_lease_id(lease_id))
