"""The identity verdict memo (`sealscan.upstream.tokens`) gives exactly the verdict a fresh
`verify_identity_token` gives, on first and repeated use, before and after expiry, for
valid, forged, foreign and mutated tokens; and the ingest path uses it."""

import asyncio
import random

import cbor2
from upkit import ISSUER, make_state, register

from sealscan.codes import (
    b45decode,
    b45encode,
    make_identity_token,
    new_test_issuer,
    verify_identity_token,
)
from sealscan.protocol import Batch, Record, decode_answer, encode_batch
from sealscan.upstream.ingest import Ingestor
from sealscan.upstream.registry import open_store
from sealscan.upstream.tokens import TokenVerdicts

T0 = 1_763_856_000
OTHER = new_test_issuer(b"\x07" * 32)  # not trusted


def tok(issuer=ISSUER, expires=T0 + 100, k=0) -> bytes:
    return make_identity_token(issuer, id_type=11, id_number="440524188001010014",
                               name=f"张三{k}", phone="13800005678", issued_at=T0 - 60,
                               expires_at=expires).encode()


def forged(token: bytes) -> bytes:
    """The same token with one bit of its signature flipped (still parses)."""
    import zlib

    raw = bytearray(zlib.decompress(b45decode(token[6:].decode())))
    raw[-1] ^= 1
    return b"RNID1:" + b45encode(zlib.compress(bytes(raw))).encode()


def fresh(token: bytes, now: int) -> str:
    try:
        return verify_identity_token(token.decode("utf-8"), {ISSUER.kid: ISSUER.public_key},
                                     now)
    except Exception:  # MalformedCode / UnicodeDecodeError: what the upstream calls malformed
        return "malformed"


def test_memo_agrees_with_a_fresh_verify_on_every_use():
    base = [tok(), tok(expires=T0), tok(OTHER), forged(tok()), tok(k=1)]
    rng = random.Random(3)
    tokens = list(base)
    for _ in range(300):  # mutated tokens: mostly malformed, some still parse
        b = bytearray(rng.choice(base))
        b[rng.randrange(6, len(b))] = rng.choice(b"0123456789ABCXYZ $%*+-./:a\xff")
        tokens.append(bytes(b))
    memo = TokenVerdicts({ISSUER.kid: ISSUER.public_key}, size=1000)
    seen = set()
    for now in (T0 - 5, T0, T0 + 99, T0 + 100, T0 + 10**6):
        for t in tokens:
            assert memo.verdict(t, now) == fresh(t, now), (t, now)
            seen.add(fresh(t, now))
    assert {"ok", "expired", "bad-signature", "unknown-issuer", "malformed"} <= seen
    assert memo.misses == len(set(tokens)) and memo.hits == 5 * len(tokens) - memo.misses


def test_a_remembered_token_expires_on_time():
    memo = TokenVerdicts({ISSUER.kid: ISSUER.public_key}, size=10)
    t = tok(expires=T0 + 100)
    assert memo.verdict(t, T0 + 99) == "ok"
    assert memo.verdict(t, T0 + 100) == "expired"
    assert memo.verdict(t, T0 + 99) == "ok"  # the clock, not the memo, decides
    assert (memo.misses, memo.hits) == (1, 2)


def test_memo_is_bounded_and_can_be_off():
    keys = {ISSUER.kid: ISSUER.public_key}
    tokens = [tok(k=k) for k in range(5)]
    memo = TokenVerdicts(keys, size=3)
    for t in tokens + tokens:
        assert memo.verdict(t, T0) == "ok"
    assert len(memo.memo) == 3 and memo.hits == 0  # LRU of 3 cycling through 5
    off = TokenVerdicts(keys, size=0)
    for t in tokens + tokens:
        assert off.verdict(t, T0) == "ok"
    assert off.hits == 0 and not off.memo


def test_memo_answers_only_for_the_issuers_it_was_made_with():
    keys = {ISSUER.kid: ISSUER.public_key}
    memo = TokenVerdicts(keys, size=10)
    keys[OTHER.kid] = OTHER.public_key  # a later change to the caller's dict
    assert memo.verdict(tok(OTHER), T0) == "unknown-issuer"


def test_ingest_verifies_a_repeated_token_once_and_still_expires_it(tmp_path):
    cfg = make_state(tmp_path)
    (dev,) = register(cfg, "dev-memo")
    clock = [float(T0)]
    store = open_store(cfg)
    ing = Ingestor(store, cfg.private_key(), cfg.issuer_keys(), cfg.limits,
                   clock=lambda: clock[0])
    t = tok(expires=T0 + 100)

    def send(n: int) -> dict[int, str]:
        recs = dev.seal([Record(T0, "SF", f"SF{k:013d}", t, "courier-7") for k in range(n)])
        reply = asyncio.run(ing.handle(encode_batch(Batch(dev.device_id, dev.session.enc,
                                                          recs))))
        assert reply.status == 200, cbor2.loads(reply.body)
        ans = decode_answer(reply.body)
        dev.session.verify_answer(ans)
        return ans.ver

    try:
        assert set(send(16).values()) == {"ok"}
        assert ing.metrics.total("tokens", "verified") == 1
        assert ing.metrics.total("tokens", "cached") == 15
        clock[0] = T0 + 100  # same token, now expired: answered from the memo, still expired
        assert set(send(4).values()) == {"expired"}
        assert ing.metrics.total("tokens", "verified") == 1
        assert "sealscan_token_checks_total{check=\"cached\"} 19" in ing.metrics.render()
        assert [r.verdict for _, r in store.load_records(dev.device_id)].count("expired") == 4
    finally:
        ing.close()
        store.close()
