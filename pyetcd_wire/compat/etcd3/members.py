"""python-etcd3's `Member`: one member of the cluster."""

from __future__ import annotations

from typing import Any, Iterator, Sequence


class Member:
    """A member of the cluster (``client.members``, ``client.add_member``).

    Attributes:
        id: its member ID.
        name: its name ("" until it started).
        peer_urls: the URLs it serves the other members on.
        client_urls: the URLs it serves clients on.
    """

    def __init__(
        self,
        id: int,
        name: str,
        peer_urls: Sequence[str],
        client_urls: Sequence[str],
        etcd_client: Any = None,
    ) -> None:
        self.id = id
        self.name = name
        self.peer_urls = peer_urls
        self.client_urls = client_urls
        self._etcd_client = etcd_client

    def __str__(self) -> str:
        return (
            f"Member {self.id}: peer urls: {self.peer_urls}, "
            f"client urls: {self.client_urls}"
        )

    def remove(self) -> None:
        """Remove this member from the cluster."""
        self._etcd_client.remove_member(self.id)

    def update(self, peer_urls: Sequence[str]) -> None:
        """Replace this member's peer URLs."""
        self._etcd_client.update_member(self.id, peer_urls)

    @property
    def active_alarms(self) -> Iterator[Any]:
        """The active alarms (a generator of `Alarm`; etcd lists the
        cluster's alarms, not only this member's, as it did for
        python-etcd3)."""
        return self._etcd_client.list_alarms(member_id=self.id)  # type: ignore[no-any-return]


__all__ = ["Member"]
