"""grpcio stubs for our proto/*.proto, generated at run time into a temp dir.

The copies live in package `etcdbench_grpcio` (file names
"etcdbench_grpcio/rpc.proto" ...) in protobuf's *default* descriptor pool,
while pyetcd_wire's modules live in a private pool (pyetcd_wire/_proto/_pool.py),
so both define `etcdserverpb.RangeRequest` without clashing.  `verify()`
checks that, and that both encode a request to the same bytes.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Tuple

PACKAGE = "etcdbench_grpcio"


def generate(proto_dir: Path, work_dir: Path) -> Tuple[ModuleType, ModuleType]:
    """Run grpc_tools.protoc in this process; return (rpc_pb2, rpc_pb2_grpc).

    Raises:
        ImportError: grpcio-tools is not installed.
        RuntimeError: protoc failed.
    """
    import grpc_tools  # type: ignore[import-untyped]
    from grpc_tools import protoc

    src = work_dir / "src" / PACKAGE
    out = work_dir / "out"
    src.mkdir(parents=True)
    (out / PACKAGE).mkdir(parents=True)
    (out / PACKAGE / "__init__.py").write_text("")
    files = []
    for proto in sorted(proto_dir.glob("*.proto")):
        text = re.sub(
            r'^import "([^"/]+\.proto)";',
            rf'import "{PACKAGE}/\1";',
            proto.read_text(),
            flags=re.M,
        )
        (src / proto.name).write_text(text)
        files.append(f"{PACKAGE}/{proto.name}")
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{work_dir / 'src'}",
        f"-I{include}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed: {' '.join(args)}")
    sys.path.insert(0, str(out))
    try:
        pb2 = importlib.import_module(f"{PACKAGE}.rpc_pb2")
        grpc_pb2 = importlib.import_module(f"{PACKAGE}.rpc_pb2_grpc")
    finally:
        sys.path.remove(str(out))
    return pb2, grpc_pb2


def verify(theirs: ModuleType, ours: ModuleType) -> str:
    """Check the two module sets do not share a pool and agree on the wire.

    Returns:
        A one-line description for the report.

    Raises:
        RuntimeError: they share a pool, or encode differently.
    """
    from google.protobuf import descriptor_pool

    default = descriptor_pool.Default()
    their_file = theirs.RangeRequest.DESCRIPTOR.file
    our_file = ours.RangeRequest.DESCRIPTOR.file
    if their_file.pool is not default or our_file.pool is default:
        raise RuntimeError("descriptor pools are not separate")
    if their_file.name == our_file.name:
        raise RuntimeError(f"both use file name {our_file.name!r}")
    fields = {"key": b"k" * 20, "serializable": True, "limit": 1}
    a = theirs.RangeRequest(**fields).SerializeToString()
    b = ours.RangeRequest(**fields).SerializeToString()
    if a != b:
        raise RuntimeError(f"RangeRequest encodes differently: {a!r} vs {b!r}")
    return (
        f"grpcio stubs: {their_file.name!r} in the default pool; ours:"
        f" {our_file.name!r} in a private pool; same wire bytes"
    )
