"""`pyetcd`: an etcdctl-compatible command line over the sync `Client`.

Commands, flags, ETCDCTL_* variables, output (simple, json, fields, table)
and exit codes follow etcdctl 3.5; see `pyetcd --help`.
"""

from __future__ import annotations

from .app import main

__all__ = ["main"]
