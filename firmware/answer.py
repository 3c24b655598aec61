# Strict decoding of the upstream's answer body (sealscan protocol v1, docs/protocol.md §6):
# only the one deterministic encoding is accepted, so re-encoding the decoded values for the
# MAC (ackmac.py) reproduces the received bytes.
#
#   a4                                  map(4), keys in this order (bytewise sorted)
#     63 "ack" <array(n <= 64)> uint...            strictly ascending, each <= 1023
#     63 "mac" 58 20 <32 bytes>
#     63 "rej" <map(n <= 64)> (uint tstr)...        keys ascending, reason [a-z0-9-]{1,32}
#     63 "ver" <map(n <= 64)> (uint tstr)...        keys ascending, one of the verdicts
#
# Heads must be shortest-form with definite lengths; no tags, no floats, nothing trailing.
import ackmac
from ackmac import MalformedAnswer
from cborenc import ARRAY as _ARRAY
from cborenc import BSTR as _BSTR
from cborenc import MAP as _MAP
from cborenc import TSTR as _TSTR
from cborenc import UINT as _UINT
from micropython import const

_MAX_BODY = const(8192)
_KEYS = (b"ack", b"mac", b"rej", b"ver")


class _Reader:
    def __init__(self, data):
        self.b = memoryview(data)
        self.p = 0

    def head(self, major):
        b = self.b
        if self.p >= len(b):
            raise MalformedAnswer("truncated")
        ib = b[self.p]
        self.p += 1
        if ib >> 5 != major:
            raise MalformedAnswer("unexpected CBOR type")
        ai = ib & 0x1F
        if ai < 24:
            return ai
        if ai > 26:  # 8-byte heads are never needed here; 28-31 are invalid or indefinite
            raise MalformedAnswer("unsupported CBOR head")
        size = 1 << (ai - 24)
        if self.p + size > len(b):
            raise MalformedAnswer("truncated")
        n = 0
        for i in range(size):
            n = (n << 8) | b[self.p + i]
        self.p += size
        if n < (24 if size == 1 else 1 << (4 * size)):  # 1 << 8 for 2 bytes, 1 << 16 for 4
            raise MalformedAnswer("CBOR head not in shortest form")
        return n

    def raw(self, n):
        if self.p + n > len(self.b):
            raise MalformedAnswer("truncated")
        v = self.b[self.p:self.p + n]
        self.p += n
        return v

    def text(self):
        v = self.raw(self.head(_TSTR))
        for c in v:
            if c >= 0x80:
                raise MalformedAnswer("non-ASCII text")
        return str(bytes(v), "ascii")

    def int_map(self):
        n = self.head(_MAP)
        if n > ackmac.MAX_RECORDS:
            raise MalformedAnswer("map too long")
        m = {}
        last = -1
        for _ in range(n):
            k = self.head(_UINT)
            if k <= last:
                raise MalformedAnswer("map keys not ascending")
            last = k
            m[k] = self.text()
        return m


def decode(data):
    """Answer body bytes -> (ack list, rej dict, ver dict, mac bytes); MalformedAnswer unless
    it is exactly the canonical v1 answer."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) > _MAX_BODY:
        raise MalformedAnswer("answer body")
    r = _Reader(data)
    if r.head(_MAP) != 4:
        raise MalformedAnswer("answer must be a map of 4")
    for key in _KEYS:
        if bytes(r.raw(r.head(_TSTR))) != key:
            raise MalformedAnswer("answer keys")
        if key == b"ack":
            n = r.head(_ARRAY)
            if n > ackmac.MAX_RECORDS:
                raise MalformedAnswer("ack too long")
            ack = [r.head(_UINT) for _ in range(n)]
        elif key == b"mac":
            if r.head(_BSTR) != 32:
                raise MalformedAnswer("mac must be 32 bytes")
            mac = bytes(r.raw(32))
        elif key == b"rej":
            rej = r.int_map()
        else:
            ver = r.int_map()
    if r.p != len(r.b):
        raise MalformedAnswer("trailing bytes")
    ackmac.check(ack, rej, ver)
    return ack, rej, ver, mac
