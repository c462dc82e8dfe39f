"""The "opened again" and "failed over" records of a stream manager
(_managers/stream_slot.py, docs/logging.md) are for a stream that resumes for the
users it had: a stream that failed and whose users all left before it opened
again resumes nothing, and the stream opened later for new users is new.
Against LeaseManager with stub streams (no sockets)."""

from __future__ import annotations

import contextlib
import logging
from typing import List, Optional

from pyetcd_wire._managers.leases import LeaseManager
from pyetcd_wire._sync.auth import CallMetadata
from pyetcd_wire.errors import EtcdError, UnavailableError


class StubConnection:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def close_with(self, error: EtcdError) -> None:
        pass


class StubStream:
    def __init__(self, endpoint: str) -> None:
        self.connection = StubConnection(endpoint)
        self.ended = False
        self.error: Optional[EtcdError] = None

    def take_messages(self) -> List[bytes]:
        return []

    def message_consumed(self, count: int = 1) -> None:
        pass

    def end_error(self) -> Optional[EtcdError]:
        return self.error

    def cancel(self) -> None:
        pass


class Subscription:
    def __init__(self, lease_id: int) -> None:
        self.lease_id = lease_id


def test_a_stream_whose_users_left_before_it_reopened_is_new(caplog) -> None:
    caplog.set_level(logging.INFO, logger="pyetcd_wire")
    manager = LeaseManager(
        contextlib.nullcontext(),
        lambda: 0.5,
        metadata=CallMetadata((), ()),
        first_response_timeout=5.0,
        on_stream_failed=lambda stream, error: None,
        refresh_token=lambda: False,
    )
    opened: List[StubStream] = []

    def opener(endpoint: str):
        def open_stream(path: str, metadata: object) -> StubStream:
            opened.append(StubStream(endpoint))
            return opened[-1]

        return open_stream

    def send(stream: object, messages: List[bytes]) -> None:
        pass

    first = Subscription(7)
    manager.add(first, 0.0)
    manager.tend(0.0, opener("a:1"), send)
    opened[0].ended, opened[0].error = True, UnavailableError(None, "gone")
    manager.read(1.0)  # failed; it would open again after the backoff
    assert manager.remove(first)  # ... but its only user leaves first
    manager.tend(100.0, opener("a:1"), send)  # nothing to open it for
    assert len(opened) == 1
    manager.add(Subscription(8), 200.0)
    manager.tend(200.0, opener("b:2"), send)  # a new stream, for a new lease
    assert len(opened) == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("opens again for 1 lease(s)" in m for m in messages)
    assert not [m for m in messages if "opened again" in m or "failed over" in m]
