"""pyhpke against RFC 9180 Appendix A.7.2: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
export-only AEAD, mode_psk — exactly the suite and mode of protocol v1."""

from sealscan.protocol.session import SUITE

# RFC 9180 A.7.2 "PSK Setup Information" and A.7.2.1 "Exported Values".
A72 = {
    "info": "4f6465206f6e2061204772656369616e2055726e",
    "ikmE": "c51211a8799f6b8a0021fcba673d9c4067a98ebc6794232e5b06cb9febcbbdf5",
    "pkEm": "d3805a97cbcd5f08babd21221d3e6b362a700572d14f9bbeb94ec078d051ae3d",
    "skEm": "1d72396121a6a826549776ef1a9d2f3a2907fc6a38902fa4e401afdb0392e627",
    "ikmR": "5e0516b1b29c0e13386529da16525210c796f7d647c37eac118023a6aa9eb89a",
    "pkRm": "d53af36ea5f58f8868bb4a1333ed4cc47e7a63b0040eb54c77b9c8ec456da824",
    "skRm": "98f304d4ecb312689690b113973c61ffe0aa7c13f2fbe365e48f3ed09e5a6a0c",
    "psk": "0247fd33b913760fa1fa51e1892d9f307fbe65eb171e8132c2af18555a738b82",
    "psk_id": "456e6e796e20447572696e206172616e204d6f726961",
    "enc": "d3805a97cbcd5f08babd21221d3e6b362a700572d14f9bbeb94ec078d051ae3d",
    "exports": [
        ("", "be6c76955334376aa23e936be013ba8bbae90ae74ed995c1c6157e6f08dd5316"),
        ("00", "1721ed2aa852f84d44ad020c2e2be4e2e6375098bf48775a533505fd56a3f416"),
        ("54657374436f6e74657874",
         "7c9d79876a288507b81a5a52365a7d39cc0fa3f07e34172984f96fec07c44cba"),
    ],
}


def h(s):
    return bytes.fromhex(s)


def test_derive_key_pair_matches_rfc():
    e = SUITE.kem.derive_key_pair(h(A72["ikmE"]))
    r = SUITE.kem.derive_key_pair(h(A72["ikmR"]))
    assert e.private_key.to_private_bytes().hex() == A72["skEm"]
    assert e.public_key.to_public_bytes().hex() == A72["pkEm"]
    assert r.private_key.to_private_bytes().hex() == A72["skRm"]
    assert r.public_key.to_public_bytes().hex() == A72["pkRm"]


def test_psk_sender_and_recipient_export_rfc_values():
    eks = SUITE.kem.derive_key_pair(h(A72["ikmE"]))
    pkr = SUITE.kem.deserialize_public_key(h(A72["pkRm"]))
    enc, sender = SUITE.create_sender_context(pkr, h(A72["info"]), psk=h(A72["psk"]),
                                              psk_id=h(A72["psk_id"]), eks=eks)
    assert enc.hex() == A72["enc"]
    skr = SUITE.kem.deserialize_private_key(h(A72["skRm"]))
    recipient = SUITE.create_recipient_context(enc, skr, h(A72["info"]), psk=h(A72["psk"]),
                                               psk_id=h(A72["psk_id"]))
    for ctx_hex, value in A72["exports"]:
        assert sender.export(h(ctx_hex), 32).hex() == value
        assert recipient.export(h(ctx_hex), 32).hex() == value


def test_wrong_psk_changes_every_export():
    eks = SUITE.kem.derive_key_pair(h(A72["ikmE"]))
    pkr = SUITE.kem.deserialize_public_key(h(A72["pkRm"]))
    wrong = bytes(32)
    _, sender = SUITE.create_sender_context(pkr, h(A72["info"]), psk=wrong,
                                            psk_id=h(A72["psk_id"]), eks=eks)
    for ctx_hex, value in A72["exports"]:
        assert sender.export(h(ctx_hex), 32).hex() != value


# RFC 9180 A.1.2: the same KEM, KDF and mode_psk with AES-128-GCM: the PSK key schedule gives
# the published key, nonce, exported values and first ciphertext in a second suite too.
A12 = {
    "ikmE": "78628c354e46f3e169bd231be7b2ff1c77aa302460a26dbfa15515684c00130b",
    "ikmR": "d4a09d09f575fef425905d2ab396c1449141463f698f8efdb7accfaff8995098",
    "pkRm": "9fed7e8c17387560e92cc6462a68049657246a09bfa8ade7aefe589672016366",
    "enc": "0ad0950d9fb9588e59690b74f1237ecdf1d775cd60be2eca57af5a4b0471c91b",
    "pt": "4265617574792069732074727574682c20747275746820626561757479",
    "aad0": "436f756e742d30",
    "ct0": "e52c6fed7f758d0cf7145689f21bc1be6ec9ea097fef4e959440012f4feb73fb"
           "611b946199e681f4cfc34db8ea",
    "exports": [
        ("", "dff17af354c8b41673567db6259fd6029967b4e1aad13023c2ae5df8f4f43bf6"),
        ("00", "6a847261d8207fe596befb52928463881ab493da345b10e1dcc645e3b94e2d95"),
        ("54657374436f6e74657874",
         "8aff52b45a1be3a734bc7a41e20b4e055ad4c4d22104b0c20285a7c4302401cd"),
    ],
}


def test_psk_mode_in_the_aes_gcm_suite_matches_rfc_a12():
    from pyhpke import AEADId, CipherSuite, KDFId, KEMId

    suite = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256,
                            AEADId.AES128_GCM)
    eks = suite.kem.derive_key_pair(h(A12["ikmE"]))
    r = suite.kem.derive_key_pair(h(A12["ikmR"]))
    assert r.public_key.to_public_bytes().hex() == A12["pkRm"]
    enc, sender = suite.create_sender_context(r.public_key, h(A72["info"]), psk=h(A72["psk"]),
                                              psk_id=h(A72["psk_id"]), eks=eks)
    assert enc.hex() == A12["enc"]
    assert sender.seal(h(A12["pt"]), h(A12["aad0"])).hex() == A12["ct0"]
    for ctx_hex, value in A12["exports"]:
        assert sender.export(h(ctx_hex), 32).hex() == value
