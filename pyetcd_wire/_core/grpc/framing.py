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
    """Bytes of one call's response stream in, whole messages out.

    A message that arrives in one piece is copied out of it once.  A message
    spread over several pieces (a large one: grpc-go's DATA frames hold 16 KiB)
    is copied into a buffer of its exact size, allocated once its prefix is
    known, then to the `bytes` returned.  So each octet is copied twice at
    most, and a 1 MiB message costs no buffer regrowth.  `feed` accepts
    memoryviews, so the HTTP/2 layer need not copy DATA payloads first.
    """

    __slots__ = ("_body", "_filled", "_head", "max_size")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._head = b""  # a prefix not yet complete (< 5 octets)
        self._body: Optional[bytearray] = None  # the message being filled
        self._filled = 0

    @property
    def buffered(self) -> int:
        """Octets of an incomplete message held."""
        return len(self._head) + (5 + self._filled if self._body is not None else 0)

    def feed(self, data: Union[bytes, bytearray, memoryview]) -> List[bytes]:
        """Returns the messages `data` completes.

        Raises:
            MessageError: RESOURCE_EXHAUSTED for a message over `max_size`,
                INTERNAL for a compressed or malformed prefix.
        """
        messages: List[bytes] = []
        pos, end = 0, len(data)
        body = self._body
        if body is not None:  # continue the message being filled
            filled = self._filled
            take = min(len(body) - filled, end)
            body[filled : filled + take] = memoryview(data)[:take]
            filled += take
            if filled < len(body):
                self._filled = filled
                return messages
            # bytes, not the bytearray: protobuf 4.21's upb refuses a bytearray.
            messages.append(bytes(body))
            self._body = None
            pos = take
        if self._head:  # complete a split prefix
            data = self._head + bytes(data[pos:])
            self._head = b""
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
            start = pos + 5
            stop = start + length
            if stop > end:  # the rest comes later: into a buffer of its size
                body = bytearray(length)
                body[: end - start] = memoryview(data)[start:end]
                self._body, self._filled = body, end - start
                return messages
            messages.append(bytes(data[start:stop]))
            pos = stop
        if pos < end:
            self._head = bytes(data[pos:end])
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
