"""Generated server byte streams against the receive path's properties
(harness.py): a few seconds of Hypothesis in every test run; the long,
coverage-guided run is benchmarks/fuzz_receive.py."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .generate import RandomSource, generated
from .harness import drive


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_generated_frame_sequences(rnd: random.Random) -> None:
    drive(generated(RandomSource(rnd)))
