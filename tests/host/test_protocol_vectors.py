"""docs/vectors: the generator reproduces the committed files byte for byte, and the host
opens every record, refuses every invalid one with the named error, and checks every ack."""

import json

import pytest

from sealscan import codes
from sealscan import protocol as p
from sealscan.protocol import vectors

FILES = sorted(vectors.VECTORS_DIR.glob("*.json"))
CASES = [(f.name, c) for f in FILES for c in json.loads(f.read_text())]


def h(s):
    return bytes.fromhex(s)


def test_generator_reproduces_committed_files_byte_for_byte():
    built = vectors.build()
    on_disk = {str(f.relative_to(vectors.VECTORS_DIR)) for f in
               vectors.VECTORS_DIR.rglob("*.json")}
    assert on_disk == set(built)
    for rel, content in built.items():
        committed = (vectors.VECTORS_DIR / rel).read_text(encoding="utf-8")
        assert committed == vectors.render(content), f"{rel} is stale: regenerate it"


def test_vectors_cover_what_the_issue_asks():
    names = [c["name"] for _, c in CASES]
    assert len(names) >= 2 and len({c["device_id"] for _, c in CASES}) >= 2
    assert max(len(c["records"]) for _, c in CASES) >= 3
    a = next(c for _, c in CASES if c["name"] == "session-a")
    b = next(c for _, c in CASES if c["name"] == "session-b-rotation")
    assert a["device_id"] == b["device_id"] and a["enc"] != b["enc"]  # rotation
    assert any(x["rej"] and x["ver"] and x["ack"] for x in a["acks"])
    assert {"AuthenticationFailed", "MalformedRecord"} <= {x["error"] for x in a["invalid"]}


@pytest.mark.parametrize("name, case", CASES, ids=[c["name"] for _, c in CASES])
def test_case_is_reproduced_and_opens(name, case):
    assert p.upstream_public_key(h(case["skR"])).hex() == case["pkR"]
    s = p.SenderSession.start(h(case["pkR"]), case["device_id"], h(case["psk"]),
                              ikmE=h(case["ikmE"]))
    assert s.enc.hex() == case["enc"] and s.ack_key.hex() == case["ack_key"]
    r = p.ReceiverSession(h(case["skR"]), case["device_id"], h(case["psk"]), h(case["enc"]))
    for rec in case["records"]:
        i, sealed = s.seal(h(rec["plaintext"]))
        assert (i, sealed.hex()) == (rec["index"], rec["sealed"])
        assert r.open_record(rec["index"], h(rec["sealed"])).hex() == rec["plaintext"]
    for rec in reversed(case["records"]):  # any order
        assert r.open(rec["index"], h(rec["sealed"])).encode().hex() == rec["plaintext"]
    if "batch" in case:
        batch = p.decode_batch(h(case["batch"]))
        assert batch.device_id == case["device_id"] and batch.enc.hex() == case["enc"]
        assert [(i, b.hex()) for i, b in batch.records] == \
            [(x["index"], x["sealed"]) for x in case["records"]]


@pytest.mark.parametrize("name, case", CASES, ids=[c["name"] for _, c in CASES])
def test_invalid_records_are_refused_with_the_named_error(name, case):
    r = p.ReceiverSession(h(case["skR"]), case["device_id"], h(case["psk"]), h(case["enc"]))
    assert case["invalid"]
    for bad in case["invalid"]:
        with pytest.raises(getattr(p, bad["error"])):
            r.open_record(bad["index"], h(bad["sealed"]))


def _answer(x):
    return p.Answer(ack=x["ack"], rej={int(k): v for k, v in x["rej"].items()},
                    ver={int(k): v for k, v in x["ver"].items()}, mac=h(x["mac"]))


@pytest.mark.parametrize("name, case", CASES, ids=[c["name"] for _, c in CASES])
def test_acks_verify_and_invalid_acks_do_not(name, case):
    s = p.SenderSession.start(h(case["pkR"]), case["device_id"], h(case["psk"]),
                              ikmE=h(case["ikmE"]))
    for x in case["acks"]:
        a = _answer(x)
        s.verify_answer(a)
        assert p.decode_answer(h(x["answer"])) == a
        assert p.encode_answer(a).hex() == x["answer"]
    for x in case["invalid_acks"]:
        with pytest.raises(p.BadAckMac):
            s.verify_answer(_answer(x))


def test_identity_token_vectors():
    data = json.loads((vectors.VECTORS_DIR / "codes" / "identity-v1.json").read_text())
    issuers = {h(i["kid"]): codes.Ed25519PublicKey.from_public_bytes(h(i["ed25519_public"]))
               for i in data["issuers"]}
    for row in data["identity"]:
        assert codes.verify_identity_token(row["text"], issuers, row["now"]) == row["verdict"]
        c = codes.parse_identity_token(row["text"]).claims
        assert (c.id_number, c.name, c.phone) == (row["id_number"], row["name"], row["phone"])
    literal = {t for t, _ in vectors.TOKEN_VERDICTS}
    assert literal == {row["text"] for row in data["identity"]}


def test_literal_tokens_are_what_the_test_issuer_signs_here():
    # the literals stand in for make_identity_token so vectors do not depend on zlib's build;
    # their signatures must still be the deterministic Ed25519 signatures of that issuer
    issuer = codes.new_test_issuer(vectors.ISSUER_SEED)
    t = codes.parse_identity_token(vectors.TOKEN_OK)
    issuer.public_key.verify(t.signature, t.signed)


def test_worked_example_in_the_spec_matches_the_vectors():
    spec = (vectors.REPO / "docs" / "protocol.md").read_text()
    c = next(c for _, c in CASES if c["name"] == "long-device-id")
    a = next(c for _, c in CASES if c["name"] == "session-a")
    for value in [c["enc"], c["chain_0"], c["ack_key"], c["records"][0]["key"],
                  a["ack_key"], a["acks"][0]["mac"]]:
        assert value in spec
    sealed = c["records"][0]["sealed"]
    flat = "".join(spec.split("Sealed record (89 bytes")[1].split("Batch")[0].split())
    assert sealed[:60] in flat and sealed[-40:] in flat


def test_revocation_vector_verifies_and_every_invalid_one_is_refused():
    from sealscan.protocol.revocation import verify_revocation
    a = next(c for _, c in CASES if c["name"] == "session-a")
    key, enc, dev = h(a["ack_key"]), h(a["enc"]), a["device_id"]
    verify_revocation(key, enc, dev, h(a["revocation"]["body"]))
    assert h(a["revocation"]["body"])[6:38] == h(a["revocation"]["mac"])
    reasons = set()
    for bad in a["invalid_revocations"]:
        with pytest.raises((p.BadAckMac, p.MalformedAnswer)):
            verify_revocation(key, enc, dev, h(bad["body"]))
        reasons.add(bad["reason"])
    assert {"revocation-of-another-device", "revocation-of-another-session",
            "unauthenticated-403"} <= reasons
