"""The ingest hot path's fast decoders agree with their definitions on valid and mutated
input: base45 (table-driven) against RFC 9285 read character by character; the record map
and the batch body (cbor2 + exact re-encode of a fixed layout) against the generic strict
decoder; the fixed-layout encoders against the generic deterministic encoder. (The
sealed record's layout reader: tests/host/test_protocol_session.py.)"""

import random
import time

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealscan import codes
from sealscan.protocol import (
    VERDICTS,
    Answer,
    Batch,
    MalformedBatch,
    MalformedRecord,
    Record,
    answer_mac,
    cbor,
    decode_answer,
    decode_batch,
    encode_answer,
    encode_batch,
)
from sealscan.protocol.batch import answer_body

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def rfc9285_decode(text):
    """RFC 9285 section 4.2, one group at a time (the oracle)."""
    if len(text) % 3 == 1:
        raise codes.MalformedCode("lone character")
    out = b""
    for k in range(0, len(text), 3):
        group = text[k:k + 3]
        if any(c not in ALPHABET for c in group):
            raise codes.MalformedCode("alphabet")
        value = 0
        for c in reversed(group):
            value = value * 45 + ALPHABET.index(c)
        width = 2 if len(group) == 3 else 1
        if value >= 256 ** width:
            raise codes.MalformedCode("range")
        out += value.to_bytes(width, "big")
    return out


def outcome(fn, arg):
    try:
        return fn(arg)
    except codes.MalformedCode:
        return "malformed"


def mutate_text(rng, text):
    pool = ALPHABET + "abcxyz_#é\u00a0\x00\n~GGWZZ"
    t = list(text)
    kind = rng.randrange(5)
    if kind == 0 and t:
        t[rng.randrange(len(t))] = rng.choice(pool)
    elif kind == 1:
        t.insert(rng.randrange(len(t) + 1), rng.choice(pool))
    elif kind == 2 and t:
        del t[rng.randrange(len(t))]
    elif kind == 3:
        t = t[:rng.randrange(len(t) + 1)]
    else:  # the largest values: triples around 65535, pairs around 255
        t += rng.choice(["FGW", "GGW", "ZZZ", ":::", "U5", "V5", "::", "00"])
    return "".join(t)


def test_base45_agrees_with_rfc_on_tokens_and_mutations():
    issuer = codes.new_test_issuer(b"\x05" * 32)
    now = int(time.time())
    bodies = [codes.make_identity_token(issuer, id_type=11, id_number="11010519491231002X",
                                        name=f"测试{k}", phone="13912345678", issued_at=now,
                                        expires_at=now + k)[6:] for k in range(4)]
    rng = random.Random(45)
    for _ in range(4000):
        text = rng.choice(bodies)
        for _ in range(rng.randint(0, 3)):
            text = mutate_text(rng, text)
        assert outcome(codes.b45decode, text) == outcome(rfc9285_decode, text), text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET + "a~é", max_size=40))
def test_base45_agrees_with_rfc_on_any_text(text):
    assert outcome(codes.b45decode, text) == outcome(rfc9285_decode, text)


def test_base45_refuses_non_text():
    with pytest.raises(codes.MalformedCode):
        codes.b45decode(b"BB8")  # type: ignore[arg-type]


records = st.builds(Record, capture_time=st.integers(0, 2**32 - 1),
                    carrier=st.text(min_size=1, max_size=16),
                    waybill=st.text(min_size=1, max_size=40),
                    identity_token=st.binary(min_size=1, max_size=768),
                    courier_id=st.text(min_size=1, max_size=32))


@settings(max_examples=300, deadline=None)
@given(records)
def test_record_layout_encoder_is_the_generic_deterministic_encoding(rec):
    data = rec.encode()
    assert data == cbor.dumps({1: rec.capture_time, 2: rec.carrier, 3: rec.waybill,
                               4: rec.identity_token, 5: rec.courier_id})
    assert Record.decode(data) == rec


