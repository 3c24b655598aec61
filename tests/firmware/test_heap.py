# Rarely used modules are loaded for their use only and released after (transient.py): the
# HPKE session setup (hpke, hkdf, x25519) and badge/config codes (mac0).
import json
import sys
from binascii import unhexlify

import transient
from mpytest import data_path


def test_release_drops_only_what_this_use_loaded():
    import wipe  # noqa: F401  already loaded: must stay

    fresh = transient.loading("wipe", "hkdf")
    assert fresh == ["hkdf"]
    import hkdf  # noqa: F401

    transient.release(fresh)
    assert "hkdf" not in sys.modules and "wipe" in sys.modules


async def test_session_setup_releases_the_hpke_modules():
    import sealer

    s = sealer.Sealer("dev-1", bytes(range(32)), bytes(range(1, 33)), 2048)
    for m in ("hpke", "hpkeks", "hkdf", "x25519"):
        assert m not in sys.modules
    enc = await s.start_session()
    assert len(enc) == 32 and not s.needs_session()
    for m in ("hpke", "hpkeks", "hkdf", "x25519"):
        assert m not in sys.modules
    s.seal(1700000000, "SF", "SF1234567890123", b"RNID1:x", "courier-7")
    assert s.next_index == 1


def test_badge_and_config_codes_release_mac0_and_keep_their_verdicts():
    import flow

    with open(data_path("app_codes.json")) as f:
        c = json.load(f)
    fl = flow.Flow(unhexlify(c["badge_key"]), unhexlify(c["config_key"]), "SF")
    now = c["now"]
    assert "mac0" not in sys.modules
    assert fl.on_line(c["badge_other_key"].encode(), now) == flow.REFUSED
    assert "mac0" not in sys.modules
    assert fl.on_line(c["badge"].encode(), now) == flow.LOGIN and fl.courier == "courier-7"
    assert "mac0" not in sys.modules
    assert fl.on_line(c["config"].encode(), now) == flow.CONFIG
    assert fl.config_values[3] == 5 and "mac0" not in sys.modules
    import mac0  # the prefixes flow recognises are the ones mac0 verifies

    assert flow._BADGE_PREFIX == mac0.BADGE_PREFIX
    assert flow._CONFIG_PREFIX == mac0.CONFIG_PREFIX


async def test_two_stage_session_setup_derives_what_the_receiver_derives():
    # start_session() without ikmE runs the DH with x25519 alone, then the key schedule with
    # hpkeks + hkdf: the receiver (Decap with its private key + the same key schedule) must
    # get the same ack key, and the answer MAC under any other key must be refused.
    import ackmac
    import hmac256
    import hpkeks
    import sealer
    import x25519

    sk_r = bytes(range(7, 39))
    pk_r = bytes(x25519.x25519(sk_r, x25519.BASE))
    psk = bytes(range(0x40, 0x60))
    s = sealer.Sealer("dev-2", psk, pk_r, 2048)
    enc = await s.start_session()
    ss, _ = hpkeks._extract_and_expand(x25519.x25519(sk_r, enc), enc, pk_r)
    secret, _, exp = hpkeks.key_schedule(hpkeks.MODE_PSK, ss, sealer.INFO, psk, b"dev-2")
    hm = hmac256.Hmac()
    for key, ok in ((hpkeks.export(exp, sealer.EXPORT_ACK, 32), True),
                    (hpkeks.export(exp, sealer.EXPORT_CHAIN, 32), False)):
        hm.key(key)
        mac = ackmac.mac(hm, enc, [], {}, {})
        assert s.verify_ack(enc, [], {}, {}, mac) is ok
