"""python-etcd3's `Lease`: a granted lease and the calls about it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List

if TYPE_CHECKING:
    from ..._proto import rpc_pb2


class Lease:
    """A lease (``client.lease(ttl)``); keys put with it are deleted when it
    ends.  Like python-etcd3's, it is not kept alive by itself: call
    `refresh` within each TTL, or use our `pyetcd_wire.Client.keep_alive`.

    Attributes:
        id: the lease ID.
        ttl: the TTL etcd granted, in seconds.
        etcd_client: the compat client it belongs to.
    """

    def __init__(self, lease_id: int, ttl: int, etcd_client: Any = None) -> None:
        self.id = lease_id
        self.ttl = ttl
        self.etcd_client = etcd_client

    def _get_lease_info(self) -> rpc_pb2.LeaseTimeToLiveResponse:
        return self.etcd_client.get_lease_info(self.id)  # type: ignore[no-any-return]

    def revoke(self) -> None:
        """Revoke this lease (its keys are deleted)."""
        self.etcd_client.revoke_lease(self.id)

    def refresh(self) -> List[rpc_pb2.LeaseKeepAliveResponse]:
        """Renew the lease once; etcd's answers (``[0].TTL`` is 0 if the lease
        is gone)."""
        return list(self.etcd_client.refresh_lease(self.id))

    @property
    def remaining_ttl(self) -> int:
        """Seconds left (-1 once expired)."""
        return self._get_lease_info().TTL

    @property
    def granted_ttl(self) -> int:
        """The TTL granted."""
        return self._get_lease_info().grantedTTL

    @property
    def keys(self) -> Any:
        """The keys attached to the lease (a list of bytes)."""
        return self._get_lease_info().keys


__all__ = ["Lease"]
