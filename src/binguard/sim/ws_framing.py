"""RFC 6455 §5.1 on the server side: a client frame without a mask closes the connection (1002).

aiohttp's frame reader already refuses reserved bits, unknown opcodes, fragmented or oversized
control frames, continuation frames out of place and invalid UTF-8 (1002 / 1007), but it reads
unmasked client frames as if they were masked. `MaskCheck` sits in front of it on every
WebSocket face (the HTTP protocol hands it each upgraded connection, server.py): it walks the
frame headers in the byte stream, passes everything through unchanged, and on the first header
without the mask bit stops passing data and feeds the reader one frame it refuses with
PROTOCOL_ERROR instead, so the connection ends exactly as for any other framing violation: a
close frame with 1002, then the socket closes.
"""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger("binguard.sim.ws")

# A frame with RSV2 set: aiohttp's reader answers it with WebSocketError(PROTOCOL_ERROR), the
# close code RFC 6455 §7.4.1 gives to a protocol error (the reason text is not sent on the wire).
_REFUSED = b"\xa1\x80\x00\x00\x00\x00"


class FrameReader(Protocol):
    def feed_data(self, data: bytes) -> tuple[bool, bytes]: ...

    def feed_eof(self) -> None: ...


class MaskCheck:
    """Wraps aiohttp's WebSocket reader; refuses the first unmasked client frame (1002)."""

    def __init__(self, reader: FrameReader, peer: str = "?") -> None:
        self._reader = reader
        self._peer = peer
        self._skip = 0  # payload bytes of the current frame still to pass through
        self._head = b""  # an incomplete frame header, withheld until it is whole
        self._refused = False

    def feed_eof(self) -> None:
        self._reader.feed_eof()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self._refused:
            return True, b""
        buf = self._head + data if self._head else bytes(data)
        self._head = b""
        pos, end = 0, len(buf)
        while pos < end:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                continue
            size = _header_size(buf, pos)
            if size is None or pos + size > end:
                self._head = buf[pos:]
                break
            if not buf[pos + 1] & 0x80:
                return self._refuse(buf[:pos])
            self._skip = _payload_length(buf, pos)
            pos += size
        passed = buf[:pos] if self._head else buf
        return self._reader.feed_data(passed) if passed else (False, b"")

    def _refuse(self, before: bytes) -> tuple[bool, bytes]:
        self._refused = True
        log.info("WebSocket from %s: unmasked client frame, closing with 1002", self._peer)
        if before:
            self._reader.feed_data(before)
        return self._reader.feed_data(_REFUSED)


def _header_size(buf: bytes, pos: int) -> int | None:
    """Bytes of the frame header starting at `pos` (None: not enough bytes to know yet)."""
    if len(buf) - pos < 2:
        return None
    second = buf[pos + 1]
    length = second & 0x7F
    extra = 2 if length == 126 else 8 if length == 127 else 0
    return 2 + extra + (4 if second & 0x80 else 0)


def _payload_length(buf: bytes, pos: int) -> int:
    length = buf[pos + 1] & 0x7F
    if length == 126:
        return int.from_bytes(buf[pos + 2 : pos + 4], "big")
    if length == 127:
        return int.from_bytes(buf[pos + 2 : pos + 10], "big")
    return length
