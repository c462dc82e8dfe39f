"""The etcd3_suite harness, offline: the plugin's aliases, defaults and
deselection (on stand-in test files), and the runner's etcdctl wrapper and
sdist check.  The suite itself runs in ``nox -s etcd3_suite`` only."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from tests.etcd3_suite import plugin, run

HERE = Path(__file__).resolve().parent


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``fakepkg``: a ``client`` function in its ``__init__`` beside a
    ``client`` module it does not import, and a subpackage."""
    top = tmp_path / "fakepkg"
    (top / "sub").mkdir(parents=True)
    (top / "__init__.py").write_text("def client():\n    return 'function'\n")
    (top / "client.py").write_text("")
    (top / "sub" / "__init__.py").write_text("")
    (top / "sub" / "leaf.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "fakepkg"
    for name in [name for name in sys.modules if name.split(".")[0] == "fakepkg"]:
        del sys.modules[name]


def test_every_module_is_aliased_and_the_package_keeps_its_names(
    fake_package: str,
) -> None:
    modules = plugin.alias_modules(fake_package, "etcd3")
    assert sorted(modules) == [
        "etcd3",
        "etcd3.client",
        "etcd3.sub",
        "etcd3.sub.leaf",
    ]
    assert modules["etcd3.sub.leaf"] is sys.modules["fakepkg.sub.leaf"]
    assert modules["etcd3"].client() == "function"  # not the client module
    assert "etcd3" not in sys.modules  # the plugin enters them, not this


class Client:
    def __init__(
        self, host: str = "localhost", port: int = 2379, timeout: Any = None
    ) -> None:
        self.args = host, port, timeout


def client(*args: Any, **kwargs: Any) -> Any:
    return Client(*args, **kwargs).args


def test_the_default_address_is_used_only_where_a_call_leaves_it_out() -> None:
    pointed = plugin.with_default_address(client, "127.0.0.1", 40001, takes=Client)
    assert pointed() == ("127.0.0.1", 40001, None)
    assert pointed(timeout=3) == ("127.0.0.1", 40001, 3)
    assert pointed("h") == ("h", 40001, None)
    assert pointed("h", 1) == ("h", 1, None)
    assert pointed(host="h", port=1, timeout=3) == ("h", 1, 3)
    assert pointed.__name__ == "client"


def test_unknown_names_are_the_deselected_tests_a_file_does_not_define() -> None:
    source = textwrap.dedent(
        """
        def test_top(): pass
        class TestA:
            def test_one(self): pass
            def helper(self): pass
        """
    )
    deselected = {"TestA::test_one": "", "test_top": "", "TestA::test_two": ""}
    assert plugin.unknown_names(deselected, source) == ["TestA::test_two"]


def test_each_deselected_test_has_a_one_line_reason() -> None:
    for name, reason in plugin.DESELECTED.items():
        assert name.count("::") == 1, name
        assert "::test_" in name, name
        assert reason.strip(), name
        assert "\n" not in reason, name


def stand_in(tmp_path: Path, names: List[str]) -> Path:
    """A test file defining `names` (``Class::test``), each passing, a test
    of the aliases, and a Hypothesis test on a function-scoped fixture."""
    classes: dict = {}
    for name in names:
        cls, test = name.split("::")
        classes.setdefault(cls, []).append(test)
    lines = [
        "import etcd3, etcd3.exceptions, pyetcd_wire.compat.etcd3 as ours",
        "def test_etcd3_is_ours():",
        "    assert etcd3 is ours and etcd3.exceptions is ours.exceptions",
        # As the upstream file: its own profile, @given on a fixture.
        "import pytest",
        "from hypothesis import given, settings, strategies",
        "settings.register_profile('default', deadline=None)",
        "settings.load_profile('default')",
        "@pytest.fixture",
        "def etcd(): return 1",
        "@given(strategies.integers())",
        "def test_given_with_a_function_scoped_fixture(etcd, n): pass",
    ]
    for cls, tests in classes.items():
        lines.append(f"class {cls}:")
        lines += [f"    def {test}(self): pass" for test in tests]
    (tmp_path / "test_stand_in.py").write_text("\n".join(lines) + "\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not the repository's
    return tmp_path / "test_stand_in.py"


def pytest_with_plugin(path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    env.pop("PYTHON_ETCD_HTTP_URL", None)
    return subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-p", "plugin", "-p", "no:cacheprovider"),
            *("-p", "no:pyetcd_wire", "-c", str(path.parent / "pytest.ini"), str(path)),
        ],
        cwd=path.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_plugin_deselects_the_listed_tests_and_runs_the_rest(
    tmp_path: Path,
) -> None:
    done = pytest_with_plugin(
        stand_in(tmp_path, [*plugin.DESELECTED, "TestB::test_kept"])
    )
    assert done.returncode == 0, done.stdout + done.stderr
    kept, dropped = 3, len(plugin.DESELECTED)
    assert f"{kept} passed, {dropped} deselected" in done.stdout, done.stdout


def test_the_plugin_fails_the_run_on_a_name_the_file_lacks(tmp_path: Path) -> None:
    names = list(plugin.DESELECTED)
    done = pytest_with_plugin(stand_in(tmp_path, names[1:]))
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert names[0] in done.stderr


def test_a_plain_pytest_collects_no_harness_file_but_this_one() -> None:
    collected = {p.name for p in HERE.glob("test_*.py")} | {
        p.name for p in HERE.glob("*_test.py")
    }
    assert collected == {"test_harness.py"}
    assert not (HERE / "conftest.py").exists()  # a conftest would load for `tests`


def test_the_etcdctl_wrapper_drops_the_variable_only_beside_endpoints(
    tmp_path: Path,
) -> None:
    fake = tmp_path / "real etcdctl"
    fake.write_text('#!/bin/sh\necho "${ETCDCTL_ENDPOINTS-unset} $*"\n')
    fake.chmod(0o755)
    run.etcdctl_wrapper(tmp_path / "bin", str(fake))
    env = {**os.environ, "ETCDCTL_ENDPOINTS": "127.0.0.1:40001"}

    def wrapped(*args: str) -> str:
        command = [str(tmp_path / "bin" / "etcdctl"), *args]
        return subprocess.run(
            command, env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

    assert wrapped("user", "add", "root") == "127.0.0.1:40001 user add root"
    assert wrapped("--endpoints", "a:1", "get", "k") == "unset --endpoints a:1 get k"
    assert wrapped("-w", "json", "--endpoints=a:1") == "unset -w json --endpoints=a:1"


def test_an_sdist_other_than_the_pinned_one_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / run.SDIST_FILE
    with tarfile.open(archive, "w:gz"):
        pass
    with pytest.raises(SystemExit, match="SHA-256"):
        run.unpack(archive, tmp_path / "tests")
    assert not (tmp_path / "tests").exists()
