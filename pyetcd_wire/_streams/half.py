"""What the Watch and LeaseKeepAlive halves share: one stream, kept open
while there is something to keep it for, and opened again after a backoff
once it failed."""

from __future__ import annotations

from typing import Callable, ContextManager, Optional

from .._core.grpc.metadata import Metadata
from ..errors import EtcdError
from .ports import OpenStream, StreamNotReadyError, StreamPort
from .resume import Backoff


class StreamHalf:
    """The stream slot of a half; subclasses say when it is needed (`_live`),
    what to do once it opened (`_opened`) or failed to (`_open_failed`)."""

    def __init__(self, lock: ContextManager[object], rand: Callable[[], float]):
        self._lock = lock
        self.stream: Optional[StreamPort] = None
        self._backoff = Backoff(rand)

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
            if self._live() and self.stream is None:
                return self._backoff.until
            return None

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
            elif stream is None and (not live or now < self._backoff.until):
                return None
        if stream is not None:
            if not live:
                stream.cancel()  # Go closes the stream with its last user
                return None
            stream = self._replace(stream)
        if stream is None:
            try:
                stream = open_stream(path, metadata)
            except StreamNotReadyError:
                return None
            except EtcdError as exc:
                self._open_failed(exc, now)
                return None
            with self._lock:
                self.stream = stream
                self._opened(now)
        return stream


__all__ = ["StreamHalf"]
