"""The library's loggers, and what they say (docs/logging.md).

Theory of operation:

* Loggers: ``pyetcd_wire`` and six children, one per thing an operator
  watches: ``.connection`` (dials, losses, GOAWAY, PING keepalive),
  ``.endpoints`` (quarantine and its end, failover), ``.retry`` (each retry
  of a unary call, DEBUG), ``.auth`` (tokens obtained and replaced),
  ``.watch`` (Watch stream resumes, with each watch's revision) and
  ``.lease`` (lost leases, LeaseKeepAlive stream resumes).
* Who logs: the drivers (`_sync`, `_async`) and the channel pool, through
  the functions below, so both clients say the same words; the stream
  managers (`_managers`, which both clients run) on ``.watch`` and ``.lease``
  themselves.  `_core` and `_policy` never log: they return the
  facts (`Balancer.failed` returns the endpoint's record with its
  quarantine), and the caller that acts on them logs.
* Nothing is logged on a call that succeeds at its first attempt, nor per
  watch event or keep-alive response: every record here marks a change of
  state (a dial, a failure, a resume), so logging costs a call nothing
  whether it is enabled or not (tests/integration/test_logging.py checks
  that successful calls never enter the logging module; docs/logging.md
  has the measurement).  Messages use lazy %-formatting.
* An outage is one WARNING per endpoint and connection pool, not one per
  attempt: the first failed dial and the first quarantine in a row are
  WARNINGs, the ones after DEBUG; the INFO of the next dial or of the
  quarantine's end says the endpoint is back.
* Never a secret: no token, password, TLS key or value is ever passed to a
  logger.  Users are named, keys of resuming watches are (as etcd's own
  logs do).
* Like any library (the logging HOWTO, "Configuring Logging for a
  Library"), this configures no handler but a `logging.NullHandler` on
  ``pyetcd_wire``: an application that does not configure logging sees
  nothing (no "last resort" output on stderr, which would also mix into the
  CLI's output), one that does gets the records by propagation.
* Importing the library does not import `logging` (a tenth of a plain
  client's import time, measured by benchmarks/bench_startup.py): the
  loggers are made when the first record is due, and a record due while the
  process has not imported `logging` is dropped, since no handler can exist
  to receive it.  The six ``*_log`` names of this module are made on first
  use (module ``__getattr__``) by the stream managers, which log more.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Tuple

if TYPE_CHECKING:
    import logging

ROOT = "pyetcd_wire"
# logging's levels, by number: the module is imported only once it is in use.
DEBUG, INFO, WARNING = 10, 20, 30
_CHILDREN = ("connection", "endpoints", "retry", "auth", "watch", "lease")

_loggers: Dict[str, logging.Logger] = {}

# Made by __getattr__ on first use (declared for the type checker).
connection_log: logging.Logger
endpoints_log: logging.Logger
retry_log: logging.Logger
auth_log: logging.Logger
watch_log: logging.Logger
lease_log: logging.Logger


def _made() -> Dict[str, logging.Logger]:
    """The loggers by child name, made once with the NullHandler on ROOT
    (two threads logging first at once may both add one: a NullHandler
    more does nothing)."""
    if not _loggers:
        import logging

        root = logging.getLogger(ROOT)
        if not any(type(h) is logging.NullHandler for h in root.handlers):
            root.addHandler(logging.NullHandler())
        _loggers.update((c, logging.getLogger(f"{ROOT}.{c}")) for c in _CHILDREN)
    return _loggers


def _logger(child: str) -> Optional[logging.Logger]:
    """``pyetcd_wire.<child>``, or None while nothing could receive its
    records: the process has not imported `logging`, so no handler exists."""
    if not _loggers and "logging" not in sys.modules:
        return None
    return _made()[child]


def __getattr__(name: str) -> Any:
    """``connection_log`` ... ``lease_log``, made (and `logging` imported) on
    first use."""
    child = name[: -len("_log")] if name.endswith("_log") else ""
    if child not in _CHILDREN:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _made()[child]


# --- .connection ---------------------------------------------------------------


def dialed(endpoint: str, tls: bool, failed: int) -> None:
    """Connected, after `failed` dials in a row that failed."""
    log = _logger("connection")
    if log is None:
        return
    log.info(
        "connected to %s%s%s",
        endpoint,
        " (TLS)" if tls else "",
        f" after {failed} failed dial(s)" if failed else "",
    )


def dial_failed(failures: Sequence[Tuple[str, str]], in_a_row: int) -> None:
    """A `ConnectionFailedError`'s or `TLSError`'s (endpoint, reason) pairs;
    the dial is the `in_a_row`-th to fail in a row.  Only the first is a
    WARNING: during an outage every call dials again (each retry, every
    25 ms with one endpoint), and one line says the endpoint is down;
    `dialed` says when it is back."""
    level = WARNING if in_a_row == 1 else DEBUG
    log = _logger("connection")
    if log is None or not log.isEnabledFor(level):
        return
    for endpoint, why in failures:
        log.log(
            level,
            "could not connect to %s: %s%s",
            endpoint,
            why,
            f" ({in_a_row} dials in a row)" if in_a_row > 1 else "",
        )


def connection_lost(endpoint: str, reason: object) -> None:
    log = _logger("connection")
    if log is not None:
        log.warning("connection to %s lost: %s", endpoint, reason)


def went_away(endpoint: str, error_code: int, debug_data: bytes) -> None:
    log = _logger("connection")
    if log is None:
        return
    log.info(
        "%s sent GOAWAY (error code %d%s): calls in flight finish there,"
        " new calls go to a new connection",
        endpoint,
        error_code,
        f", {debug_data.decode('utf-8', 'replace')!r}" if debug_data else "",
    )


# --- .endpoints ----------------------------------------------------------------


def quarantined(endpoint: str, seconds: float, failures: int, why: str) -> None:
    """Only the first failure in a row is a WARNING (see `dial_failed`);
    `quarantine_ended` says when the endpoint serves again."""
    log = _logger("endpoints")
    if log is None:
        return
    log.log(
        WARNING if failures == 1 else DEBUG,
        "%s quarantined for %.1f s (failure %d in a row): %s",
        endpoint,
        seconds,
        failures,
        why,
    )


def quarantine_ended(endpoint: str, checked: bool) -> None:
    log = _logger("endpoints")
    if log is None:
        return
    log.info(
        "%s is healthy again (%s): quarantine over",
        endpoint,
        "passed its health check" if checked else "a call went through",
    )


def failed_over(what: str, old: str, new: str) -> None:
    log = _logger("endpoints")
    if log is not None:
        log.info("%s failed over from %s to %s", what, old, new)


# --- .retry --------------------------------------------------------------------


def retrying(
    path: str, endpoint: str, error: BaseException, attempt: int, wait: float
) -> None:
    """Attempt number `attempt` (2: the first retry) is about to start."""
    log = _logger("retry")
    if log is not None and log.isEnabledFor(DEBUG):
        log.debug(
            "%s failed on %s (%s: %s); attempt %d after %.3f s",
            path,
            endpoint,
            type(error).__name__,
            error,
            attempt,
            wait,
        )


def gave_up(path: str, endpoint: str, error: BaseException, attempts: int) -> None:
    log = _logger("retry")
    if log is not None and log.isEnabledFor(DEBUG):
        log.debug(
            "%s failed on %s (%s: %s); no retry after %d attempt(s)",
            path,
            endpoint,
            type(error).__name__,
            error,
            attempts,
        )


# --- .auth ---------------------------------------------------------------------


def token_installed(username: str, generation: int, enabled: bool) -> None:
    """Token number `generation` (1: the first) is in place."""
    log = _logger("auth")
    if log is None:
        return
    if not enabled:
        log.info("auth is not enabled in the cluster: calls carry no token")
    elif generation == 1:
        log.info("obtained a token for user %r", username)
    else:
        log.info(
            "replaced the token of user %r (token %d, the one before was refused)",
            username,
            generation,
        )


def authenticate_failed(username: str, error: BaseException) -> None:
    log = _logger("auth")
    if log is None:
        return
    log.warning(
        "could not get a token for user %r: %s: %s",
        username,
        type(error).__name__,
        error,
    )


__all__ = [
    "auth_log",
    "connection_log",
    "endpoints_log",
    "lease_log",
    "retry_log",
    "watch_log",
]
