# Strict, bounded CBOR decoding for the scanned codes (RFC 8949 subset): unsigned and negative
# ints, byte and text strings, arrays and maps. Definite lengths and shortest-form heads only;
# no tags, floats or simple values; nesting and item counts are bounded, so a hostile QR code
# cannot exhaust the heap. Text must be valid UTF-8.
#
#   head = major << 5 | ai     ai < 24: the value itself; 24/25/26: 1/2/4 bytes follow (BE)
from micropython import const

_MAX_DEPTH = const(4)
_MAX_ITEMS = const(16)


class CodeError(ValueError):
    """A scanned code is refused. args: a short reason with no identity data, then for the
    refusals the courier is told apart (flow.py) a kind: EXPIRED or REPLAYED."""


# CodeError kinds (a second argument, not subclasses: a class costs ~200 B of heap)
EXPIRED = const(1)  # a well-formed code past its expiry
REPLAYED = const(2)  # a config code whose serial is not above the last applied one
DAMAGED = const(3)  # an identity line whose base45, zlib or CBOR is broken (a misread)


class Reader:
    def __init__(self, data):
        self.b = memoryview(data)
        self.p = 0

    def _head(self):
        b = self.b
        if self.p >= len(b):
            raise CodeError("truncated")
        ib = b[self.p]
        self.p += 1
        ai = ib & 0x1F
        if ai < 24:
            return ib >> 5, ai
        if ai > 26:
            raise CodeError("unsupported CBOR head")
        size = 1 << (ai - 24)
        if self.p + size > len(b):
            raise CodeError("truncated")
        n = 0
        for i in range(size):
            n = (n << 8) | b[self.p + i]
        self.p += size
        if n < (24 if size == 1 else 1 << (4 * size)):
            raise CodeError("CBOR head not in shortest form")
        return ib >> 5, n

    def item(self, depth=0):
        if depth > _MAX_DEPTH:
            raise CodeError("CBOR nested too deep")
        major, n = self._head()
        if major == 0:
            return n
        if major == 1:
            return -1 - n
        if major in (2, 3):
            if self.p + n > len(self.b):
                raise CodeError("truncated")
            v = bytes(self.b[self.p:self.p + n])
            self.p += n
            if major == 2:
                return v
            try:
                return v.decode()
            except UnicodeError:
                raise CodeError("text is not UTF-8")
        if n > _MAX_ITEMS:
            raise CodeError("CBOR container too long")
        if major == 4:
            return [self.item(depth + 1) for _ in range(n)]
        if major == 5:
            m = {}
            for _ in range(n):
                k = self.item(depth + 1)
                if not isinstance(k, int) or k in m:
                    raise CodeError("map keys must be distinct ints")
                m[k] = self.item(depth + 1)
            return m
        raise CodeError("unsupported CBOR type")


def decode(data):
    """The one CBOR item filling `data` exactly; CodeError otherwise."""
    r = Reader(data)
    v = r.item()
    if r.p != len(r.b):
        raise CodeError("trailing bytes after CBOR item")
    return v


def is_text(v, limit):
    return isinstance(v, str) and 1 <= len(v) <= limit


def is_uint(v):
    return isinstance(v, int) and 0 <= v <= 0xFFFFFFFF
