# The receiver side of the device's records: parse a COSE_Encrypt0 (cose.py) and open it
# with AES-CCM (aesccm.py). Opening records is the upstream's job, never the handheld's: this
# module lives with the tests (tests/firmware/helpers) and is never deployed. Tests use it to
# check, on the firmware's own code, that what the sealer wrote opens, and only under K_i.
import aesccm
import cborenc
import cose
from cborenc import BSTR
from cose import NONCE_LEN, PREFIX, TAG_LEN, MalformedRecord
from wipe import wipe


class Ccm(aesccm.Ccm):
    """aesccm.Ccm that can also open (decrypt and verify)."""

    def open_into(self, key, nonce, aad, sealed, out, tag_len=16):
        """Decrypt and verify `sealed` (ciphertext | tag) into out; returns the plaintext length.

        Raises AuthError (out wiped) if the tag does not verify."""
        mlen = len(sealed) - tag_len
        if mlen < 0:
            raise aesccm.AuthError("shorter than the tag")
        self._check(nonce, aad, mlen, tag_len)
        if len(out) < mlen:
            raise aesccm.CcmError("output buffer too small")
        ks_end = self._keystream(key, nonce, mlen)
        ks = self._ks
        for i in range(mlen):
            out[i] = sealed[i] ^ ks[16 + i]
        t, mac_end = self._tag(key, nonce, aad, out, mlen, tag_len)
        mac = self._mac
        diff = 0
        for i in range(tag_len):
            diff |= mac[t + i] ^ ks[i] ^ sealed[mlen + i]
        wipe(mac, 0, mac_end)
        wipe(ks, 0, ks_end)
        if diff:
            wipe(out, 0, mlen)
            raise aesccm.AuthError("CCM tag does not verify")
        return mlen


def seal(key, nonce, aad, msg, tag_len=16):
    """One-shot AES-CCM: ciphertext | tag as bytes."""
    out = bytearray(len(msg) + tag_len)
    aesccm.Ccm(len(aad), len(msg)).seal_into(key, nonce, aad, msg, out, tag_len)
    return bytes(out)


def open(key, nonce, aad, sealed, tag_len=16):
    """One-shot AES-CCM: plaintext bytes, or aesccm.AuthError."""
    n = max(0, len(sealed) - tag_len)
    out = bytearray(n)
    Ccm(len(aad), n).open_into(key, nonce, aad, sealed, out, tag_len)
    return bytes(out)


def parse(sealed):
    """-> (nonce memoryview, ciphertext memoryview); MalformedRecord unless exactly our shape."""
    mv = memoryview(sealed)
    n = len(PREFIX)
    if len(mv) < n + NONCE_LEN + 1 or bytes(mv[:n]) != PREFIX:
        raise MalformedRecord("not a sealscan COSE_Encrypt0")
    off = n + NONCE_LEN
    ib = mv[off]
    if ib >> 5 != BSTR:
        raise MalformedRecord("ciphertext is not a bstr")
    ai = ib & 0x1F
    if ai < 24:
        ln, off = ai, off + 1
    elif ai in (24, 25):
        size = 1 if ai == 24 else 2
        if len(mv) < off + 1 + size:
            raise MalformedRecord("truncated")
        ln = int.from_bytes(mv[off + 1:off + 1 + size], "big")
        off += 1 + size
    else:
        raise MalformedRecord("ciphertext length")
    if cborenc.head_len(ln) != off - n - NONCE_LEN or off + ln != len(mv) or ln < TAG_LEN:
        raise MalformedRecord("ciphertext length")
    return mv[n:n + NONCE_LEN], mv[off:]


def open_record(key, device_id, enc, index, sealed):
    """Plaintext bytes of record `index` under K_i = `key`.

    Raises MalformedRecord for a wrong shape or nonce, aesccm.AuthError if it does not open.
    """
    nonce, ct = parse(sealed)
    expect = bytearray(NONCE_LEN)
    cose.nonce_into(expect, index)
    if bytes(nonce) != expect:
        raise MalformedRecord("nonce does not match the index")
    aad = bytearray(cose.aad_len(device_id, index))
    cose.aad_into(aad, device_id, enc, index)
    return open(key, expect, aad, ct)
