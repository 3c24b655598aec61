# HPKE (RFC 9180) key schedule, sender side, as the device's session setup needs it: from
# an Encap's DH output (x25519.ephemeral_async) to the exporter secret, and Export. hpke.py
# adds Encap and DeriveKeyPair (test vectors) on top; the device loads only this module and
# hkdf, after the X25519 ladder has run and x25519 is released.
#
#   LabeledExtract(salt, label, ikm)   = Extract(salt, "HPKE-v1" | suite_id | label | ikm)
#   LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L,2) | "HPKE-v1" | suite_id
#                                               | label | info, L)
#   KEM suite_id  = "KEM" | I2OSP(0x0020, 2)
#   HPKE suite_id = "HPKE" | I2OSP(kem, 2) | I2OSP(kdf, 2) | I2OSP(aead, 2)
#   Encap:  dh = X25519(skE, pkR); enc = pkE; kem_context = enc | pkR
#           shared_secret = LabeledExpand(LabeledExtract("", "eae_prk", dh),
#                                         "shared_secret", kem_context, 32)
#   KeySchedule: ksc = mode | LabeledExtract("", "psk_id_hash", psk_id)
#                           | LabeledExtract("", "info_hash", info)
#                secret = LabeledExtract(shared_secret, "secret", psk)
#                exporter_secret = LabeledExpand(secret, "exp", ksc, 32)
#   Export(ctx, L) = LabeledExpand(exporter_secret, "sec", ctx, L)
#
# Every secret is a bytearray the caller can wipe; intermediates are wiped here.
import hkdf
from micropython import const

from wipe import wipe

MODE_BASE = const(0)
MODE_PSK = const(1)
AEAD_EXPORT_ONLY = const(0xFFFF)
_N = const(32)  # Nsecret = Nh = Npk = Nsk = 32
_V1 = b"HPKE-v1"
KEM_SUITE = b"KEM\x00\x20"


class HpkeError(Exception):
    pass


def suite_id(aead_id=AEAD_EXPORT_ONLY):
    return b"HPKE\x00\x20\x00\x01" + bytes((aead_id >> 8, aead_id & 0xFF))


def labeled_extract(suite, salt, label, ikm, out=None):
    return hkdf.extract(salt, (_V1, suite, label, ikm), out)


def labeled_expand(suite, prk, label, info, length, out=None):
    return hkdf.expand(prk, (bytes((length >> 8, length & 0xFF)), _V1, suite, label, info),
                       length, out)


def _extract_and_expand(dh, enc, pkR):
    # shared_secret from the DH output (wiped here) and kem_context = enc | pkR
    try:
        if dh == bytes(_N):
            raise HpkeError("dh is zero: pkR is a low-order point")
        prk = labeled_extract(KEM_SUITE, b"", b"eae_prk", dh)
        ss = labeled_expand(KEM_SUITE, prk, b"shared_secret", enc + bytes(pkR), _N)
        wipe(prk)
        return ss, enc
    finally:
        wipe(dh)


def key_schedule_context(mode, info, psk_id, aead_id=AEAD_EXPORT_ONLY):
    suite = suite_id(aead_id)
    ctx = bytearray(1 + 2 * _N)
    ctx[0] = mode
    labeled_extract(suite, b"", b"psk_id_hash", psk_id, memoryview(ctx)[1:1 + _N])
    labeled_extract(suite, b"", b"info_hash", info, memoryview(ctx)[1 + _N:])
    return ctx


def key_schedule(mode, shared_secret, info, psk=b"", psk_id=b"", aead_id=AEAD_EXPORT_ONLY):
    """-> (secret, key_schedule_context, exporter_secret); the caller wipes `secret`.

    mode_psk needs both psk and psk_id, mode_base neither (RFC 9180 VerifyPSKInputs).
    """
    if (mode == MODE_PSK) != bool(psk) or bool(psk) != bool(psk_id):
        raise HpkeError("psk inputs do not match mode")
    suite = suite_id(aead_id)
    ksc = key_schedule_context(mode, info, psk_id, aead_id)
    secret = labeled_extract(suite, shared_secret, b"secret", psk)
    exporter_secret = labeled_expand(suite, secret, b"exp", ksc, _N)
    return secret, ksc, exporter_secret


def export(exporter_secret, exporter_context, length, out=None, aead_id=AEAD_EXPORT_ONLY):
    return labeled_expand(suite_id(aead_id), exporter_secret, b"sec", exporter_context,
                          length, out)


def setup_psk_sender_dh(dh, enc, pkR, info, psk, psk_id):
    """SetupPSKS from an Encap the caller ran (x25519.ephemeral_async: enc, dh) -> (enc,
    exporter_secret); `dh` is wiped. Lets the X25519 ladder run without this module and hkdf
    loaded, and the key schedule without x25519 (session setup on a small heap)."""
    if len(pkR) != _N:
        wipe(dh)
        raise HpkeError("pkR length")
    ss, enc = _extract_and_expand(dh, enc, pkR)
    return _psk_sender(ss, enc, info, psk, psk_id)


def _psk_sender(ss, enc, info, psk, psk_id):
    # the key schedule of SetupPSKS; `ss` (the shared secret) is wiped
    try:
        secret, _, exporter_secret = key_schedule(MODE_PSK, ss, info, psk, psk_id)
    finally:
        wipe(ss)
    wipe(secret)
    return enc, exporter_secret
