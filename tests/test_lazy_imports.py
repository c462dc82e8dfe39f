"""What importing the package loads: the sync client leaves asyncio, ssl,
hpack, logging and its stream worker unloaded until something uses them
(AsyncClient, TLS, the first connection, the first log record, the first
watch), and so saves their import time at start-up.  Each check runs in a
fresh interpreter, since this one has loaded them for other tests."""

from __future__ import annotations

import subprocess
import sys
from typing import List

import pytest

pytestmark = pytest.mark.timeout(120)


def loaded_after(code: str, modules: List[str]) -> List[str]:
    """Which of `modules` a fresh interpreter has loaded after running `code`."""
    probe = (
        f"{code}\nimport sys\n"
        f"print(' '.join(m for m in {modules!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


#: What only some clients use, left out of `import pyetcd_wire; Client`:
#: the admin, lease and watch request builders, the snapshot file, the
#: auth token source, auto-sync, metrics, stream resumption, gevent's socket
#: wrapper, and base64 (binary metadata and status details).
SOME_CLIENTS_ONLY = [
    "pyetcd_wire._api.auth",
    "pyetcd_wire._api.cluster",
    "pyetcd_wire._api.maintenance",
    "pyetcd_wire._api.lease",
    "pyetcd_wire._api.watch",
    "pyetcd_wire._core.lease",
    "pyetcd_wire._client.snapshot_file",
    "pyetcd_wire._client.measured",
    "pyetcd_wire._policy.resume",
    "pyetcd_wire._sync.auth",
    "pyetcd_wire._sync.autosync",
    "pyetcd_wire._sync.cooperative",
    "pyetcd_wire.metrics",
    "base64",
]


def test_the_sync_client_class_loads_no_asyncio_ssl_or_hpack() -> None:
    code = "import pyetcd_wire\npyetcd_wire.Client"
    modules = ["asyncio", "ssl", "hpack", "logging", "random"]
    assert loaded_after(code, modules) == []


def test_records_wait_for_logging_to_be_imported() -> None:
    # Without logging imported no handler exists: the record is dropped, and
    # logging stays unloaded; once imported, the next record reaches it.
    code = (
        "import sys\n"
        "from pyetcd_wire import _log\n"
        "_log.dialed('127.0.0.1:1', False, 0)\n"
        "print('logging' in sys.modules)\n"
        "import logging\n"
        "logging.basicConfig(stream=sys.stdout, format='%(name)s %(message)s')\n"
        "logging.getLogger('pyetcd_wire').setLevel(logging.INFO)\n"
        "_log.dialed('127.0.0.1:2', False, 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "False",
        "pyetcd_wire.connection connected to 127.0.0.1:2",
    ]


def test_a_plaintext_client_not_yet_called_loads_only_what_every_client_needs() -> None:
    # The constructor checks its options and dials nothing.
    code = (
        "import pyetcd_wire\n"
        "client = pyetcd_wire.Client('127.0.0.1:2379', metrics=None)\n"
        "client.close()"
    )
    worker = "pyetcd_wire._sync.stream_worker"
    modules = ["asyncio", "ssl", "hpack", worker, *SOME_CLIENTS_ONLY]
    assert loaded_after(code, modules) == []


def test_the_async_client_and_tls_still_load_them() -> None:
    code = (
        "import pyetcd_wire\npyetcd_wire.AsyncClient\npyetcd_wire.TLS().ssl_context()"
    )
    assert loaded_after(code, ["asyncio", "ssl"]) == ["asyncio", "ssl"]


def test_the_command_lines_help_and_usage_errors_load_no_protobuf_or_client() -> None:
    code = (
        "import contextlib, io\n"
        "from pyetcd_wire.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), "
        "contextlib.redirect_stderr(io.StringIO()):\n"
        "    assert main(['--help']) == 0\n"
        "    assert main(['lease', 'grant', '--help']) == 0\n"
        "    assert main(['get', '--no-such-flag', 'k']) == 1\n"
        "    assert main(['no-such-command']) == 1"
    )
    heavy = ["google.protobuf", "pyetcd_wire._sync.client", "json", "logging"]
    assert loaded_after(code, heavy) == []


def test_a_command_loads_its_own_command_module_only() -> None:
    code = (
        "import contextlib, io\n"
        "from pyetcd_wire.cli import main\n"
        "with contextlib.redirect_stderr(io.StringIO()):\n"
        "    assert main(['get', '--no-such-flag', 'k']) == 1"
    )
    modules = ["pyetcd_wire.cli.kv", "pyetcd_wire.cli.auth", "pyetcd_wire.cli.lease"]
    # argparse's default help width would import shutil (zlib, bz2, lzma).
    assert loaded_after(code, [*modules, "shutil"]) == ["pyetcd_wire.cli.kv"]


def test_dialing_an_ascii_host_loads_no_idna_codec() -> None:
    # getaddrinfo encodes a str host with the "idna" codec (stringprep,
    # unicodedata); an ASCII host goes to it as bytes.
    code = (
        "import socket\n"
        "from pyetcd_wire._policy.endpoints import parse_endpoint\n"
        "from pyetcd_wire._sync import transport\n"
        "server = socket.socket()\n"
        "server.bind(('127.0.0.1', 0))\n"
        "server.listen(1)\n"
        "port = server.getsockname()[1]\n"
        "for host in ('127.0.0.1', 'localhost'):\n"
        "    sock = transport.connect(parse_endpoint(f'{host}:{port}'), 5.0)\n"
        "    server.accept()[0].close()\n"
        "    sock.close()"
    )
    assert loaded_after(code, ["encodings.idna", "stringprep"]) == []


def test_a_plain_client_builds_no_admin_messages() -> None:
    # Cluster, Maintenance and Auth messages (admin.proto, and auth.proto's)
    # are built on first use; KV, Watch and Lease requests need none.
    code = (
        "import pyetcd_wire\n"
        "from pyetcd_wire._api import kv, lease, watch\n"
        "client = pyetcd_wire.Client('127.0.0.1:2379', metrics=None)\n"
        "client.close()\n"
        "pyetcd_wire.AsyncClient\n"
        "kv.range_request('k')\n"
        "pyetcd_wire.Op.put('k', 'v')\n"
        "lease.lease_grant_request(5)\n"
        "watch.watch_create_request('k')"
    )
    admin = ["pyetcd_wire._proto.admin_pb2", "pyetcd_wire._proto.auth_pb2"]
    assert loaded_after(code, admin) == []
    code += "\nfrom pyetcd_wire._proto import rpc_pb2\nrpc_pb2.StatusRequest()"
    assert loaded_after(code, admin) == admin


def test_the_facades_load_their_builders_when_called() -> None:
    # Each facade imports its builder in its body: a call with a bad argument
    # reaches the builder (its check raises) without a connection.
    code = (
        "import pyetcd_wire\n"
        "client = pyetcd_wire.Client('127.0.0.1:1', metrics=None)\n"
        "for call in (\n"
        "    lambda: client.grant(-1),\n"
        "    lambda: client.watch(b''),\n"
        "    lambda: client.member_remove(-1),\n"
        "    lambda: client.hash_kv(-1),\n"
        "    lambda: client.user_add('', 'p'),\n"
        "):\n"
        "    try:\n"
        "        call()\n"
        "    except (TypeError, ValueError, pyetcd_wire.EtcdError):\n"
        "        pass\n"
        "client.close()"
    )
    builders = SOME_CLIENTS_ONLY[:5]
    assert loaded_after(code, builders) == builders
