"""The doc-test session: every Python block and shell command of README.md and
docs/*.md runs against the test kit's etcd (`nox -s docs`; docs/testing.md,
"The documentation's examples").

Not collected by a plain `pytest` (its name does not start with ``test_``):
`pytest tests/docs/run_docs.py` runs it.  One test per block, in page order:

* Python blocks of a page run in one interpreter of their own, in one
  namespace, in order (tests/docs/worker.py); a block passes if it raises
  nothing, or exactly what its ``raises=`` marker names.
* Shell commands run in bash, one after another, in a temporary directory
  per page (``cwd=repo``: the repository root), with what a command exports
  and its ``cd`` kept for the page's next commands; each must exit 0 (or its
  ``exit=``), and print what the doc shows after it, if anything (compared by
  `blocks.output_matches`).
* The documented endpoint ``127.0.0.1:2379`` (and ``localhost:2379``) is
  rewritten to the test etcd's, and ``127.0.0.1:22379`` and
  ``127.0.0.1:32379`` to the other members of a ``cluster=3`` block (also
  with the host and the port apart, as python-etcd3 takes them:
  ``"127.0.0.1", 2379``);
  ``ETCDCTL_ENDPOINTS`` names the same members for shell commands.  A block
  that still names another address fails before it runs: examples reach no
  other machine.
* Each page starts from an empty keyspace and no leases.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import pytest

import pyetcd_wire as etcd
from pyetcd_wire.pytest_plugin import etcd_binary_for
from pyetcd_wire.testing import EtcdMember, EtcdTLS
from pyetcd_wire.testing._etcd_process import _free_ports

from ..tls_certs import Certs, make_certs
from .blocks import (
    PYTHON,
    ROOT,
    Block,
    Command,
    all_blocks,
    check,
    output_matches,
    shell_commands,
)

pytestmark = pytest.mark.integration

WORKER = Path(__file__).with_name("worker.py")
DEFAULT_TIMEOUT = 60.0
#: Documented addresses and the member each stands for.
MEMBER_ADDRESSES = {
    "127.0.0.1:2379": 0,
    "localhost:2379": 0,
    "127.0.0.1:22379": 1,
    "127.0.0.1:32379": 2,
}
_IPV4 = re.compile(r"(?<![\w.])(\d{1,3})\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w.])")
_DEFAULT_PORT = re.compile(r"[\w.]+:(2379|22379|32379)(?!\d)")
#: A documented address with its host and port apart, as python-etcd3 takes
#: them: ``etcd3.client("127.0.0.1", 2379)``, ``Endpoint(host="localhost",
#: port=2379)``.
_HOST_AND_PORT = re.compile(
    r"""(["'])(127\.0\.0\.1|localhost)\1(\s*,\s*(?:port\s*=\s*)?)(2379|22379|32379)(?!\d)"""
)

BLOCKS = all_blocks()


@dataclass
class Page:
    """What a reader following one page has: a Python session, a shell's
    exported variables and directory, a scratch directory."""

    tmp: Path
    worker: Optional[subprocess.Popen] = None
    stderr: Any = None
    env: Dict[str, str] = field(default_factory=dict)  # exported by commands
    cwd: Optional[str] = None
    # Commands left running (`background`), ended with the page.
    background: List[Tuple[subprocess.Popen, threading.Thread]] = field(
        default_factory=list
    )
    # A documented port and the free one a background server took instead.
    ports: Dict[str, str] = field(default_factory=dict)


class Docs:
    def __init__(self, request: pytest.FixtureRequest, tmp: Path) -> None:
        self._request = request
        self._tmp = tmp
        self.pages: Dict[str, Page] = {}
        self._servers: Dict[str, Any] = {}  # fixture name: EtcdMember or EtcdCluster
        self._tls: Dict[str, EtcdMember] = {}  # "server" or "mutual": a TLS member
        self._certs: Optional[Certs] = None

    def members(self, block: Block) -> List[str]:
        """The host:port of each member the block's etcd has."""
        if "tls" in block.markers:
            return [self.tls_member(block).endpoint.split("://")[-1]]
        name = "etcd_cluster" if block.markers.get("cluster") == "3" else "etcd_server"
        if name not in self._servers:
            self._servers[name] = self._request.getfixturevalue(name)
            self.clean(self._servers[name])
        return list(self._servers[name].endpoints)

    def certs(self) -> Certs:
        if self._certs is None:
            self._certs = make_certs(self._tmp / "certs")
        return self._certs

    def tls_member(self, block: Block) -> EtcdMember:
        """An etcd serving clients over TLS; ``tls=mutual``: and asking them
        for certificates.  Its CA and client files stand for the page's."""
        kind = block.markers["tls"] or "server"
        if kind not in self._tls:
            certs = self.certs()
            tls = EtcdTLS(
                cert_file=certs.server_cert,
                key_file=certs.server_key,
                ca_file=certs.ca,
                client_cert_auth=kind == "mutual",
            )
            binary = etcd_binary_for(self._request.config)
            member = EtcdMember(f"doc-tls-{kind}", binary=binary, tls=tls)
            self._tls[kind] = member
            member.start()
        return self._tls[kind]

    def files(self, block: Block) -> Dict[str, str]:
        """Paths in the block that stand for the test certificates."""
        if "tls" not in block.markers:
            return {}
        certs = self.certs()
        return {
            "/etc/etcd/ca.pem": certs.ca,
            "/etc/etcd/client.pem": certs.client_cert,
            "/etc/etcd/client-key.pem": certs.client_key,
        }

    def page(self, block: Block) -> Page:
        page = self.pages.get(block.page)
        if page is None:
            tmp = self._tmp / re.sub(r"\W", "_", block.page)
            tmp.mkdir()
            for other in self.pages.values():
                stop_background(other)
            page = self.pages[block.page] = Page(tmp)
            for server in self._servers.values():
                self.clean(server)
        return page

    @staticmethod
    def clean(server: Any) -> None:
        """An empty keyspace and no leases."""
        with etcd.Client(server.endpoints, timeout=10.0) as client:
            client.delete("\0", from_key=True)
            for lease in client.leases().leases:
                client.revoke(lease.ID)

    def close(self) -> None:
        for page in self.pages.values():
            stop_worker(page)
            stop_background(page)
        for member in self._tls.values():
            member.close()


@pytest.fixture(scope="session")
def docs(request: pytest.FixtureRequest) -> Iterator[Docs]:
    tmp = Path(tempfile.mkdtemp(prefix="pyetcd-doc-tests-"))
    state = Docs(request, tmp)
    try:
        yield state
    finally:
        state.close()
        shutil.rmtree(tmp, ignore_errors=True)


def rewrite(
    block: Block, members: Sequence[str], files: Dict[str, str], page: Page
) -> str:
    """The block's code with the documented addresses turned into the test
    etcd's; fails if it still names an address off this machine."""
    addresses = dict(MEMBER_ADDRESSES)
    for n, address in enumerate(
        filter(None, block.markers.get("endpoints", "").split(","))
    ):
        addresses[address.strip()] = n
    code = block.code
    port = block.markers.get("free-port")
    ports = dict(page.ports)
    if port:
        ports[port] = str(_free_ports(1)[0])
        if "background" in block.markers:
            page.ports[port] = ports[port]  # the page's server from now on
    for documented, free in ports.items():
        code = re.sub(r"(?<![\w.])" + re.escape(documented) + r"(?!\d)", free, code)
    for address, n in sorted(addresses.items(), key=lambda item: -len(item[0])):
        if n >= len(members) and address in MEMBER_ADDRESSES:
            continue  # :22379 and :32379 without cluster=3: fails below
        pattern = r"(?<![\w.])" + re.escape(address) + r"(?!\d)"
        code = re.sub(pattern, members[n % len(members)], code)
    code = _HOST_AND_PORT.sub(lambda match: _split_member(match, members), code)
    for path, test_path in files.items():
        code = code.replace(path, test_path)
    for match in _IPV4.finditer(code):
        if match.group(1) != "127":
            address = match.group(0)
            pytest.fail(
                f"{block.id}: {address} is not loopback: examples use 127.0.0.1"
            )
    leftover = _DEFAULT_PORT.search(code) or _HOST_AND_PORT.search(code)
    if leftover:
        pytest.fail(
            f"{block.id}: {leftover.group(0)} stands for no member of the test etcd "
            "(cluster=3 for :22379 and :32379, or endpoints=...)"
        )
    return code


def _split_member(match: re.Match[str], members: Sequence[str]) -> str:
    """A `_HOST_AND_PORT` match with the host and port of the member it
    stands for (unchanged if none: it fails then)."""
    quote, host, between, port = match.groups()
    n = MEMBER_ADDRESSES.get(f"{host}:{port}")
    if n is None or n >= len(members):
        return match.group(0)
    host, port = members[n].rsplit(":", 1)
    return f"{quote}{host}{quote}{between}{port}"


def test_doc_block(block: Block, docs: Docs) -> None:
    errors = check(block)
    if errors:
        pytest.fail(f"{block.id}: " + "; ".join(errors))
    if "skip" in block.markers:
        pytest.skip(block.markers["reason"])
    members = docs.members(block)
    page = docs.page(block)
    code = rewrite(block, members, docs.files(block), page)
    timeout = float(block.markers.get("timeout", DEFAULT_TIMEOUT))
    if block.lang in PYTHON:
        run_python(block, code, page, timeout)
    else:
        run_shell(block, code, page, members, timeout)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "block" in metafunc.fixturenames:
        metafunc.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])


