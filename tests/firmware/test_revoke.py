# A revocation (docs/protocol.md 6.1) under MicroPython: the vector from
# docs/vectors/session-a.json verifies in its session on its device, and nothing else does;
# forget() leaves no key and no record behind.
from binascii import unhexlify

from statewalk import buffers, find

h = unhexlify
DEVICE = "depot-0571-scanner-07"
PSK = h("0f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a6978")
PK_R = h("bf162c9cbfdf9a5d6fcccc2fe1de8caab69e4ef7e342d97af1fb74a47f185032")
IKM_A = b"\xa1" * 32
IKM_B = b"\xb2" * 32
ENC_A = h("2de3dfd5619c685a94342b64c7eda230d9705ffbd23414007f2b3a124d411166")
REVOKED = h("a2636d61635820b51e87c053c53ace273e78511eea3354ee7cfada944b69778d29fc790c1a5fb065"
            "6572726f726e7265766f6b65642d646576696365")
INVALID = [
    ("mac-flipped", h("a2636d61635820b51e87c153c53ace273e78511eea3354ee7cfada944b69778d29fc790c1a5fb065"
          "6572726f726e7265766f6b65642d646576696365")),
    ("revocation-of-another-session", h("a2636d61635820a58c648a60ce396dabc2cadacfc8642404dfdfb9ee50e477f5d2cf302360d8bd65"
          "6572726f726e7265766f6b65642d646576696365")),
    ("revocation-of-another-device", h("a2636d61635820992e874a13eac5a33dafdf6264693bad0ef5d48cc98eeb03e10eee8a57930a6265"
          "6572726f726e7265766f6b65642d646576696365")),
    ("wrong-key", h("a2636d61635820f3c8e51f496e30a940ce0e74d6abbc69df56d6d4f4e4ac423933a5b62d6299f265"
          "6572726f726e7265766f6b65642d646576696365")),
    ("unauthenticated-403", h("a1656572726f726e7265766f6b65642d646576696365")),
    ("trailing-byte", h("a2636d61635820b51e87c053c53ace273e78511eea3354ee7cfada944b69778d29fc790c1a5fb065"
          "6572726f726e7265766f6b65642d64657669636500")),
]


async def _sealer(device=DEVICE, ikm=IKM_A):
    import revoke
    import sealer

    import hpke  # tests/firmware/helpers

    s = sealer.Sealer(device, PSK, PK_R, queue_bytes=2048)
    await s.start_session(hpke.fixed_encap(ikm))
    s.verify_revocation = lambda enc, body: revoke.verify(s, enc, body, device)
    return s


async def test_vector_revocation_verifies_in_its_session_only():
    s = await _sealer()
    assert s.enc == ENC_A
    assert s.verify_revocation(ENC_A, REVOKED)
    for reason, body in INVALID:
        assert not s.verify_revocation(ENC_A, body), reason
    assert not s.verify_revocation(bytes(32), REVOKED)  # a session it does not hold
    other = await _sealer(device="depot-0571-scanner-08")
    assert not other.verify_revocation(other.enc, REVOKED)
    assert not other.verify_revocation(ENC_A, REVOKED)
    later = await _sealer(ikm=IKM_B)
    assert not later.verify_revocation(later.enc, REVOKED)
    for n in (0, 1, 7, 38, 59):  # truncated, mutated
        assert not s.verify_revocation(ENC_A, REVOKED[:n])
        bad = bytearray(REVOKED)
        bad[n] ^= 0x40
        assert not s.verify_revocation(ENC_A, bytes(bad))


async def test_forget_drops_every_record_and_wipes_every_key():
    import sealer

    s = await _sealer()
    for i in range(3):
        s.seal(1763856000 + i, "SF", "SF%013d" % i, b"RNID1:CANARY-%d" % i, "courier")
    ack_key = bytes(s._ack_keys[0:32])
    assert ack_key != bytes(32)
    assert len(s.queue) == 3
    import revoke

    revoke.forget(s)
    assert len(s.queue) == 0
    state = buffers(s)
    assert find(state, PSK) == [] and find(state, ack_key) == [] and find(state, b"CANARY") == []
    assert not s.needs_session() and not await s.ensure_session()  # never again
