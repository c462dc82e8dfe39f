"""Three etcd members of the test kit, each behind a client proxy and a peer
proxy (proxy.py): clients dial only the client proxies, and each member
advertises its peer proxy, so every raft message to it passes through that.

Members fsync (`durable`): the campaign SIGKILLs them and then checks that
no acknowledged write was lost.
"""

from __future__ import annotations

import shutil
import time
import uuid
from typing import Dict, List, Optional

import pyetcd_wire as etcd
from pyetcd_wire.testing._etcd_process import _free_ports, _health
from pyetcd_wire.testing.etcd import EtcdMember, EtcdStartError

from .proxy import Proxy, ProxyHub

# Raft timing: the test kit's fast defaults, a little slower so that a
# loaded 2-core machine does not hold elections all the time.
HEARTBEAT_MS = 50
ELECTION_MS = 500
START_TIMEOUT = 30.0


class ChaosCluster:
    def __init__(self, hub: ProxyHub, size: int = 3) -> None:
        self.hub = hub
        ports = _free_ports(4 * size)
        names = [f"chaos{i}" for i in range(size)]
        self.client_proxies: Dict[str, Proxy] = {}
        self.peer_proxies: Dict[str, Proxy] = {}
        peer_urls = {
            name: f"http://127.0.0.1:{ports[4 * i + 3]}" for i, name in enumerate(names)
        }
        token = f"chaos-{uuid.uuid4()}"
        self.members: Dict[str, EtcdMember] = {}
        for i, name in enumerate(names):
            client, peer, client_proxy, peer_proxy = ports[4 * i : 4 * i + 4]
            self.members[name] = EtcdMember(
                name,
                client_port=client,
                peer_port=peer,
                advertise_peer_url=peer_urls[name],
                initial_cluster=peer_urls,
                cluster_token=token,
                heartbeat_interval_ms=HEARTBEAT_MS,
                election_timeout_ms=ELECTION_MS,
                start_timeout=START_TIMEOUT,
                stop_timeout=5.0,
                durable=True,
            )
            self.client_proxies[name] = hub.add(name, client_proxy, client, peer=False)
            self.peer_proxies[name] = hub.add(name, peer_proxy, peer, peer=True)
        self.ids: Dict[str, int] = {}
        self._admin: Optional[etcd.Client] = None

    @property
    def names(self) -> List[str]:
        return list(self.members)

    @property
    def endpoints(self) -> List[str]:
        """What the workload dials: the client proxies."""
        return [proxy.address for proxy in self.client_proxies.values()]

    @property
    def direct_endpoints(self) -> List[str]:
        """What the campaign itself dials (faults, checks): the members."""
        return [member.endpoint for member in self.members.values()]

    def start(self) -> None:
        for member in self.members.values():
            member.start(wait=False)
        if not self.wait_healthy(START_TIMEOUT):
            raise RuntimeError(f"the cluster was not healthy in {START_TIMEOUT} s")

    def open_admin(self) -> None:
        """The campaign's own client (faults, checks), on the members."""
        self._admin = etcd.Client(self.direct_endpoints, timeout=5.0, dial_timeout=2.0)
        self.refresh_ids()

    def close_admin(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    @property
    def admin(self) -> etcd.Client:
        assert self._admin is not None
        return self._admin

    def refresh_ids(self) -> None:
        response = self.admin.member_list(timeout=5.0)
        self.ids = {m.name: m.ID for m in response.members if m.name}

    def source_id(self, name: str) -> str:
        """The member's ID as its peer requests carry it (X-Server-From)."""
        return format(self.ids[name], "x")

    def healthy(self, name: str) -> bool:
        member = self.members[name]
        return member.is_running and _health(member.client_port, 1.0, None)[0]

    def wait_healthy(self, timeout: float) -> bool:
        """Wait until every member answers /health; False if not in time.
        A member that is not running (the other fault lane killed it, or is
        replacing it) is waited for too: the test kit's wait fails at once
        on a process that has exited."""
        deadline = time.monotonic() + timeout
        for member in self.members.values():
            while True:
                try:
                    member.wait_ready(max(0.1, deadline - time.monotonic()))
                    break
                except EtcdStartError:
                    if time.monotonic() >= deadline:
                        return False
                    time.sleep(0.1)
        return True

    def leader(self) -> Optional[str]:
        """The leader's name per the members' status, None if none answers."""
        for name in self.names:
            member = self.members[name]
            if not member.is_running:
                continue
            try:
                status = self.admin.status(member.endpoint, timeout=1.0)
            except etcd.EtcdError:
                continue
            for other, member_id in self.ids.items():
                if member_id == status.leader:
                    return other
        return None

    def _member_with(self, peer_url: str) -> Optional[int]:
        """The ID of the member whose peer URL is `peer_url`, None if none."""
        for m in self.admin.member_list(timeout=5.0).members:
            if peer_url in m.peerURLs:
                return int(m.ID)
        return None

    def remove_and_add_back(self, name: str) -> None:
        """Remove the member, wipe it, add it back and start it afresh.

        A refused remove (etcd: it would leave the cluster unhealthy) raises
        and changes nothing.  Once removed, the add is tried until it is
        done (its outcome may be unknown: the membership tells)."""
        member = self.members[name]
        peer_url = member.advertise_peer_url
        try:
            self.admin.member_remove(self.ids[name], timeout=5.0)
        except etcd.EtcdError:
            if self._member_with(peer_url) is not None:
                raise
        member.kill()
        shutil.rmtree(member.data_dir, ignore_errors=True)
        deadline = time.monotonic() + 60.0
        while True:
            try:
                new_id = int(self.admin.member_add([peer_url], timeout=5.0).member.ID)
                break
            except etcd.EtcdError:
                found = self._member_with(peer_url)
                if found is not None:
                    new_id = found
                    break
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        member.initial_cluster = {
            other: m.advertise_peer_url for other, m in self.members.items()
        }
        member.initial_cluster_state = "existing"
        self.ids[name] = new_id
        member.start()

    def close(self) -> None:
        self.close_admin()
        for member in self.members.values():
            member.close()

    def keep(self) -> List[str]:
        """The members' directories (data and logs), kept for a post-mortem."""
        return [member.tmp_dir for member in self.members.values()]
