"""Deterministic test vectors of protocol v1: `python -m sealscan.protocol.vectors [DIR]`
rewrites docs/vectors/ (a test checks that the committed files are exactly this output).

docs/vectors/*.json: each a JSON list of cases (bytes as lowercase hex):
    name, description, skR, pkR, device_id, psk, ikmE, enc, chain_0, ack_key,
    records:  [{index, plaintext, sealed, key, nonce, aad}]        key = K_i, aad = Enc_structure
    batch:    the batch body carrying every record of the case
    acks:     [{ack, rej, ver, mac, answer}]                       answer = the encoded body
    invalid:  [{index, sealed, reason, error}]   must be refused; error = host exception name
    invalid_acks: [{ack, rej, ver, mac, reason}] answers the device must refuse (BadAckMac)
JSON object keys are text, so rej/ver are {"3": "decrypt"}: the indices are the integers.

docs/vectors/codes/identity-v1.json: scanned identity tokens with their expected verdicts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sealscan.paths import REPO
from sealscan.protocol import cbor
from sealscan.protocol.batch import Batch, encode_answer, encode_batch
from sealscan.protocol.errors import MalformedRecord
from sealscan.protocol.keys import upstream_public_key
from sealscan.protocol.record import Record
from sealscan.protocol.session import (
    NONCE_LEN,
    PROTECTED,
    ReceiverSession,
    SenderSession,
    _step,
    aad,
    nonce,
)

VECTORS_DIR = REPO / "docs" / "vectors"
T0 = 1_763_856_000  # 2025-11-23T00:00:00Z

SKR = bytes.fromhex("c8f3a27d1e5b9046" * 4)
PSK = bytes.fromhex("0f1e2d3c4b5a6978" * 4)
DEVICE_ID = "depot-0571-scanner-07"
LONG_DEVICE_ID = "HZ-XIHU.depot_0571-scanner-00007"  # 32 characters, the maximum
IKME_A = bytes.fromhex("a1" * 32)
IKME_B = bytes.fromhex("b2" * 32)
IKME_C = bytes.fromhex("c3" * 32)

# Identity tokens signed by the deterministic TEST issuer (seed 5e*32, kid TEST-8b81c862)
# and, for the last one, by an issuer the vectors' verifier does not know (seed 77*32).
# Kept as literals so the vectors do not depend on the zlib build; test_protocol_vectors
# checks each one still verifies with the verdict given in docs/vectors/codes.
ISSUER_SEED = bytes.fromhex("5e" * 32)
UNKNOWN_ISSUER_SEED = bytes.fromhex("77" * 32)
TOKEN_OK = (
    "RNID1:NCFAQD9:B/ELQDIB27YW6SV8+H4WOO NRJ P0OKLB7P$G9694JO$47A$Q269A4B09Q6V8S.PF59NHPPKQT"
    "MOK0PX16MO6OVQBBJSI51ZUNK0PVAVMIWPG%H06H0-07*TCRF6+Q6+Q6NZ6YT6:Q6TF6+Q6666230AP69V7 UR6N"
    "CY*QAPF7V78JQPE253Q*T6-56XJG-3HCPH-S9F/LM1N-V36:V.YQHTFI:18DM:82NQTQRUG$PDATWJV1374U5LTJ"
    "O75/+EKXS.2F7EVL6STAU6GFCQB-WO47O4:C94KD5UF+1HHD729")
TOKEN_EXPIRED = (
    "RNID1:NCFAQD9:B/ELQDIB27YW6SV8+H4WOO NRJ P0OKLB7P$G9694JO$47A$Q269A4B09Q6V8S.PF59NHPPKQT"
    "MOK0PX16MO6OVQBBJZF52LSNK00WAGHQ4Z0VZ0CY06-DJKP3VCTJCBKD$JC:DCC8CK315$0+ 4OGEYYJ%QBC4C4A"
    "K%VDEDSLNROA8G+PW1HL/IL5ACOS0GWJHK679C/UC:T-IOVWMF-C+3U884%U247G57LZ3DRDJW+F095PXR/KN8EC"
    "/VSQBRK81J4W7F1DNBL%G08WY8K$QS:A8SOUJKSC+CDIIW%8")
TOKEN_PASSPORT = (
    "RNID1:NCFAQD9:B/ELQDIB27YW6SV8+H4WOO NRJ P3G4LB7P$G9694JO$47A$Q269A4B09Q6V8S.PF59NHPPKQT"
    "MOK0PX16MO6OVQBBJSI51ZUNK0PVAVMIWPG%H0:J0242JXC4VE.Q6D%6TW636NBGE+QMH+CSZV::GVDGT*P1QRD-"
    "4Q3TL$0%Y0162ADOJB4XIF AC$$LA1B4/9F7KT*MUUU-7SV:9*9R.6E 22N8SY HW1M.LB4F0U+D55NW4SZZRC87"
    "45QH.NOWQE29Z+FWD2I25BSMJZQ0008NA2/7")
TOKEN_UNKNOWN_ISSUER = (
    "RNID1:NCFAQD9:B/ELQDIB27YW63S8R-O11QWOO2.O0OKLB7P$G9694JO$47A$Q269A4B09Q6V8S.PF59NHPPKQT"
    "MOK0PX16MO6OVQBBJSI51ZUNK0PVAVMIWPG%H06H0-07*TCRF6+Q6+Q6NZ6YT6:Q6TF6+Q6666230AP69V7 UR6N"
    "C8-Q1-F22A3X9KFHP1DGG31K3WC8SM8CNFA+QJZRJAUB%MBZF*JNQ5N2700%H B8%E677O%U0V.DSGBNZFMEA6:Q"
    "IYA9FBH/1N8V6GWVZOGTVI04AO9FRP5JR9FINILO3APA0LD160")
TOKEN_VERDICTS = [(TOKEN_OK, "ok"), (TOKEN_EXPIRED, "expired"), (TOKEN_PASSPORT, "ok"),
                  (TOKEN_UNKNOWN_ISSUER, "unknown-issuer")]


def _record(n: int, token: str, carrier: str = "SF", waybill: str | None = None) -> Record:
    return Record(capture_time=T0 + 37 * n, carrier=carrier,
                  waybill=waybill or f"SF{1_400_000_000_000 + n:013d}",
                  identity_token=token.encode(), courier_id="C-0571-0042")


def _hex(b: bytes) -> str:
    return b.hex()


def _answer_json(r: ReceiverSession, ack: list[int], rej: dict[int, str],
                 ver: dict[int, str]) -> dict[str, Any]:
    a = r.answer(ack, rej, ver)
    return {"ack": a.ack, "rej": {str(k): v for k, v in sorted(a.rej.items())},
            "ver": {str(k): v for k, v in sorted(a.ver.items())}, "mac": _hex(a.mac),
            "answer": _hex(encode_answer(a))}


def _case(name: str, description: str, device_id: str, ikme: bytes,
          plaintexts: list[bytes]) -> tuple[dict[str, Any], SenderSession, ReceiverSession,
                                            list[tuple[int, bytes]]]:
    pk = upstream_public_key(SKR)
    s = SenderSession.start(pk, device_id, PSK, ikmE=ikme)
    r = ReceiverSession(SKR, device_id, PSK, s.enc)
    chain0 = s._chain
    assert chain0 is not None
    sealed = [s.seal(pt) for pt in plaintexts]
    records, chain = [], chain0
    for (i, blob), pt in zip(sealed, plaintexts, strict=True):
        key, chain = _step(chain)
        assert r.open_record(i, blob) == pt
        records.append({"index": i, "plaintext": _hex(pt), "sealed": _hex(blob),
                        "key": _hex(key), "nonce": _hex(nonce(i)),
                        "aad": _hex(aad(device_id, s.enc, i))})
    case = {"name": name, "description": description, "skR": _hex(SKR), "pkR": _hex(pk),
            "device_id": device_id, "psk": _hex(PSK), "ikmE": _hex(ikme), "enc": _hex(s.enc),
            "chain_0": _hex(chain0), "ack_key": _hex(s.ack_key), "records": records,
            "batch": _hex(encode_batch(Batch(device_id, s.enc, sealed)))}
    return case, s, r, sealed


def _flip(blob: bytes, pos: int) -> bytes:
    return blob[:pos] + bytes([blob[pos] ^ 0x01]) + blob[pos + 1:]


def _invalid(case_a_sealed: list[tuple[int, bytes]], other_session: bytes) -> list[dict]:
    pk = upstream_public_key(SKR)
    (i0, s0), (i1, s1) = case_a_sealed[0], case_a_sealed[1]
    obj = cbor.loads_strict(s0, MalformedRecord, "sealed record")
    ct_at = len(s0) - len(obj[2])
    wrong_key = SenderSession.start(pk, DEVICE_ID, bytes(32), ikmE=IKME_A)
    other_dev = SenderSession.start(pk, "depot-0571-scanner-08", PSK, ikmE=IKME_A)
    fresh = SenderSession.start(pk, DEVICE_ID, PSK, ikmE=IKME_A)
    extra_key = cbor.dumps({**{1: T0, 2: "SF", 3: "SF1400000000000", 4: b"RNID1:X",
                               5: "C-1"}, 6: "gps"})
    out = [
        (i0, _flip(s0, len(s0) - 1), "tag-flipped", "AuthenticationFailed"),
        (i0, _flip(s0, ct_at), "ciphertext-flipped", "AuthenticationFailed"),
        (i1 + 1, s1, "wrong-index", "AuthenticationFailed"),
        (i1, cbor.dumps([PROTECTED, {5: nonce(i1)}, obj[2]]), "record-0-moved-to-index-1",
         "AuthenticationFailed"),
        (i0, other_session, "other-session", "AuthenticationFailed"),
        (0, wrong_key.seal(_record(0, TOKEN_OK).encode())[1], "wrong-device-key",
         "AuthenticationFailed"),
        (0, other_dev.seal(_record(0, TOKEN_OK).encode())[1], "other-device-id",
         "AuthenticationFailed"),
        (i0, cbor.dumps([bytes.fromhex("a101181f"), obj[1], obj[2]]), "protected-not-ccm",
         "MalformedRecord"),
        (i0, cbor.dumps([obj[0], {5: obj[1][5], 4: b"k"}, obj[2]]), "unprotected-extra-key",
         "MalformedRecord"),
        (i0, cbor.dumps([obj[0], {5: bytes(NONCE_LEN - 1)}, obj[2]]), "nonce-short",
         "MalformedRecord"),
        (i0, s0[:-1], "truncated", "MalformedRecord"),
        (i0, s0 + b"\x00", "trailing-byte", "MalformedRecord"),
        (i0, b"\xd0" + s0, "cbor-tag-16", "MalformedRecord"),
        (i0, s0[:ct_at - 2] + b"\x59" + (len(obj[2])).to_bytes(2, "big") + obj[2],
         "ciphertext-length-not-shortest", "MalformedRecord"),
        (i0, b"\x9f" + s0[1:] + b"\xff", "indefinite-array", "MalformedRecord"),
        (1024, s0, "index-out-of-range", "MalformedRecord"),
        (0, fresh.seal(extra_key)[1], "plaintext-extra-key", "MalformedRecord"),
    ]
    return [{"index": i, "sealed": _hex(b), "reason": reason, "error": error}
            for i, b, reason, error in out]


def _invalid_acks(r: ReceiverSession, good: dict[str, Any]) -> list[dict[str, Any]]:
    bad_mac = bytearray(bytes.fromhex(good["mac"]))
    bad_mac[0] ^= 0x80
    other = ReceiverSession(SKR, DEVICE_ID, PSK,
                            SenderSession.start(upstream_public_key(SKR), DEVICE_ID, PSK,
                                                ikmE=IKME_B).enc).answer([0, 1, 2], {}, {})
    rows = [
        (good["ack"], good["rej"], good["ver"], bytes(bad_mac), "mac-flipped"),
        (good["ack"] + [5], good["rej"], good["ver"], bytes.fromhex(good["mac"]), "ack-added"),
        (good["ack"], good["rej"], {**good["ver"], "1": "ok"}, bytes.fromhex(good["mac"]),
         "verdict-changed"),
        (good["ack"], {}, good["ver"], bytes.fromhex(good["mac"]), "rejection-dropped"),
        ([0, 1, 2], {}, {}, other.mac, "answer-of-another-session"),
    ]
    return [{"ack": a, "rej": rj, "ver": v, "mac": _hex(m), "reason": reason}
            for a, rj, v, m, reason in rows]


def build() -> dict[str, Any]:
    """Every vector file: {relative path: JSON-able content}."""
    tokens = [TOKEN_OK, TOKEN_EXPIRED, TOKEN_PASSPORT, TOKEN_UNKNOWN_ISSUER]
    pts_a = [_record(n, t).encode() for n, t in enumerate(tokens)]
    case_a, _, ra, sealed_a = _case(
        "session-a", "Four records of one session, acked and rejected; negative cases.",
        DEVICE_ID, IKME_A, pts_a)
    acks_a = [
        _answer_json(ra, [0, 1, 2], {3: "decrypt"}, {0: "ok", 1: "expired", 2: "ok"}),
        _answer_json(ra, [3], {}, {3: "unknown-issuer"}),
        _answer_json(ra, [], {}, {}),
    ]
    pts_b = [_record(10 + n, TOKEN_OK, carrier="YTO", waybill=f"YT{8_800_000_000_000 + n}")
             .encode() for n in range(3)]
    case_b, _, rb, sealed_b = _case(
        "session-b-rotation", "The same device after rotation: a new session (new ikmE, "
                              "enc, chain and ack key) starts again at index 0.",
        DEVICE_ID, IKME_B, pts_b)
    case_a["acks"] = acks_a
    case_a["invalid"] = _invalid(sealed_a, bytes.fromhex(case_b["records"][0]["sealed"]))
    case_a["invalid_acks"] = _invalid_acks(ra, acks_a[0])
    case_b["acks"] = [_answer_json(rb, [0, 1, 2], {}, {0: "ok", 1: "ok", 2: "ok"})]
    case_b["invalid"] = [{"index": 0, "sealed": case_a["records"][0]["sealed"],
                          "reason": "record-of-session-a", "error": "AuthenticationFailed"}]
    case_b["invalid_acks"] = [{**{k: acks_a[0][k] for k in ("ack", "rej", "ver", "mac")},
                               "reason": "answer-of-session-a"}]
    pts_c = [Record(T0 + n, "ZTO", f"7{n:013d}", b"RNID1:" + bytes([65 + n % 26]) * 8,
                    "C-9").encode() for n in range(30)]
    case_c, _, rc, _ = _case(
        "long-device-id", "A 32-character device id and 30 records, so the AAD's text and "
                          "index heads take their longer forms (0x78 xx, 0x18 xx).",
        LONG_DEVICE_ID, IKME_C, pts_c)
    del case_c["batch"]  # 30 records would fit one batch; keep the file small
    case_c["acks"] = [_answer_json(rc, list(range(30)), {}, {n: "ok" for n in range(24, 30)})]
    case_c["invalid"] = [{"index": 29, "sealed": case_c["records"][28]["sealed"],
                          "reason": "wrong-index", "error": "AuthenticationFailed"}]
    case_c["invalid_acks"] = []
    return {"session-a.json": [case_a], "session-b-rotation.json": [case_b],
            "long-device-id.json": [case_c],
            "codes/identity-v1.json": _codes(),
            "heartbeat/heartbeat-v1.json": _heartbeats(case_a)}


def _heartbeats(case_a: dict[str, Any]) -> dict[str, Any]:
    """Heartbeats of session-a's device and session (protocol 5.1)."""
    from sealscan.protocol import heartbeat as hb

    dev, enc, ack_key = case_a["device_id"], bytes.fromhex(case_a["enc"]), \
        bytes.fromhex(case_a["ack_key"])
    beats = []
    for seq, t, q in ((0, T0, 0), (1, T0 + 300, 3), (70000, T0 + 86400, 65535)):
        body = hb.encode_heartbeat(dev, enc, ack_key, seq, t, q)
        ack = hb.heartbeat_ack_mac(ack_key, enc, seq)
        beats.append({"seq": seq, "t": t, "q": q,
                      "mac": _hex(hb.heartbeat_mac(ack_key, dev, enc, seq, t, q)),
                      "body": _hex(body), "ack_mac": _hex(ack),
                      "answer": _hex(cbor.dumps({"mac": ack}))})
    good = hb.encode_heartbeat(dev, enc, ack_key, 1, T0 + 300, 3)
    wrong_key = hb.encode_heartbeat(dev, enc, bytes(32), 1, T0 + 300, 3)
    relabelled = cbor.dumps({"v": 1, "dev": "depot-0571-scanner-08", "enc": enc, "seq": 1,
                             "t": T0 + 300, "q": 3, "mac": hb.decode_heartbeat(good).mac})
    invalid = [
        {"body": _hex(wrong_key), "reason": "mac-under-another-key", "error": "BadAckMac"},
        {"body": _hex(relabelled), "reason": "another-device-id", "error": "BadAckMac"},
        {"body": _hex(good[:-1] + bytes([good[-1] ^ 1])), "reason": "seq-changed",
         "error": "BadAckMac"},
        {"body": _hex(good + b"\x00"), "reason": "trailing-byte",
         "error": "MalformedHeartbeat"},
        {"body": _hex(cbor.dumps({"v": 2, "dev": dev, "enc": enc, "seq": 1, "t": T0, "q": 0,
                                  "mac": bytes(32)})), "reason": "version",
         "error": "MalformedHeartbeat"},
        {"body": _hex(cbor.dumps({"v": 1, "dev": dev, "enc": enc, "seq": 1, "t": T0,
                                  "mac": bytes(32)})), "reason": "missing-q",
         "error": "MalformedHeartbeat"},
    ]
    return {"description": "Heartbeats (docs/protocol.md 5.1) of session-a's device and "
                           "session: body = deterministic CBOR, mac = HMAC-SHA256(ack_key, "
                           "CBOR [\"beat\", dev, enc, seq, t, q]); the answer's mac = "
                           "HMAC-SHA256(ack_key, CBOR [\"beat-ack\", enc, seq]).",
            "device_id": dev, "enc": _hex(enc), "ack_key": _hex(ack_key), "beats": beats,
            "invalid": invalid}


