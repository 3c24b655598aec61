"""Batches and answers: strict decoding, and the ack MAC the device relies on."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealscan.protocol import (
    MAX_RECORDS,
    Answer,
    BadAckMac,
    Batch,
    MalformedAnswer,
    MalformedBatch,
    MalformedRecord,
    ProtocolError,
    ReceiverSession,
    Record,
    SenderSession,
    answer_mac,
    cbor,
    decode_answer,
    decode_batch,
    encode_answer,
    encode_batch,
)
from sealscan.protocol.keys import upstream_public_key
from sealscan.protocol.session import MAX_SEALED

SKR = bytes.fromhex("5a" * 32)
KEY = bytes.fromhex("a5" * 32)
DEV = "dev-9"


@pytest.fixture(scope="module")
def pair():
    s = SenderSession.start(upstream_public_key(SKR), DEV, KEY, ikmE=b"\x07" * 32)
    recs = [s.seal(Record(1_763_856_000, "YTO", f"YT{n:013d}", b"RNID1:T", "c1"))
            for n in range(4)]
    return s, ReceiverSession(SKR, DEV, KEY, s.enc), recs


def test_batch_round_trip(pair):
    s, _, recs = pair
    body = encode_batch(Batch(DEV, s.enc, list(reversed(recs))))
    b = decode_batch(body)
    assert b.device_id == DEV and b.enc == s.enc and b.records == list(reversed(recs))
    assert body.startswith(bytes.fromhex("a4617601636465766564"))  # {"v": 1, "dev": "dev-9"


def _body(**over):
    m = {"v": 1, "dev": DEV, "enc": b"\x01" * 32, "recs": [[0, b"\x80"]]}
    m.update(over)
    return cbor.dumps({k: v for k, v in m.items() if v is not None})


@pytest.mark.parametrize("body", [
    _body(v=2), _body(v=0), _body(dev="bad id"), _body(dev=""), _body(dev=b"dev"),
    _body(enc=b"\x01" * 31), _body(enc="x" * 32),
    _body(recs=[[0, b"\x80"]] * 2), _body(recs=[[i, b"\x80"] for i in range(65)]),
    _body(recs=[[1024, b"\x80"]]), _body(recs=[[-1, b"\x80"]]), _body(recs=[[0, b""]]),
    _body(recs=[[0, "x"]]), _body(recs=[[0]]), _body(recs=[[0, b"\x80", 1]]),
    _body(recs=[[0, b"\x80" * 1101]]), _body(recs={0: b"\x80"}),
    _body(extra=1), _body(v=None), _body(recs=None),
    cbor.dumps([1, DEV]), b"", b"\xa0", _body() + b"\x00", _body()[:-1],
])
def test_malformed_batches_are_typed(body):
    with pytest.raises(MalformedBatch):
        decode_batch(body)


def test_batch_limit_fits_largest_sealed_record():
    assert MAX_SEALED <= 1100
    decode_batch(_body(recs=[[i, b"\x80"] for i in range(MAX_RECORDS)]))


def test_correct_answer_is_accepted_and_round_trips(pair):
    s, r, _ = pair
    a = r.answer([2, 0, 1], {3: "decrypt"}, {0: "ok", 1: "expired"})
    assert a.ack == [0, 1, 2]
    s.verify_answer(a)
    b = decode_answer(encode_answer(a))
    assert b == a
    s.verify_answer(b)
    assert a.mac == answer_mac(s.ack_key, s.enc, [0, 1, 2], {3: "decrypt"},
                               {0: "ok", 1: "expired"})


def _variants(a):
    yield Answer([0, 1], a.rej, a.ver, a.mac)  # an ack dropped
    yield Answer(a.ack + [5], a.rej, a.ver, a.mac)  # an ack added
    yield Answer(a.ack, {}, a.ver, a.mac)  # rejection removed
    yield Answer(a.ack, {3: "malformed"}, a.ver, a.mac)  # reason changed
    yield Answer(a.ack, {3: "decrypt", 4: "decrypt"}, a.ver, a.mac)
    yield Answer(a.ack, a.rej, {0: "ok", 1: "ok"}, a.mac)  # verdict flipped to ok
    yield Answer(a.ack, a.rej, {0: "ok"}, a.mac)
    for pos in range(32):
        mac = bytearray(a.mac)
        mac[pos] ^= 0x40
        yield Answer(a.ack, a.rej, a.ver, bytes(mac))


def test_forged_or_altered_answers_are_refused(pair):
    s, r, _ = pair
    a = r.answer([0, 1, 2], {3: "decrypt"}, {0: "ok", 1: "expired"})
    for bad in _variants(a):
        with pytest.raises(BadAckMac):
            s.verify_answer(bad)
        with pytest.raises(BadAckMac):
            s.verify_answer(decode_answer(encode_answer(bad)))


def test_answer_from_another_session_is_refused(pair):
    s, _, _ = pair
    other = SenderSession.start(upstream_public_key(SKR), DEV, KEY, ikmE=b"\x08" * 32)
    replay = ReceiverSession(SKR, DEV, KEY, other.enc).answer([0], {}, {0: "ok"})
    other.verify_answer(replay)
    with pytest.raises(BadAckMac):
        s.verify_answer(replay)
    # same session, other device (other psk_id): other ack key
    s3 = SenderSession.start(upstream_public_key(SKR), "dev-8", KEY, ikmE=b"\x07" * 32)
    with pytest.raises(BadAckMac):
        s3.verify_answer(ReceiverSession(SKR, DEV, KEY, s3.enc).answer([0], {}, {}))


def _answer(**over):
    m = {"ack": [0, 1], "rej": {2: "decrypt"}, "ver": {0: "ok"}, "mac": b"\x00" * 32}
    m.update(over)
    return cbor.dumps({k: v for k, v in m.items() if v is not None})


@pytest.mark.parametrize("body", [
    _answer(ack=[1, 0]), _answer(ack=[0, 0]), _answer(ack=[1024]), _answer(ack=[-1]),
    _answer(ack=list(range(65))), _answer(ack={0: 1}), _answer(rej={0: "decrypt"}),
    _answer(rej={2: "Decrypt"}), _answer(rej={2: ""}), _answer(rej={2: 5}),
    _answer(rej=[2]), _answer(ver={5: "ok"}), _answer(ver={0: "fine"}), _answer(ver={0: 1}),
    _answer(mac=b"\x00" * 31), _answer(mac="m"), _answer(mac=None), _answer(extra=0),
    b"", b"\x80", _answer() + b"\x00", _answer()[:-3],
])
def test_malformed_answers_are_typed(body):
    with pytest.raises(MalformedAnswer):
        decode_answer(body)


def test_answer_mac_refuses_bad_parts():
    with pytest.raises(MalformedAnswer):
        answer_mac(b"\x00" * 32, b"\x00" * 32, [1, 0], {}, {})
    with pytest.raises(MalformedAnswer):
        answer_mac(b"\x00" * 16, b"\x00" * 32, [0], {}, {})


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_foreign_errors(data):
    for decode in (decode_batch, decode_answer, Record.decode):
        try:
            decode(data)
        except ProtocolError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.integers(-2**64, 2**64 - 1) | st.binary(max_size=40)
                    | st.text(max_size=10),
                    lambda c: st.lists(c, max_size=4)
                    | st.dictionaries(st.integers(0, 10) | st.text(max_size=4), c,
                                      max_size=5),
                    max_leaves=20))
def test_arbitrary_cbor_never_raises_foreign_errors(obj):
    data = cbor.dumps(obj)
    for decode in (decode_batch, decode_answer, Record.decode):
        try:
            decode(data)
        except ProtocolError:
            pass
    r = ReceiverSession(SKR, DEV, KEY, b"\x09" * 32)
    with pytest.raises((MalformedRecord, ProtocolError)):
        r.open_record(0, data)


def test_mutated_batches_and_answers_raise_only_typed_errors(pair):
    import random

    s, r, recs = pair
    bodies = [encode_batch(Batch(DEV, s.enc, recs)),
              encode_answer(r.answer([0, 1], {2: "decrypt"}, {0: "ok", 1: "expired"}))]
    rng = random.Random(5)
    for _ in range(3000):
        body = bytearray(rng.choice(bodies))
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(3)
            pos = rng.randrange(len(body))
            if op == 0:
                body[pos] = rng.randrange(256)
            elif op == 1:
                del body[pos:pos + rng.randint(1, 8)]
            else:
                body[pos:pos] = rng.randbytes(rng.randint(1, 4))
        for decode in (decode_batch, decode_answer):
            try:
                decode(bytes(body))
            except ProtocolError:
                pass
