"""gRPC Length-Prefixed-Message framing (PROTOCOL-HTTP2.md "Requests").

Each message is a 1-octet compressed flag, a 4-octet big-endian length and the
message.  DATA frame boundaries are unrelated to message boundaries, so the
decoder is incremental.  The size cap is checked on the 5-octet prefix, before
a single octet of the body is buffered.
"""

from __future__ import annotations

import struct
from typing import List, Sequence, Union

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

    Every octet of a message is copied once, into the `bytes` returned.  A
    message spread over several pieces (a large one: grpc-go's DATA frames
    hold 16 KiB) is kept as views of those pieces until its last one comes,
    then joined.  So `feed` must be given pieces that nobody changes
    afterwards (`bytes`, or views of them), as the HTTP/2 layer does: it
    passes views of the octets read, without a copy of its own.
    """

    __slots__ = ("_filled", "_head", "_missing", "_pieces", "max_size")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._head = b""  # a prefix not yet complete (< 5 octets)
        self._pieces: List[memoryview] = []  # the message begun, not yet whole
        self._filled = 0  # octets in _pieces
        self._missing = 0  # octets the message begun still lacks

    @property
    def buffered(self) -> int:
        """Octets of an incomplete message held."""
        return len(self._head) + (5 + self._filled if self._pieces else 0)

    def feed(self, data: Union[bytes, bytearray, memoryview]) -> List[bytes]:
        """Returns the messages `data` completes.

        Raises:
            MessageError: RESOURCE_EXHAUSTED for a message over `max_size`,
                INTERNAL for a compressed or malformed prefix.
        """
        messages: List[bytes] = []
        pos, end = 0, len(data)
        if self._pieces:  # continue the message begun
            take = min(self._missing, end)
            self._pieces.append(memoryview(data)[:take])
            self._filled += take
            self._missing -= take
            if self._missing:
                return messages
            messages.append(b"".join(self._pieces))
            self._pieces = []
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
            if stop > end:  # the rest comes later: keep a view of this part
                self._pieces = [memoryview(data)[start:end]]
                self._filled, self._missing = end - start, stop - end
                return messages
            messages.append(bytes(data[start:stop]))
            pos = stop
        if pos < end:
            self._head = bytes(data[pos:end])
        return messages

    def feed_chunks(
        self, chunks: Sequence[Union[bytes, bytearray, memoryview]]
    ) -> List[bytes]:
        """`feed` each chunk in turn (the DATA payloads of one run): the
        messages they complete."""
        messages: List[bytes] = []
        for chunk in chunks:
            size = len(chunk)
            if self._missing > size:  # inside a large message: keep it whole
                self._pieces.append(memoryview(chunk))
                self._filled += size
                self._missing -= size
            else:
                messages += self.feed(chunk)
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