def _codes() -> dict[str, Any]:
    from sealscan import codes

    issuer = codes.new_test_issuer(ISSUER_SEED)
    unknown = codes.new_test_issuer(UNKNOWN_ISSUER_SEED)
    rows = []
    for text, verdict in TOKEN_VERDICTS:
        t = codes.parse_identity_token(text)
        c = t.claims
        rows.append({"text": text, "now": T0, "verdict": verdict, "kid": _hex(t.kid),
                     "issuer": c.issuer, "issued_at": c.issued_at,
                     "expires_at": c.expires_at, "id_type": c.id_type,
                     "id_number": c.id_number, "name": c.name, "phone": c.phone,
                     "masked": {k: c.masked()[k] for k in ("id_number", "name", "phone")}})
    return {"description": "Identity tokens (all claims are test data). `issuers` is the "
                           "verifier's trust list; the unknown issuer is not in it.",
            "issuers": [{"name": issuer.name, "kid": _hex(issuer.kid),
                         "ed25519_public": _hex(issuer.public_bytes)}],
            "unknown_issuer": {"kid": _hex(unknown.kid),
                               "ed25519_public": _hex(unknown.public_bytes)},
            "identity": rows}


def render(content: Any) -> str:
    return json.dumps(content, indent=1, ensure_ascii=False) + "\n"


def write(directory: Path = VECTORS_DIR) -> list[Path]:
    written = []
    for rel, content in build().items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(content), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    for path in write(Path(args[0]) if args else VECTORS_DIR):
        print(path)


if __name__ == "__main__":
    main()
