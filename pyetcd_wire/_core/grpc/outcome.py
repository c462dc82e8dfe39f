"""What a finished call means for its caller: the response, or the typed
error (one decision for the sync and asyncio drivers)."""

from __future__ import annotations

from typing import Optional, Sequence

from ...errors import EtcdError, InternalError, error_from_status
from .status import Status, StatusCode


def call_error(
    status: Optional[Status], error: Optional[EtcdError], endpoint: str
) -> Optional[EtcdError]:
    """What a call that ended with `status` (and `error`, when the
    connection had more to say) failed with; None if OK or not over."""
    if error is not None:
        return error
    if status is None or status.code is StatusCode.OK:
        return None
    return error_from_status(status, endpoint=endpoint)


def raise_for(status: Status, error: Optional[EtcdError], endpoint: str) -> None:
    """Raise what a call that ended with `status` means, if not OK."""
    if error is None and status.code is StatusCode.OK:
        return  # every call passes here: no call_error frame when OK
    failure = call_error(status, error, endpoint)
    assert failure is not None
    raise failure


def unary_outcome(
    path: str,
    messages: Sequence[bytes],
    status: Status,
    error: Optional[EtcdError],
    endpoint: str,
) -> bytes:
    """The response of a finished unary call, or its typed error."""
    raise_for(status, error, endpoint)
    if len(messages) != 1:
        raise InternalError(
            StatusCode.INTERNAL,
            f"{path} returned {len(messages)} messages; a unary call must return"
            " exactly one",
            endpoint=endpoint,
        )
    return messages[0]


__all__ = ["call_error", "raise_for", "unary_outcome"]
