"""The compat module's parts that need no server: the public names, the
compares and operations of transactions, the utils, the range keywords and
the constructor's argument checks."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import pyetcd_wire
import pyetcd_wire.compat.etcd3 as etcd3
from pyetcd_wire.compat.etcd3 import etcdrpc, utils
from pyetcd_wire.compat.etcd3.client import Etcd3Client, grpc_client_options
from tests.tls_certs import make_certs


def test_the_public_names_are_python_etcd3s() -> None:
    for name in (
        "client",
        "Etcd3Client",
        "MultiEndpointEtcd3Client",
        "Endpoint",
        "Transactions",
        "Etcd3Exception",
        "Lease",
        "Lock",
        "Member",
        "etcdrpc",
        "__version__",
    ):
        assert hasattr(etcd3, name), name
    for module in (
        "client",
        "exceptions",
        "utils",
        "transactions",
        "leases",
        "locks",
        "members",
        "watch",
        "etcdrpc",
    ):
        importlib.import_module(f"pyetcd_wire.compat.etcd3.{module}")
    assert callable(etcd3.client)  # the function, as in python-etcd3


def test_etcdrpc_has_the_enums_the_tests_use() -> None:
    assert etcdrpc.NOSPACE == 1
    assert etcdrpc.RangeRequest.DESCEND == 2
    assert etcdrpc.Compare.NOT_EQUAL == 3
    assert etcdrpc.AlarmRequest.ACTIVATE == 1


@pytest.mark.parametrize(
    ("make", "target", "field"),
    [
        (lambda tx: tx.version("k"), etcdrpc.Compare.VERSION, "version"),
        (lambda tx: tx.create("k"), etcdrpc.Compare.CREATE, "create_revision"),
        (lambda tx: tx.mod("k"), etcdrpc.Compare.MOD, "mod_revision"),
    ],
)
def test_number_compares(make, target, field) -> None:
    tx = etcd3.Transactions()
    for compare, op in (
        (make(tx) == 1, etcdrpc.Compare.EQUAL),
        (make(tx) != 2, etcdrpc.Compare.NOT_EQUAL),
        (make(tx) < 3, etcdrpc.Compare.LESS),
        (make(tx) > 4, etcdrpc.Compare.GREATER),
    ):
        assert compare.op == op
        message = compare.build_message()
        assert (message.target, message.result, message.key) == (target, op, b"k")
    assert getattr((make(tx) == "0").build_message(), field) == 0  # a str of an int


def test_value_compares_and_ranges() -> None:
    tx = etcd3.Transactions()
    compare = tx.value("/a/", "/a0") == "v"
    message = compare.build_message()
    assert message.target == etcdrpc.Compare.VALUE
    assert (message.value, message.key, message.range_end) == (b"v", b"/a/", b"/a0")
    assert "==" in repr(compare)
    with pytest.raises(ValueError, match="op must be one of"):
        tx.value("k").build_message()


def test_operations_become_ours() -> None:
    from pyetcd_wire.compat.etcd3 import transactions as t

    lease = etcd3.Lease(7, 10)
    put = t.to_op(t.Put("k", "v", lease=lease, prev_kv=True))
    assert put == pyetcd_wire.Op.put("k", "v", lease=7, prev_kv=True)
    assert t.to_op(t.Get("a", "b")) == pyetcd_wire.Op.get("a", range_end="b")
    delete = t.to_op(t.Delete("a", prev_kv=True))
    assert delete == pyetcd_wire.Op.delete("a", prev_kv=True)
    nested = t.to_op(t.Txn([t.Version("k") == 0], [t.Put("k", "v")]))
    assert nested.kind == "txn"
    assert nested.success == (pyetcd_wire.Op.put("k", "v"),)
    with pytest.raises(TypeError, match="Unknown request class"):
        t.to_op("not an op")


def test_utils() -> None:
    assert utils.increment_last_byte(b"foo") == b"fop"
    assert utils.to_bytes("doot") == b"doot"
    assert utils.to_bytes(b"doot") == b"doot"
    assert utils.lease_to_id(etcd3.Lease(5, 1)) == 5
    assert utils.lease_to_id("6") == 6
    assert utils.lease_to_id(None) == 0


def test_prefix_range_end_drops_trailing_ff() -> None:
    """python-etcd3's master gave b"b\\xff" for b"a\\xff", leaving out b"b"."""
    assert utils.prefix_range_end(b"a\xff") == b"b"
    assert utils.prefix_range_end(b"ab") == b"ac"
    assert utils.prefix_range_end(b"\xff\xff") == b"\0"


