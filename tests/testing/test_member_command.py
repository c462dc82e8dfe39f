"""The etcd command line of a test-kit member: the peer URL it advertises and
the cluster state it starts in (the fault campaign runs members whose peers
reach them through proxies, and adds removed members back)."""

from __future__ import annotations

import pytest

from pyetcd_wire.testing.etcd import EtcdMember


def _flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_a_member_advertises_its_own_peer_url_by_default():
    member = EtcdMember("m0", client_port=20001, peer_port=20002)
    try:
        command = member.command()
        assert _flag(command, "--initial-advertise-peer-urls") == member.peer_url
        assert _flag(command, "--listen-peer-urls") == member.peer_url
        assert _flag(command, "--initial-cluster") == f"m0={member.peer_url}"
        assert _flag(command, "--initial-cluster-state") == "new"
    finally:
        member.close()


def test_a_member_advertises_a_proxy_and_joins_an_existing_cluster():
    proxy = "http://127.0.0.1:20099"
    member = EtcdMember(
        "m1",
        client_port=20001,
        peer_port=20002,
        advertise_peer_url=proxy,
        initial_cluster={"m0": "http://127.0.0.1:20098", "m1": proxy},
        initial_cluster_state="existing",
    )
    try:
        command = member.command()
        assert _flag(command, "--initial-advertise-peer-urls") == proxy
        assert _flag(command, "--listen-peer-urls") == "http://127.0.0.1:20002"
        assert _flag(command, "--initial-cluster-state") == "existing"
        assert member.advertise_peer_url == proxy
    finally:
        member.close()


def test_an_unknown_cluster_state_is_refused():
    with pytest.raises(ValueError, match="'new' or 'existing'"):
        EtcdMember("m2", client_port=20001, peer_port=20002, initial_cluster_state="x")
