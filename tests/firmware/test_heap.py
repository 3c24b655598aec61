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
    for m in ("hpke", "hkdf", "x25519"):
        assert m not in sys.modules
    enc = await s.start_session()
    assert len(enc) == 32 and not s.needs_session()
    for m in ("hpke", "hkdf", "x25519"):
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
