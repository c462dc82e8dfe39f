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
"""

from __future__ import annotations

import logging
from typing import Sequence, Tuple

ROOT = "pyetcd_wire"
logging.getLogger(ROOT).addHandler(logging.NullHandler())

connection_log = logging.getLogger(ROOT + ".connection")
endpoints_log = logging.getLogger(ROOT + ".endpoints")
retry_log = logging.getLogger(ROOT + ".retry")
auth_log = logging.getLogger(ROOT + ".auth")
watch_log = logging.getLogger(ROOT + ".watch")
lease_log = logging.getLogger(ROOT + ".lease")


# --- .connection ---------------------------------------------------------------


def dialed(endpoint: str, tls: bool, failed: int) -> None:
    """Connected, after `failed` dials in a row that failed."""
    connection_log.info(
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
    level = logging.WARNING if in_a_row == 1 else logging.DEBUG
    if not connection_log.isEnabledFor(level):
        return
    for endpoint, why in failures:
        connection_log.log(
            level,
            "could not connect to %s: %s%s",
            endpoint,
            why,
            f" ({in_a_row} dials in a row)" if in_a_row > 1 else "",
        )


def connection_lost(endpoint: str, reason: object) -> None:
    connection_log.warning("connection to %s lost: %s", endpoint, reason)


def went_away(endpoint: str, error_code: int, debug_data: bytes) -> None:
    connection_log.info(
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
    endpoints_log.log(
        logging.WARNING if failures == 1 else logging.DEBUG,
        "%s quarantined for %.1f s (failure %d in a row): %s",
        endpoint,
        seconds,
        failures,
        why,
    )


def quarantine_ended(endpoint: str, checked: bool) -> None:
    endpoints_log.info(
        "%s is healthy again (%s): quarantine over",
        endpoint,
        "passed its health check" if checked else "a call went through",
    )


def failed_over(what: str, old: str, new: str) -> None:
    endpoints_log.info("%s failed over from %s to %s", what, old, new)


# --- .retry --------------------------------------------------------------------


def retrying(
    path: str, endpoint: str, error: BaseException, attempt: int, wait: float
) -> None:
    """Attempt number `attempt` (2: the first retry) is about to start."""
    if retry_log.isEnabledFor(logging.DEBUG):
        retry_log.debug(
            "%s failed on %s (%s: %s); attempt %d after %.3f s",
            path,
            endpoint,
            type(error).__name__,
            error,
            attempt,
            wait,
        )


def gave_up(path: str, endpoint: str, error: BaseException, attempts: int) -> None:
    if retry_log.isEnabledFor(logging.DEBUG):
        retry_log.debug(
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
    if not enabled:
        auth_log.info("auth is not enabled in the cluster: calls carry no token")
    elif generation == 1:
        auth_log.info("obtained a token for user %r", username)
    else:
        auth_log.info(
            "replaced the token of user %r (token %d, the one before was refused)",
            username,
            generation,
        )


def authenticate_failed(username: str, error: BaseException) -> None:
    auth_log.warning(
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
