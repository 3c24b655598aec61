"""Sessions, records and tamper resistance of the host sealer/opener."""

import random

import pytest

from sealscan.protocol import (
    MAX_SESSION_RECORDS,
    AuthenticationFailed,
    InvalidDeviceId,
    InvalidKey,
    MalformedRecord,
    ProtocolError,
    ReceiverSession,
    Record,
    SenderSession,
    SessionExhausted,
    cbor,
    check_device_id,
)
from sealscan.protocol.session import NONCE_LEN, PROTECTED

SKR = bytes.fromhex("3c" * 32)
DEVICE_KEY = bytes(range(32))
DEVICE_ID = "depot7-scanner.042"
CANARY = "CANARY-ZHANG-SAN-11010519491231002X"


def upstream_pk():
    from sealscan.protocol.keys import upstream_public_key
    return upstream_public_key(SKR)


def record(n=0):
    return Record(capture_time=1_763_856_000 + n, carrier="SF", waybill=f"SF{n:013d}",
                  identity_token=f"RNID1:{CANARY}".encode(), courier_id="C-0042")


@pytest.fixture(scope="module")
def sealed():
    s = SenderSession.start(upstream_pk(), DEVICE_ID, DEVICE_KEY, ikmE=bytes(32))
    return s, [s.seal(record(n)) for n in range(5)]


def receiver(enc, device_id=DEVICE_ID, key=DEVICE_KEY):
    return ReceiverSession(SKR, device_id, key, enc)


def test_records_open_in_any_order(sealed):
    s, recs = sealed
    r = receiver(s.enc)
    for i, blob in reversed(recs):
        assert r.open(i, blob) == record(i)
    assert r.open_record(2, recs[2][1]) == record(2).encode()
    assert [i for i, _ in recs] == list(range(5))


def test_sealed_record_layout(sealed):
    _, recs = sealed
    i, blob = recs[3]
    obj = cbor.loads_strict(blob, MalformedRecord, "x")
    assert obj[0] == PROTECTED and obj[1] == {5: i.to_bytes(NONCE_LEN, "big")}
    assert len(obj[2]) == len(record(3).encode()) + 16
    assert CANARY.encode() not in blob


def test_every_single_byte_change_is_refused_with_the_right_error(sealed):
    s, recs = sealed
    r = receiver(s.enc)
    i, blob = recs[1]
    ct_start = len(blob) - len(cbor.loads_strict(blob, MalformedRecord, "x")[2])
    nonce_bytes = range(9, 9 + NONCE_LEN)
    for pos in range(len(blob)):
        expected = (AuthenticationFailed if pos >= ct_start or pos in nonce_bytes
                    else MalformedRecord)
        for value in range(256):
            if value == blob[pos]:
                continue
            bad = blob[:pos] + bytes([value]) + blob[pos + 1:]
            with pytest.raises(expected):
                r.open_record(i, bad)


def test_sender_keeps_no_earlier_key_material():
    """After sealing record i the host sealer holds no chain_j (j <= i), no K_j, no plaintext."""
    import hashlib
    import hmac
    s = SenderSession.start(upstream_pk(), DEVICE_ID, DEVICE_KEY, ikmE=b"\x04" * 32)
    chain = s._chain
    earlier = []
    for n in range(3):
        earlier += [chain, hmac.new(chain, b"\x01", hashlib.sha256).digest()[:16]]
        chain = hmac.new(chain, b"\x02", hashlib.sha256).digest()
        s.seal(record(n))
        state = b"".join(v for v in vars(s).values() if isinstance(v, bytes))
        for secret in earlier:
            assert secret not in state
        assert CANARY.encode() not in state
        assert s._chain == chain  # only the next chain key is held