def mutate_cbor(rng, blob):
    """1-3 bit flips, CBOR-meaningful byte values (long heads, indefinite lengths, tags,
    simple values, floats, break), insertions or deletions."""
    b = bytearray(blob)
    for _ in range(rng.randint(1, 3)):
        p = rng.randrange(len(b))
        kind = rng.randrange(4)
        if kind == 0:
            b[p] ^= 1 << rng.randrange(8)
        elif kind == 1:
            b[p] = rng.choice([0x00, 0x18, 0x19, 0x1a, 0x1b, 0x5f, 0x7f, 0x9f, 0xbf, 0xc0,
                               0xc2, 0xd8, 0xf4, 0xf5, 0xf6, 0xf9, 0xfa, 0xff])
        elif kind == 2:
            b[p:p] = rng.randbytes(rng.randint(1, 3))
        else:
            del b[p:p + rng.randint(1, 3)]
    return bytes(b)


def reference_record(data):
    m = cbor.loads_strict(data, MalformedRecord, "record")
    if not isinstance(m, dict) or sorted(m, key=cbor.dumps) != [1, 2, 3, 4, 5]:
        raise MalformedRecord("keys")
    return Record(m[1], m[2], m[3], m[4], m[5])


def record_outcome(fn, data):
    try:
        return fn(data)
    except MalformedRecord:
        return "malformed"


VALID = Record(1763856000, "SF", "SF1234567890123", b"RNID1:AAAA", "courier-7").encode()
# Hand-made near misses of a valid record: each is valid CBOR that decodes to (nearly) the
# same values, so only the exact re-encode comparison can tell it apart.
NEAR_MISSES = [
    VALID + b"\x00",                                       # trailing byte
    b"\xbf" + VALID[1:] + b"\xff",                         # indefinite-length map
    b"\xa5\x01\x1b" + (1763856000).to_bytes(8, "big") + VALID[7:],  # long-form uint
    b"\xa5\x01\xc2\x44" + (1763856000).to_bytes(4, "big") + VALID[7:],  # bignum tag
    b"\xa5\xf5" + VALID[2:],                               # key true (== 1 in Python)
    b"\xa5\xf9\x3c\x00" + VALID[2:],                       # key 1.0 (== 1 in Python)
    b"\xa5\x18\x01" + VALID[2:],                           # key 1, long head
    b"\xa5\xd8\x18\x01" + VALID[2:],                       # tagged key
    b"\xa6" + VALID[1:] + b"\x01\x00",                     # duplicate key 1 at the end
    b"\xa5\x02" + VALID[8:11] + b"\x01" + VALID[2:7] + VALID[11:],  # keys 2, 1: unsorted
]


@pytest.mark.parametrize("data", NEAR_MISSES, ids=range(len(NEAR_MISSES)))
def test_record_decode_refuses_near_misses_like_the_strict_decoder(data):
    assert record_outcome(reference_record, data) == "malformed"
    assert record_outcome(Record.decode, data) == "malformed"


def test_record_decode_agrees_with_strict_decoder_on_mutations():
    rng = random.Random(11)
    valid = [VALID, Record(0, "顺丰", "W" * 40, b"x" * 768, "c" * 32).encode(),
             Record(23, "S", "w", b"t", "c").encode()]
    pool = valid + NEAR_MISSES
    accepted = 0
    for _ in range(6000):
        data = mutate_cbor(rng, rng.choice(pool))
        accepted += record_outcome(Record.decode, data) != "malformed"
        assert record_outcome(Record.decode, data) == record_outcome(reference_record, data), \
            data.hex()
    assert accepted > 100  # mutations inside text fields still decode


# --- batch bodies: cbor2 + layout re-encode against the generic strict decoder -------------

def reference_batch(data):
    """The batch rule read through the generic strict decoder (the oracle)."""
    from sealscan.protocol.batch import _BATCH_KEYS, _check_batch

    m = cbor.loads_strict(data, MalformedBatch, "batch")
    if not isinstance(m, dict) or sorted(m, key=cbor.dumps) != _BATCH_KEYS:
        raise MalformedBatch("keys")
    if m["v"] != 1 or isinstance(m["v"], bool):
        raise MalformedBatch("version")
    return Batch(m["dev"], m["enc"], _check_batch(m["dev"], m["enc"], m["recs"]))


def batch_outcome(fn, data):
    try:
        b = fn(data)
    except MalformedBatch:
        return "malformed"
    return (b.device_id, b.enc, b.records)


