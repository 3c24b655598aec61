# Base45 decoding (RFC 9285): the QR alphanumeric alphabet, 3 characters -> 2 bytes
# (c + d*45 + e*45^2, big-endian), a final 2 characters -> 1 byte.
from micropython import const

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INVALID = const(0xFF)


class Base45Error(ValueError):
    pass


_TABLE = bytearray(b"\xff" * 128)
for _i, _c in enumerate(_ALPHABET):
    _TABLE[ord(_c)] = _i


def _digit(c):
    v = _TABLE[c] if c < 128 else _INVALID
    if v == _INVALID:
        # no chr(c) in the message: it would intern scanned data as a qstr (never freed)
        raise Base45Error("not a base45 character")
    return v


def decode_into(text, out):
    """Decode base45 `text` (str or bytes) into bytearray `out`; returns the length written."""
    src = _bytes(text)
    n = len(src)
    if n % 3 == 1:
        raise Base45Error("base45 length is 1 more than a multiple of 3")
    if len(out) < (n // 3) * 2 + (1 if n % 3 else 0):
        raise Base45Error("output buffer too small")
    o = 0
    for i in range(0, n - n % 3, 3):
        v = _digit(src[i]) + _digit(src[i + 1]) * 45 + _digit(src[i + 2]) * 2025
        if v > 0xFFFF:
            raise Base45Error("base45 triple out of range")
        out[o] = v >> 8
        out[o + 1] = v & 0xFF
        o += 2
    if n % 3:
        v = _digit(src[n - 2]) + _digit(src[n - 1]) * 45
        if v > 0xFF:
            raise Base45Error("base45 pair out of range")
        out[o] = v
        o += 1
    return o


def _bytes(text):
    return memoryview(text)  # type: ignore[arg-type]  # MicroPython str has the buffer protocol


def decode(text):
    """Base45 `text` -> bytes."""
    n = len(_bytes(text))
    out = bytearray((n // 3) * 2 + (1 if n % 3 else 0))
    return bytes(out[:decode_into(text, out)])
