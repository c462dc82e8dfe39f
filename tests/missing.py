"""What a test does when this machine lacks something it needs (an etcd or
etcdctl binary, Debian's etcd 3.4, the openssl command): skip on a
developer's machine, saying what is missing; fail wherever every test must
run, so that a skip cannot hide a broken setup:

* under ``--etcd-required``, which every nox session that runs real-etcd
  tests passes (noxfile.py; scripts/test installs everything they need);
* in CI (``CI=true``), however pytest was started.

Only `os` and `pytest` here: tests/conftest.py imports it in every session,
the bundle's too (where pyetcd_wire is the single-file bundle).
"""

from __future__ import annotations

import os
from typing import Dict, NoReturn, Optional

import pytest

#: "required" is None until `configure` ran (a session that did not skips).
_state: Dict[str, Optional[bool]] = {"required": None}


def configure(config: pytest.Config) -> None:
    """Called by tests/conftest.py's `pytest_configure`.  (The option is the
    pytest plugin's; a session without the plugin has no such option.)"""
    _state["required"] = every_test_must_run(
        bool(config.getoption("etcd_required", default=False))
    )


def every_test_must_run(etcd_required: bool) -> bool:
    return etcd_required or os.environ.get("CI", "").lower() == "true"


def missing(why: str) -> NoReturn:
    """Skip the calling test, saying `why`; fail it under ``--etcd-required``
    or in CI."""
    if _state["required"]:
        pytest.fail(f"{why}\n(--etcd-required or CI=true: not skipped)", pytrace=False)
    pytest.skip(why)
