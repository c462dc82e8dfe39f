"""The one failure of a bundle build."""

from __future__ import annotations


class BundleError(Exception):
    """The bundle cannot be built as asked: a missing or mismatched input
    (wheel, installed distribution), or a vendored file that no longer
    matches what the rewrite expects.  Expected; the message says what to do.
    """
