# HPKE (RFC 9180), sender side only: DHKEM(X25519, HKDF-SHA256), KDF HKDF-SHA256, mode_base
# and mode_psk, export-only use (aead 0xFFFF; the AEAD id is a parameter so the RFC's
# vectors for other AEADs check the same key schedule).
#
# The key schedule, Export and SetupPSKS from a DH output are the firmware's hpkeks.py
# (re-exported here); this module adds Encap, DeriveKeyPair and SetupPSKS with its own Encap,
# which the RFC's vectors and the fixed-ikmE sessions of tests need. The app never does: this
# module lives with the tests (tests/firmware/helpers) and is never deployed.
from hpkeks import (  # noqa: F401  re-exported: hpke is the whole sender-side API
    AEAD_EXPORT_ONLY,
    KEM_SUITE,
    MODE_BASE,
    MODE_PSK,
    HpkeError,
    _extract_and_expand,
    _psk_sender,
    export,
    key_schedule,
    key_schedule_context,
    labeled_expand,
    labeled_extract,
    setup_psk_sender_dh,
    suite_id,
)
from micropython import const

from wipe import wipe

_N = const(32)


def _derive_sk(ikm):
    prk = labeled_extract(KEM_SUITE, b"", b"dkp_prk", ikm)
    sk = labeled_expand(KEM_SUITE, prk, b"sk", b"", _N)
    wipe(prk)
    return sk


def derive_keypair(ikm):
    """DeriveKeyPair(ikm) (RFC 9180 §7.1.3) -> (sk bytearray(32), pk bytearray(32))."""
    import x25519

    sk = _derive_sk(ikm)
    return sk, x25519.x25519(sk, x25519.BASE)


async def encap_async(pkR, ikmE=None):
    """Encap(pkR) -> (shared_secret bytearray, enc bytes); yields during both X25519s.

    With `ikmE` the ephemeral key is DeriveKeyPair(ikmE) (test vectors); without it, 32 bytes
    from os.urandom (make sessions after Wi-Fi is up: only then is the ESP32 RNG truly random).
    """
    import x25519

    if len(pkR) != _N:
        raise HpkeError("pkR length")
    if ikmE is None:
        enc, dh = await x25519.ephemeral_async(pkR)
        return _extract_and_expand(dh, enc, pkR)
    enc, dh = await _fixed_dh(ikmE, pkR)
    return _extract_and_expand(dh, enc, pkR)


async def _fixed_dh(ikmE, pkR):
    # (enc, dh) of the ephemeral key DeriveKeyPair(ikmE); skE wiped
    import x25519

    skE = _derive_sk(ikmE)
    try:
        enc = bytes(await x25519.x25519_async(skE, x25519.BASE))
        return enc, await x25519.x25519_async(skE, pkR)
    finally:
        wipe(skE)


def encap(pkR, skE):
    """Encap with a given ephemeral private key (sync; for tests and vectors)."""
    import x25519

    return _extract_and_expand(x25519.x25519(skE, pkR), bytes(x25519.x25519(skE, x25519.BASE)),
                               pkR)


async def setup_psk_sender(pkR, info, psk, psk_id, ikmE=None):
    """SetupPSKS for the export-only suite -> (enc bytes, exporter_secret bytearray(32)).

    The ephemeral private key, the DH output, the shared secret and the key schedule's
    `secret` are wiped before this returns; only the exporter secret is handed back.
    """
    import asyncio

    ss, enc = await encap_async(pkR, ikmE)
    await asyncio.sleep(0)  # the key schedule is one more piece of work for the loop
    return _psk_sender(ss, enc, info, psk, psk_id)


def fixed_encap(ikmE):
    """An encap for Sealer.start_session whose ephemeral key is DeriveKeyPair(ikmE): the
    sessions of the test vectors, through the same two-stage setup the app runs."""

    async def encap(pkR):
        return await _fixed_dh(ikmE, pkR)

    return encap
