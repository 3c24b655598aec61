# The few deterministic CBOR (RFC 8949 §4.2.1) encodings sealscan needs, written by hand:
# shortest-form heads, definite lengths. Maps are written by their callers with keys already
# in bytewise order. (micropython-lib's cbor2 orders dict keys arbitrarily.)
#
#   head = major << 5 | n                      n < 24
#          major << 5 | 24, n (1 byte)         n < 2^8
#          major << 5 | 25, n (2 bytes BE)     n < 2^16
#          major << 5 | 26, n (4 bytes BE)     n < 2^32
#          major << 5 | 27, n (8 bytes BE)     n < 2^64
from micropython import const

UINT = const(0)
BSTR = const(2)
TSTR = const(3)
ARRAY = const(4)
MAP = const(5)
_AI = b"\x00\x00\x18\x19\x00\x1a\x00\x00\x00\x1b"  # additional info by head size


class CborError(ValueError):
    pass


def head_len(n):
    if n < 24:
        return 1
    if n < 0x100:
        return 2
    if n < 0x10000:
        return 3
    if n < 0x100000000:
        return 5
    return 9


def put_head(buf, off, major, n):
    """Write a head at buf[off]; returns the offset after it."""
    if n < 0 or n >> 64:
        raise CborError("cbor argument out of range")
    m = major << 5
    size = head_len(n)
    if size == 1:
        buf[off] = m | n
        return off + 1
    buf[off] = m | _AI[size]
    for i in range(size - 1, 0, -1):
        buf[off + i] = n & 0xFF
        n >>= 8
    return off + size


def head(major, n):
    """A head as new bytes (for small, non-secret structures)."""
    b = bytearray(head_len(n))
    put_head(b, 0, major, n)
    return bytes(b)


def put_string(buf, off, major, data):
    """Write BSTR/TSTR `data` (a buffer; str is taken as its UTF-8 bytes) at buf[off]."""
    mv = utf8(data)
    n = len(mv)
    off = put_head(buf, off, major, n)
    buf[off:off + n] = mv
    return off + n


def string_len(data):
    n = len(utf8(data))
    return head_len(n) + n


def utf8(data):
    """The UTF-8 bytes of a str without copying them (MicroPython str exposes its buffer)."""
    return memoryview(data)  # type: ignore[arg-type]  # MicroPython str has the buffer protocol
