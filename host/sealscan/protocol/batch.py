"""Batch (device -> upstream) and answer (upstream -> device) bodies of protocol v1.

    batch  = {"v": 1, "dev": device id, "enc": bstr 32, "recs": [[i, bstr sealed], ...]}
             0..64 records (0: a lease renewal, protocol 6.2), indices 0..1023, no index
             twice, any order
    answer = {"ack": [i, ...], "rej": {i: reason}, "ver": {i: verdict}, "mac": bstr 32}
             ack strictly ascending; rej disjoint from ack; ver keys are acked indices
    mac    = HMAC-SHA256(ack_key, CBOR ["ack", enc, ack, rej, ver])

Both are deterministic CBOR with exactly these keys; anything else is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

import cbor2

from sealscan.protocol import cbor
from sealscan.protocol.errors import InvalidDeviceId, MalformedAnswer, MalformedBatch
from sealscan.protocol.keys import check_device_id

VERSION = 1
MAX_RECORDS = 64
MAX_INDEX = 1023
MAX_SEALED_IN_BATCH = 1100  # >= session.MAX_SEALED; checked by a test
VERDICTS = ("ok", "bad-signature", "expired", "unknown-issuer")
_REASON = re.compile(r"[a-z0-9-]{1,32}")
_BATCH_KEYS = sorted(["v", "dev", "enc", "recs"], key=cbor.dumps)
_ANSWER_KEYS = sorted(["ack", "rej", "ver", "mac"], key=cbor.dumps)


def _is_uint(x: object, top: int) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= top


@dataclass
class Batch:
    device_id: str
    enc: bytes
    records: list[tuple[int, bytes]] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Batch(device_id={self.device_id!r}, records={len(self.records)})"


def _check_batch(device_id: object, enc: object, recs: object) -> list[tuple[int, bytes]]:
    try:
        check_device_id(device_id)
    except InvalidDeviceId as e:
        raise MalformedBatch(f"batch dev: {e}") from None
    if not isinstance(enc, bytes) or len(enc) != 32:
        raise MalformedBatch("batch enc: must be 32 bytes")
    if not isinstance(recs, list | tuple) or len(recs) > MAX_RECORDS:
        raise MalformedBatch(f"batch recs: must be an array of 0-{MAX_RECORDS} records")
    out: list[tuple[int, bytes]] = []
    seen: set[int] = set()
    for entry in recs:
        if not isinstance(entry, list | tuple) or len(entry) != 2:
            raise MalformedBatch("batch recs: each entry must be [index, sealed record]")
        i, sealed = entry
        if not _is_uint(i, MAX_INDEX):
            raise MalformedBatch(f"batch recs: index must be a uint 0..{MAX_INDEX}")
        if i in seen:
            raise MalformedBatch(f"batch recs: index {i} twice")
        if not isinstance(sealed, bytes) or not 1 <= len(sealed) <= MAX_SEALED_IN_BATCH:
            raise MalformedBatch(f"batch recs: sealed record must be 1-{MAX_SEALED_IN_BATCH} "
                                 "bytes")
        seen.add(i)
        out.append((i, sealed))
    return out


def _layout(device_id: str, enc: bytes, recs: list[tuple[int, bytes]]) -> bytes:
    """The deterministic encoding of a checked batch, written as its fixed layout:
    a4 | 61 "v" 01 | 63 "dev" tstr | 63 "enc" 58 20 enc | 64 "recs" array of [i, bstr]
    (the keys in RFC 8949 bytewise order; tests compare it with `cbor.dumps`)."""
    dev = device_id.encode()
    parts = [b"\xa4\x61v\x01\x63dev", cbor.head(3, len(dev)), dev, b"\x63enc\x58\x20", enc,
             b"\x64recs", cbor.head(4, len(recs))]
    for i, sealed in recs:
        parts += (b"\x82", cbor.head(0, i), cbor.head(2, len(sealed)), sealed)
    return b"".join(parts)


def encode_batch(batch: Batch) -> bytes:
    return _layout(batch.device_id, batch.enc,
                   _check_batch(batch.device_id, batch.enc, batch.records))


def decode_batch(data: bytes) -> Batch:
    """Strict: exactly the deterministic encoding of a v1 batch, else MalformedBatch.
    cbor2's C decoder reads it; it is accepted only if the values pass the batch checks
    AND writing them back as the fixed layout gives exactly `data` (no other key order,
    head form, duplicate key, tag, float or trailing byte gets through). Tests check it
    against the generic strict decoder on mutated bodies."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedBatch(f"batch: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > cbor.MAX_INPUT:
        raise MalformedBatch(f"batch: {len(data)} bytes is too large")
    try:
        m = cbor2.loads(data)
    except Exception:  # cbor2 raises many types on garbage
        raise MalformedBatch("batch: not CBOR") from None
    if type(m) is not dict or list(m) != _BATCH_KEYS:
        raise MalformedBatch('batch: must be a map with exactly "v", "dev", "enc", "recs" '
                             "(in deterministic order)")
    if type(m["v"]) is not int or m["v"] != VERSION:
        raise MalformedBatch(f"batch v: unsupported version (this is v{VERSION})")
    recs = _check_batch(m["dev"], m["enc"], m["recs"])
    if _layout(m["dev"], m["enc"], recs) != data:
        raise MalformedBatch("batch: not deterministic CBOR (RFC 8949 4.2.1)")
    return Batch(device_id=m["dev"], enc=m["enc"], records=recs)


