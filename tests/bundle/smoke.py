"""A real-etcd smoke of a bundle, run by test_smoke.py as

    python -S -E -c "$(cat smoke.py)" ENDPOINT MODULE|ZIPAPP [--user-protobuf]

in a folder that holds only the bundle (``-c`` keeps that folder, the
current one, first on ``sys.path``).  It talks to its parent over stdin and
stdout: after the first watch event it prints ``RESTART`` and waits for a
line (the parent restarts etcd meanwhile), then checks that the watch resumed
without loss or duplicate.  ``OK`` is its last line.

With ``--user-protobuf`` (run without ``-S``, in a venv that has its own
protobuf): the user's ``google.protobuf`` must keep working beside the
bundle, on its own implementation, and the bundle must not touch it.
"""

from __future__ import annotations

import os
import subprocess
import sys

ENDPOINT, KIND = sys.argv[1], sys.argv[2]
USER_PROTOBUF = "--user-protobuf" in sys.argv[3:]
HERE = os.getcwd()
if KIND == "ZIPAPP":
    sys.path.insert(0, os.path.join(HERE, "pyetcd.pyz"))
    CLI = [os.path.join(HERE, "pyetcd.pyz")]
else:
    CLI = [os.path.join(HERE, "pyetcd_wire.py")]

if USER_PROTOBUF:
    from google.protobuf import descriptor_pb2, struct_pb2
    from google.protobuf.internal import api_implementation

    user_implementation = api_implementation.Type()

import pyetcd_wire as etcd  # noqa: E402 (after the user's protobuf)
from pyetcd_wire.recipes import Lock, Session  # noqa: E402


def check(condition: object, what: str) -> None:
    if not condition:
        sys.exit(f"smoke failed: {what}")


def bundle_is_isolated() -> None:
    check(etcd.__file__.startswith(HERE), f"pyetcd_wire from {etcd.__file__}")
    from pyetcd_wire._vendor.google.protobuf.internal import api_implementation

    check(api_implementation.Type() == "python", "vendored protobuf not pure")
    foreign = sorted(
        name
        for name, module in sys.modules.items()
        if name.split(".")[0] in ("google", "hpack")
        and not (USER_PROTOBUF and name.startswith("google"))
    )
    check(not foreign, f"the bundle imported {foreign}")


def user_protobuf_works() -> None:
    from google.protobuf.internal import api_implementation

    check(api_implementation.Type() == user_implementation, "user's protobuf changed")
    value = struct_pb2.Struct()
    value.update({"a": 1.5, "b": [True, "x"]})
    back = struct_pb2.Struct.FromString(value.SerializeToString())
    check(back["a"] == 1.5 and list(back["b"]) == [True, "x"], "user's Struct")
    proto = descriptor_pb2.FileDescriptorProto(name="user.proto")
    check(
        descriptor_pb2.FileDescriptorProto.FromString(proto.SerializeToString()).name
        == "user.proto",
        "user's descriptor_pb2",
    )
    vendored = sys.modules["pyetcd_wire._vendor.google.protobuf.descriptor_pb2"]
    check(
        vendored.FileDescriptorProto is not descriptor_pb2.FileDescriptorProto,
        "one descriptor_pb2 for both",
    )


def kv_and_txn(client: etcd.Client) -> None:
    client.put("/smoke/a", "1")
    check(client.get("/smoke/a").kvs[0].value == b"1", "get after put")
    result = client.txn(
        compare=[etcd.Compare.value("/smoke/a") == "1"],
        success=[etcd.Op.put("/smoke/a", "2")],
        failure=[],
    )
    check(result.succeeded, "txn compare")
    check(client.get("/smoke/a").kvs[0].value == b"2", "txn put")


def lease_and_lock(client: etcd.Client) -> None:
    lease = client.grant(3)
    with client.keep_alive(lease.ID) as keep_alive:
        renewals = iter(keep_alive)
        next(renewals)
        check(next(renewals).TTL > 0, "a second renewal")  # sent at TTL/3
    client.revoke(lease.ID)
    with Session(client, ttl=10) as session, Lock(session, "/smoke/lock"):
        check(client.get("/smoke/lock/", prefix=True).count == 1, "lock held")
    check(client.get("/smoke/lock/", prefix=True).count == 0, "lock released")


def watch_resumes(client: etcd.Client) -> None:
    with client.watch("/smoke/w/", prefix=True) as watch:
        responses = iter(watch)
        client.put("/smoke/w/1", "before")
        check(_keys(next(responses)) == [b"/smoke/w/1"], "first event")
        print("RESTART", flush=True)
        sys.stdin.readline()  # etcd restarted meanwhile
        client.put("/smoke/w/2", "after")
        check(_keys(next(responses)) == [b"/smoke/w/2"], "event after the restart")


def _keys(response: object) -> list:
    return [event.kv.key for event in response.events]  # type: ignore[attr-defined]


def cli() -> None:
    base = [sys.executable, "-S", "-E", *CLI, f"--endpoints={ENDPOINT}"]
    subprocess.run([*base, "put", "/smoke/cli", "from-cli"], check=True)
    out = subprocess.run(
        [*base, "get", "/smoke/cli", "--print-value-only"],
        check=True,
        capture_output=True,
    ).stdout
    check(out == b"from-cli\n", f"CLI get printed {out!r}")


bundle_is_isolated()
with etcd.Client(ENDPOINT, timeout=10) as client:
    kv_and_txn(client)
    lease_and_lock(client)
    watch_resumes(client)
cli()
bundle_is_isolated()
if USER_PROTOBUF:
    user_protobuf_works()
    print(f"user's protobuf: {user_implementation}", flush=True)
print("OK", flush=True)
