"""What bench_unary.py and bench_watch.py share around their measurements.

`etcd_run()` arms the watchdog, loads grpcio (its stubs generated into a temp
dir), starts a throwaway etcd member and yields a `Harness`: our Client and a
grpcio channel on that member, etcd's CPU clock, and the environment the report
describes.  `Meter(server_cpu, client).clock()` times one sample of `client`:
wall, the client's CPU (`OtherThreads`: this process less the other client's
own threads), CPU of etcd.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import gc
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, Tuple

import _grpcio_stubs
import _report

import pyetcd_wire
from pyetcd_wire import Client
from pyetcd_wire._proto import rpc_pb2
from pyetcd_wire.testing.etcd import EtcdMember

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def load_grpcio(work_dir: Path) -> Tuple[Optional[ModuleType], Any, str]:
    """(grpc, (rpc_pb2, rpc_pb2_grpc), note), or (None, None, why not)."""
    try:
        import grpc  # type: ignore[import-untyped]
    except ImportError as exc:
        return None, None, f"grpcio unavailable ({exc}): measuring our side only"
    try:
        stubs = _grpcio_stubs.generate(ROOT / "proto", work_dir)
        note = _grpcio_stubs.verify(stubs[0], rpc_pb2)
    except (ImportError, RuntimeError) as exc:
        return None, None, f"grpcio stubs unavailable ({exc}): our side only"
    return grpc, stubs, note


def add_run_arguments(parser: argparse.ArgumentParser, quick: str) -> None:
    """--quick (`quick` says how long it takes), --out and --check-budgets."""
    parser.add_argument("--quick", action="store_true", help=f"a short run ({quick})")
    parser.add_argument("--out", default=str(HERE / "results"), help="output dir")
    parser.add_argument(
        "--check-budgets", action="store_true", help="exit 1 if a budget is missed"
    )


@contextlib.contextmanager
def etcd_run(
    name: str, watchdog_seconds: float, etcd_args: Sequence[str] = ()
) -> Iterator[Harness]:
    """The watchdog, grpcio and an etcd member for one run of bench_`name`.

    A run that hangs is dumped (all threads' tracebacks) and killed after
    `watchdog_seconds`.  The caller closes the harness's clients."""
    faulthandler.dump_traceback_later(watchdog_seconds, exit=True)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        grpc, stubs, note = load_grpcio(Path(tmp))
        print(note)
        with EtcdMember(extra_args=etcd_args) as member:
            yield Harness(member, grpc, stubs, note, began)


class Harness:
    """One etcd member, our Client and grpcio's channel on it, and the facts
    about the run that go into the report's environment."""

    def __init__(
        self,
        member: EtcdMember,
        grpc: Optional[ModuleType],
        stubs: Any,
        note: str,
        began: float,
    ) -> None:
        self.member = member
        self.grpc = grpc
        self.grpcio_pb2: Optional[ModuleType] = stubs[0] if stubs else None
        self._grpcio_services = stubs[1] if stubs else None
        self.note = note
        self.began = began
        self.etcd_version = ".".join(map(str, member.version))
        self.load_before = load_average()
        self.client = Client(member.endpoint)
        self.grpc_channel = grpc.insecure_channel(member.endpoint) if grpc else None
        self.server_cpu = ServerCpu(member.pid)

    def grpcio_stub(self, service: str) -> Any:
        """grpcio's stub of etcd's `service` ("KV", "Watch" ...), None without."""
        if self.grpc_channel is None:
            return None
        return getattr(self._grpcio_services, f"{service}Stub")(self.grpc_channel)

    def close(self) -> None:
        self.client.close()
        if self.grpc_channel is not None:
            self.grpc_channel.close()

    def environment(self, extra: Dict[str, Any], run: Dict[str, Any]) -> Dict[str, Any]:
        """The report's environment, `extra` after the common entries; call it
        once measuring is over (it reads the load average and the run time)."""
        env = _environment(self.grpc, self.etcd_version, self.note)
        env["load_average"] = f"{self.load_before} before, {load_average()} after"
        env["etcd_flags"] = etcd_flags(self.member)
        env.update(extra)
        env["seconds"] = round(time.perf_counter() - self.began, 1)
        env["run"] = run
        return env


def in_threads(count: int, work: Callable[[int], object]) -> None:
    """Run ``work(0)`` ... ``work(count - 1)`` in threads at once and wait
    for them; a RuntimeError from the first that raised."""
    errors = []

    def run(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:  # raised in the caller's thread below
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} of {count} threads failed") from errors[0]


def warm_fraction() -> float:
    """How much of a scenario's calls warm a variant up: PyPy's JIT wants more."""
    return 1.0 if platform.python_implementation() == "PyPy" else 0.25


def etcd_flags(member: EtcdMember) -> str:
    """The flags that make this etcd unsafe (no fsync ...), or "(defaults)"."""
    unsafe = dict.fromkeys(f for f in member.command() if f.startswith("--unsafe"))
    return " ".join(unsafe) or "(defaults)"


# --- measuring --------------------------------------------------------------------


class ServerCpu:
    """CPU seconds etcd has used so far, from /proc (None where unreadable)."""

    def __init__(self, pid: int) -> None:
        self.path = f"/proc/{pid}/stat"
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __call__(self) -> Optional[float]:
        try:
            with open(self.path) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime
        except (OSError, ValueError, IndexError):
            return None


class OtherThreads:
    """CPU seconds used so far by the threads of the client *not* measured:
    both clients live in this process, and each has threads of its own that
    wake while the other is measured (grpcio's C-core pollers and timers, our
    stream worker).  Those are not the measured client's cost.

    Ours are the Python threads named ``pyetcd-wire...``; grpcio's are the
    threads Python did not start; the floor (bench_unary.py) has none, so
    both are taken out of its time.  Read from /proc/self/task/*/schedstat (ns
    on CPU); where that is missing (not Linux) it counts 0, and the whole
    process is charged.  A thread of the other client that ends while a
    sample runs takes its time out of the count: the measured client is then
    charged it (never the reverse)."""

    def __init__(self, measured: str) -> None:
        self._native = measured != _report.GRPCIO  # grpcio's C threads
        self._ours = measured != _report.OURS  # the pyetcd-wire... threads

    def __call__(self) -> float:
        python = {t.native_id: t.name for t in threading.enumerate()}
        total = 0
        try:
            tasks = os.listdir("/proc/self/task")
        except OSError:
            return 0.0
        for task in tasks:
            name = python.get(int(task))
            if name is None:
                if not self._native:
                    continue
            elif not (self._ours and name.startswith("pyetcd-wire")):
                continue
            try:
                with open(f"/proc/self/task/{task}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # the thread ended
        return total / 1e9


class Meter:
    """How samples of one client are timed: `clock()` starts one."""

    def __init__(self, server_cpu: Optional[ServerCpu], client: str) -> None:
        self.server_cpu = server_cpu
        self.client = client
        self.other_threads = OtherThreads(client)

    def clock(self) -> Clock:
        return Clock(self.server_cpu, self.other_threads)


class Clock:
    """Wall, the client's CPU (this process's less `other_threads`) and etcd's
    CPU (if `server_cpu`) since construction, which collects garbage first."""

    def __init__(
        self, server_cpu: Optional[ServerCpu], other_threads: OtherThreads
    ) -> None:
        gc.collect()
        self._server_cpu = server_cpu
        self._other_threads = other_threads
        self._server = server_cpu() if server_cpu else None
        self._wall = time.perf_counter()
        self._theirs = other_threads()
        self._cpu = time.process_time()

    def sample(self, calls: int) -> _report.Sample:
        wall = time.perf_counter() - self._wall
        cpu = time.process_time() - self._cpu
        cpu -= max(0.0, self._other_threads() - self._theirs)
        server = self._server_cpu() if self._server_cpu else None
        spent = (
            None if server is None or self._server is None else server - self._server
        )
        return _report.Sample(calls, wall, cpu, spent)


# --- the environment --------------------------------------------------------------


def _environment(
    grpc: Optional[ModuleType], etcd_version: str, note: str
) -> Dict[str, Any]:
    from google.protobuf import __version__ as pb_version
    from google.protobuf.internal import api_implementation

    impl = platform.python_implementation()
    interp = f"{impl} {platform.python_version()}"
    pypy = getattr(sys, "pypy_version_info", None)
    if pypy is not None:
        # PyPy sizes its nursery from the CPU cache it finds, unless
        # PYPY_GC_NURSERY says: 1 MB on a 1 MiB-L2 box, a minor collection
        # every ~25 calls, and with threads, major collections (README).
        nursery = gc.get_stats().nursery_size
        interp += (
            f" (PyPy {pypy.major}.{pypy.minor}.{pypy.micro}, GC nursery {nursery})"
        )
    versions = {
        "pyetcd-wire": pyetcd_wire.__version__,
        "protobuf": f"{pb_version} ({api_implementation.Type()})",
        "grpcio": grpc.__version__ if grpc is not None else "unavailable",
        "etcd": etcd_version,
    }
    for name in ("hpack", "h2"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = "unavailable"
    return {
        "interpreter": interp,
        "implementation": impl,
        "versions": versions,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "grpcio_note": note,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


def git_state() -> str:
    """The commit of the pyetcd_wire measured, and whether it has local changes."""
    git = ["git", "-C", str(ROOT)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "pyetcd_wire"],
            capture_output=True,
            text=True,
        )
    except OSError:
        return "git unavailable"
    if head.returncode != 0:
        return "not a git checkout"
    changes = " + uncommitted changes" if dirty.stdout.strip() else ""
    return f"git {head.stdout.strip()}{changes}"
