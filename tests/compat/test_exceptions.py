"""`exceptions.translated`: python-etcd3's classes for our errors, each also
the error it came from; the errors python-etcd3 let through raw stay ours,
and are also ``grpc.RpcError`` only when grpc is already loaded (a fake
``grpc`` module here: grpcio is no dependency of the test suite)."""

from __future__ import annotations

import enum
import subprocess
import sys
import traceback
import types

import pytest

import pyetcd_wire.compat.etcd3 as etcd3
from pyetcd_wire import errors as ours
from pyetcd_wire.compat.etcd3 import exceptions
from pyetcd_wire.compat.etcd3.exceptions import translate_errors, translated
from tests.helpers import free_port


@pytest.mark.parametrize(
    ("error", "theirs"),
    [
        (ours.DeadlineExceededError("deadline"), exceptions.ConnectionTimeoutError),
        (ours.UnavailableError(), exceptions.ConnectionFailedError),
        (ours.NoLeaderError(), exceptions.ConnectionFailedError),
        (
            ours.ConnectionFailedError([("a:1", "refused")]),
            exceptions.ConnectionFailedError,
        ),
        (ours.ConnectionLostError("lost"), exceptions.ConnectionFailedError),
        (ours.InternalError(), exceptions.InternalServerError),
        (ours.RemoteProtocolError("bad frame"), exceptions.InternalServerError),
        (ours.AuthNotEnabledError(), exceptions.PreconditionFailedError),
        (ours.NoEndpointAvailableError(), exceptions.NoServerAvailableError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_a_translated_error_is_both_classes(error, theirs) -> None:
    result = translated(error)
    assert isinstance(result, theirs)
    assert isinstance(result, exceptions.Etcd3Exception)
    assert isinstance(result, type(error))
    assert type(result).__name__ == theirs.__name__
    assert vars(result) == vars(error)  # endpoint, details, ... kept
    assert result.args == error.args


def test_python_etcd3s_fixed_message_comes_first() -> None:
    result = translated(ours.DeadlineExceededError("no answer in 1.0 s"))
    assert str(result) == "etcd connection timeout (no answer in 1.0 s)"
    assert str(exceptions.ConnectionFailedError()) == "etcd connection failed"


def test_a_compacted_watch_is_revision_compacted_error() -> None:
    error = ours.CompactedError(compact_revision=7)
    result = translated(error)
    assert isinstance(result, exceptions.RevisionCompactedError)
    assert isinstance(result, ours.CompactedError)
    assert result.compacted_revision == 7
    assert result.compact_revision == 7


def test_what_python_etcd3_let_through_stays_ours() -> None:
    error = ours.CompactedError()  # a unary call's: no compact revision
    assert translated(error) is error
    error2 = ours.PermissionDeniedError()
    assert translated(error2) is error2


def test_translated_leaves_others_alone() -> None:
    error = ValueError("x")
    assert translated(error) is error
    done = translated(ours.UnavailableError())
    assert translated(done) is done


def test_the_translated_error_keeps_its_traceback() -> None:
    def fail() -> None:
        raise ours.UnavailableError()

    @translate_errors
    def call() -> None:
        fail()

    with pytest.raises(exceptions.ConnectionFailedError) as info:
        call()
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "fail"
    assert info.value.__suppress_context__


class _FakeStatusCode(enum.Enum):
    OUT_OF_RANGE = (11, "out of range")
    PERMISSION_DENIED = (7, "permission denied")


@pytest.fixture
def fake_grpc(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A ``grpc`` module in sys.modules, as an application that uses grpcio
    has one."""
    grpc = types.ModuleType("grpc")

    class RpcError(Exception):
        pass

    grpc.RpcError = RpcError  # type: ignore[attr-defined]
    grpc.StatusCode = _FakeStatusCode  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "grpc", grpc)
    return grpc


def test_with_grpc_loaded_a_raw_error_is_also_grpcs(fake_grpc) -> None:
    error = ours.CompactedError(endpoint="127.0.0.1:2379")
    result = translated(error)
    assert isinstance(result, fake_grpc.RpcError)
    assert isinstance(result, ours.CompactedError)
    assert type(result).__name__ == "CompactedError"
    assert result.code() is _FakeStatusCode.OUT_OF_RANGE
    assert result.details() == "etcdserver: mvcc: required revision has been compacted"
    # ... and still ours, attribute for attribute
    assert result.code == ours.StatusCode.OUT_OF_RANGE
    assert result.code.name == "OUT_OF_RANGE"
    assert result.details == error.details
    assert result.endpoint == "127.0.0.1:2379"
    assert str(result) == str(error)


def test_with_grpc_loaded_a_translated_error_is_not_grpcs(fake_grpc) -> None:
    result = translated(ours.UnavailableError())
    assert isinstance(result, exceptions.ConnectionFailedError)
    assert not isinstance(result, fake_grpc.RpcError)
    other = ours.LeaseExpiredError()  # no gRPC status: not grpc's either
    assert translated(other) is other


def test_the_twin_classes_are_made_once(fake_grpc) -> None:
    first = translated(ours.PermissionDeniedError())
    second = translated(ours.PermissionDeniedError())
    assert type(first) is type(second)
    assert second.code() is _FakeStatusCode.PERMISSION_DENIED


def test_the_package_never_imports_grpc() -> None:
    """Importing the compat module and translating an error leave grpc
    unloaded (a fresh interpreter: this one may have it)."""
    code = (
        "import sys\n"
        "import pyetcd_wire.compat.etcd3 as etcd3\n"
        "from pyetcd_wire import errors\n"
        "etcd3.exceptions.translated(errors.CompactedError())\n"
        "etcd3.exceptions.translated(errors.UnavailableError())\n"
        "assert 'grpc' not in sys.modules, 'grpc was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_refused_connection_is_connection_failed_error() -> None:
    """A real call through the compat client: nothing listens there."""
    client = etcd3.client(host="127.0.0.1", port=free_port(), timeout=5)
    with client, pytest.raises(exceptions.ConnectionFailedError) as info:
        client.get("k")
    assert isinstance(info.value, ours.ConnectionFailedError)
    assert info.value.failures  # ours: each endpoint tried, and why
