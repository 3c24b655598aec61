# Strict, bounded CBOR decoding for the scanned codes (RFC 8949 subset): unsigned and negative
# ints, byte and text strings, arrays and maps. Definite lengths and shortest-form heads only;
# no tags, floats or simple values; nesting and item counts are bounded, so a hostile QR code
# cannot exhaust the heap. Text must be valid UTF-8.
#
#   head = major << 5 | ai     ai < 24: the value itself; 24/25/26: 1/2/4 bytes follow (BE)
#
# Two forms of the result: decode(data) copies strings out (bytes, str); decode(data, True)
# copies nothing: byte strings are memoryviews into `data` and text strings are tuples
# (memoryview, characters) (UTF-8 checked, never turned into a str; arrays are lists, so a
# tuple is always a text). Identity tokens are decoded in the second form from a buffer that
# is wiped afterwards, so no identity text becomes an immutable object.
# Contract: decode/cose raise CodeError and nothing else, whatever the bytes.
from micropython import const

_MAX_DEPTH = const(4)
_MAX_ITEMS = const(16)
# Items in one decode, all levels together: depth and length bounds alone still let 1 KiB of
# hostile CBOR make ~1,000 objects (~10 KB of heap, more than the app has free). The largest
# legitimate item is a config code's payload (5 pairs) or a Sign1 (4 items + kid).
_MAX_TOTAL = const(24)


class CodeError(ValueError):
    """A scanned code is refused. args: a short reason with no identity data, then for the
    refusals the courier is told apart (flow.py) a kind: EXPIRED or REPLAYED."""


# CodeError kinds (a second argument, not subclasses: a class costs ~200 B of heap)
EXPIRED = const(1)  # a well-formed code past its expiry
REPLAYED = const(2)  # a config code whose serial is not above the last applied one
DAMAGED = const(3)  # an identity line whose base45, zlib or CBOR is broken (a misread)


def _utf8_chars(b):
    # Characters in UTF-8 bytes b, checking the lead/continuation structure (as MicroPython's
    # own str() does); CodeError if it is broken.
    n = 0
    need = 0
    for c in b:
        if need:
            if c & 0xC0 != 0x80:
                raise CodeError("text is not UTF-8")
            need -= 1
        elif c < 0x80:
            n += 1
        elif 0xC2 <= c <= 0xF4:
            need = 1 if c < 0xE0 else 2 if c < 0xF0 else 3
            n += 1
        else:
            raise CodeError("text is not UTF-8")
    if need:
        raise CodeError("text is not UTF-8")
    return n


class Reader:
    def __init__(self, data, views=False):
        self.b = memoryview(data)
        self.p = 0
        self.views = views
        self.left = _MAX_TOTAL

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
        self.left -= 1
        if self.left < 0:
            raise CodeError("CBOR has too many items")
        major, n = self._head()
        if major == 0:
            return n
        if major == 1:
            return -1 - n
        if major in (2, 3):
            if self.p + n > len(self.b):
                raise CodeError("truncated")
            mv = self.b[self.p:self.p + n]
            self.p += n
            if self.views:
                return mv if major == 2 else (mv, _utf8_chars(mv))
            if major == 2:
                return bytes(mv)
            try:
                return str(mv, "utf-8")
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


def decode(data, views=False):
    """The one CBOR item filling `data` exactly; CodeError otherwise. With `views`, strings
    are views into `data` (memoryview; text: (memoryview, characters)), valid while `data`
    is."""
    r = Reader(data, views)
    v = r.item()
    if r.p != len(r.b):
        raise CodeError("trailing bytes after CBOR item")
    return v


def cose(data, protected, tag_len, views=False, name="COSE message", broken=0):
    """(unprotected map, payload, tag) of the untagged COSE message filling `data`:

        [bstr protected (exactly `protected`), map unprotected, bstr payload, bstr tag]

    with a tag (signature, MAC) of `tag_len` bytes. Every field's type is checked here, so a
    caller only reads fields of known types; CodeError("not a " + name) otherwise. CBOR
    that does not decode is CodeError("damaged", broken) when a kind `broken` is given."""
    try:
        obj = decode(data, views)
    except CodeError:
        if not broken:
            raise
        raise CodeError("damaged", broken)
    if not isinstance(obj, list) or len(obj) != 4 or not _is_bytes(obj[0]) \
            or obj[0] != protected or not isinstance(obj[1], dict):
        raise CodeError("not a " + name)
    payload, tag = obj[2], obj[3]
    if not _is_bytes(payload) or not _is_bytes(tag) or len(tag) != tag_len:
        raise CodeError("not a " + name)
    return obj[1], payload, tag


def _is_bytes(v):
    return isinstance(v, (bytes, memoryview))


def is_text(v, limit):
    if isinstance(v, tuple):  # views: (memoryview, characters)
        return 1 <= v[1] <= limit
    return isinstance(v, str) and 1 <= len(v) <= limit


def is_uint(v):
    return isinstance(v, int) and 0 <= v <= 0xFFFFFFFF