def test_wrong_index_is_refused(sealed):
    s, recs = sealed
    r = receiver(s.enc)
    i, blob = recs[1]
    for other in [0, 2, 3, 5, 17, 1023, i ^ 0x100]:
        with pytest.raises(AuthenticationFailed):
            r.open_record(other, blob)
        # even with the nonce rewritten to match, the key and AAD of `other` do not fit
        obj = cbor.loads_strict(blob, MalformedRecord, "x")
        moved = cbor.dumps([obj[0], {5: other.to_bytes(NONCE_LEN, "big")}, obj[2]])
        with pytest.raises(AuthenticationFailed):
            r.open_record(other, moved)
    for bad in [-1, 1024, 2**64, True, "1", None]:
        with pytest.raises(MalformedRecord):
            r.open_record(bad, blob)


def test_every_enc_byte_change_is_refused(sealed):
    s, recs = sealed
    i, blob = recs[0]
    for pos in range(32):
        for mask in (0x01, 0x80, 0xFF):
            enc = bytearray(s.enc)
            enc[pos] ^= mask
            with pytest.raises(AuthenticationFailed):
                receiver(bytes(enc)).open_record(i, blob)
    for bad in [s.enc[:31], s.enc + b"\0", b""]:
        with pytest.raises(MalformedRecord):
            receiver(bad)


def test_every_device_id_change_is_refused(sealed):
    s, recs = sealed
    i, blob = recs[0]
    for pos in range(len(DEVICE_ID)):
        for c in "A0._-z":
            if DEVICE_ID[pos] == c:
                continue
            other = DEVICE_ID[:pos] + c + DEVICE_ID[pos + 1:]
            with pytest.raises(AuthenticationFailed):
                receiver(s.enc, device_id=other).open_record(i, blob)
    for bad in ["", "x" * 33, "dev ice", "dév", "a/b", "a\n", None, b"dev"]:
        with pytest.raises(InvalidDeviceId):
            receiver(s.enc, device_id=bad)
        with pytest.raises(InvalidDeviceId):
            check_device_id(bad)


def test_wrong_device_key_is_refused(sealed):
    s, recs = sealed
    for n in range(8):
        key = bytearray(DEVICE_KEY)
        key[n * 4] ^= 1 << (n % 8)
        with pytest.raises(AuthenticationFailed):
            receiver(s.enc, key=bytes(key)).open_record(*recs[0])
    with pytest.raises(InvalidKey):
        receiver(s.enc, key=DEVICE_KEY[:16])


def test_low_order_keys_are_typed_errors():
    with pytest.raises(InvalidKey):
        SenderSession.start(bytes(32), DEVICE_ID, DEVICE_KEY)
    with pytest.raises(AuthenticationFailed):
        receiver(bytes(32))


def test_sessions_differ_and_do_not_cross_open(sealed):
    s, recs = sealed
    s2 = SenderSession.start(upstream_pk(), DEVICE_ID, DEVICE_KEY, ikmE=b"\x01" * 32)
    i2, blob2 = s2.seal(record(0))
    assert s2.enc != s.enc and s2.ack_key != s.ack_key
    assert blob2 != recs[0][1]  # same index and plaintext, other session: other ciphertext
    with pytest.raises(AuthenticationFailed):
        receiver(s.enc).open_record(i2, blob2)
    assert receiver(s2.enc).open(i2, blob2) == record(0)


def test_random_ephemeral_keys_by_default():
    a = SenderSession.start(upstream_pk(), DEVICE_ID, DEVICE_KEY)
    b = SenderSession.start(upstream_pk(), DEVICE_ID, DEVICE_KEY)
    assert a.enc != b.enc


def test_session_is_exhausted_after_1024_records():
    s = SenderSession.start(upstream_pk(), DEVICE_ID, DEVICE_KEY, ikmE=b"\x02" * 32)
    pt = record(0).encode()
    last = None
    for _ in range(MAX_SESSION_RECORDS):
        last = s.seal(pt)
    assert last[0] == MAX_SESSION_RECORDS - 1
    with pytest.raises(SessionExhausted):
        s.seal(pt)
    assert receiver(s.enc).open(*last) == record(0)


