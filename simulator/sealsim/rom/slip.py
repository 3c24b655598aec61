"""SLIP framing as the ESP ROM bootloader speaks it (RFC 1055 with the ROM's escapes).

A frame is C0 <payload> C0, where C0 inside the payload is sent as DB DC and DB as DB DD.
"""

from __future__ import annotations

END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD


def encode(payload: bytes) -> bytes:
    return b"\xc0" + payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


class Decoder:
    """Incremental decoder: feed() raw bytes, get back the complete frames they finish.

    Bytes outside a frame (line noise, a host's stray text) are dropped, as the ROM does. A
    frame with a bad escape is dropped whole.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_frame = False

    def reset(self) -> None:
        self._buf.clear()
        self._in_frame = False

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        pieces = data.split(b"\xc0")
        for index, piece in enumerate(pieces):
            if index > 0:  # a C0 delimiter stood before this piece
                if self._in_frame and self._buf:
                    frame = _unescape(bytes(self._buf))
                    if frame is not None:
                        frames.append(frame)
                # The closing C0 of one frame may also open the next one.
                self._buf.clear()
                self._in_frame = True
            if self._in_frame:
                self._buf += piece
        return frames


def _unescape(raw: bytes) -> bytes | None:
    if b"\xdb" not in raw:
        return raw
    out = bytearray()
    it = iter(raw)
    for b in it:
        if b == ESC:
            nxt = next(it, None)
            if nxt == ESC_END:
                out.append(END)
            elif nxt == ESC_ESC:
                out.append(ESC)
            else:
                return None
        else:
            out.append(b)
    return bytes(out)
