# HKDF-SHA256 (RFC 5869) on hmac256.
#
#   PRK = HMAC(salt or 0^32, IKM)
#   T(0) = "", T(i) = HMAC(PRK, T(i-1) | info | i)   (i = 1..N, one byte)
#   OKM = first L bytes of T(1) | T(2) | ...          (L <= 255 * 32)
#
# `info` and `ikm` may be given as a tuple of buffers: they are hashed as their concatenation
# without building it (HPKE's labelled inputs are built that way).
from micropython import const

from hmac256 import DIGEST_SIZE, Hmac
from wipe import wipe

_MAX_OKM = const(8160)  # 255 * 32
_ZERO_SALT = bytes(DIGEST_SIZE)


def _tuple(x):
    return x if isinstance(x, tuple) else (x,)


def extract(salt, ikm, out=None):
    """PRK = HMAC-SHA256(salt, ikm); into `out` (bytearray(32)) if given, else new bytearray."""
    if out is None:
        out = bytearray(DIGEST_SIZE)
    h = Hmac().key(salt if salt else _ZERO_SALT)
    try:
        h.into(out, 0, *_tuple(ikm))
    finally:
        h.wipe()
    return out


def expand(prk, info, length, out=None):
    """OKM of `length` bytes from `prk` and `info`; into `out` if given, else new bytearray."""
    if not 0 <= length <= _MAX_OKM:
        raise ValueError("hkdf length")
    if out is None:
        out = bytearray(length)
    info = _tuple(info)
    h = Hmac().key(prk)
    ctr = bytearray(1)
    t = b""
    off = 0
    try:
        while off < length:
            ctr[0] += 1
            t = h.digest(t, *(info + (ctr,)))
            n = min(DIGEST_SIZE, length - off)
            out[off:off + n] = t[:n] if n < DIGEST_SIZE else t
            off += n
    finally:
        h.wipe()
    return out


def hkdf(salt, ikm, info, length):
    prk = extract(salt, ikm)
    try:
        return expand(prk, info, length)
    finally:
        wipe(prk)
