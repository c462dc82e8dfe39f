"""Run python-etcd3's own test suite against `pyetcd_wire.compat.etcd3`: the
noxfile's ``etcd3_suite`` session.

    python tests/etcd3_suite/run.py TMP_DIR [pytest args...]

1. Downloads the ``etcd3==0.12.0`` sdist from PyPI (``pip download``, no
   cache; checked against `SDIST_SHA256`; never committed) and unpacks its
   ``tests/`` (the test file, its TLS files) into ``TMP_DIR/etcd3-suite``.
2. Starts three etcd members on 127.0.0.1, on free ports (the test kit's
   `EtcdCluster`), named ``pifpaf0`` to ``pifpaf2`` as upstream's pifpaf
   named them: the file's ``_out_quorum``
   SIGSTOPs the processes whose command line matches ``--name pifpaf[12]``,
   and ``test_member_list`` checks the names.
3. Runs pytest on the file in this process, with `plugin` (``import etcd3``
   is ours), from the unpacked directory (the TLS tests open
   ``tests/ca.crt``), and with, for the file:

   * ``PYTHON_ETCD_HTTP_URL``: pifpaf0, where its fixture's client and its
     ``etcdctl`` helper go (and, through the plugin, ``etcd3.client()``);
   * ``ETCDCTL_ENDPOINTS``: the members, for its bare ``etcdctl`` calls;
   * ``etcdctl`` first on ``PATH``: a wrapper that drops ``ETCDCTL_ENDPOINTS``
     when ``--endpoints`` is given (etcdctl >= 3.4 refuses both at once);
   * ``TEST_ETCD_VERSION``: the members' version (its default, 3.2.8, would
     skip two tests).
4. Stops the members by PID and removes ``TMP_DIR/etcd3-suite``, however the
   run ends (SIGTERM included).

One such run per machine at a time: ``_out_quorum`` would freeze another
run's pifpaf1 and pifpaf2 too.  A run holds an flock on `LOCK`, waiting for
it if another has it; the kernel releases it when the process ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence

from pyetcd_wire.testing import EtcdCluster, EtcdMember, find_etcd_binary

#: The last release of python-etcd3 (March 2020), and its sdist's SHA-256 on PyPI.
SDIST = "etcd3==0.12.0"
SDIST_FILE = "etcd3-0.12.0.tar.gz"
SDIST_SHA256 = "89a704cb389bf0a010a1fa050ce19342d23bf6371ebda1c21cfe8ff3ed488726"
#: What the run takes from the sdist's ``etcd3-0.12.0/tests/``.
UPSTREAM_FILES = ("__init__.py", "test_etcd3.py", "ca.crt", "client.crt", "client.key")
#: pifpaf's member names (pifpaf0, ...), which the file relies on.
MEMBER_NAME_PREFIX = "pifpaf"
#: etcd's own raft timing (ms), which pifpaf kept: the test kit's faster
#: ticks make a loaded machine hold elections the suite does not expect.
HEARTBEAT_INTERVAL_MS, ELECTION_TIMEOUT_MS = 100, 1000
LOCK = "/tmp/pyetcd-wire-etcd3-suite.lock"
#: The run's pytest configuration: it must not find the repository's.
PYTEST_INI = """\
[pytest]
addopts = -ra --durations=10
# A hung watch fails its test, not the session.
timeout = 300
"""
ETCDCTL_WRAPPER = """\
#!/bin/sh
# etcdctl >= 3.4 refuses ETCDCTL_ENDPOINTS beside --endpoints: the flag wins.
for arg in "$@"; do
  case $arg in --endpoints|--endpoints=*) unset ETCDCTL_ENDPOINTS ;; esac
