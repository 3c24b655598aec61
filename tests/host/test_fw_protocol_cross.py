"""The firmware's hand-written crypto (run under MicroPython from .mpy, at the ESP32 heap)
checked against independent CPython code: pyca/cryptography AESCCM, pyhpke and cbor2.

MicroPython is driven through tests/firmware/drivers/fwdrive.py with JSON-lines case files.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from pathlib import Path

import cbor2
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from pyhpke import AEADId, CipherSuite, KDFId, KEMId

from sealscan import boards, fwtools
from sealscan.paths import FIRMWARE_DIR, REPO
from sealscan.protocol.errors import AuthenticationFailed
from sealscan.protocol.session import ReceiverSession
from sealsim import micropython as mp

VECTORS = sorted((REPO / "docs" / "vectors").glob("*.json"))
DRIVER = REPO / "tests" / "firmware" / "drivers" / "fwdrive.py"
HELPERS = REPO / "tests" / "firmware" / "helpers"  # hpke, opener: test-only, never deployed
SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.EXPORT_ONLY)
INFO = b"sealscan/v1"
PROTECTED = bytes.fromhex("a101181e")


@pytest.fixture(scope="module")
def firmware(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fw-mpy")
    fwtools.compile_firmware(FIRMWARE_DIR, out)
    fwtools.compile_firmware(HELPERS, out)
    return out


def drive(firmware: Path, tmp_path: Path, command: str, cases: list[dict]) -> list[dict]:
    """Run one driver command over `cases` under MicroPython; the per-case JSON answers."""
    src = tmp_path / f"{command}.jsonl"
    src.write_text("".join(json.dumps(c) + "\n" for c in cases))
    heap = boards.load_board(boards.DEFAULT_BOARD).heap_bytes
    proc = mp.run([str(DRIVER), command, str(src)], heap_bytes=heap,
                  path=mp.module_path(firmware), timeout=120)
    out = proc.stdout.decode()
    assert proc.returncode == 0 and "@@DONE" in out, out + proc.stderr.decode()
    answers = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(answers) == len(cases), out
    return answers


# -- independent host side of protocol v1 (pyhpke, pyca, cbor2) -------------------------------

def receiver(sk_r: bytes, psk: bytes, device_id: str, enc: bytes) -> tuple[bytes, bytes]:
    ctx = SUITE.create_recipient_context(enc, SUITE.kem.deserialize_private_key(sk_r), INFO,
                                         psk=psk, psk_id=device_id.encode())
    return ctx.export(b"sealscan/v1 chain", 32), ctx.export(b"sealscan/v1 ack", 32)


def record_keys(chain: bytes, n: int) -> list[bytes]:
    keys = []
    for _ in range(n):
        keys.append(hmac.new(chain, b"\x01", hashlib.sha256).digest()[:16])
        chain = hmac.new(chain, b"\x02", hashlib.sha256).digest()
    return keys


def aad(device_id: str, enc: bytes, index: int) -> bytes:
    return cbor2.dumps(["Encrypt0", PROTECTED, cbor2.dumps([device_id, enc, index])])


def host_open(key: bytes, device_id: str, enc: bytes, index: int, sealed: bytes) -> bytes:
    assert cbor2.dumps(cbor2.loads(sealed), canonical=True) == sealed  # deterministic CBOR
    protected, unprotected, ct = cbor2.loads(sealed)
    assert protected == PROTECTED and unprotected == {5: index.to_bytes(13, "big")}
    return AESCCM(key, 16).decrypt(unprotected[5], ct, aad(device_id, enc, index))


def host_seal(key: bytes, device_id: str, enc: bytes, index: int, plaintext: bytes) -> bytes:
    nonce = index.to_bytes(13, "big")
    ct = AESCCM(key, 16).encrypt(nonce, plaintext, aad(device_id, enc, index))
    return cbor2.dumps([PROTECTED, {5: nonce}, ct], canonical=True)


def keypair(rng: random.Random) -> tuple[bytes, bytes]:
    kp = SUITE.kem.derive_key_pair(rng.randbytes(32))
    return kp.private_key.to_private_bytes(), kp.public_key.to_public_bytes()


def host_sender(seed: int, device_id: str) -> tuple[dict, bytes, bytes, bytes]:
    """A fixed-ikmE host session: (driver case fields, enc, chain_0, ack_key)."""
    rng = random.Random(seed)
    _, pk_r = keypair(rng)
    psk = rng.randbytes(32)
    ikm_e = rng.randbytes(32)
    enc, ctx = SUITE.create_sender_context(
        SUITE.kem.deserialize_public_key(pk_r), INFO, psk=psk, psk_id=device_id.encode(),
        eks=SUITE.kem.derive_key_pair(ikm_e))
    case = {"device_id": device_id, "psk": psk.hex(), "pkR": pk_r.hex(), "ikmE": ikm_e.hex()}
    return case, enc, ctx.export(b"sealscan/v1 chain", 32), ctx.export(b"sealscan/v1 ack", 32)


def plaintext(t: int, carrier: str, waybill: str, token: bytes, courier: str) -> bytes:
    return cbor2.dumps({1: t, 2: carrier, 3: waybill, 4: token, 5: courier}, canonical=True)


# -- tests ------------------------------------------------------------------------------------

def test_ccm_matches_pyca_on_random_cases(firmware: Path, tmp_path: Path) -> None:
    rng = random.Random(20261123)
    cases = []
    for n in range(240):
        tag_len = 16 if n < 200 else rng.choice([4, 6, 8, 10, 12, 14])
        key = rng.randbytes(16)
        nonce = rng.randbytes(13 if n < 200 else rng.randint(7, 13))
        aad_ = rng.randbytes(rng.choice([0, 1, 15, 16, 17, rng.randint(0, 1024)]))
        msg = rng.randbytes(rng.choice([0, 1, 15, 16, 17, rng.randint(0, 1024)]))
        expected = AESCCM(key, tag_len).encrypt(nonce, msg, aad_)
        cases.append({"key": key.hex(), "nonce": nonce.hex(), "aad": aad_.hex(),
                      "msg": msg.hex(), "tag_len": tag_len, "expected": expected.hex(),
                      "flip": rng.randrange(1 << 16)})
    answers = drive(firmware, tmp_path, "ccm", cases)
    for case, answer in zip(cases, answers, strict=True):
        assert answer["ct"] == case["expected"]
        assert answer["back"] == case["msg"]
        assert answer["refused"] is True


def _canary_records(n: int, rng: random.Random) -> list[list]:
    return [[1_763_856_000 + i, "SF", f"SF{rng.randrange(10**13):013d}",
             f"RNID1:CANARY-{i}-{rng.randrange(10**9)}".encode().hex() * (1 + i % 7),
             f"courier-{i % 3}"] for i in range(n)]


def test_firmware_sealed_records_open_on_host(firmware: Path, tmp_path: Path) -> None:
    rng = random.Random(7)
    sk_r, pk_r = keypair(rng)
    psk = rng.randbytes(32)
    cases = [
        # a random ephemeral key from the device's os.urandom, and a fixed one via ikmE
        {"device_id": "depot-7.scanner_12", "psk": psk.hex(), "pkR": pk_r.hex(),
         "records": _canary_records(12, rng)},
        {"device_id": "A", "psk": psk.hex(), "pkR": pk_r.hex(), "ikmE": rng.randbytes(32).hex(),
         "records": _canary_records(3, rng)},
    ]
    answers = drive(firmware, tmp_path, "seal", cases)
    for case, answer in zip(cases, answers, strict=True):
        enc = bytes.fromhex(answer["enc"])
        chain, _ = receiver(sk_r, psk, case["device_id"], enc)
        keys = record_keys(chain, len(case["records"]))
        for i, (rec, sealed) in enumerate(zip(case["records"], answer["sealed"], strict=True)):
            t, carrier, waybill, token, courier = rec
            expected = plaintext(t, carrier, waybill, bytes.fromhex(token), courier)
            got = host_open(keys[i], case["device_id"], enc, i, bytes.fromhex(sealed))
            assert got == expected
            # bound to its index, its session and its device
            with pytest.raises(InvalidTag):
                AESCCM(keys[i], 16).decrypt(i.to_bytes(13, "big"), cbor2.loads(
                    bytes.fromhex(sealed))[2], aad(case["device_id"] + "x", enc, i))
        # the project's host library (sealscan.protocol) opens them too, and only at their index
        upstream = ReceiverSession(sk_r, case["device_id"], psk, enc)
        for i, sealed in enumerate(answer["sealed"]):
            assert upstream.open_record(i, bytes.fromhex(sealed)) == plaintext(
                *case["records"][i][:3], bytes.fromhex(case["records"][i][3]),
                case["records"][i][4])
        with pytest.raises(AuthenticationFailed):
            upstream.open_record(1, bytes.fromhex(answer["sealed"][0]))
        # a wrong device key derives another chain: nothing opens
        wrong_chain, _ = receiver(sk_r, bytes(32), case["device_id"], enc)
        with pytest.raises(InvalidTag):
            host_open(record_keys(wrong_chain, 1)[0], case["device_id"], enc, 0,
                      bytes.fromhex(answer["sealed"][0]))


def test_host_sealed_records_open_on_firmware(firmware: Path, tmp_path: Path) -> None:
    device_id = "dev-0042"
    case, enc, chain, _ = host_sender(8, device_id)
    keys = record_keys(chain, 6)
    plains = [plaintext(1_763_856_000 + i, "YTO", f"YT{i:013d}", b"RNID1:HOST" * (i + 1),
                        "c9") for i in range(6)]
    records = [[i, host_seal(keys[i], device_id, enc, i, p).hex()] for i, p in enumerate(plains)]
    tampered = bytearray.fromhex(records[2][1])
    tampered[-3] ^= 0x40
    records += [[2, tampered.hex()], [3, records[4][1]]]  # altered; another index's record
    case |= {"enc": enc.hex(), "records": records}
    [answer] = drive(firmware, tmp_path, "open", [case])
    assert answer["plaintexts"][:6] == [p.hex() for p in plains]
    assert answer["plaintexts"][6] == "AuthError"
    assert answer["plaintexts"][7] == "MalformedRecord"  # nonce belongs to index 4


def _answer_mac(ack_key: bytes, enc: bytes, ack: list[int], rej: dict, ver: dict) -> bytes:
    msg = cbor2.dumps(["ack", enc, ack, rej, ver], canonical=True)
    return hmac.new(ack_key, msg, hashlib.sha256).digest()


def test_ack_mac_checked_by_firmware(firmware: Path, tmp_path: Path) -> None:
    case, enc, _, ack_key = host_sender(9, "dev-ack")
    ack, rej, ver = [0, 1, 3, 12], {2: "decrypt", 20: "too-late"}, {0: "ok", 3: "expired"}
    good = _answer_mac(ack_key, enc, ack, rej, ver)

    def answer(ack=ack, rej=rej, ver=ver, mac=good, enc=enc) -> dict:
        body = cbor2.dumps({"ack": ack, "rej": rej, "ver": ver, "mac": mac}, canonical=True)
        return {"enc": enc.hex(), "ack": ack, "rej": {str(k): v for k, v in rej.items()},
                "ver": {str(k): v for k, v in ver.items()}, "mac": mac.hex(),
                "body": body.hex()}

    forged = [
        answer(mac=bytes(32)),
        answer(mac=good[:-1] + bytes([good[-1] ^ 1])),
        answer(ack=[0, 1, 3, 4]),  # an index changed, MAC kept
        answer(rej={2: "decrypt"}),  # a rejection removed
        answer(ver={0: "ok", 3: "ok"}),  # a verdict flipped
        answer(enc=bytes(32)),  # another session
        answer(mac=_answer_mac(bytes(32), enc, ack, rej, ver)),  # wrong key
        answer(mac=_answer_mac(ack_key, enc, [3, 1, 0, 12], rej, ver), ack=[3, 1, 0, 12]),
    ]
    case |= {"n": 5, "answers": [*forged, answer()]}
    [got] = drive(firmware, tmp_path, "ack", [case])
    assert got["verified"] == [False] * len(forged) + [True]
    assert got["settled"] == [-1] * len(forged) + [4]  # 0, 1, 3 acked, 2 rejected
    assert got["left"] == 1  # record 4 still waits for its ack


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_project_vectors_reproduced_by_firmware(firmware: Path, tmp_path: Path,
                                                path: Path) -> None:
    """docs/vectors: the firmware Sealer, fed each record's fields (decoded here from the
    vector's plaintext), produces the same enc, chain_0, ack_key and sealed bytes byte for
    byte; it accepts the vector's acks, refuses its invalid acks, and its receiver-side
    opener refuses the invalid records."""
    lines: list[dict] = []
    expect: list[tuple[str, object]] = []
    for case in json.loads(path.read_text()):
        session = {k: case[k] for k in ("device_id", "psk", "pkR", "ikmE")}
        lines.append({"session": session | {"keep": "batch" in case}})
        expect.append(("session", {k: case[k] for k in ("enc", "chain_0", "ack_key")}))
        for n, rec in enumerate(case["records"]):
            assert rec["index"] == n  # the sealer seals indices in order
            m = cbor2.loads(bytes.fromhex(rec["plaintext"]))
            lines.append({"record": [m[1], m[2], m[3], m[4].hex(), m[5]]})
            expect.append(("record", {"index": n, "sealed": rec["sealed"]}))
        if "batch" in case:  # the upload body, streamed from the firmware's queue
            lines.append({"batch": 1})
            expect.append(("batch", {"length": len(case["batch"]) // 2, "batch": case["batch"]}))
        for ack in case["acks"]:
            fields = {k: ack[k] for k in ("ack", "rej", "ver", "mac")}
            lines.append({"ack": fields})
            expect.append(("ack", {"verified": True}))
            lines.append({"answer": ack["answer"]})  # the body as received, decoded strictly
            expect.append(("answer", {"decoded": list(fields.values()), "verified": True}))
        for ack in case.get("invalid_acks", []):
            lines.append({"bad_ack": {k: ack[k] for k in ("ack", "rej", "ver", "mac")}})
            expect.append(("bad_ack " + ack["reason"], {"verified": False}))
        for bad in case["invalid"]:
            if bad["reason"] == "plaintext-extra-key":
                continue  # authentic ciphertext; the plaintext schema is the upstream's check
            lines.append({"invalid": [bad["index"], bad["sealed"]]})
            expect.append(("invalid " + bad["reason"], "refused"))
    answers = drive(firmware, tmp_path, "vectors", lines)
    for (what, want), got in zip(expect, answers, strict=True):
        if want == "refused":
            assert got["refused"] in ("MalformedRecord", "AuthError"), (what, got)
        else:
            assert got == want, what
