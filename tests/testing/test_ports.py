"""The test kit's ports: free, distinct, and out of the kernel's way."""

from __future__ import annotations

import socket

import pytest

from pyetcd_wire.testing import _etcd_process
from pyetcd_wire.testing._etcd_process import _first_ephemeral_port, _free_ports


def test_ports_are_free_distinct_and_below_the_ephemeral_range():
    ports = _free_ports(50)
    assert len(set(ports)) == 50
    assert all(
        _etcd_process._PICK_FROM <= port < _first_ephemeral_port() - 1 for port in ports
    )
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_is_never_handed_out_twice():
    first = set(_free_ports(20))
    assert not first & set(_free_ports(20))


def test_a_port_in_use_is_passed_over(monkeypatch):
    busy, free = _free_ports(2)
    picks = iter([busy, free])
    monkeypatch.setattr(
        _etcd_process.random.Random, "randrange", lambda self, a, b: next(picks)
    )
    monkeypatch.setattr(_etcd_process, "_ports_given", set())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", busy))
        assert _free_ports(1) == [free]


def test_a_range_in_the_environment_confines_the_picks(monkeypatch):
    monkeypatch.setenv(_etcd_process.PORTS_VARIABLE, "16000-16199")
    assert all(16000 <= port < 16199 for port in _free_ports(40))


@pytest.mark.parametrize(
    "given", ["16000", "16000-16050", "80-9000", "a-b", "9000-70000"]
)
def test_a_malformed_range_says_what_is_expected(monkeypatch, given):
    monkeypatch.setenv(_etcd_process.PORTS_VARIABLE, given)
    with pytest.raises(ValueError, match="expected LOW-HIGH"):
        _free_ports(1)
