# The device's strict decoding of the upstream's answer body, and the ack it drives.
# Session and answer from docs/vectors/session-a.json (acks[0]: ack 0-2, reject 3).
import asyncio
from binascii import unhexlify

from mpytest import raises

h = unhexlify
DEVICE = "depot-0571-scanner-07"
PSK = h("0f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a6978")
PK_R = h("bf162c9cbfdf9a5d6fcccc2fe1de8caab69e4ef7e342d97af1fb74a47f185032")
IKM_E = b"\xa1" * 32
ENC = h("2de3dfd5619c685a94342b64c7eda230d9705ffbd23414007f2b3a124d411166")
BODY = h("a46361636b83000102636d616358202ef191553a66526a510dfcb28ee560b3510129abb75d23faa5b42"
         "56aedd2a4aa6372656aa103676465637279707463766572a300626f6b01676578706972656402626f6b")


def fixed_encap(ikm):
    # the session of a test vector: its ephemeral key is DeriveKeyPair(ikm) (hpke.py, a
    # test helper)
    import hpke

    return hpke.fixed_encap(ikm)


async def _sealer(records=4):
    import sealer

    s = sealer.Sealer(DEVICE, PSK, PK_R, queue_bytes=2048)
    assert await s.start_session(fixed_encap(IKM_E)) == ENC
    for i in range(records):
        s.seal(1763856000 + i, "SF", "SF%013d" % i, b"RNID1:X", "courier")
    return s


def test_decodes_the_vector_answer():
    import answer

    ack, rej, ver, mac = answer.decode(BODY)
    assert ack == [0, 1, 2] and rej == {3: "decrypt"}
    assert ver == {0: "ok", 1: "expired", 2: "ok"}
    assert mac == BODY[15:47]


def test_refuses_non_canonical_bodies():
    import answer

    bad = [
        b"", b"\xa0", BODY[:-1], BODY + b"\x00",
        b"\xbf" + BODY[1:] + b"\xff",  # indefinite-length map
        BODY.replace(b"\x83\x00\x01\x02", b"\x83\x00\x02\x01"),  # ack not ascending
        BODY.replace(b"\x83\x00\x01\x02", b"\x83\x18\x00\x01\x02"),  # 0 not in shortest form
        BODY.replace(b"cack", b"cacj"),  # unknown key
        BODY.replace(b"\x02bok", b"\x02bno"),  # not a verdict
        BODY.replace(b"gdecrypt", b"gDecrypt"),  # reason outside [a-z0-9-]
        BODY.replace(b"\xa1\x03", b"\xa1\x01"),  # index both acked and rejected
        b"\xc0" + BODY,  # tagged
        bytes(9000),
    ]
    for body in bad:
        with raises(answer.MalformedAnswer):
            answer.decode(body)
    with raises(answer.MalformedAnswer):
        answer.decode("not bytes")


async def test_vector_answer_settles_acked_and_rejected():
    s = await _sealer()
    ack, rej, ver = s.settle(ENC, BODY)
    assert ack == [0, 1, 2] and rej == {3: "decrypt"} and ver[1] == "expired"
    assert len(s.queue) == 0  # 0, 1, 2 acked, 3 rejected
    s.seal(1763856099, "SF", "SF9999999999999", b"RNID1:X", "courier")
    assert s.settle(ENC, BODY) is not None  # a replay verifies ...
    assert len(s.queue) == 1  # ... and changes nothing


async def test_mutated_answers_never_verify_or_crash():
    # 3000 random mutations (flips, truncations, insertions) of the vector answer: decoding
    # raises nothing but MalformedAnswer, whatever decodes is refused by the MAC, and settling
    # any of them raises nothing and drops nothing.
    import random

    import answer

    s = await _sealer()
    random.seed(3)
    decoded = 0
    for n in range(3000):
        b = bytearray(BODY)
        kind = n % 3
        pos = random.getrandbits(16) % len(b)
        if kind == 0:
            b[pos] ^= 1 << (random.getrandbits(3))
        elif kind == 1:
            b = b[:pos]
        else:
            b[pos:pos] = bytes([random.getrandbits(8)])
        if bytes(b) == BODY:
            continue
        assert s.settle(ENC, b) is None, (n, bytes(b))
        try:
            ack, rej, ver, mac = answer.decode(b)
        except answer.MalformedAnswer:
            continue
        decoded += 1
        assert not s.verify_ack(ENC, ack, rej, ver, mac), (n, bytes(b))
    assert decoded > 50, decoded  # the MAC itself was exercised, not only the parser
    assert len(s.queue) == 4