done
exec {etcdctl} "$@"
"""
HERE = Path(__file__).resolve().parent


@contextlib.contextmanager
def machine_lock(path: str = LOCK) -> Iterator[None]:
    """Held for the block: one suite per machine."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"etcd3_suite: waiting for the run that holds {path}", flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def fetch(into: Path) -> Path:
    """python-etcd3's tests, from its sdist on PyPI, unpacked into
    ``into/tests``; the test file's path."""
    download = into / "sdist"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "download", "--quiet", "--no-cache-dir"),
            *("--no-deps", "--no-binary", ":all:", "--dest", str(download), SDIST),
        ],
        check=True,
    )
    return unpack(download / SDIST_FILE, into / "tests")


def unpack(archive: Path, tests: Path) -> Path:
    """`UPSTREAM_FILES` from the sdist `archive` into `tests`, if the archive
    is the one `SDIST_SHA256` names; the test file's path."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"{archive}: SHA-256 {digest}, expected {SDIST_SHA256}")
    top = SDIST_FILE[: -len(".tar.gz")]
    tests.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        for name in UPSTREAM_FILES:
            member = tar.extractfile(f"{top}/tests/{name}")
            assert member is not None, name  # a regular file in this sdist
            (tests / name).write_bytes(member.read())
    return tests / "test_etcd3.py"


def etcdctl_wrapper(bin_dir: Path, etcdctl: str) -> None:
    """``bin_dir/etcdctl``: `etcdctl` with `ETCDCTL_WRAPPER`'s rule."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "etcdctl"
    script.write_text(ETCDCTL_WRAPPER.format(etcdctl=shlex.quote(etcdctl)))
    script.chmod(0o755)


def suite_environment(members: Sequence[EtcdMember], bin_dir: Path) -> Dict[str, str]:
    """The variables the file reads (and its etcdctl calls do)."""
    return {
        "PYTHON_ETCD_HTTP_URL": members[0].client_url,
        "ETCDCTL_ENDPOINTS": ",".join(member.endpoint for member in members),
        "TEST_ETCD_VERSION": "v{}.{}.{}".format(*members[0].version),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
    }


def run_pytest(test_file: Path, args: Sequence[str]) -> int:
    """pytest on `test_file` with the plugin, from the directory above its
    ``tests/``, with its own configuration."""
    import pytest

    root = test_file.parent.parent
    (root / "pytest.ini").write_text(PYTEST_INI)
    os.chdir(root)
    sys.path.insert(0, str(HERE))  # the plugin, as a top-level module
    plugin = ("-p", "plugin", "-p", "no:cacheprovider", "-p", "no:pyetcd_wire")
    config = ("-c", str(root / "pytest.ini"), "--rootdir", str(root))
    return int(pytest.main([*config, *plugin, str(test_file), *args]))


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # pytest stops; the cluster is closed below


def main(argv: List[str]) -> int:
    if not argv:
        raise SystemExit("usage: run.py TMP_DIR [pytest args...]")
    if shutil.which("pgrep") is None:
        raise SystemExit("etcd3_suite: the file's _out_quorum needs pgrep (procps)")
    signal.signal(signal.SIGTERM, _interrupted)
    work = Path(argv[0]).resolve() / "etcd3-suite"
    etcdctl = find_etcd_binary("etcdctl")
    for name in [name for name in os.environ if name.startswith("ETCDCTL_")]:
        del os.environ[name]  # flags to etcdctl: the file's calls set their own
    with machine_lock(), contextlib.ExitStack() as cleanup:
        shutil.rmtree(work, ignore_errors=True)
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        cleanup.callback(os.chdir, os.getcwd())
        test_file = fetch(work)
        cluster = EtcdCluster(
            3,
            name_prefix=MEMBER_NAME_PREFIX,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            election_timeout_ms=ELECTION_TIMEOUT_MS,
        )
        cleanup.callback(cluster.close)  # by PID, with the members' directories
        cluster.start()
        members = cluster.members
        print("etcd3_suite: etcd", *(f"{m.name}={m.endpoint}" for m in members))
        etcdctl_wrapper(work / "bin", etcdctl)
        os.environ.update(suite_environment(members, work / "bin"))
        return run_pytest(test_file, argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