batches = st.builds(
    Batch, device_id=st.from_regex(r"[A-Za-z0-9._-]{1,32}", fullmatch=True),
    enc=st.binary(min_size=32, max_size=32),
    records=st.dictionaries(st.integers(0, 1023), st.binary(min_size=1, max_size=300),
                            min_size=1, max_size=64).map(lambda d: list(d.items())))


@settings(max_examples=200, deadline=None)
@given(batches)
def test_batch_layout_encoder_is_the_generic_deterministic_encoding(batch):
    data = encode_batch(batch)
    assert data == cbor.dumps({"v": 1, "dev": batch.device_id, "enc": batch.enc,
                               "recs": [list(r) for r in batch.records]})
    assert batch_outcome(decode_batch, data) == batch_outcome(reference_batch, data) \
        == (batch.device_id, batch.enc, batch.records)


def _body(recs, **over):
    m = {"v": 1, "dev": "dev-7", "enc": bytes(32), "recs": recs, **over}
    return cbor.dumps(m)


GOOD = _body([[0, b"\x83\x44"], [1000, b"x" * 30]])
BATCH_NEAR_MISSES = [
    GOOD + b"\x00",
    b"\xbf" + GOOD[1:] + b"\xff",                      # indefinite-length map
    cbor2.dumps({"dev": "dev-7", "v": 1, "enc": bytes(32), "recs": [[0, b"\x83\x44"]]}),
    _body([[0, b"\x83\x44"]], v=2),
    GOOD.replace(b"\x61v\x01", b"\x61v\xf5"),          # v: true
    GOOD.replace(b"\x61v\x01", b"\x61v\xf9\x3c\x00"),  # v: 1.0
    GOOD.replace(b"\x61v\x01", b"\x61v\x18\x01"),      # v: long head
    GOOD.replace(b"\x82\x00", b"\x82\xc2\x41\x00", 1),  # index as a bignum tag
    GOOD.replace(b"\x19\x03\xe8", b"\x1a\x00\x00\x03\xe8"),  # index 1000, long head
    GOOD.replace(b"\x82\x00", b"\x82\x00\x00", 1)[:-1],  # entry of 3
    b"\xa5" + GOOD[1:] + b"\x61v\x01",                 # duplicate key "v"
    _body([[0, b"a"], [0, b"b"]]),                     # index twice
    _body([[0, "text"]]),
]


@pytest.mark.parametrize("data", BATCH_NEAR_MISSES, ids=range(len(BATCH_NEAR_MISSES)))
def test_batch_decode_refuses_near_misses_like_the_strict_decoder(data):
    assert batch_outcome(reference_batch, data) == "malformed"
    assert batch_outcome(decode_batch, data) == "malformed"


def test_batch_decode_agrees_with_strict_decoder_on_mutations():
    rng = random.Random(12)
    pool = [GOOD, _body([[k, bytes([k % 256]) * (k + 1)] for k in range(0, 640, 10)]),
            _body([[5, b"z" * 1100]], dev="D" * 32), _body([]),  # [] asks for a lease renewal
            *BATCH_NEAR_MISSES]
    accepted = 0
    for _ in range(4000):
        data = mutate_cbor(rng, rng.choice(pool))
        fast = batch_outcome(decode_batch, data)
        assert fast == batch_outcome(reference_batch, data), data.hex()
        accepted += fast != "malformed"
    assert accepted > 100  # mutations inside sealed bytes or the device id still decode


# --- answers: one-pass body against Answer + answer_mac + encode_answer --------------------

answers = st.builds(
    lambda ack, rej, ver_ok: (sorted(ack), {i: r for i, r in rej.items() if i not in ack},
                              {i: v for i, v in ver_ok.items() if i in ack}),
    st.sets(st.integers(0, 1023), max_size=64),
    st.dictionaries(st.integers(0, 1023), st.sampled_from(["decrypt", "malformed", "conflict"]),
                    max_size=64),
    st.dictionaries(st.integers(0, 1023), st.sampled_from(VERDICTS), max_size=64))


@settings(max_examples=200, deadline=None)
@given(answers, st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_answer_body_is_the_encoded_maced_answer(parts, ack_key, enc):
    ack, rej, ver = parts
    body = answer_body(ack_key, enc, ack, rej, ver)
    mac = answer_mac(ack_key, enc, ack, rej, ver)
    assert body == encode_answer(Answer(ack, rej, ver, mac))
    assert decode_answer(body) == Answer(ack, rej, ver, mac)
