"""What it costs one thread to wake another: a token passed round a ring.

Run from the repository root, on each interpreter:

    python benchmarks/bench_handoff.py [--threads 2,4,16] [--hand-offs 4000] [--yield]

N threads each wait on a lock of their own, then release the next one's: every
hand-off is one thread waking another and then blocking, as a caller of the
unary path does when the reader routes its response (`Connection._wake`) and
then waits for its own.  Prints wall and CPU µs per hand-off, the median of
three runs after one unrecorded.

On CPython the next thread runs as soon as the GIL is dropped.  On PyPy a
blocking call releases the GIL without waking anyone; a waiting thread spins
briefly, then looks every 100 µs (rpython's thread_gil.c), so a hand-off costs
about that.  `--yield` calls `os.sched_yield()` between the release and the
wait, which lets the woken thread take the GIL during the syscall.  No etcd,
no sockets.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import threading
import time
from typing import List, Tuple


def ring(threads: int, laps: int, yield_: bool) -> Tuple[float, float]:
    """(wall µs, CPU µs) per hand-off, over `laps` laps of `threads` threads."""
    locks = [threading.Lock() for _ in range(threads)]
    for lock in locks:
        lock.acquire()
    sched_yield = os.sched_yield

    def run(i: int) -> None:
        mine, following = locks[i], locks[(i + 1) % threads]
        for _ in range(laps):
            mine.acquire()
            following.release()
            if yield_:
                sched_yield()

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    wall, cpu = time.perf_counter(), time.process_time()
    locks[0].release()
    for thread in pool:
        thread.join()
    hand_offs = threads * laps
    return (
        (time.perf_counter() - wall) / hand_offs * 1e6,
        (time.process_time() - cpu) / hand_offs * 1e6,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--threads", default="2,4,16", help="ring sizes (2,4,16)")
    parser.add_argument(
        "--hand-offs", type=int, default=4000, help="hand-offs per run (4000)"
    )
    parser.add_argument(
        "--yield", dest="yield_", action="store_true", help="sched_yield after waking"
    )
    args = parser.parse_args()
    name = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"# {name}{', sched_yield after each wake' if args.yield_ else ''}")
    print(f"{'threads':>8}{'wall µs':>10}{'CPU µs':>10}  per hand-off")
    for threads in (int(t) for t in args.threads.split(",")):
        laps = max(10, args.hand_offs // threads)
        ring(threads, laps, args.yield_)  # warm-up (PyPy's JIT)
        runs: List[Tuple[float, float]] = [
            ring(threads, laps, args.yield_) for _ in range(3)
        ]
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{threads:>8}{wall:>10.1f}{cpu:>10.1f}")


if __name__ == "__main__":
    main()
