# Published test vectors for the firmware's crypto, run under MicroPython at the board heap.
# RFC 7748 (X25519), RFC 5869 (HKDF), RFC 4231 (HMAC-SHA256), RFC 9180 (HPKE PSK key
# schedules A.2.2 and A.7.2), RFC 3610 and NIST SP 800-38C (AES-CCM), RFC 9285 (base45).
from binascii import hexlify, unhexlify

from mpytest import raises

h = unhexlify


def hx(b):
    return hexlify(bytes(b)).decode()


def test_x25519_rfc7748_section_5_2():
    import x25519

    cases = [
        ("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
         "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
         "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
        # u has its top bit set: it must be masked, not rejected
        ("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
         "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
         "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"),
    ]
    for k, u, out in cases:
        assert hx(x25519.x25519(h(k), h(u))) == out


def test_x25519_rfc7748_iterated_1_and_1000():
    import x25519

    k = u = x25519.BASE
    for i in range(1000):
        k, u = bytes(x25519.x25519(k, u)), k
        if i == 0:
            assert hx(k) == "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"
    assert hx(k) == "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"


def test_x25519_rfc7748_section_6_1():
    import x25519

    a = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    b = h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    pa = x25519.x25519(a, x25519.BASE)
    pb = x25519.x25519(b, x25519.BASE)
    assert hx(pa) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    assert hx(pb) == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    assert hx(x25519.x25519(a, pb)) == shared
    assert hx(x25519.x25519(b, pa)) == shared


def test_x25519_rejects_wrong_lengths():
    import x25519

    with raises(ValueError):
        x25519.x25519(bytes(31), x25519.BASE)


async def test_x25519_async_gives_the_loop_many_turns():
    # Another task must get to run many times while one scalar multiplication is under way
    # (the count of turns is deterministic: one per piece of the ladder and the inversion).
    import asyncio

    import x25519

    turns = [0]
    done = [False]

    async def ticker():
        while not done[0]:
            turns[0] += 1
            await asyncio.sleep(0)

    t = asyncio.create_task(ticker())
    a = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    pa = await x25519.x25519_async(a, x25519.BASE)
    done[0] = True
    await t
    assert hx(pa) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    assert turns[0] >= 90, turns[0]  # 64 ladder pieces + 32 inversion pieces


def test_hkdf_rfc5869_a1_to_a3():
    import hkdf

    cases = [
        (b"\x0b" * 22, bytes(range(13)), bytes(range(0xF0, 0xFA)), 42,
         "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
        (bytes(range(0x50)), bytes(range(0x60, 0xB0)), bytes(range(0xB0, 0x100)), 82,
         "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
         "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c"
         "65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"),
        (b"\x0b" * 22, b"", b"", 42,
         "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
         "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
    ]
    for ikm, salt, info, n, prk, okm in cases:
        p = hkdf.extract(salt, ikm)
        assert hx(p) == prk
        assert hx(hkdf.expand(p, info, n)) == okm
        assert hx(hkdf.hkdf(salt, ikm, info, n)) == okm
    with raises(ValueError):
        hkdf.expand(bytes(32), b"", 255 * 32 + 1)


def test_hmac_sha256_rfc4231_cases_1_to_7():
    import hmac256

    big = b"\xaa" * 131
    cases = [
        (b"\x0b" * 20, b"Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (b"Jefe", b"what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (b"\xaa" * 20, b"\xdd" * 50,
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (bytes(range(1, 26)), b"\xcd" * 50,
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        (b"\x0c" * 20, b"Test With Truncation", "a3b6167473100ee06e0c796c2955552b"),
        (big, b"Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (big, b"This is a test using a larger than block-size key and a larger than block-size"
         b" data. The key needs to be hashed before being used by the HMAC algorithm.",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ]
    hm = hmac256.Hmac()
    for key, msg, mac in cases:
        assert hx(hmac256.hmac_sha256(key, msg)).startswith(mac)
        # the same keyed object twice, the message in pieces: no hashlib copy() needed
        hm.key(key)
        assert hx(hm.digest(msg[:5], msg[5:])).startswith(mac)
        assert hx(hm.digest(msg)).startswith(mac)
    hm.wipe()
    assert hm._ipad == bytearray(64) and hm._opad == bytearray(64)


_PSK = "0247fd33b913760fa1fa51e1892d9f307fbe65eb171e8132c2af18555a738b82"
_PSK_ID = "456e6e796e20447572696e206172616e204d6f726961"
_INFO = "4f6465206f6e2061204772656369616e2055726e"
_EXPORTS = ("", "00", "54657374436f6e74657874")


def _check_psk_vector(v, aead_id):
    import hpke

    sk, pk = hpke.derive_keypair(h(v["ikmE"]))
    assert hx(sk) == v["skEm"] and hx(pk) == v["pkEm"]
    skr, pkr = hpke.derive_keypair(h(v["ikmR"]))
    assert hx(skr) == v["skRm"] and hx(pkr) == v["pkRm"]
    ss, enc = hpke.encap(h(v["pkRm"]), sk)
    assert hx(enc) == v["enc"]
    assert hx(ss) == v["shared_secret"]
    secret, ksc, exp = hpke.key_schedule(hpke.MODE_PSK, ss, h(_INFO), h(_PSK), h(_PSK_ID),
                                         aead_id)
    assert hx(ksc) == v["key_schedule_context"]
    assert hx(secret) == v["secret"]
    assert hx(exp) == v["exporter_secret"]
    suite = hpke.suite_id(aead_id)
    if "key" in v:
        assert hx(hpke.labeled_expand(suite, secret, b"key", ksc, 32)) == v["key"]
        assert hx(hpke.labeled_expand(suite, secret, b"base_nonce", ksc, 12)) == \
            v["base_nonce"]
    for ctx, value in zip(_EXPORTS, v["exports"]):
        assert hx(hpke.export(exp, h(ctx), 32, aead_id=aead_id)) == value


def test_hpke_rfc9180_a2_2_psk_x25519_sha256_chacha():
    _check_psk_vector({
        "ikmE": "35706a0b09fb26fb45c39c2f5079c709c7cf98e43afa973f14d88ece7e29c2e3",
        "pkEm": "2261299c3f40a9afc133b969a97f05e95be2c514e54f3de26cbe5644ac735b04",
        "skEm": "0c35fdf49df7aa01cd330049332c40411ebba36e0c718ebc3edf5845795f6321",
        "ikmR": "26b923eade72941c8a85b09986cdfa3f1296852261adedc52d58d2930269812b",
        "pkRm": "13640af826b722fc04feaa4de2f28fbd5ecc03623b317834e7ff4120dbe73062",
        "skRm": "77d114e0212be51cb1d76fa99dd41cfd4d0166b08caa09074430a6c59ef17879",
        "enc": "2261299c3f40a9afc133b969a97f05e95be2c514e54f3de26cbe5644ac735b04",
        "shared_secret": "4be079c5e77779d0215b3f689595d59e3e9b0455d55662d1f3666ec606e50ea7",
        "key_schedule_context": "016870c4c76ca38ae43efbec0f2377d109499d7ce73f4a9e1ec37f21d3d063"
                                "b97cb69c5718a60cc5876c358d3f7fc31ddb598503f67be58ea1e798c0bb"
                                "19eb9796",
        "secret": "16974354c497c9bd24c000ceed693779b604f1944975b18c442d373663f4a8cc",
        "key": "600d2fdb0313a7e5c86a9ce9221cd95bed069862421744cfb4ab9d7203a9c019",
        "base_nonce": "112e0465562045b7368653e7",
        "exporter_secret": "73b506dc8b6b4269027f80b0362def5cbb57ee50eed0c2873dac9181f453c5ac",
        "exports": ("813c1bfc516c99076ae0f466671f0ba5ff244a41699f7b2417e4c59d46d39f40",
                    "2745cf3d5bb65c333658732954ee7af49eb895ce77f8022873a62a13c94cb4e1",
                    "ad40e3ae14f21c99bfdebc20ae14ab86f4ca2dc9a4799d200f43a25f99fa78ae"),
    }, 0x0003)


_A7_2 = {
    "ikmE": "c51211a8799f6b8a0021fcba673d9c4067a98ebc6794232e5b06cb9febcbbdf5",
    "pkEm": "d3805a97cbcd5f08babd21221d3e6b362a700572d14f9bbeb94ec078d051ae3d",
    "skEm": "1d72396121a6a826549776ef1a9d2f3a2907fc6a38902fa4e401afdb0392e627",
    "ikmR": "5e0516b1b29c0e13386529da16525210c796f7d647c37eac118023a6aa9eb89a",
    "pkRm": "d53af36ea5f58f8868bb4a1333ed4cc47e7a63b0040eb54c77b9c8ec456da824",
    "skRm": "98f304d4ecb312689690b113973c61ffe0aa7c13f2fbe365e48f3ed09e5a6a0c",
    "enc": "d3805a97cbcd5f08babd21221d3e6b362a700572d14f9bbeb94ec078d051ae3d",
    "shared_secret": "024573db58c887decb4c57b6ed39f2c9a09c85600a8a0ecb11cac24c6aaec195",
    "key_schedule_context": "01446fb1fe2632a0a338f0a85ed1f3a0ac475bdea2cd72f8c713b3a46ee73737"
                            "9a3f4c22aa6d9a0424c2b4292fdf43b8257df93c2f6adbf6ddc9c64fee26bdd2"
                            "92",
    "secret": "638b94532e0d0bf812cf294f36b97a5bdcb0299df36e22b7bb6858e3c113080b",
    "exporter_secret": "04261818aeae99d6aba5101bd35ddf3271d909a756adcef0d41389d9ed9ab153",
    "exports": ("be6c76955334376aa23e936be013ba8bbae90ae74ed995c1c6157e6f08dd5316",
                "1721ed2aa852f84d44ad020c2e2be4e2e6375098bf48775a533505fd56a3f416",
                "7c9d79876a288507b81a5a52365a7d39cc0fa3f07e34172984f96fec07c44cba"),
}


def test_hpke_rfc9180_a7_2_psk_export_only():
    _check_psk_vector(_A7_2, 0xFFFF)


async def test_hpke_setup_psk_sender_async_matches_a7_2():
    import hpke

    enc, exp = await hpke.setup_psk_sender(h(_A7_2["pkRm"]), h(_INFO), h(_PSK), h(_PSK_ID),
                                           ikmE=h(_A7_2["ikmE"]))
    assert hx(enc) == _A7_2["enc"]
    assert hx(exp) == _A7_2["exporter_secret"]
    assert hx(hpke.export(exp, b"TestContext", 32)) == _A7_2["exports"][2]


def test_hpke_refuses_low_order_point_and_psk_mismatch():
    import hpke

    with raises(hpke.HpkeError):  # u = 0: X25519 output is all zeros
        hpke.encap(bytes(32), h(_A7_2["skEm"]))
    with raises(hpke.HpkeError):
        hpke.key_schedule(hpke.MODE_PSK, bytes(32), b"", b"", b"")
    with raises(hpke.HpkeError):
        hpke.key_schedule(hpke.MODE_BASE, bytes(32), b"", h(_PSK), h(_PSK_ID))


def test_aes_ccm_rfc3610_and_sp800_38c_vectors():
    import aesccm
    import opener

    k1 = bytes(range(0xC0, 0xD0))
    k2 = bytes(range(0x40, 0x50))
    cases = [
        # RFC 3610 packet vectors #1-#3 (M = 8, L = 2)
        (k1, "00000003020100a0a1a2a3a4a5", bytes(range(8)), bytes(range(8, 0x1F)), 8,
         "588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0"),
        (k1, "00000004030201a0a1a2a3a4a5", bytes(range(8)), bytes(range(8, 0x20)), 8,
         "72c91a36e135f8cf291ca894085c87e3cc15c439c9e43a3ba091d56e10400916"),
        (k1, "00000005040302a0a1a2a3a4a5", bytes(range(8)), bytes(range(8, 0x21)), 8,
         "51b1e5f44a197d1da46b0f8e2d282ae871e838bb64da8596574adaa76fbd9fb0c5"),
        # NIST SP 800-38C appendix C examples 1-3 (other nonce and tag lengths)
        (k2, "10111213141516", bytes(range(8)), h("20212223"), 4, "7162015b4dac255d"),
        (k2, "1011121314151617", bytes(range(16)), bytes(range(0x20, 0x30)), 6,
         "d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd"),
        (k2, "101112131415161718191a1b", bytes(range(20)), bytes(range(0x20, 0x38)), 8,
         "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951"),
    ]
    for key, nonce, aad, msg, m, out in cases:
        assert hx(opener.seal(key, h(nonce), aad, msg, m)) == out
        assert opener.open(key, h(nonce), aad, h(out), m) == msg
        bad = bytearray(h(out))
        bad[-1] ^= 1
        with raises(aesccm.AuthError):
            opener.open(key, h(nonce), aad, bad, m)


def test_aes_ccm_refuses_bad_parameters():
    import aesccm
    import opener

    with raises(aesccm.CcmError):
        opener.seal(bytes(16), bytes(6), b"", b"x")  # nonce too short
    with raises(aesccm.CcmError):
        opener.seal(bytes(16), bytes(13), b"", b"x", 5)  # odd tag length
    with raises(aesccm.AuthError):
        opener.open(bytes(16), bytes(13), b"", bytes(3))  # shorter than the tag
    c = aesccm.Ccm(8, 16)
    with raises(aesccm.CcmError):
        c.seal_into(bytes(16), bytes(13), b"", bytes(17), bytearray(64))


def test_base45_rfc9285_examples_and_bad_input():
    import base45

    assert base45.decode("BB8") == b"AB"
    assert base45.decode("%69 VD92EX0") == b"Hello!!"
    assert base45.decode("UJCLQE7W581") == b"base-45"
    assert base45.decode("QED8WEX0") == b"ietf!"
    assert base45.decode(b"QED8WEX0") == b"ietf!"
    assert base45.decode("") == b""
    for bad in ("GGW", "BB", "B", "bb8", "ab\u00e9", "QED8WEX"):
        # GGW = 65535 + 1 overflows; "BB" = 1 + 11*45 > 255; lower case is not base45
        with raises(base45.Base45Error):
            base45.decode(bad)
