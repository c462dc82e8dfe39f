"""`Isolation`: how much an STM commit guards; one enum for the sync and
the asyncio STM (recipes/_async/stm.py and its sync twin)."""

from __future__ import annotations

import enum


class Isolation(enum.Enum):
    """How much an STM commit guards (Go's Isolation).  See the STM's module
    docstring for what each level allows."""

    SERIALIZABLE_SNAPSHOT = "serializable_snapshot"
    SERIALIZABLE = "serializable"
    REPEATABLE_READS = "repeatable_reads"
    READ_COMMITTED = "read_committed"


__all__ = ["Isolation"]
