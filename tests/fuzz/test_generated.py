"""Generated server byte streams against the receive path's properties
(harness.py): a few seconds of Hypothesis in every test run; the long,
coverage-guided run is benchmarks/fuzz_receive.py."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .generate import generated
from .harness import drive


class RandomSource:
    """A `Source` over a Random that Hypothesis drew: its choices are
    uniform (Hypothesis' own integers prefer the small end, and the
    generator's odd cases sit everywhere), yet replayed and shrunk by it."""

    def __init__(self, rnd: random.Random) -> None:
        self._rnd = rnd

    def integer(self, lo: int, hi: int) -> int:
        return self._rnd.randint(lo, hi)

    def raw(self, max_size: int) -> bytes:
        n = self._rnd.randint(0, max_size)
        return bytes(self._rnd.getrandbits(8) for _ in range(n))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_generated_frame_sequences(rnd: random.Random) -> None:
    drive(generated(RandomSource(rnd)))
