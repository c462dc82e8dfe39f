"""The leak check of tests/conftest.py, in a pytest session of its own: a
test that leaves a socket (dropped or kept) or a thread behind fails itself,
on CPython and PyPy alike; what a module-scoped fixture holds does not."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

LEAKY = """
import socket
import threading

import pytest

kept = []


@pytest.fixture(scope="module")
def shared():
    sockets = []
    yield sockets
    for sock in sockets:
        sock.close()


def test_drops_a_socket():
    socket.socket()


def test_keeps_a_socket():
    kept.append(socket.socket())


def test_leaves_a_thread():
    stop = threading.Event()
    kept.append(stop)
    threading.Thread(target=stop.wait, name="left-behind", daemon=True).start()


def test_a_module_fixture_may_hold_one(shared):
    shared.append(socket.socket())


def test_closes_what_it_opens(shared):
    with socket.socket():
        pass
"""


def test_each_leak_fails_the_test_that_made_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    conftest = (Path(__file__).parent / "conftest.py").read_text()
    # The conftest imports `tests.missing` from the repository.
    paths = [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, paths)))
    pytester.makeconftest(conftest.replace("THREAD_GRACE = 10.0", "THREAD_GRACE = 0.2"))
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(test_leaky=LEAKY)
    # In a process of its own: the sockets it keeps are not this session's.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    verdicts = {}
    for line in result.outlines:
        match = re.match(r"(PASSED|FAILED|ERROR) test_leaky\.py::(\w+)", line)
        if match:
            verdicts.setdefault(match[2], set()).add(match[1])
    # A dropped socket warns when it is collected: at once on CPython (in
    # the test), at the test's teardown on PyPy (ERROR).
    assert verdicts["test_drops_a_socket"] & {"FAILED", "ERROR"}
    assert "ERROR" in verdicts["test_keeps_a_socket"]
    assert "ERROR" in verdicts["test_leaves_a_thread"]
    assert verdicts["test_a_module_fixture_may_hold_one"] == {"PASSED"}
    assert verdicts["test_closes_what_it_opens"] == {"PASSED"}
    result.stdout.fnmatch_lines(["*the test left open: file descriptor*socket:*"])
    result.stdout.fnmatch_lines(["*the test left open: thread 'left-behind'*"])