def test_plaintext_that_is_not_a_record_is_refused_after_opening():
    s = SenderSession.start(upstream_pk(), DEVICE_ID, DEVICE_KEY, ikmE=b"\x03" * 32)
    r = receiver(s.enc)
    for pt in [b"\xa0", cbor.dumps({1: 1, 2: "SF", 3: "x", 4: b"t", 5: "c", 6: 0}),
               cbor.dumps([1, 2, 3]), b"\xff"]:
        with pytest.raises(MalformedRecord):
            r.open_record(*s.seal(pt))


@pytest.mark.parametrize("m", [
    {1: 1, 2: "SF", 3: "w", 4: b"t"},  # missing key
    {1: 1, 2: "SF", 3: "w", 4: b"t", 5: "c", 6: "extra"},
    {1: -1, 2: "SF", 3: "w", 4: b"t", 5: "c"},
    {1: 2**32, 2: "SF", 3: "w", 4: b"t", 5: "c"},
    {1: 1, 2: b"SF", 3: "w", 4: b"t", 5: "c"},
    {1: 1, 2: "SF", 3: "w", 4: "t", 5: "c"},
    {1: 1, 2: "", 3: "w", 4: b"t", 5: "c"},
    {1: 1, 2: "SF", 3: "w" * 41, 4: b"t", 5: "c"},
    {1: 1, 2: "SF", 3: "w", 4: b"t" * 769, 5: "c"},
    {"1": 1, 2: "SF", 3: "w", 4: b"t", 5: "c"},
])
def test_record_decode_is_strict(m):
    with pytest.raises(MalformedRecord):
        Record.decode(cbor.dumps(m))


def test_record_repr_hides_identity():
    assert CANARY not in repr(record(0)) and "SF0000" not in repr(record(0))


def _mutate(rng, blob, others):
    kind = rng.randrange(7)
    b = bytearray(blob)
    if kind == 0:
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif kind == 1:
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == 2:
        del b[rng.randrange(len(b)):]
    elif kind == 3:
        b += rng.randbytes(rng.randint(1, 16))
    elif kind == 4:
        p = rng.randrange(len(b))
        b[p:p] = rng.randbytes(rng.randint(1, 4))
    elif kind == 5:
        p = rng.randrange(len(b))
        del b[p:p + rng.randint(1, 8)]
    else:
        o = rng.choice(others)
        p = rng.randrange(min(len(b), len(o)))
        b = b[:p] + o[p:]
    return bytes(b)


def test_ten_thousand_mutations_raise_only_protocol_errors(sealed):
    s, recs = sealed
    r = receiver(s.enc)
    rng = random.Random(20261123)
    blobs = [b for _, b in recs]
    refused = 0
    for _ in range(10_000):
        i, blob = rng.choice(recs)
        bad = _mutate(rng, blob, blobs)
        index = i if rng.random() < 0.9 else rng.choice([i ^ 1, rng.randrange(-5, 2000)])
        try:
            pt = r.open_record(index, bad)
        except ProtocolError:
            refused += 1
        else:  # only an unchanged record of that index may open
            assert (index, bad) in recs and pt == record(index).encode()
    assert refused > 9_000  # the rest are mutations that left the record unchanged


# Differential tests: the fixed-layout readers of the hot path agree with the generic strict
# decoder (cbor2 + re-encode and compare) on everything.

def _reference_record(data):
    m = cbor.loads_strict(data, MalformedRecord, "record")
    if not isinstance(m, dict) or sorted(m, key=cbor.dumps) != [1, 2, 3, 4, 5]:
        raise MalformedRecord("keys")
    return Record(m[1], m[2], m[3], m[4], m[5])


def _reference_sealed_ok(blob):
    try:
        obj = cbor.loads_strict(blob, MalformedRecord, "sealed")
    except MalformedRecord:
        return False
    return (isinstance(obj, list) and len(obj) == 3 and obj[0] == PROTECTED
            and isinstance(obj[1], dict) and list(obj[1]) == [5]
            and isinstance(obj[1][5], bytes) and len(obj[1][5]) == NONCE_LEN
            and isinstance(obj[2], bytes) and 17 <= len(obj[2]) <= 1040)