def test_range_requests_check_sort_options() -> None:
    client = Etcd3Client(port=1)  # connects to nothing until a call
    with client:
        for given, wanted in (
            (None, etcdrpc.RangeRequest.KEY),
            ("value", etcdrpc.RangeRequest.VALUE),
            ("create", etcdrpc.RangeRequest.CREATE),
        ):
            request = client._build_get_range_request(b"k", sort_target=given)
            assert request.sort_target == wanted
        request = client._build_get_range_request(b"k", sort_order="descend", limit=3)
        assert (request.sort_order, request.limit) == (etcdrpc.RangeRequest.DESCEND, 3)
        request = client._build_get_range_request(b"k", sort_order="ascend")
        assert request.sort_order == etcdrpc.RangeRequest.ASCEND  # as given
        request = client._build_get_range_request(b"k", min_create_revision=4)
        assert (request.min_create_revision, request.min_mod_revision) == (4, 0)
        with pytest.raises(ValueError, match="sort_target must be one of"):
            client._build_get_range_request(b"k", sort_target="feelsbadman")
        with pytest.raises(ValueError, match="unknown sort order"):
            client._build_get_range_request(b"k", sort_order="feelsbadman")
        with pytest.raises(TypeError, match="Don't use key or range_end"):
            client.get_prefix("a", range_end="b")


def test_grpc_options_that_mean_something_here() -> None:
    options = grpc_client_options(
        [
            ("grpc.max_receive_message_length", -1),
            ("grpc.max_send_message_length", 1024),
            ("grpc.keepalive_time_ms", 30000),
            ("grpc.enable_http_proxy", 0),
        ]
    )
    assert options == {
        "max_recv_message_size": 2**31 - 1,
        "max_send_message_size": 1024,
        "keepalive_time": 30.0,
    }
    assert grpc_client_options({"grpc.keepalive_timeout_ms": 5000}) == {
        "keepalive_timeout": 5.0
    }


def test_credentials_come_in_pairs() -> None:
    with pytest.raises(ValueError, match="both user and password"):
        etcd3.client(user="usr")
    with pytest.raises(ValueError, match="both user and password"):
        etcd3.client(password="pwd")


def test_tls_arguments_are_checked_as_python_etcd3_did(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    with etcd3.client(
        ca_cert=certs.ca, cert_key=certs.client_key, cert_cert=certs.client_cert
    ) as secure:
        assert secure.uses_secure_channel is True
        assert secure._client.endpoints == ("https://localhost:2379",)
    with etcd3.client(ca_cert=certs.ca) as ca_only:
        assert ca_only.uses_secure_channel is True
    with etcd3.client() as plain:
        assert plain.uses_secure_channel is False
        assert plain._client.endpoints == ("http://localhost:2379",)
    for key, cert in ((certs.client_key, None), (None, certs.client_cert)):
        with pytest.raises(ValueError, match="ca_cert is required by itself"):
            etcd3.client(ca_cert=certs.ca, cert_key=key, cert_cert=cert)


def test_endpoints() -> None:
    with pytest.raises(ValueError, match="TLS credentials"):
        etcd3.Endpoint("h", 1)
    endpoint = etcd3.Endpoint("::1", 2379, secure=False)
    assert endpoint.url == "http://[::1]:2379"
    assert str(endpoint) == "Endpoint(http://::1:2379)"
    with pytest.raises(ValueError, match="at least one Endpoint"):
        etcd3.MultiEndpointEtcd3Client([])
    both = [etcd3.Endpoint("a", 1, secure=False), etcd3.Endpoint("b", 2, secure=False)]
    with etcd3.MultiEndpointEtcd3Client(both, failover=True) as client:
        assert client._client.endpoints == ("http://a:1", "http://b:2")
    with etcd3.MultiEndpointEtcd3Client(both) as client:
        assert len(client._client.endpoints) == 1  # python-etcd3: one, at random
