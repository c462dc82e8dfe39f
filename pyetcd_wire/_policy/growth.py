"""Delays that grow while failures repeat, up to a cap."""

from __future__ import annotations

#: Past this many failures every delay is at its cap; counting further in the
#: exponent would only overflow (1.6 ** 1510 is past the largest float).
_MOST_STEPS = 64


def capped_exponential(first: float, factor: float, cap: float, failures: int) -> float:
    """``first * factor ** failures``, at most `cap`, for any count of
    failures: an endpoint down for hours fails many thousand times."""
    return min(cap, first * factor ** min(failures, _MOST_STEPS))
