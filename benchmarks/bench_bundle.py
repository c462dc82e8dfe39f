"""What the single-file bundle costs: size, cold import, CPU per call.

Run from the repository root:

    python benchmarks/bench_bundle.py [--wheels DIR] [--runs 9] [--calls 3000]

It builds the bundle (``pyetcd bundle``'s build; ``--wheels`` as there), then,
on the running interpreter:

* sizes: ``pyetcd.pyz``, ``pyetcd_wire.py``, and what the zip holds;
* cold import: ``import pyetcd_wire; pyetcd_wire.Client`` timed inside a
  fresh process (interpreter start excluded), median of ``--runs``: the
  installed package (with whatever protobuf is installed: upb on CPython),
  the ``.py`` with no bytecode cache (``-B``, empty cache dir), the ``.py``
  with its cache warm, and the ``.pyz`` (zipimport compiles every time);
* client CPU per ``get`` (process CPU time, so the reader thread counts too)
  against a test-kit etcd: installed on its protobuf, installed with
  ``PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python``, and the bundle (its
  vendored pure-Python protobuf).  Median of 3 processes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

from pyetcd_wire._bundle import build  # noqa: E402
from pyetcd_wire.testing import EtcdMember  # noqa: E402

IMPORT = """
import sys, time
if len(sys.argv) > 1:
    sys.path.insert(0, sys.argv[1])
t = time.perf_counter()
import pyetcd_wire
pyetcd_wire.Client
print(time.perf_counter() - t)
"""

# The bundle's cache, like Python's own, honours PYTHONDONTWRITEBYTECODE:
# unset here, so "cache warm" has one (-B is how "no cache" says so).
ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

GETS = """
import sys, time
if len(sys.argv) > 3:
    sys.path.insert(0, sys.argv[3])
import pyetcd_wire
endpoint, calls = sys.argv[1], int(sys.argv[2])
with pyetcd_wire.Client(endpoint) as client:
    client.put("/bench/bundle", "x" * 100)
    for _ in range(calls):  # as many again to warm up: PyPy's JIT settles
        client.get("/bench/bundle")
    t = time.process_time()
    for _ in range(calls):
        client.get("/bench/bundle")
    print((time.process_time() - t) / calls)
"""


def run(
    code: str,
    args: List[str],
    cwd: Path,
    env: Optional[Dict[str, str]] = None,
    flags: tuple = (),
) -> float:
    done = subprocess.run(
        [sys.executable, *flags, "-c", code, *args],
        cwd=cwd,
        env={**ENVIRONMENT, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode:  # e.g. "installed" where pyetcd_wire is not installed
        raise RuntimeError(
            f"{' '.join([sys.executable, *flags])} in {cwd} exited"
            f" {done.returncode}: {done.stderr.strip()[-500:]}"
        )
    return float(done.stdout.split()[-1])


def import_times(bundle: Path, work: Path, runs: int) -> Dict[str, float]:
    empty = work / "empty"
    empty.mkdir()
    warm = {"XDG_CACHE_HOME": str(work / "warm-cache")}
    run(IMPORT, [], bundle, warm)  # fills the cache (and __pycache__)
    variants = {
        "installed": lambda i: run(IMPORT, [], empty),
        ".py, no cache": lambda i: run(
            IMPORT, [], bundle, {"XDG_CACHE_HOME": str(work / f"cold{i}")}, ("-B",)
        ),
        ".py, cache warm": lambda i: run(IMPORT, [], bundle, warm),
        ".pyz": lambda i: run(IMPORT, [str(bundle / "pyetcd.pyz")], empty),
    }
    samples: Dict[str, List[float]] = {name: [] for name in variants}
    for i in range(runs):  # interleaved: load on the machine hits all alike
        for name, measure in variants.items():
            samples[name].append(measure(i))
    return {name: statistics.median(values) for name, values in samples.items()}


def cpu_per_get(bundle: Path, work: Path, calls: int) -> Dict[str, float]:
    empty = work / "empty"
    pure = {"PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}
    with EtcdMember("bench-bundle") as member:
        endpoint = member.endpoint
        variants = {
            "installed, own protobuf": lambda: run(GETS, [endpoint, str(calls)], empty),
            "installed, pure-Python protobuf": lambda: run(
                GETS, [endpoint, str(calls)], empty, pure
            ),
            "bundle .py (vendored pure Python)": lambda: run(
                GETS, [endpoint, str(calls)], bundle
            ),
        }
        samples: Dict[str, List[float]] = {name: [] for name in variants}
        for _ in range(3):
            for name, measure in variants.items():
                samples[name].append(measure())
    return {name: statistics.median(values) for name, values in samples.items()}


def implementation() -> str:
    from google.protobuf.internal import api_implementation

    version = sys.version.split()[0]
    return f"{sys.implementation.name} {version}, protobuf {api_implementation.Type()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheels", help="directory of the pinned wheels")
    parser.add_argument("--runs", type=int, default=9, help="imports per variant")
    parser.add_argument("--calls", type=int, default=3000, help="gets per process")
    args = parser.parse_args()
    bundle = build(wheels=Path(args.wheels) if args.wheels else None)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        out = work / "bundle"
        module, zipapp = bundle.write(out)
        print(f"# bench_bundle on {implementation()}")
        print(f"{'size':<36}{'KB':>10}")
        print(f"{module.name:<36}{module.stat().st_size / 1000:>10.0f}")
        print(f"{zipapp.name:<36}{zipapp.stat().st_size / 1000:>10.0f}")
        times = import_times(out, work, args.runs)
        title = f"cold import (median of {args.runs})"
        print(f"\n{title:<36}{'ms':>10}{'x':>8}")
        for name, seconds in times.items():
            ratio = seconds / times["installed"]
            print(f"{name:<36}{seconds * 1000:>10.0f}{ratio:>8.2f}")
        cpu = cpu_per_get(out, work, args.calls)
        print(f"\n{'client CPU per get (median of 3)':<36}{'µs':>10}{'x':>8}")
        first = next(iter(cpu.values()))
        for name, seconds in cpu.items():
            print(f"{name:<36}{seconds * 1e6:>10.0f}{seconds / first:>8.2f}")


if __name__ == "__main__":
    main()
