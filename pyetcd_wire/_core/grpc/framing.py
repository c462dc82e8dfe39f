"""gRPC Length-Prefixed-Message framing (PROTOCOL-HTTP2.md "Requests").

Each message is a 1-octet compressed flag, a 4-octet big-endian length and the
message.  DATA frame boundaries are unrelated to message boundaries, so the
decoder is incremental.  The size cap is checked on the 5-octet prefix, before
a single octet of the body is buffered.
"""

from __future__ import annotations

import struct
from typing import List, Optional, Union

from .status import StatusCode

PREFIX = struct.Struct(">BI")
_PACK_PREFIX = PREFIX.pack


class MessageError(Exception):
    """A message the call cannot accept; ends the call with `code`."""

    def __init__(self, code: StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def encode_message(message: bytes) -> bytes:
    """Frame one uncompressed message."""
    return _PACK_PREFIX(0, len(message)) + message


class MessageDecoder:
    """Bytes of one call's response stream in, whole messages out."""

    __slots__ = ("_buf", "max_size")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        # Allocated only once a partial message must be kept (most calls never).
        self._buf: Optional[bytearray] = None

    @property
    def buffered(self) -> int:
        """Octets of an incomplete message held."""
        return len(self._buf) if self._buf else 0

    def feed(self, data: Union[bytes, bytearray]) -> List[bytes]:
        """Returns the messages `data` completes.

        Raises:
            MessageError: RESOURCE_EXHAUSTED for a message over `max_size`,
                INTERNAL for a compressed or malformed prefix.
        """
        buf = self._buf
        if buf:
            buf += data
            data = buf
        messages: List[bytes] = []
        pos, end = 0, len(data)
        unpack = PREFIX.unpack_from
        while end - pos >= 5:
            flag, length = unpack(data, pos)
            if flag:
                raise self._bad_flag(flag)
            if length > self.max_size:
                raise MessageError(
                    StatusCode.RESOURCE_EXHAUSTED,
                    f"received message larger than max ({length} vs. {self.max_size})",
                )
            stop = pos + 5 + length
            if stop > end:
                break
            messages.append(bytes(data[pos + 5 : stop]))
            pos = stop
        if buf and data is buf:
            del buf[:pos]
        elif pos < end:
            self._buf = bytearray(data[pos:])
        return messages

    @staticmethod
    def _bad_flag(flag: int) -> MessageError:
        if flag == 1:
            return MessageError(
                StatusCode.INTERNAL,
                "server sent a compressed message, but this client asked for no"
                " compression (no grpc-accept-encoding) and does not support it",
            )
        return MessageError(
            StatusCode.INTERNAL,
            f"message prefix has compressed-flag {flag}; only 0 and 1 exist",
        )
