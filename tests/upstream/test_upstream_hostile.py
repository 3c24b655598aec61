"""Hostile input: >= 10k generated malformed bodies over one TLS connection to the real
server. Each gets its documented 4xx with a CBOR {"error": reason}, never a 500; valid
batches in between are still acked; nothing of the hostile input is stored."""

import random

import cbor2
from upkit import ServerThread, make_state, record, register

from sealscan.upstream.registry import open_store

# docs/upstream.md "Answers": status -> reasons
DOCUMENTED = {
    200: {None},  # a lease renewal (protocol 6.2): the MAC'd empty answer
    400: {"malformed", "session"},
    403: {"unknown-device", "revoked-device", "unauthenticated"},
    413: {"too-large", "too-many-records"},
}
HUGE_HEADERS = [bytes.fromhex(h) for h in (
    "5bffffffffffffffff", "7bffffffffffffffff", "9bffffffffffffffff", "bbffffffffffffffff",
    "5a7fffffff", "9a7fffffff", "5f", "9f", "bf", "d9d9f7", "c2", "fb7ff8000000000000",
)]
WRONG = [0, -1, 2**64 - 1, 1.5, "x", b"x", [], {}, None, True, cbor2.CBORTag(99, 1),
         "a" * 33, b"\x00" * 31, [[0, b""]], [[-1, b"x"]], [[1024, b"x"]], [["0", b"x"]]]


def generate(rng, dev, good_body, good_one, other_body, revoked_body, sealed):
    """Yield (category, body, allowed statuses)."""
    enc = dev.session.enc
    for _ in range(2500):  # truncated CBOR
        yield "truncated", good_body[:rng.randrange(len(good_body))], {400}
    for _ in range(3000):  # bit flips in a one-record batch
        b = bytearray(good_one)
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        yield "bitflip", bytes(b), {400, 403}
    for _ in range(1500):  # wrong types in each field
        key = rng.choice(["v", "dev", "enc", "recs"])
        fields = {"v": 1, "dev": dev.device_id, "enc": enc, "recs": [list(sealed[0])]}
        fields[key] = rng.choice(WRONG)
        if key == "recs" and rng.random() < 0.5:
            fields["recs"] = [[0, rng.choice(WRONG)]]
        # "x": a valid id; no records at all is a lease renewal (protocol 6.2): 200
        yield "types", cbor2.dumps(fields, canonical=True), \
            {200} if fields["recs"] == [] and fields["dev"] == dev.device_id else {400, 403}
    for _ in range(1000):  # huge or indefinite lengths, deep nesting, random bytes
        kind = rng.randrange(4)
        if kind == 0:
            body = rng.choice(HUGE_HEADERS) + rng.randbytes(rng.randrange(64))
        elif kind == 1:
            body = good_body[:rng.randrange(len(good_body))] + rng.choice(HUGE_HEADERS)
        elif kind == 2:
            depth = rng.randrange(100, 20000)
            body = b"\x81" * depth + b"\x00"
        else:
            body = rng.randbytes(rng.randrange(1, 2048))
        yield "lengths", body, {400}
    for _ in range(700):  # well-formed, but not a v1 batch
        m = rng.choice([[1, 2], {"v": 2, "dev": dev.device_id, "enc": enc, "recs": []},
                        {"v": 1, "dev": dev.device_id, "enc": enc, "recs": [], "x": 1},
                        {"v": 1}, "text", 42])
        yield "shape", cbor2.dumps(m), {400}
    for _ in range(500):  # unknown device (valid id format)
        dev_id = "ghost-" + str(rng.randrange(10**6))
        yield "unknown", dev.raw_body([list(s) for s in sealed[:1]], dev=dev_id), {403}
    for _ in range(300):
        yield "other-device", other_body, {403}  # replay of dev's batch under dev-b's id
    for _ in range(300):
        yield "revoked", revoked_body, {403}
    for _ in range(200):  # garbage where the sealed records go
        recs = [[i, rng.randbytes(rng.randrange(1, 300))] for i in range(rng.randint(1, 8))]
        yield "garbage-records", dev.raw_body(recs), {400, 403}
    for _ in range(100):
        yield "too-many", dev.raw_body([[i, b"\x80"] for i in range(65 + rng.randrange(50))]), \
            {413}
    for _ in range(50):
        yield "too-large", b"\xa0" * (300 * 1024), {413}


def test_ten_thousand_hostile_bodies(tmp_path):
    cfg = make_state(tmp_path, device_rate=1e9, device_burst=10**9)
    dev, other, gone = register(cfg, "dev-a", "dev-b", "dev-gone")
    sealed = dev.seal([record() for _ in range(4)])
    good_body, good_one = dev.body(sealed), dev.body(sealed[:1])
    other_body = dev.body(sealed, device_id=other.device_id)
    gone.seal([record()])
    revoked_body = gone.body(gone.seal([record()]))
    store = open_store(cfg)
    store.set_revoked("dev-gone", True)
    rng = random.Random(20261123)
    seen: dict[str, set[tuple[int, str]]] = {}
    valid_acked = 0
    with ServerThread(cfg) as srv:
        client = srv.client()
        for n, (category, body, allowed) in enumerate(
                generate(rng, dev, good_body, good_one, other_body, revoked_body, sealed)):
            status, data = client.post_batch(body)
            reason = cbor2.loads(data).get("error") if status != 200 else None
            assert status in allowed, (category, n, status, reason)
            assert reason in DOCUMENTED[status], (category, n, status, reason)
            seen.setdefault(category, set()).add((status, reason))
            if n % 1000 == 0:  # the server keeps serving real devices throughout
                ok = dev.seal([record()])
                ans = dev.answer(client.post_batch(dev.body(ok))[1])
                assert ans.ack == [ok[0][0]]
                valid_acked += 1
        assert client.request("GET", "/v1/health")[0] == 200
        metrics = client.request("GET", "/metrics")[1].decode()
    total = sum(1 for _ in generate(random.Random(0), dev, good_body, good_one, other_body,
                                    revoked_body, sealed))
    assert total >= 10_000
    assert 'sealscan_batches_total{status="503"} 0' in metrics
    assert store.count_records() == valid_acked  # nothing hostile was stored
    assert [d.records for d in store.device_stats()] == [valid_acked, 0, 0]
    store.close()
    assert seen["unknown"] == {(403, "unknown-device")}
    assert seen["other-device"] == {(403, "unauthenticated")}
    assert seen["revoked"] == {(403, "revoked-device")}
