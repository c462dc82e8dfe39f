"""The "opened again" and "failed over" records of a stream manager
(_managers/stream_slot.py, docs/logging.md) are for a stream that resumes for the
users it had: a stream that failed and whose users all left before it opened
again resumes nothing, and the stream opened later for new users is new.
Against LeaseManager in memory (fakes.py)."""

from __future__ import annotations

import logging

from pyetcd_wire.errors import UnavailableError

from .fakes import FakeConnection, LeaseRig


def test_a_stream_whose_users_left_before_it_reopened_is_new(caplog) -> None:
    caplog.set_level(logging.INFO, logger="pyetcd_wire")
    rig = LeaseRig()
    first = rig.keep_alive(7)
    rig.tend()
    rig.stream.end(UnavailableError(None, "gone"))
    rig.read()  # failed; it would open again after the backoff
    first.close()  # ... but its only user leaves first
    rig.now += 100
    rig.tend()  # nothing to open it for
    assert len(rig.open.opened) == 1
    rig.open.connection = FakeConnection("http://b:2379")
    rig.now += 100
    rig.keep_alive(8)
    rig.tend()  # a new stream, for a new lease
    assert len(rig.open.opened) == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("opens again for 1 lease(s)" in m for m in messages)
    assert not [m for m in messages if "opened again" in m or "failed over" in m]
