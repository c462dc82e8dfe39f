"""What a client's calls to a real etcd load: etcd's header blocks never
need HPACK's dynamic table (its first block sets the size we advertise, 0),
so they are decoded without the `hpack` package, and `hpack` stays unloaded,
and with it `logging`, which it imports (asyncio imports it too): start-up
time of every first call, and of each `pyetcd` command.  In a fresh
interpreter, as tests/test_lazy_imports.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pyetcd_wire.testing import EtcdMember

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("client_class", ["Client", "AsyncClient"])
def test_calls_to_etcd_load_neither_hpack_nor_logging(
    etcd_single: EtcdMember, client_class: str
) -> None:
    calls = (
        "AWAIT client.put(b'k', b'v')\n"
        "assert (AWAIT client.get(b'k')).kvs[0].value == b'v'\n"
        "assert (AWAIT client.get(b'missing')).count == 0\n"
    )
    if client_class == "Client":
        code = f"with pyetcd_wire.Client({etcd_single.endpoint!r}) as client:\n"
        code += "".join(
            f"    {line.replace('AWAIT ', '')}\n" for line in calls.splitlines()
        )
    else:
        code = (
            "import asyncio\n"
            "async def main():\n"
            f"    async with pyetcd_wire.AsyncClient({etcd_single.endpoint!r})"
            " as client:\n"
            + "".join(
                f"        {line.replace('AWAIT', 'await')}\n"
                for line in calls.splitlines()
            )
            + "asyncio.run(main())\n"
        )
    probe = (
        "import sys\nimport pyetcd_wire\n"
        + code
        + "print(' '.join(m for m in ('hpack', 'logging') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    # asyncio imports logging itself.
    expected = [] if client_class == "Client" else ["logging"]
    assert done.stdout.split() == expected
