# The upstream's answer MAC (sealscan protocol v1):
#
#   m = HMAC-SHA256(ack_key, CBOR ["ack", enc, ack, rej, ver])
#
#   85 63 "ack" 58 20 <enc 32>
#      <array(n)> <uint i>...            ack: strictly ascending indices, at most 64
#      <map(n)>   (<uint i> <tstr>)...    rej: index -> reason, keys ascending
#      <map(n)>   (<uint i> <tstr>)...    ver: index -> verdict, keys ascending
#
# Deterministic CBOR orders map keys bytewise; for uints that is numeric order. The message is
# streamed into the HMAC, never built in RAM.
import cborenc
from cborenc import ARRAY, MAP, TSTR, UINT
from micropython import const

MAX_RECORDS = const(64)
MAX_INDEX = const(1023)
VERDICTS = ("ok", "bad-signature", "expired", "unknown-issuer")
_PREFIX = b"\x85\x63ack\x58\x20"


class MalformedAnswer(ValueError):
    pass


def _index(i):
    if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i <= MAX_INDEX:
        raise MalformedAnswer("index out of range")
    return i


def _reason(r):
    if not isinstance(r, str) or not 1 <= len(r) <= 32:
        raise MalformedAnswer("reason")
    for c in r:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "-"):
            raise MalformedAnswer("reason")
    return r


def check(ack, rej, ver):
    """MalformedAnswer unless ack/rej/ver have the shapes v1 allows."""
    if not isinstance(ack, (list, tuple)) or len(ack) > MAX_RECORDS:
        raise MalformedAnswer("ack")
    last = -1
    for i in ack:
        if _index(i) <= last:
            raise MalformedAnswer("ack not strictly ascending")
        last = i
    for m in (rej, ver):
        if not isinstance(m, dict) or len(m) > MAX_RECORDS:
            raise MalformedAnswer("rej/ver")
        for k in m:
            _index(k)
    for k in rej:
        _reason(rej[k])
        if k in ack:
            raise MalformedAnswer("index both acked and rejected")
    for k in ver:
        if ver[k] not in VERDICTS or k not in ack:
            raise MalformedAnswer("verdict")


def _map(h, m):
    h.update(cborenc.head(MAP, len(m)))
    for k in sorted(m):
        v = cborenc.utf8(m[k])
        h.update(cborenc.head(UINT, k))
        h.update(cborenc.head(TSTR, len(v)))
        h.update(v)


def mac(hm, enc, ack, rej, ver):
    """The answer MAC with `hm` (an hmac256.Hmac keyed with the session's ack key)."""
    check(ack, rej, ver)
    if len(enc) != 32:
        raise MalformedAnswer("enc")
    h = hm.begin()
    h.update(_PREFIX)
    h.update(enc)
    h.update(cborenc.head(ARRAY, len(ack)))
    for i in ack:
        h.update(cborenc.head(UINT, i))
    _map(h, rej)
    _map(h, ver)
    return hm.finish(h)