def _outcome(fn, data):
    try:
        return fn(data)
    except MalformedRecord:
        return "malformed"


def test_record_reader_agrees_with_generic_decoder():
    rng = random.Random(7)
    valid = [record(n).encode() for n in range(3)] + [
        Record(0, "S", "w", b"t", "c").encode(),
        Record(2**32 - 1, "顺丰", "W" * 40, b"x" * 768, "c" * 32).encode()]
    for data in valid:
        assert Record.decode(data) == _reference_record(data)
    for _ in range(5000):
        data = _mutate(rng, rng.choice(valid), valid)
        assert _outcome(Record.decode, data) == _outcome(_reference_record, data), data.hex()


def test_sealed_reader_agrees_with_generic_decoder(sealed):
    s, recs = sealed
    r = receiver(s.enc)
    rng = random.Random(8)
    blobs = [b for _, b in recs] + [s.seal(b"\x01" * n)[1] for n in (1, 7, 8, 239, 240)]
    for _ in range(5000):
        blob = _mutate(rng, rng.choice(blobs), blobs)
        try:
            r.open_record(0, blob)
            fast = True
        except MalformedRecord:
            fast = False
        except AuthenticationFailed:
            fast = True
        assert fast == _reference_sealed_ok(blob), blob.hex()


# Every head boundary and near miss of the sealed layout (random mutations rarely make a
# consistent non-shortest head, so they are listed).

def _sealed_with_head(ct_head: bytes, ct: bytes, index: int = 0) -> bytes:
    return b"\x83\x44" + PROTECTED + b"\xa1\x05\x4d" + index.to_bytes(13, "big") + ct_head + ct


@pytest.mark.parametrize("blob, structure_ok", [
    (_sealed_with_head(b"\x51", b"c" * 17), True),
    (_sealed_with_head(b"\x57", b"c" * 23), True),
    (_sealed_with_head(b"\x58\x18", b"c" * 24), True),
    (_sealed_with_head(b"\x59\x01\x00", b"c" * 256), True),
    (_sealed_with_head(b"\x59\x04\x10", b"c" * 1040), True),
    (_sealed_with_head(b"\x50", b"c" * 16), False),           # ciphertext shorter than tag+1
    (_sealed_with_head(b"\x58\x11", b"c" * 17), False),       # long head for 17 bytes
    (_sealed_with_head(b"\x58\x17", b"c" * 23), False),
    (_sealed_with_head(b"\x59\x00\x64", b"c" * 100), False),  # 2-byte head for 100 bytes
    (_sealed_with_head(b"\x59\x00\xff", b"c" * 255), False),
    (_sealed_with_head(b"\x5a\x00\x00\x01\x00", b"c" * 256), False),
    (_sealed_with_head(b"\x59\x04\x11", b"c" * 1041), False),  # one byte over the limit
    (_sealed_with_head(b"\x5f", b"\x51" + b"c" * 17 + b"\xff"), False),  # indefinite
    (_sealed_with_head(b"\x58\x18", b"c" * 25), False),       # trailing byte
    (_sealed_with_head(b"\x58\x18", b"c" * 23), False),       # truncated
    (_sealed_with_head(b"\x78\x18", b"c" * 24), False),       # text, not bytes
    (_sealed_with_head(b"", b""), False),
])
def test_sealed_layout_reader_agrees_with_strict_decoder(blob, structure_ok):
    r = receiver(SenderSession.start(upstream_pk(), DEVICE_ID, DEVICE_KEY,
                                     ikmE=b"\x01" * 32).enc)
    assert _reference_sealed_ok(blob) == structure_ok
    # structurally fine -> the next check (AES-CCM) refuses it; otherwise malformed
    with pytest.raises(AuthenticationFailed if structure_ok else MalformedRecord):
        r.open_record(0, blob)