# --- Python ---------------------------------------------------------------


def start_worker(page: Page) -> None:
    page.stderr = open(page.tmp / "python-stderr.txt", "ab")  # noqa: SIM115
    page.worker = subprocess.Popen(
        [sys.executable, str(WORKER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=page.stderr,
        cwd=page.tmp,
    )


def stop_worker(page: Page) -> None:
    worker, page.worker = page.worker, None
    if worker is not None:
        assert worker.stdin is not None
        assert worker.stdout is not None
        worker.stdin.close()
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        worker.stdout.close()
    if page.stderr is not None:
        page.stderr.close()
        page.stderr = None


def ask(page: Page, request: Dict[str, Any], timeout: float) -> Dict[str, Any]:
    worker = page.worker
    assert worker is not None
    assert worker.stdin is not None
    assert worker.stdout is not None
    worker.stdin.write((json.dumps(request) + "\n").encode())
    worker.stdin.flush()
    ready, _, _ = select.select([worker.stdout], [], [], timeout)
    line = worker.stdout.readline() if ready else b""
    if not line:
        stop_worker(page)  # killed: the page's next block starts a new one
        log = (page.tmp / "python-stderr.txt").read_text(errors="replace")[-3000:]
        what = f"did not end within {timeout:g} s" if not ready else "ended its process"
        pytest.fail(
            f"{request['filename']}:{request['first_line']}: the block {what}\n{log}"
        )
    answer: Dict[str, Any] = json.loads(line)
    return answer


def run_python(block: Block, code: str, page: Page, timeout: float) -> None:
    if "pytest" in block.markers:
        run_pytest(block, code, page, timeout)
        return
    own = "own-process" in block.markers
    target = Page(page.tmp) if own else page
    if target.worker is None:
        start_worker(target)
    setup = block.markers.get("setup")
    try:
        if setup:
            answer = ask(
                target, {"code": setup, "first_line": 1, "filename": "setup"}, timeout
            )
            assert answer["ok"], f"the block's setup failed: {answer['traceback']}"
        request = {
            "code": code,
            "first_line": block.first_line,
            "filename": block.page,
            "fresh": "fresh" in block.markers,
        }
        answer = ask(target, request, timeout)
    finally:
        if own:
            stop_worker(target)
    expected = block.markers.get("raises")
    if expected:
        if answer["ok"]:
            pytest.fail(
                f"{block.id}: the doc says it raises {expected}; it raised nothing"
            )
        if expected not in answer["types"]:
            trace = answer["traceback"]
            pytest.fail(
                f"{block.id}: the doc says it raises {expected}; it raised\n{trace}"
            )
    elif not answer["ok"]:
        error, trace, out = answer["error"], answer["traceback"], answer["stdout"]
        pytest.fail(f"{block.id} raised {error}\n{trace}\n{out}")


def run_pytest(block: Block, code: str, page: Page, timeout: float) -> None:
    """A block of test functions, as a user's test file: pytest must pass
    every test in it, with none skipped (an async test nothing ran is)."""
    name = f"test_{re.sub(r'[^a-z0-9]+', '_', block.page.lower())}_{block.line}.py"
    (page.tmp / name).write_text(code)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["--etcd-required", name]
    try:
        done = subprocess.run(
            command,
            cwd=page.tmp,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.id}: pytest ran over {timeout:g} s")
    out = done.stdout.decode(errors="replace")
    last = out.strip().splitlines()[-1] if out.strip() else ""
    clean = re.fullmatch(r"=* ?\d+ passed(, \d+ warnings?)? in [\d.]+s.*", last)
    if done.returncode != 0 or not clean or "natively supported" in out:
        pytest.fail(f"{block.id}: pytest did not pass every test cleanly\n{out}")


# --- shell ----------------------------------------------------------------

# Runs one command in bash; writes its environment and directory after it.
_WRAPPER = """\
set -o pipefail
{command}
__doc_test_rc=$?
env -0 > "$DOC_TEST_STATE.env"
pwd > "$DOC_TEST_STATE.pwd"
exit $__doc_test_rc
"""


def shell_env(members: Sequence[str]) -> Dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["ETCDCTL_ENDPOINTS"] = ",".join(members)
    return env


def run_shell(
    block: Block, code: str, page: Page, members: Sequence[str], timeout: float
) -> None:
    rewritten = Block(block.page, block.line, block.lang, code, block.markers)
    base = shell_env(members)
    base["HOME"] = str(
        page.tmp
    )  # `cd ~`, `cp ... ~/scripts` stay in the scratch directory
    cwd = str(ROOT) if block.markers.get("cwd") == "repo" else None
    setup = block.markers.get("setup")
    if setup:
        subprocess.run(
            ["bash", "-ec", setup],
            cwd=cwd or page.cwd or page.tmp,
            env={**base, **page.env},
            check=True,
        )
    expected_rc = int(block.markers.get("exit", "0"))
    for command in shell_commands(rewritten):
        env = {**base, **page.env, "DOC_TEST_STATE": str(page.tmp / "state")}
        where = cwd or page.cwd or str(page.tmp)
        script = _WRAPPER.format(command=command.command)
        if "interrupt" in block.markers or "background" in block.markers:
            rc, lines = interrupted(
                Run(block, command, script, env, where, timeout), page
            )
            if rc is None:  # left running
                continue
        else:
            rc, lines = finished(Run(block, command, script, env, where, timeout))
        keep_state(page, env, base, follow_cd=cwd is None)
        shown = "\n".join(lines)
        if rc != expected_rc:
            what = f"exited {rc} (the doc: {expected_rc})"
            pytest.fail(f"{where_of(block, command)} {what}\n{shown}")
        if (
            command.output
            and "output" not in block.markers
            and not output_matches(command.output, lines)
        ):
            doc = "\n".join(command.output)
            what = f"printed\n{shown}\nThe doc shows\n{doc}"
            pytest.fail(f"{where_of(block, command)} {what}")


def where_of(block: Block, command: Command) -> str:
    return f"{block.page}:{command.line}: `{command.command}`"


class Run(NamedTuple):
    """One command of a shell block, ready to run."""

    block: Block
    command: Command
    script: str
    env: Dict[str, str]
    cwd: str
    timeout: float


def start(run: Run) -> subprocess.Popen:
    """bash in a process group of its own, which a timeout or Ctrl-C ends
    whole (a command's children included)."""
    return subprocess.Popen(
        ["bash", "-c", run.script],
        cwd=run.cwd,
        env=run.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def end(proc: subprocess.Popen) -> None:
    """Kills what is left of the command's process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def finished(run: Run) -> tuple:
    block, command, timeout = run.block, run.command, run.timeout
    proc = start(run)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        end(proc)
        pytest.fail(
            f"{block.page}:{command.line}: `{command.command}` ran over {timeout:g} s"
        )
    finally:
        end(proc)  # and whatever it left running in the background
    return proc.returncode, out.decode(errors="replace").splitlines()


def keep_state(
    page: Page, env: Dict[str, str], base: Dict[str, str], follow_cd: bool
) -> None:
    """What the command exported and where it went, for the page's next one."""
    state = Path(env["DOC_TEST_STATE"])
    try:
        raw = Path(f"{state}.env").read_bytes()
        where = Path(f"{state}.pwd").read_text().strip()
        if follow_cd:  # (a cwd=repo block's directory is not the page's)
            page.cwd = where or page.cwd
    except FileNotFoundError:
        return  # it exited early: keep what we had
    after = dict(
        item.split("=", 1)
        for item in raw.decode(errors="replace").split("\0")
        if "=" in item
    )
    for name, value in after.items():
        if name in ("PWD", "OLDPWD", "SHLVL", "_", "DOC_TEST_STATE") or name.startswith(
            "__doc"
        ):
            continue
        if base.get(name) != value:
            page.env[name] = value


def interrupted(run: Run, page: Page) -> tuple:
    """Runs a command that runs until Ctrl-C: once it printed what the doc
    shows (or a line holding the marker's text), it gets SIGINT, as from a
    terminal; what it prints after that is not compared.  ``background``:
    it is left running for the rest of the page instead (rc None); its
    output is compared here."""
    block, command, timeout = run.block, run.command, run.timeout
    until = block.markers.get("interrupt") or block.markers.get("background")
    proc = start(run)
    lines: List[str] = []
    seen: List[str] = []
    enough = threading.Event()

    def done() -> bool:
        if until:
            return any(until in line for line in lines)
        return bool(command.output) and output_matches(command.output, lines)

    stream = proc.stdout
    assert stream is not None

    def read() -> None:
        for raw in stream:
            lines.append(raw.decode(errors="replace").rstrip("\n"))
            if not enough.is_set() and done():
                seen.extend(lines)
                enough.set()
        enough.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not enough.wait(timeout) or not seen:
            shown = "\n".join(lines)
            what = "did not print what the doc shows"
            pytest.fail(f"{where_of(block, command)} {what}\n{shown}")
        if "background" in block.markers:
            compare = command.output and "output" not in block.markers
            if compare and not output_matches(command.output, seen):
                doc = "\n".join(command.output)
                what = "printed\n" + "\n".join(seen) + f"\nThe doc shows\n{doc}"
                pytest.fail(f"{where_of(block, command)} {what}")
            page.background.append((proc, reader))
            proc = None
            return None, seen
        os.killpg(proc.pid, signal.SIGINT)
        rc = proc.wait(timeout=timeout)
    finally:
        if proc is not None:
            end(proc)
            reader.join(timeout)
    return rc, seen


def stop_background(page: Page) -> None:
    """Ctrl-C for what the page left running; SIGKILL after 30 s."""
    for proc, reader in page.background:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        end(proc)
        reader.join(30)
    page.background.clear()
