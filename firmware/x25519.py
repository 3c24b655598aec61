# X25519 (RFC 7748 §5): Montgomery ladder over GF(2^255 - 19) on MicroPython big ints.
#
#   scalar k: 32 bytes little-endian, clamped (k[0] &= 248, k[31] &= 127, k[31] |= 64)
#   u:        32 bytes little-endian, top bit masked, taken mod p
#   result:   x2 * z2^(p-2) mod p, 32 bytes little-endian
#
# The ladder runs as a generator that pauses every _STEPS ladder steps and every _INV_BITS
# bits of the final inversion, so the asyncio loop can run other tasks between the pieces:
# x25519_async() never blocks the loop for more than one piece (about 1/60 of a full
# scalar multiplication). x25519() runs the same generator to completion.
#
# Limits: Python big ints are immutable and not constant time; the ladder's intermediate
# values stay in freed heap until it is reused. The caller's 32-byte buffers are the only
# secret state this module keeps, and it keeps none between calls.
from micropython import const

_STEPS = const(4)  # ladder steps between pauses
_INV_BITS = const(8)  # exponent bits of the inversion between pauses
_A24 = const(121665)
P = (1 << 255) - 19
BASE = b"\x09" + bytes(31)


def _clamp(k):
    b = bytearray(k)
    b[0] &= 248
    b[31] &= 127
    b[31] |= 64
    n = int.from_bytes(b, "little")
    for i in range(32):
        b[i] = 0
    return n


def _ladder(k, u, out):
    """Generator: X25519(k, u) into `out` (bytearray(32)), pausing with `yield` now and then."""
    if len(k) != 32 or len(u) != 32:
        raise ValueError("x25519 needs 32-byte inputs")
    n = _clamp(k)
    ub = bytearray(u)
    ub[31] &= 127
    x1 = int.from_bytes(ub, "little") % P
    x2, z2, x3, z3 = 1, 0, x1, 1
    swap = 0
    p = P
    for t in range(254, -1, -1):
        bit = (n >> t) & 1
        if swap ^ bit:
            x2, x3 = x3, x2
            z2, z3 = z3, z2
        swap = bit
        a = x2 + z2
        aa = a * a % p
        b = x2 - z2
        bb = b * b % p
        e = aa - bb
        c = x3 + z3
        d = x3 - z3
        da = d * a % p
        cb = c * b % p
        x3 = (da + cb) * (da + cb) % p
        z3 = x1 * (da - cb) * (da - cb) % p
        x2 = aa * bb % p
        z2 = e * (aa + _A24 * e) % p
        if t % _STEPS == 0:
            yield
    if swap:
        x2, z2 = x3, z3
    n = 0
    # z2^(p-2) by fixed windows of the exponent, most significant first.
    e = p - 2
    r = 1
    mask = (1 << _INV_BITS) - 1
    shift = 256 - _INV_BITS
    while shift >= 0:
        r = pow(r, 1 << _INV_BITS, p)
        w = (e >> shift) & mask
        if w:
            r = r * pow(z2, w, p) % p
        shift -= _INV_BITS
        yield
    out[0:32] = (x2 * r % p).to_bytes(32, "little")


def x25519(k, u, out=None):
    """X25519(k, u) -> bytearray(32) (into `out` if given)."""
    if out is None:
        out = bytearray(32)
    for _ in _ladder(k, u, out):
        pass
    return out


async def ephemeral_async(pkR):
    """HPKE Encap's DH with a fresh random ephemeral key (os.urandom: call it once the ESP32
    RNG is truly random) -> (enc = its public key bytes, dh bytearray(32)); the private key
    is wiped here. The caller wipes dh."""
    import os

    sk = bytearray(os.urandom(32))
    try:
        enc = bytes(await x25519_async(sk, BASE))
        return enc, await x25519_async(sk, pkR)
    finally:
        for i in range(32):
            sk[i] = 0


async def x25519_async(k, u, out=None):
    """X25519(k, u), yielding to the asyncio loop between small pieces of work."""
    import asyncio

    if out is None:
        out = bytearray(32)
    for _ in _ladder(k, u, out):
        await asyncio.sleep(0)
    return out
