"""How long a fresh process takes to start using etcd: pyetcd-wire against
grpcio with etcd's stubs, etcdctl and Python itself, in one run.

Run from the repository root:

    python benchmarks/bench_startup.py [--runs 31] [--quick] [--out benchmarks/results]
    pypy3 benchmarks/bench_startup.py     # no grpcio there: our side only

Each variant is a fresh process (etcdctl excepted) of this interpreter in a
plain venv that sees our dependencies but runs none of this environment's
path files, as a user's install would (`plain_interpreter`):

* `python -c pass`: the interpreter alone, the unit of the second goal;
* grpcio: `import grpc` and etcd's generated stubs (every `*_pb2_grpc`
  module, which imports the messages), generated from proto/ as in
  bench_unary.py;
* import: `import pyetcd_wire; pyetcd_wire.Client`;
* `pyetcd get k`: the console script pip writes for `pyetcd`, against a
  throwaway etcd member (pyetcd_wire.testing.etcd), printing one key;
* `etcdctl get k`: the etcdctl that pyetcd_wire.testing.etcd finds, the same
  key;
* the floors (benchmarks/_startup_floor.py): protobuf's runtime with our
  message classes and `socket`, alone (`import floor`); that plus one Range
  whose bytes were encoded beforehand, over a plain socket, printed
  (`get floor`).  What the import and `pyetcd get k` cost above them is our
  code's; the report says how far the goals are from the floors.

Every child runs with bytecode writing allowed (PYTHONDONTWRITEBYTECODE is
dropped from its environment) after two warm runs of each variant, so imports
read cached bytecode, as they do for an installed package.  PYTHONPATH puts
the working tree first, so the `pyetcd_wire` measured is this checkout's.

The variants run interleaved: every rep runs each once, the order rotating
from rep to rep, and a ratio is the median over reps of the ratio within a
rep (wall time and CPU time, user + system of the child).  Goals: the import
at most 0.5x grpcio's; `pyetcd get k` at most 2.5x `python -c pass`.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import site
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

import _harness  # noqa: E402
import _report  # noqa: E402

from pyetcd_wire.testing.etcd import find_etcd_binary  # noqa: E402

KEY = "/pyetcd-wire-bench/startup"
VALUE = "v" * 100
WATCHDOG_SECONDS = 900
WARM_RUNS = 2

# pip's console-script template (what `pip install` writes as bin/pyetcd).
CONSOLE_SCRIPT = """\
import re
import sys
from pyetcd_wire.cli import main
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit(main())
"""

PASS, GRPCIO, IMPORT, GET, ETCDCTL, IMPORT_FLOOR, GET_FLOOR = (
    "python -c pass",
    "import grpc + stubs",
    "import pyetcd_wire.Client",
    "pyetcd get k",
    "etcdctl get k",
    "import floor",
    "get floor",
)
FLOOR_SCRIPT = HERE / "_startup_floor.py"


class Goal(NamedTuple):
    label: str
    variant: str
    against: str
    limit: float
    floor: str  # the variant that is this one's floor


GOALS = (
    Goal("import pyetcd_wire; pyetcd_wire.Client", IMPORT, GRPCIO, 0.5, IMPORT_FLOOR),
    Goal("pyetcd get k", GET, PASS, 2.5, GET_FLOOR),
)


class Variant(NamedTuple):
    name: str
    shown: str  # the command, as the table shows it
    argv: List[str]
    expect: Optional[str]  # the exact stdout, where there is one


class Run(NamedTuple):
    wall: float  # seconds
    cpu: float  # seconds of the child, user + system


def child_env(extra_path: Sequence[str]) -> Dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(
        [*extra_path, *filter(None, [env.get("PYTHONPATH")])]
    )
    env["ETCDCTL_API"] = "3"  # etcdctl 3.4 speaks v2 without it
    return env


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(variant: Variant, env: Dict[str, str]) -> Run:
    cpu = children_cpu()
    began = time.perf_counter()
    done = subprocess.run(variant.argv, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - began
    spent = children_cpu() - cpu
    if done.returncode != 0:
        raise RuntimeError(
            f"{variant.name}: exit status {done.returncode}: {done.stderr.strip()}"
        )
    if variant.expect is not None and done.stdout != variant.expect:
        raise RuntimeError(
            f"{variant.name}: printed {done.stdout!r}, expected {variant.expect!r}"
        )
    return Run(wall, spent)


def plain_interpreter(work: Path) -> str:
    """This interpreter as a user's install sees it: a fresh venv whose only
    path file lists our site-packages.  The children must not run the
    development environment's own path files: an editable install's finder
    alone (pathlib, importlib's metadata machinery) made `python -c pass` 2.2x
    slower here, which flattered every ratio over it."""
    home = work / "plain-venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(home)], check=True
    )
    found = subprocess.run(
        [
            str(home / "bin" / "python"),
            "-c",
            "import site; print(site.getsitepackages()[0])",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    ours = [p for p in site.getsitepackages() if os.path.isdir(p)]
    Path(found.stdout.strip(), "deps.pth").write_text("".join(f"{p}\n" for p in ours))
    return str(home / "bin" / "python")


def variants(harness: Any, work: Path) -> List[Variant]:
    python = plain_interpreter(work)
    endpoint = harness.member.endpoint
    script = work / "pyetcd"
    script.write_text(CONSOLE_SCRIPT)
    expect = f"{KEY}\n{VALUE}\n"
    out = [Variant(PASS, "python -c pass", [python, "-c", "pass"], "")]
    if harness.grpcio_pb2 is not None:
        package = Path(harness.grpcio_pb2.__file__).parent
        stubs = sorted(p.stem for p in package.glob("*_pb2_grpc.py"))
        imports = "; ".join(f"import {package.name}.{stub}" for stub in stubs)
        shown = f"python -c 'import grpc; import {package.name}.*_pb2_grpc'"
        argv = [python, "-c", f"import grpc; {imports}"]
        out.append(Variant(GRPCIO, shown, argv, ""))
    out += [
        Variant(
            IMPORT,
            "python -c 'import pyetcd_wire; pyetcd_wire.Client'",
            [python, "-c", "import pyetcd_wire; pyetcd_wire.Client"],
            "",
        ),
        Variant(
            GET,
            "pyetcd --endpoints E get K",
            [python, str(script), "--endpoints", endpoint, "get", KEY],
            expect,
        ),
        Variant(
            ETCDCTL,
            "etcdctl --endpoints E get K",
            [find_etcd_binary("etcdctl"), "--endpoints", endpoint, "get", KEY],
            expect,
        ),
    ]
    package = str(ROOT / "pyetcd_wire")
    request = work / "get-floor.bin"
    request.write_bytes(get_bytes(endpoint))
    floor = [python, str(FLOOR_SCRIPT)]
    out += [
        Variant(
            IMPORT_FLOOR,
            "python _startup_floor.py import",
            [*floor, "import", package],
            "",
        ),
        Variant(
            GET_FLOOR,
            "python _startup_floor.py get",
            [*floor, "get", package, endpoint, str(request)],
            expect,
        ),
    ]
    return out


def get_bytes(endpoint: str) -> bytes:
    """What the get floor sends: our preface and one Range of KEY (as
    `pyetcd get` asks it: linearizable), encoded by our core."""
    from pyetcd_wire._core.grpc.connection import GrpcConnection
    from pyetcd_wire._proto import rpc_pb2

    core = GrpcConnection(authority=endpoint)
    core.initiate()
    request = rpc_pb2.RangeRequest(key=KEY.encode()).SerializeToString()
    core.unary("/etcdserverpb.KV/Range", request)
    return core.data_to_send()


def measure(
    plan: List[Variant], env: Dict[str, str], runs: int
) -> Dict[str, List[Run]]:
    for variant in plan:
        for _ in range(WARM_RUNS):
            run_once(variant, env)
    results: Dict[str, List[Run]] = {v.name: [] for v in plan}
    for rep in range(runs):
        shift = rep % len(plan)
        for variant in plan[shift:] + plan[:shift]:
            results[variant.name].append(run_once(variant, env))
    return results


def paired(results: Dict[str, List[Run]], a: str, b: str, key: str) -> Optional[float]:
    """Median over reps of a/b for `key` ("wall" or "cpu")."""
    if a not in results or b not in results:
        return None
    ratios = [
        getattr(x, key) / getattr(y, key)
        for x, y in zip(results[a], results[b])
        if getattr(y, key)
    ]
    return statistics.median(ratios) if ratios else None


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def _ratio(ratio: Optional[float]) -> str:
    return "—" if ratio is None else f"{ratio:.2f}{_report.X}"


def markdown(env: Dict[str, Any], plan: List[Variant], results: Any) -> str:
    x = _report.X
    lines = [
        *_report.heading("Start-up time", env),
        f"- {env['run']['runs']} interleaved reps after {WARM_RUNS} warm runs of"
        f" each variant, bytecode cached; {env['run']['git']}",
        "",
        "med = median rep, best = fastest rep (ms); ratios = median over reps of"
        " the ratio within a rep.",
        "",
        f"| variant | command | wall med | wall best | CPU med | wall {x}pass"
        f" | CPU {x}pass |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for variant in plan:
        runs = results[variant.name]
        lines.append(
            f"| {variant.name} | `{variant.shown}` "
            f"| {_ms(statistics.median(r.wall for r in runs))} "
            f"| {_ms(min(r.wall for r in runs))} "
            f"| {_ms(statistics.median(r.cpu for r in runs))} "
            f"| {_ratio(paired(results, variant.name, PASS, 'wall'))} "
            f"| {_ratio(paired(results, variant.name, PASS, 'cpu'))} |"
        )
    lines += ["", "Goals (judged on wall time; CPU time beside it):", ""]
    for goal in GOALS:
        wall = paired(results, goal.variant, goal.against, "wall")
        cpu = paired(results, goal.variant, goal.against, "cpu")
        verdict = "n/a" if wall is None else ("PASS" if wall <= goal.limit else "FAIL")
        lines.append(
            f"- {verdict} {goal.label}: {_ratio(wall)} {goal.against} (CPU"
            f" {_ratio(cpu)}; goal <= {goal.limit}{x})"
        )
        floor = paired(results, goal.floor, goal.against, "wall")
        if floor is not None:
            above = statistics.median(
                a.wall - f.wall
                for a, f in zip(results[goal.variant], results[goal.floor])
            )
            lines.append(
                f"  - its floor ({goal.floor}): {_ratio(floor)} {goal.against};"
                f" ours costs {_ms(above)} ms above it (median over reps)"
            )
    return "\n".join(lines) + "\n"


def verdicts(results: Dict[str, List[Run]]) -> List[Dict[str, Any]]:
    out = []
    for goal in GOALS:
        wall = paired(results, goal.variant, goal.against, "wall")
        out.append(
            {
                **goal._asdict(),
                "ratio_wall": wall,
                "ratio_cpu": paired(results, goal.variant, goal.against, "cpu"),
                "floor_ratio_wall": paired(results, goal.floor, goal.against, "wall"),
                "verdict": "n/a"
                if wall is None
                else ("PASS" if wall <= goal.limit else "FAIL"),
            }
        )
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _harness.add_run_arguments(parser, "11 reps, about 20 s")
    parser.add_argument(
        "--runs", type=int, default=None, help="interleaved reps (default 31)"
    )
    args = parser.parse_args(argv)
    runs = args.runs or (11 if args.quick else 31)
    with _harness.etcd_run("startup", WATCHDOG_SECONDS) as harness:
        try:
            harness.client.put(KEY, VALUE)
            with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
                plan = variants(harness, Path(tmp))
                extra = [str(ROOT)]
                if harness.grpcio_pb2 is not None:
                    extra.append(str(Path(harness.grpcio_pb2.__file__).parents[1]))
                results = measure(plan, child_env(extra), runs)
        finally:
            harness.close()
        env = harness.environment(
            {}, {"runs": runs, "warm_runs": WARM_RUNS, "git": _harness.git_state()}
        )
    text = markdown(env, plan, results)
    print()
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = _report.output_base("startup")
    (out / f"{base}.md").write_text(text, encoding="utf-8")
    judged = verdicts(results)
    data = {
        "environment": env,
        "variants": [{"name": v.name, "shown": v.shown, "argv": v.argv} for v in plan],
        "samples": {
            name: [{"wall_s": r.wall, "cpu_s": r.cpu} for r in runs_]
            for name, runs_ in results.items()
        },
        "goals": judged,
    }
    (out / f"{base}.json").write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {out / (base + '.md')} and {out / (base + '.json')}")
    failed = any(g["verdict"] == "FAIL" for g in judged)
    return 1 if failed and args.check_budgets else 0


if __name__ == "__main__":
    sys.exit(main())
