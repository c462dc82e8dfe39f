"""etcd's Go client (clientv3) as an optional peer of bench_unary.py and
bench_async.py: the client to beat.

`load(out, endpoint, server_cpu)` finds `go` and the clientv3 package, builds
benchmarks/go_peer/main.go once into `<out>/go_peer/` (the binary's name
carries a hash of the source and of `go version`, so a changed source is
rebuilt) and returns a `GoPeer`; without `go` or the package it returns None
and prints one line saying what is missing and how to get it.

`GoPeer.runner(op, workers, warmup)` gives the same `Runner` shape as the
benchmarks' own: called with `calls`, it runs the program once against the
member (a fresh process: connect, `warmup` calls, then the timed calls) and
returns a `_report.Sample`.  The program measures itself as the benchmarks
measure ours: wall time and its own CPU (getrusage, user + system, all its
threads) over the timed calls alone; etcd's CPU is read here, around those
calls only (the program waits for "start" on stdin after its warm-up).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional, Sequence, Tuple

try:
    import _report
except ImportError:  # imported as benchmarks._go_peer, by the tests
    from benchmarks import _report

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "go_peer" / "main.go"
GO = _report.GO
# Where Debian's golang-etcd-server-dev puts etcd's Go sources (GOPATH mode:
# the package has no go.mod of its own to build against).
DEBIAN_GOPATH = "/usr/share/gocode"
CLIENTV3 = "go.etcd.io/etcd/clientv3"
HOW_TO_GET = "apt-get install golang-go golang-etcd-server-dev"
BUILD_SECONDS = 600  # the first build compiles clientv3 and grpc-go: ~20 s here
CALL_SECONDS = 600  # one run of the program, warm-up included

Runner = Callable[[int], _report.Sample]


def gopath(environ: Dict[str, str]) -> str:
    """The GOPATH to build with: the caller's, then Debian's."""
    paths = [p for p in environ.get("GOPATH", "").split(os.pathsep) if p]
    if DEBIAN_GOPATH not in paths:
        paths.append(DEBIAN_GOPATH)
    return os.pathsep.join(paths)


def missing(go: Optional[str], path: str) -> Optional[str]:
    """Why the Go peer cannot be built (None: it can)."""
    if go is None:
        return f"`go` not found on PATH (Debian: {HOW_TO_GET})"
    if not any(Path(p, "src", CLIENTV3).is_dir() for p in path.split(os.pathsep)):
        return f"{CLIENTV3} not found in GOPATH {path} (Debian: {HOW_TO_GET})"
    return None


def build(go: str, cache: Path, environ: Dict[str, str]) -> Path:
    """The program's binary in `cache`, built unless the same source and
    toolchain built it before.  Raises RuntimeError if the build fails."""
    toolchain = subprocess.run(
        [go, "version"], capture_output=True, text=True, check=True, env=environ
    ).stdout
    digest = hashlib.sha256(SOURCE.read_bytes() + toolchain.encode()).hexdigest()
    binary = cache / f"go_peer-{digest[:16]}"
    if binary.exists():
        return binary
    cache.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(f".{os.getpid()}.tmp")
    done = subprocess.run(
        [go, "build", "-o", str(partial), str(SOURCE)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=SOURCE.parent,
        timeout=BUILD_SECONDS,
    )
    if done.returncode != 0:
        raise RuntimeError(f"go build {SOURCE} failed: {done.stderr.strip()[-2000:]}")
    partial.replace(binary)
    return binary


def parse_result(line: str, calls: int, server_cpu: Optional[float]) -> _report.Sample:
    """The program's JSON line as a Sample; RuntimeError unless it made the
    `calls` it was asked for (rounded down to a multiple of its workers, as
    the benchmarks' own runners do) and gives its wall and CPU seconds."""
    try:
        found = json.loads(line)
        made, workers = int(found["calls"]), int(found["workers"])
        wall, cpu = float(found["wall_s"]), float(found["cpu_s"])
    except (ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(
            f"go_peer printed {line!r}, not a result ({exc!r})"
        ) from None
    if workers < 1 or made != calls // workers * workers or wall <= 0 or cpu < 0:
        raise RuntimeError(f"go_peer, asked for {calls} calls, printed {line!r}")
    return _report.Sample(made, wall, cpu, server_cpu)


def _tail(log: IO[str]) -> str:
    log.seek(0)
    return log.read()[-2000:].strip()


class GoPeer:
    """The built program, and the member it runs against."""

    def __init__(
        self,
        binary: Path,
        endpoint: str,
        server_cpu: Optional[Callable[[], Optional[float]]],
        procs: Optional[int] = None,
    ) -> None:
        self.binary = binary
        self.endpoint = endpoint
        self.server_cpu = server_cpu
        # GOMAXPROCS: how many threads run Go code at once (None: Go's
        # default, every core).  1 compares it with one Python event loop.
        self.env = dict(os.environ)
        if procs is not None:
            self.env["GOMAXPROCS"] = str(procs)

    def command(
        self,
        op: str,
        calls: int,
        workers: int,
        warmup: int,
        key: bytes,
        value: bytes,
        timeout: Optional[float],
    ) -> List[str]:
        return [
            str(self.binary),
            f"-endpoint={self.endpoint}",
            f"-op={op}",
            f"-key={key.decode()}",
            f"-value={value.hex()}",
            f"-workers={workers}",
            f"-calls={calls}",
            f"-warmup={warmup}",
            f"-timeout={timeout or 0}s",
            "-wait",
        ]

    def run(self, command: Sequence[str], calls: int) -> _report.Sample:
        """One run of the program: warm-up, then etcd's CPU read around the
        timed calls."""
        pipe = subprocess.PIPE
        # stderr to a file: the client's logs must not fill a pipe we do not read
        with (
            tempfile.TemporaryFile("w+") as log,
            subprocess.Popen(
                command, stdin=pipe, stdout=pipe, stderr=log, text=True, env=self.env
            ) as proc,
        ):
            stdin, stdout = proc.stdin, proc.stdout
            assert stdin is not None
            assert stdout is not None
            try:
                ready = stdout.readline()
                if ready.strip() != "ready":
                    proc.wait(timeout=CALL_SECONDS)
                    raise RuntimeError(
                        f"go_peer {' '.join(command[1:])} failed before its"
                        f" timed calls: {_tail(log) or ready.strip()}"
                    )
                before = self.server_cpu() if self.server_cpu else None
                stdin.write("start\n")
                stdin.flush()
                line = stdout.readline()
                after = self.server_cpu() if self.server_cpu else None
                stdin.close()
                proc.wait(timeout=CALL_SECONDS)
            except BaseException:
                proc.kill()
                raise
            if proc.returncode != 0:
                raise RuntimeError(f"go_peer exited {proc.returncode}: {_tail(log)}")
        spent = None if before is None or after is None else after - before
        return parse_result(line, calls, spent)

    def runner(
        self,
        op: str,
        workers: int,
        warmup: int,
        key: bytes,
        value: bytes,
        timeout: Optional[float] = None,
    ) -> Runner:
        """`op` ("range": serializable, or "put") from `workers` goroutines
        sharing one client, after `warmup` calls in all."""

        def run(calls: int) -> _report.Sample:
            command = self.command(op, calls, workers, warmup, key, value, timeout)
            return self.run(command, calls)

        return run


def load(
    out: Path,
    endpoint: str,
    server_cpu: Optional[Callable[[], Optional[float]]],
    environ: Optional[Dict[str, str]] = None,
    procs: Optional[int] = None,
) -> Tuple[Optional[GoPeer], str]:
    """The Go peer built into `<out>/go_peer/` and a note for the report, or
    (None, why not); prints the note."""
    env = dict(os.environ if environ is None else environ)
    env.update(GO111MODULE="off", GOPATH=gopath(env), GOFLAGS="")
    go = shutil.which("go", path=env.get("PATH"))
    peer, note = None, missing(go, env["GOPATH"])
    if note is None and go is not None:
        try:
            binary = build(go, out / "go_peer", env)
            version = subprocess.run(
                [str(binary), "-version"], capture_output=True, text=True, check=True
            ).stdout.strip()
            peer = GoPeer(binary, endpoint, server_cpu, procs)
            cores = "" if procs is None else f", GOMAXPROCS={procs}"
            note = f"go peer: etcd's Go client, {version} ({binary.name}{cores})"
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            note = str(exc)
    if peer is None:
        note = f"go peer skipped: {note}"
    print(note)
    return peer, note


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-go", action="store_true", help="skip etcd's Go client (run if `go` is)"
    )
    parser.add_argument(
        "--go-procs",
        type=int,
        default=None,
        help="GOMAXPROCS for the Go client (default: every core; 1: one core,"
        " as one Python thread or event loop)",
    )


def for_run(args: argparse.Namespace, harness: Any) -> Tuple[Optional[GoPeer], str]:
    """The Go peer of a benchmark's run (`--no-go`, `--out`), on the member
    of its `_harness.Harness`, and the note for its report."""
    if args.no_go:
        return None, "go peer: not run (--no-go)"
    return load(
        Path(args.out),
        harness.member.endpoint,
        harness.server_cpu,
        procs=args.go_procs,
    )
