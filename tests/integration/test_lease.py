"""Lease unary calls against a real etcd (3.5 and 3.4), etcdctl as oracle."""

from __future__ import annotations

import json
import time
import uuid
from typing import Iterator

import pytest

from pyetcd_wire.errors import LeaseExistError, LeaseNotFoundError
from pyetcd_wire.testing import EtcdMember
from tests.async_bridge import AnyClient, ClientClass


@pytest.fixture(scope="module")
def client(
    etcd_versioned: EtcdMember, client_class: ClientClass
) -> Iterator[AnyClient]:
    """Each client in turn (conftest's `client_class`), shared by the module."""
    with client_class(etcd_versioned.endpoint, timeout=30) as c:
        yield c


def test_lease_grant_revoke_and_etcdctl(etcd_versioned, client):
    granted = client.grant(60)
    assert granted.ID > 0
    assert granted.TTL >= 60
    shown = etcd_versioned.etcdctl(
        "lease", "timetolive", f"{granted.ID:x}", "-w", "json"
    )
    assert json.loads(shown.stdout)["granted-ttl"] == granted.TTL
    assert granted.ID in [lease.ID for lease in client.leases().leases]
    client.revoke(granted.ID)
    assert granted.ID not in [lease.ID for lease in client.leases().leases]
    with pytest.raises(LeaseNotFoundError):
        client.revoke(granted.ID)


def test_lease_chosen_id_and_keys(client):
    lease_id = 0x5000_0000 + uuid.uuid4().int % 0x1000_0000
    assert lease_id == client.grant(30, id=lease_id).ID
    with pytest.raises(LeaseExistError):
        client.grant(30, id=lease_id)
    key = f"/lease-test/{uuid.uuid4().hex}"
    client.put(key, "attached", lease=lease_id)
    info = client.time_to_live(lease_id, keys=True)
    assert lease_id == info.ID
    assert 0 < info.TTL <= 30
    assert info.grantedTTL == 30
    assert list(info.keys) == [key.encode()]
    client.revoke(lease_id)
    assert client.get(key).count == 0
    assert client.time_to_live(lease_id).TTL == -1


def test_lease_keep_alive_once(client):
    lease = client.grant(5)
    time.sleep(2.2)  # some of the TTL passes
    before = client.time_to_live(lease.ID).TTL  # 2 at most (whole seconds left)
    renewed = client.keep_alive_once(lease.ID)
    assert renewed.ID == lease.ID
    assert renewed.TTL == 5
    # More left than before the renewal: 3 or more unless the read after it
    # took 2 s (it was 'at least 2' unless the read took 1 s).
    after = client.time_to_live(lease.ID).TTL
    assert after > before
    client.revoke(lease.ID)
    with pytest.raises(LeaseNotFoundError):
        client.keep_alive_once(lease.ID)


def test_lease_argument_errors(client):
    with pytest.raises(ValueError, match="ttl"):
        client.grant(0)
    with pytest.raises(TypeError):
        client.revoke("12")  # type: ignore[arg-type]
