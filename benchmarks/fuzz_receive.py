"""Coverage-guided fuzzing of the receive path with atheris (CPython only).

    python benchmarks/fuzz_receive.py generated -runs=1000000
    python benchmarks/fuzz_receive.py transcripts -max_total_time=600

Each input drives the sans-IO core once through tests/fuzz/harness.py, which
checks the properties (only typed errors escape, buffers within the limits,
nothing after a connection error, every call ends).  Targets:

* `generated`: atheris' FuzzedDataProvider makes the choices of
  tests/fuzz/generate.py (frames of every type, flags, lengths, padding,
  CONTINUATION, HPACK, gRPC prefixes, protobuf payloads, split points).
* `transcripts`: it makes the mutations of tests/fuzz/mutate.py on the
  recorded etcd sessions in tests/fuzz/transcripts/.

Arguments after the target go to libFuzzer (-runs=N, -max_total_time=S,
-seed=N, a corpus directory ...); it prints its `cov:` (edges) and `ft:`
(features) lines, and with -print_final_stats=1 the inputs run and the peak
RSS at the end (libFuzzer ends the process itself, so nothing of ours runs
after it).  Every 100 000 inputs this prints its own line: inputs, property
failures, peak RSS.  A property failure prints the scenario (server bytes in
hex, splits, actions) and stops the run as a crash.
"""

from __future__ import annotations

import os
import resource
import sys
import time

import atheris

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

with atheris.instrument_imports(include=["pyetcd_wire", "hpack"]):
    from tests.fuzz.generate import generated
    from tests.fuzz.harness import PropertyFailedError, Scenario, drive
    from tests.fuzz.mutate import load_transcripts, mutated

REPORT_EVERY = 100_000


class FdpSource:
    """A `Source` (tests/fuzz/generate.py) over atheris' FuzzedDataProvider."""

    def __init__(self, data: bytes) -> None:
        self._fdp = atheris.FuzzedDataProvider(data)

    def integer(self, lo: int, hi: int) -> int:
        return int(self._fdp.ConsumeIntInRange(lo, hi))

    def raw(self, max_size: int) -> bytes:
        return bytes(self._fdp.ConsumeBytes(self._fdp.ConsumeIntInRange(0, max_size)))


class Stats:
    def __init__(self, target: str) -> None:
        self.target = target
        self.inputs = 0
        self.failures = 0
        self.started = time.monotonic()

    def line(self) -> str:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return (
            f"fuzz_receive {self.target}: inputs={self.inputs}"
            f" property_failures={self.failures}"
            f" peak_rss={peak_kib / 1024:.1f} MiB"
            f" elapsed={time.monotonic() - self.started:.0f} s"
        )


def show(scenario: Scenario) -> str:
    return (
        f"data={scenario.data.hex()}\nsplits={list(scenario.splits)}\n"
        f"actions={list(scenario.actions)}\nconfig={scenario.config}"
    )


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("generated", "transcripts"):
        sys.exit(__doc__)
    target = sys.argv.pop(1)
    stats = Stats(target)
    transcripts = load_transcripts() if target == "transcripts" else []

    def one_input(data: bytes) -> None:
        src = FdpSource(data)
        scenario = mutated(src, transcripts) if transcripts else generated(src)
        stats.inputs += 1
        try:
            drive(scenario)
        except PropertyFailedError:
            stats.failures += 1
            print(show(scenario), file=sys.stderr)
            print(stats.line(), file=sys.stderr, flush=True)
            raise
        if stats.inputs % REPORT_EVERY == 0:
            print(stats.line(), file=sys.stderr, flush=True)

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()  # never returns: libFuzzer ends the process


if __name__ == "__main__":
    main()
