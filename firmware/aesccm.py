# AES-CCM (RFC 3610, NIST SP 800-38C) from cryptolib's ECB (mode 1) and CBC (mode 2) only:
# MicroPython on the ESP32 has no CTR mode.
#
#   L = 15 - len(nonce)            (nonce 7..13 bytes; sealscan uses 13, L = 2)
#   B0 = flags | nonce | len(msg) (L bytes, big-endian)
#        flags = 64*(aad != "") + 8*((M-2)/2) + (L-1), M = tag length 4,6,..,16
#   MAC input = B0 | enc(len(aad)) | aad | 0-pad to 16 | msg | 0-pad to 16
#        enc(a) = 2 bytes if a < 0xFF00, else FF FE + 4 bytes
#   T = last block of CBC-AES(key, IV=0, MAC input)[:M]   -- one CBC call
#   A_i = (L-1) | nonce | i (L bytes);  S_i = AES(key, A_i)  -- one ECB call over A_0..A_n
#   ciphertext = (msg XOR S_1 | S_2 ...) | (T XOR S_0[:M])
#
# A Ccm object preallocates its two work buffers for the largest aad and message it will see;
# both are wiped after every call (the keystream XOR the ciphertext is the plaintext).
import cryptolib
from micropython import const

from wipe import wipe

_ECB = const(1)
_CBC = const(2)
_IV0 = bytes(16)


class CcmError(Exception):
    pass


class AuthError(CcmError):
    """The tag does not verify: wrong key, nonce, aad or altered ciphertext."""


def _pad16(n):
    return (n + 15) & ~15


class Ccm:
    def __init__(self, max_aad, max_msg):
        self.max_aad = max_aad
        self.max_msg = max_msg
        self._mac = bytearray(16 + _pad16(6 + max_aad) + _pad16(max_msg))
        self._ks = bytearray(16 + _pad16(max_msg))

    def _check(self, nonce, aad, mlen, tag_len):
        n = len(nonce)
        if not 7 <= n <= 13:
            raise CcmError("nonce must be 7..13 bytes")
        if tag_len < 4 or tag_len > 16 or tag_len & 1:
            raise CcmError("tag length must be 4, 6, ..., 16")
        if len(aad) > self.max_aad or mlen > self.max_msg or mlen < 0:
            raise CcmError("aad or message larger than this Ccm's buffers")
        if 15 - n < 4 and mlen >> (8 * (15 - n)):
            raise CcmError("message too long for this nonce length")

    def _tag(self, key, nonce, aad, msg, mlen, tag_len):
        # CBC-MAC over B0 | aad | msg; returns the offset of the last block in self._mac.
        b = self._mac
        nl = len(nonce)
        ll = 15 - nl
        alen = len(aad)
        b[0] = (0x40 if alen else 0) | (((tag_len - 2) >> 1) << 3) | (ll - 1)
        b[1:1 + nl] = nonce
        q = mlen
        for i in range(ll):
            b[15 - i] = q & 0xFF
            q >>= 8
        off = 16
        if alen:
            if alen < 0xFF00:
                b[16] = alen >> 8
                b[17] = alen & 0xFF
                off = 18
            else:
                b[16:22] = b"\xff\xfe" + alen.to_bytes(4, "big")
                off = 22
            b[off:off + alen] = aad
            off += alen
            end = _pad16(off)
            wipe(b, off, end)
            off = end
        b[off:off + mlen] = memoryview(msg)[:mlen]
        off += mlen
        end = _pad16(off)
        wipe(b, off, end)
        mv = memoryview(b)[:end]
        cryptolib.aes(key, _CBC, _IV0).encrypt(mv, mv)
        return end - 16, end

    def _keystream(self, key, nonce, mlen):
        ks = self._ks
        nl = len(nonce)
        ll = 15 - nl
        end = 16 + _pad16(mlen)
        for blk in range(0, end, 16):
            ks[blk] = ll - 1
            ks[blk + 1:blk + 1 + nl] = nonce
            q = blk >> 4
            for i in range(ll):
                ks[blk + 15 - i] = q & 0xFF
                q >>= 8
        mv = memoryview(ks)[:end]
        cryptolib.aes(key, _ECB).encrypt(mv, mv)
        return end

    def seal_into(self, key, nonce, aad, msg, out, tag_len=16, mlen=-1):
        """Encrypt msg[:mlen] into out[:mlen + tag_len] (ciphertext | tag); returns that length."""
        if mlen < 0:
            mlen = len(msg)
        self._check(nonce, aad, mlen, tag_len)
        if len(out) < mlen + tag_len:
            raise CcmError("output buffer too small")
        t, mac_end = self._tag(key, nonce, aad, msg, mlen, tag_len)
        ks_end = self._keystream(key, nonce, mlen)
        ks = self._ks
        mac = self._mac
        for i in range(mlen):
            out[i] = msg[i] ^ ks[16 + i]
        for i in range(tag_len):
            out[mlen + i] = mac[t + i] ^ ks[i]
        wipe(mac, 0, mac_end)
        wipe(ks, 0, ks_end)
        return mlen + tag_len
