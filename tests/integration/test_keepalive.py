"""Background lease keep-alive against a real etcd (3.5 and 3.4): renewal
at TTL/3, loss noticed within one TTL of an etcdctl revoke, resume across a
server restart."""

from __future__ import annotations

import time
import uuid
from typing import Iterator, Union

import pytest

from pyetcd_wire._sync.lease_keepalive import KeepAlive
from pyetcd_wire.errors import LeaseExpiredError, LeaseNotFoundError
from pyetcd_wire.testing import EtcdMember
from tests.async_bridge import AnyClient, BlockingStream, ClientClass
from tests.helpers import internal, keep_alive_subscriptions

AnyKeepAlive = Union[KeepAlive, BlockingStream]  # a keep-alive of either client


@pytest.fixture(scope="module")
def client(
    etcd_versioned: EtcdMember, client_class: ClientClass
) -> Iterator[AnyClient]:
    """Each client in turn (conftest's `client_class`), shared by the module."""
    with client_class(etcd_versioned.endpoint, timeout=30) as c:
        yield c


def read_until(ka: AnyKeepAlive, deadline: float) -> None:
    while time.monotonic() < deadline:
        ka.get(timeout=max(0.0, deadline - time.monotonic()))


def wait_lost(ka: AnyKeepAlive, within: float) -> float:
    """Read `ka` until it raises LeaseExpiredError; fail if that takes longer
    than `within` seconds.  Returns how long it took."""
    start = time.monotonic()
    deadline = start + within
    with pytest.raises(LeaseExpiredError) as info:
        read_until(ka, deadline)
    assert info.value.lease_id == ka.lease_id
    assert ka.lost
    return time.monotonic() - start


def test_two_second_lease_kept_alive_for_ten_seconds(client: AnyClient) -> None:
    lease = client.grant(2)
    assert lease.TTL == 2
    key = f"/keepalive-test/{uuid.uuid4().hex}"
    client.put(key, "held", lease=lease.ID)
    with client.keep_alive(lease.ID) as ka:
        first = ka.get(timeout=5)
        assert first is not None
        assert first.ID == lease.ID
        assert first.TTL == 2
        time.sleep(10)
        assert not ka.lost
        assert client.get(key).count == 1
        assert client.time_to_live(lease.ID).TTL > 0
        # Renewed at least once per TTL (every ~0.67 s: about 15 times), or
        # etcd would have expired it.
        renewals = 1 + ka.skipped + internal(ka, lambda k: len(k._items))
        assert renewals >= 10 / 2
    # No longer renewed: the lease and its key go within its TTL.
    deadline = time.monotonic() + 10
    while client.get(key).count and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.get(key).count == 0


def test_revoke_by_etcdctl_is_noticed_within_one_ttl(
    etcd_versioned: EtcdMember, client: AnyClient
) -> None:
    ttl = 3
    lease = client.grant(ttl)
    with client.keep_alive(lease.ID) as ka:
        assert ka.get(timeout=5) is not None
        etcd_versioned.etcdctl("lease", "revoke", f"{lease.ID:x}")
        wait_lost(ka, within=ttl)
        assert "TTL <= 0" in ka.lost_reason


def test_subscriptions_share_a_lease_and_close_independently(
    client: AnyClient,
) -> None:
    lease = client.grant(2)
    one = client.keep_alive(lease.ID)
    two = client.keep_alive(lease.ID)
    assert one.get(timeout=5) is not None
    assert two.get(timeout=5) is not None
    one.close()
    assert one.get(timeout=0) is None
    assert one.closed
    time.sleep(3)  # longer than the TTL: only `two` keeps it alive now
    assert client.time_to_live(lease.ID).TTL > 0
    assert not two.lost
    two.close()
    client.revoke(lease.ID)


def test_keep_alive_returns_once_the_first_renewal_is_answered(
    client: AnyClient,
) -> None:
    lease = client.grant(30)
    with client.keep_alive(lease.ID) as ka:  # AsyncClient: awaited (the bridge)
        assert ka.response is not None
        assert ka.response.TTL == 30
        assert ka.get(timeout=0) == ka.response  # iteration still yields it
    client.revoke(lease.ID)


@pytest.mark.parametrize("gone", ["never-existed", "revoked"])
def test_keep_alive_of_a_missing_lease_raises_lease_not_found(
    client: AnyClient, gone: str
) -> None:
    """As keep_alive_once, and as Go's KeepAlive, whose channel closes at
    once (issue 14: the subscription looked alive until iterated)."""
    if gone == "never-existed":
        lease_id = 0x7EAD_0000 + uuid.uuid4().int % 0x1_0000
    else:
        lease_id = client.grant(30).ID
        client.revoke(lease_id)
    with pytest.raises(LeaseNotFoundError) as info:
        client.keep_alive(lease_id)
    assert isinstance(info.value.__cause__, LeaseExpiredError)
    assert info.value.__cause__.lease_id == lease_id
    assert keep_alive_subscriptions(client, lease_id) == 0  # nothing left behind


def test_keep_alive_survives_a_server_restart(
    server_binary: str, client_class: ClientClass
) -> None:
    with (
        EtcdMember("ka-restart", binary=server_binary) as member,
        client_class(member.endpoint, timeout=10, dial_timeout=2) as c,
    ):
        lease = c.grant(6)
        with c.keep_alive(lease.ID) as ka:
            assert ka.get(timeout=5) is not None
            member.kill()
            time.sleep(0.5)
            member.restart()
            while ka.get(timeout=0) is not None:
                pass  # drop what came before the restart
            # Renewals resume on a new stream; the lease lives on.
            renewed = ka.get(timeout=10)
            assert renewed is not None
            assert renewed.TTL == 6
            time.sleep(7)  # longer than the TTL
            assert not ka.lost
            assert c.time_to_live(lease.ID).TTL > 0
