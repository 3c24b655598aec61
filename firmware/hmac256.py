# HMAC-SHA256 (RFC 2104 / FIPS 198-1) on hashlib.sha256.
#
# MicroPython's hashlib has no .copy(), so the usual trick of hashing the padded key once and
# cloning the state per message is not available. Instead the two padded key blocks
# (key ^ 0x36.., key ^ 0x5c..) are kept in preallocated bytearrays: one Hmac object keyed once
# serves many messages (HKDF-Expand blocks, the two ratchet outputs) at the cost of hashing
# one extra 64-byte block per message, which the ESP32's SHA engine does in hardware.
#
# Secrets live only in the object's bytearrays; wipe() overwrites them. hashlib returns the
# inner and outer digests as immutable bytes: those transient copies stay in freed heap
# until reused (no digest-into exists in MicroPython).
import hashlib

from micropython import const

from wipe import wipe

_BLOCK = const(64)
DIGEST_SIZE = const(32)


class Hmac:
    def __init__(self):
        self._ipad = bytearray(_BLOCK)
        self._opad = bytearray(_BLOCK)

    def key(self, key):
        """Key the object (any length; keys longer than a block are hashed first)."""
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        ipad = self._ipad
        opad = self._opad
        n = len(key)
        for i in range(_BLOCK):
            b = key[i] if i < n else 0
            ipad[i] = b ^ 0x36
            opad[i] = b ^ 0x5C
        return self

    def begin(self):
        """A sha256 object fed with the inner key block: update() it, then finish()."""
        return hashlib.sha256(self._ipad)

    def finish(self, inner):
        """The HMAC from a begin() object that has seen the whole message."""
        h = hashlib.sha256(self._opad)
        h.update(inner.digest())
        return h.digest()

    def digest(self, *parts):
        """HMAC over the concatenation of `parts` (buffers); returns 32 bytes."""
        h = self.begin()
        for p in parts:
            h.update(p)
        return self.finish(h)

    def into(self, out, off, *parts):
        """HMAC over `parts` written to out[off:off+32]; returns out."""
        d = self.digest(*parts)
        out[off:off + DIGEST_SIZE] = d
        return out

    def wipe(self):
        wipe(self._ipad)
        wipe(self._opad)


def hmac_sha256(key, *parts):
    """One-shot HMAC-SHA256(key, concat(parts)) -> 32 bytes."""
    h = Hmac().key(key)
    try:
        return h.digest(*parts)
    finally:
        h.wipe()


def equal(a, b):
    """Compare two MACs without an early exit."""
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= a[i] ^ b[i]
    return d == 0