@dataclass
class Answer:
    ack: list[int]
    rej: dict[int, str]
    ver: dict[int, str]
    mac: bytes


def _check_parts(ack: object, rej: object, ver: object) -> None:
    if not isinstance(ack, list | tuple) or len(ack) > MAX_RECORDS:
        raise MalformedAnswer(f"answer ack: must be an array of at most {MAX_RECORDS}")
    if not all(_is_uint(i, MAX_INDEX) for i in ack):
        raise MalformedAnswer(f"answer ack: indices must be uints 0..{MAX_INDEX}")
    if any(a >= b for a, b in zip(ack, ack[1:], strict=False)):
        raise MalformedAnswer("answer ack: indices must be strictly ascending")
    for name, m in (("rej", rej), ("ver", ver)):
        if not isinstance(m, dict) or len(m) > MAX_RECORDS:
            raise MalformedAnswer(f"answer {name}: must be a map of at most {MAX_RECORDS}")
        if not all(_is_uint(i, MAX_INDEX) for i in m):
            raise MalformedAnswer(f"answer {name}: keys must be uints 0..{MAX_INDEX}")
    assert isinstance(rej, dict) and isinstance(ver, dict)
    if not all(isinstance(r, str) and _REASON.fullmatch(r) for r in rej.values()):
        raise MalformedAnswer("answer rej: reasons must be 1-32 of a-z 0-9 -")
    if not all(v in VERDICTS for v in ver.values()):
        raise MalformedAnswer(f"answer ver: verdicts must be one of {', '.join(VERDICTS)}")
    acked = set(ack)
    if acked & set(rej):
        raise MalformedAnswer("answer: an index is both acked and rejected")
    if not set(ver) <= acked:
        raise MalformedAnswer("answer ver: a verdict for an index that is not acked")


def check_answer(answer: Answer) -> None:
    """Raise MalformedAnswer unless `answer` is a structurally valid v1 answer."""
    _check_parts(answer.ack, answer.rej, answer.ver)
    if not isinstance(answer.mac, bytes) or len(answer.mac) != 32:
        raise MalformedAnswer("answer mac: must be 32 bytes")


_MAC_HEAD = b"\x85" + cbor.dumps("ack")  # CBOR ["ack", ...] (5 elements) up to enc


def _mac_and_parts(ack_key: bytes, enc: bytes, ack: list[int], rej: dict[int, str],
                   ver: dict[int, str]) -> tuple[bytes, bytes, bytes, bytes]:
    """The MAC and the encodings of ack, rej and ver (each encoded once: the MAC input
    and the answer body are both concatenations of them)."""
    _check_parts(ack, rej, ver)
    if not isinstance(ack_key, bytes) or len(ack_key) != 32:
        raise MalformedAnswer("ack key: must be 32 bytes")
    if not isinstance(enc, bytes) or len(enc) != 32:
        raise MalformedAnswer("enc: must be 32 bytes")
    a, r, v = cbor.dumps(list(ack)), cbor.dumps(dict(rej)), cbor.dumps(dict(ver))
    msg = b"".join((_MAC_HEAD, cbor.dumps(enc), a, r, v))
    return hmac.new(ack_key, msg, hashlib.sha256).digest(), a, r, v


def answer_mac(ack_key: bytes, enc: bytes, ack: list[int], rej: dict[int, str],
               ver: dict[int, str]) -> bytes:
    """HMAC-SHA256(ack_key, CBOR ["ack", enc, ack, rej, ver])."""
    return _mac_and_parts(ack_key, enc, ack, rej, ver)[0]


def answer_body(ack_key: bytes, enc: bytes, ack: list[int], rej: dict[int, str],
                ver: dict[int, str]) -> bytes:
    """The encoded answer with its MAC, in one pass: the same bytes as
    `encode_answer(Answer(ack, rej, ver, answer_mac(ack_key, enc, ack, rej, ver)))`
    (keys in deterministic order: "ack", "mac", "rej", "ver")."""
    mac, a, r, v = _mac_and_parts(ack_key, enc, ack, rej, ver)
    return b"".join((b"\xa4\x63ack", a, b"\x63mac\x58\x20", mac, b"\x63rej", r, b"\x63ver", v))


def encode_answer(answer: Answer) -> bytes:
    check_answer(answer)
    return cbor.dumps({"ack": list(answer.ack), "rej": answer.rej, "ver": answer.ver,
                       "mac": answer.mac})


def decode_answer(data: bytes) -> Answer:
    m = cbor.loads_strict(data, MalformedAnswer, "answer")
    if not isinstance(m, dict) or sorted(m, key=cbor.dumps) != _ANSWER_KEYS:
        raise MalformedAnswer('answer: must be a map with exactly "ack", "rej", "ver", "mac"')
    answer = Answer(ack=list(m["ack"]) if isinstance(m["ack"], list | tuple) else m["ack"],
                    rej=m["rej"], ver=m["ver"], mac=m["mac"])
    check_answer(answer)
    return answer
