"""What the Watch and LeaseKeepAlive managers share: one stream, kept open
while there is something to keep it for, and opened again after a backoff
once it failed."""

from __future__ import annotations

from typing import Callable, ContextManager, Optional

from .. import _log
from .._core.grpc.metadata import Metadata
from .._policy.resume import Backoff
from .._policy.retry import needs_new_token
from ..errors import EtcdError, InternalError
from .ports import OpenStream, StreamNotReadyError, StreamPort


class StreamSlot:
    """The stream slot of a manager; subclasses say when it is needed (`_live`),
    what to do once it opened (`_opened`) or failed to (`_open_failed`).

    Args:
        lock: the driver's lock (a no-op one in asyncio).
        rand: uniform in [0, 1), for the backoff's jitter.
        on_stream_failed: told of a failed stream (its endpoint may go to
            quarantine).
        refresh_token: gets a new token; True if one is in place.
    """

    #: The stream's name and what `_live` counts, in log records; the
    #: manager's logger (one of `_log`'s).
    NAME = ""
    USERS = "user(s)"
    log = _log.connection_log

    def __init__(
        self,
        lock: ContextManager[object],
        rand: Callable[[], float],
        *,
        on_stream_failed: Callable[[StreamPort, EtcdError], None],
        refresh_token: Callable[[], bool],
    ) -> None:
        self._lock = lock
        self._on_stream_failed = on_stream_failed
        self._refresh_token = refresh_token
        self.stream: Optional[StreamPort] = None
        self._backoff = Backoff(rand)
        # The endpoint of the stream that failed, until a new one opens.
        self._failed_on: Optional[str] = None
        # The last open found the driver not ready (dialing, or fetching a
        # token): it calls `tend` again once it is, so no timer is needed.
        self._not_ready = False

    def _live(self) -> int:
        """How many users need the stream (lock held)."""
        raise NotImplementedError

    def _opened(self, now: float) -> None:
        """The stream just opened (lock held)."""

    def _open_failed(self, error: EtcdError, now: float) -> None:
        raise NotImplementedError

    def _replace(self, stream: StreamPort) -> Optional[StreamPort]:
        """The open stream to keep using, or None to open a new one."""
        return stream

    def next_wakeup(self, now: float) -> Optional[float]:
        """When `tend` must run for the backoff (None: no timer)."""
        with self._lock:
            if self._live() and self.stream is None and not self._not_ready:
                return self._backoff.until
            return None

    def _refresh_for(self, error: EtcdError) -> bool:
        """True if `error` refused the stream for its stale token and a new
        one is in place (the stream may be opened again)."""
        return needs_new_token(error) and self._refresh_token()

    def _end_error(self, stream: StreamPort) -> EtcdError:
        """Why `stream` ended (an end with status OK too: it is not meant to
        end), once told to `on_stream_failed`."""
        error = stream.end_error() or InternalError(
            None, f"the server ended the {self.NAME} stream"
        )
        self._on_stream_failed(stream, error)
        return error

    def close_stream(self) -> None:
        if self.stream is not None:
            self.stream.cancel()
            self.stream = None

    def _stream_to_send_on(
        self, now: float, open_stream: OpenStream, path: str, metadata: Metadata
    ) -> Optional[StreamPort]:
        """The stream, opened if it is needed and the backoff allows; closed
        (None) once nothing needs it."""
        with self._lock:
            live = self._live()
            stream = self.stream
            if stream is not None and not live:
                self.stream = None
            elif stream is None and not live:
                self._failed_on = None  # nothing resumes: a later stream is new
                return None
            elif stream is None and now < self._backoff.until:
                return None
        if stream is not None:
            if not live:
                stream.cancel()  # Go closes the stream with its last user
                return None
            stream = self._replace(stream)
            if stream is None and now < self._backoff.until:
                return None  # reopened after the backoff (next_wakeup)
        if stream is None:
            self._not_ready = False
            try:
                stream = open_stream(path, metadata)
            except StreamNotReadyError:
                self._not_ready = True
                return None
            except EtcdError as exc:
                self._open_failed(exc, now)
                return None
            with self._lock:
                self.stream = stream
                self._opened(now)
            if self._failed_on is not None:
                self._resumed(stream.connection.endpoint)
        return stream

    def _resuming(self, stream: StreamPort, error: EtcdError, live: int) -> None:
        """`stream` ended with `error` and opens again after the backoff, for
        `live` users (log it; no lock held)."""
        if self._failed_on is None:
            self._failed_on = stream.connection.endpoint
        self.log.info(
            "%s stream on %s ended (%s: %s): it opens again for %d %s",
            self.NAME,
            stream.connection.endpoint,
            type(error).__name__,
            error,
            live,
            self.USERS,
        )

    def _resumed(self, endpoint: str) -> None:
        """A stream opened on `endpoint` after one failed (log it)."""
        failed_on, self._failed_on = self._failed_on, None
        self.log.info("%s stream opened again on %s", self.NAME, endpoint)
        if failed_on is not None and failed_on != endpoint:
            _log.failed_over(f"the {self.NAME} stream", failed_on, endpoint)


__all__ = ["StreamSlot"]
