"""Checks of the public API's arguments that are not keys or int64 numbers
(those are `util.bytesify` and `util.int64`): flags, seconds, sizes, names.

The rule (docs/errors-and-retries.md, "Bad arguments"): a wrong type raises
``TypeError``, a value out of range ``ValueError``, each naming the argument
and what it got, before anything is sent.  Each kind has one function here,
called by the request builders and the client's option parsing, never
copied per method.  They are a few identity and type tests: the unary path
calls them on every call, so a default argument costs one comparison.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence


def flag(value: bool, what: str) -> bool:
    """Returns `value` if it is True or False.

    Raises:
        TypeError: anything else (1, "yes", None ...): a truthy value in a
            flag is a bug, such as a prefix given as ``prefix="/a"``.
    """
    if value is True or value is False:
        return value
    raise TypeError(f"{what} must be a bool, not {type(value).__name__}")


def flags(names: Sequence[str], values: Sequence[bool]) -> None:
    """`flag` for each of `values`, named by `names` (the callers' fast path,
    a few identity tests, skips this when every value is True or False)."""
    for name, value in zip(names, values):
        flag(value, name)


def text(value: str, what: str) -> str:
    """Returns `value` if it is a str (a user, role or password).

    Raises:
        TypeError: anything else, bytes included.
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return value


def seconds(value: float, what: str) -> float:
    """Returns `value` if it is a finite number of seconds above 0.

    ``timeout=None`` is how a call asks for no deadline; infinity is
    refused rather than passed to socket timeouts that cannot hold it.

    Raises:
        TypeError: a bool, a str or anything else not an int or float.
        ValueError: 0, negative, NaN or infinite.
    """
    if (type(value) is not float and type(value) is not int) and (
        isinstance(value, bool) or not isinstance(value, (int, float))
    ):
        raise TypeError(
            f"{what} must be a number of seconds, not {type(value).__name__}"
        )
    if not 0 < value < math.inf:  # NaN fails too
        raise ValueError(f"{what} must be a finite number of seconds > 0, got {value}")
    return value


def call_timeout(value: float) -> float:
    """Returns a call's `timeout=` if it is a number of seconds, not NaN or
    infinite.  0 or less is a deadline already passed: the call raises
    DeadlineExceededError without sending anything, as a Go context past its
    deadline does (a remaining time computed by the caller may reach 0).

    Raises:
        TypeError: a bool, a str or anything else not an int or float.
        ValueError: NaN or infinite.
    """
    if (type(value) is not float and type(value) is not int) and (
        isinstance(value, bool) or not isinstance(value, (int, float))
    ):
        raise TypeError(
            f"timeout must be a number of seconds, not {type(value).__name__}"
        )
    if not -math.inf < value < math.inf:  # NaN fails too
        raise ValueError(f"timeout must be a finite number of seconds, got {value}")
    return value


def optional_seconds(value: Optional[float], what: str) -> Optional[float]:
    """`seconds`, or None (no bound)."""
    return None if value is None else seconds(value, what)


def wait_seconds(value: Optional[float], what: str) -> Optional[float]:
    """A recipe's bound on waiting: None (no bound) or a number, where 0 or
    less means the time is already up (as a Go context past its deadline).

    Raises:
        TypeError: not None, an int or a float (a bool or a str).
        ValueError: NaN.
    """
    if value is None or type(value) is float or type(value) is int:
        if value != value:  # NaN
            raise ValueError(f"{what} must be a number of seconds, got nan")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{what} must be a number of seconds or None, not {type(value).__name__}"
        )
    return wait_seconds(float(value), what)


def positive_int(value: int, what: str) -> int:
    """Returns `value` if it is an int above 0 (a size limit).

    Raises:
        TypeError: a bool or not an int.
        ValueError: 0 or negative.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{what} must be > 0, got {value}")
    return value


__all__ = [
    "call_timeout",
    "flag",
    "flags",
    "optional_seconds",
    "positive_int",
    "seconds",
    "text",
    "wait_seconds",
]
