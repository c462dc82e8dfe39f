"""Recorded etcd sessions (tests/fuzz/transcripts/, made by
scripts/record_transcripts.py), replayed as they happened and mutated,
against the receive path's properties (harness.py)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyetcd_wire._core.h2 import frames as fr

from .generate import RandomSource
from .harness import drive
from .mutate import load_transcripts, mutated

TRANSCRIPTS = load_transcripts()


def test_the_recordings_cover_the_session():
    names = [t.name for t in TRANSCRIPTS]
    frame_types = {frame[3] for t in TRANSCRIPTS for _, frame in t.frames}
    assert {fr.FrameType.GOAWAY, fr.FrameType.PING, fr.FrameType.DATA} <= frame_types
    assert any("Maintenance" in name for name in names)  # the snapshot
    assert sum("Watch" in name for name in names) >= 3


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=lambda t: t.name)
def test_a_recording_replays_as_it_happened(transcript):
    outcome = drive(transcript.scenario())
    assert outcome.connection_error is None
    assert outcome.messages == transcript.messages > 0
    assert outcome.digest.hexdigest() == transcript.messages_sha256


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_mutated_recordings(rnd: random.Random) -> None:
    drive(mutated(RandomSource(rnd), TRANSCRIPTS))
