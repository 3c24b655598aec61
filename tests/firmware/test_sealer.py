# The Sealer under MicroPython at the ESP32 heap: forward secrecy proven on its whole state,
# rotation, bad input, ack handling, queue accounting.
import asyncio
from binascii import unhexlify

from mpytest import raises

h = unhexlify
PK_R = h("d53af36ea5f58f8868bb4a1333ed4cc47e7a63b0040eb54c77b9c8ec456da824")  # RFC 9180 A.7.2
PSK = bytes(range(0x40, 0x60))
IKM_E = bytes(range(32))
DEVICE = "depot-3.scanner-007"
FW_MODULES = ("sealer", "hpke", "hkdf", "hmac256", "aesccm", "cose", "record", "cborenc",
              "sealq", "ackmac", "wipe", "x25519")


def fixed_encap(ikm):
    # the session of a test vector: its ephemeral key is DeriveKeyPair(ikm) (hpke.py, a
    # test helper)
    import hpke

    return hpke.fixed_encap(ikm)


def _sealer(queue_bytes=4096, clock=None):
    import sealer

    return sealer.Sealer(DEVICE, PSK, PK_R, queue_bytes=queue_bytes, clock=clock)


def _canary(i):
    # recognisable identity data: the token, a waybill and a courier id
    return ("SF", "SF%013d" % (4711000000000 + i),
            bytearray(b"RNID1:CANARY-ID-110105194912310021-" + str(i).encode()),
            "courier-canary-%d" % i)


def _session_secrets(ikm):
    """What the session derives, recomputed independently of the Sealer object."""
    import hmac256
    import hpke
    import sealer
    import x25519

    sk_e, pk_e = hpke.derive_keypair(ikm)
    dh = bytes(x25519.x25519(sk_e, PK_R))
    ss, enc = hpke.encap(PK_R, sk_e)
    secret, _, exp = hpke.key_schedule(hpke.MODE_PSK, ss, sealer.INFO, PSK, DEVICE.encode())
    chain = bytes(hpke.export(exp, sealer.EXPORT_CHAIN, 32))
    ack_key = bytes(hpke.export(exp, sealer.EXPORT_ACK, 32))
    chains, keys = [chain], []
    hm = hmac256.Hmac()
    for _ in range(8):
        hm.key(chains[-1])
        keys.append(hm.digest(b"\x01")[:16])
        chains.append(hm.digest(b"\x02"))
    return {"skE": bytes(sk_e), "dh": dh, "shared_secret": bytes(ss), "secret": bytes(secret),
            "exporter_secret": bytes(exp), "enc": enc, "ack_key": ack_key}, chains, keys


async def test_forward_secrecy_whole_state_after_each_record():
    import opener
    from sealtest import sealed as sealed_of
    from statewalk import buffers, find

    s = _sealer(queue_bytes=1024)
    enc = await s.start_session(fixed_encap(IKM_E))
    session, chains, keys = _session_secrets(IKM_E)
    assert enc == session["enc"]
    bufs = buffers(s, FW_MODULES)
    # the walk sees the state: the live chain key and the ack key are there before record 0
    assert find(bufs, chains[0]), "state walk missed the current chain key"
    assert find(bufs, session["ack_key"])
    for name in ("skE", "dh", "shared_secret", "secret", "exporter_secret"):
        assert not find(bufs, session[name]), (name, find(bufs, session[name]))
    sealed = []
    canaries = []
    for i in range(5):
        carrier, waybill, token, courier = _canary(i)
        canaries.append((bytes(token), waybill.encode()))
        assert s.seal(1763856000 + i, carrier, waybill, token, courier) == i
        sealed.append(sealed_of(s, i))
        assert token == bytearray(len(token)), "the caller's token buffer was not wiped"
        bufs = None  # let the previous walk go before the next one (heap margin)
        bufs = buffers(s, FW_MODULES)
        assert find(bufs, chains[i + 1]), "current chain key not where the walk looks"
        for j in range(i + 1):
            assert not find(bufs, chains[j]), ("chain", j, find(bufs, chains[j]))
            assert not find(bufs, keys[j]), ("K", j, find(bufs, keys[j]))
            for c in canaries[j]:
                assert not find(bufs, c), ("plaintext", j, find(bufs, c))
        for name in ("skE", "dh", "shared_secret", "secret", "exporter_secret"):
            assert not find(bufs, session[name]), name
    # the records do open with the right keys (so the refusals below mean something) ...
    for i in range(5):
        opener.open_record(keys[i], DEVICE, enc, i, sealed[i])
    # ... and no 16-byte window of the state is a key that opens any of them, and no 32-byte
    # window is a chain key whose K opens them
    import hmac256

    hm = hmac256.Hmac()
    opened = 0
    for _, b in bufs:
        for off in range(0, len(b) - 15):
            w = b[off:off + 32]
            cands = [w[:16]]
            if len(w) == 32:
                hm.key(w)
                cands.append(hm.digest(b"\x01")[:16])
            for k in cands:
                for i in (0, 4):
                    try:
                        opener.open_record(k, DEVICE, enc, i, sealed[i])
                        opened += 1
                    except Exception:
                        pass
    assert opened == 0


async def test_rotation_after_1024_records():
    import sealer

    s = _sealer(queue_bytes=1024)
    enc0 = await s.start_session(fixed_encap(IKM_E))
    slot = s._slot
    for i in range(sealer.MAX_SESSION_RECORDS):
        if i == 1000:  # a background task may rotate early: 24 records left
            assert s.needs_session(spare_records=24) and not s.needs_session(spare_records=23)
        s.seal(1, "SF", "W", b"T", "C")
        assert s.queue.drop(slot, i)  # as if acked: only the session limit is under test
    assert s.next_index == 1024 and s.needs_session()
    assert s._chain == bytearray(32), "exhausted session's chain key not wiped"
    with raises(sealer.NoSession):
        s.seal(1, "SF", "W", b"T", "C")
    assert await s.ensure_session()
    enc1 = s.enc
    assert enc1 != enc0 and s.next_index == 0 and not await s.ensure_session()
    s.seal(1, "SF", "W", b"T", "C")


async def test_rotation_after_60_minutes():
    import sealer

    now = [1000]
    s = _sealer(clock=lambda: now[0])
    with raises(sealer.NoSession):  # no session before start_session
        s.seal(1, "SF", "W", b"T", "C")
    await s.start_session(fixed_encap(IKM_E))
    s.seal(1, "SF", "W", b"T", "C")
    now[0] += sealer.MAX_SESSION_MS - 1
    assert not s.needs_session()
    s.seal(1, "SF", "W", b"T", "C")
    assert s.needs_session(spare_ms=1) and not await s.ensure_session(spare_ms=0)
    now[0] += 1
    assert s.needs_session()
    with raises(sealer.NoSession):
        s.seal(1, "SF", "W", b"T", "C")
    assert s._chain == bytearray(32)
    await s.start_session()
    assert s.next_index == 0
    assert len(s.queue) == 2  # the old session's records still wait for their ack
    assert [i for _, i, _ in s.queue.entries()] == [0, 1]


async def test_bad_input_is_refused_and_consumes_nothing():
    import sealer

    s = _sealer(queue_bytes=1024)
    await s.start_session(fixed_encap(IKM_E))
    bad = [
        (-1, "SF", "W", b"T", "C"), (1 << 32, "SF", "W", b"T", "C"), ("1", "SF", "W", b"T", "C"),
        (1, "", "W", b"T", "C"), (1, "S" * 17, "W", b"T", "C"), (1, "SF", "W" * 41, b"T", "C"),
        (1, "SF", "W", b"", "C"), (1, "SF", "W", b"T" * 769, "C"), (1, "SF", "W", "T", "C"),
        (1, "SF", "W", b"T", "C" * 33), (1, "SF", None, b"T", "C"),
    ]
    for args in bad:
        with raises(sealer.InvalidRecord):
            s.seal(*args)
    assert s.next_index == 0 and len(s.queue) == 0
    # the largest record the limits allow fits the plaintext buffer
    from sealtest import sealed

    assert s.seal(0xFFFFFFFF, "S" * 16, "W" * 40, b"T" * 768, "C" * 32) == 0
    assert len(sealed(s, 0)) < 1024
    with raises(sealer.QueueFull):  # 1 KiB queue: a second big one does not fit
        s.seal(1, "S" * 16, "W" * 40, b"T" * 768, "C" * 32)
    assert s.next_index == 1
    for dev in ("", "x" * 33, "bad id", "dév"):
        with raises(sealer.SealerError):
            sealer.Sealer(dev, PSK, PK_R)


async def test_ack_refused_unless_mac_verifies_and_slots_recycle():
    import ackmac
    import hmac256
    import sealer
    from sealtest import answer_body

    s = _sealer()
    await s.start_session(fixed_encap(IKM_E))
    session, _, _ = _session_secrets(IKM_E)
    for i in range(4):
        s.seal(1, "SF", "W%d" % i, b"T", "C")
    enc = s.enc
    hm = hmac256.Hmac().key(session["ack_key"])
    ack, rej, ver = [0, 2], {1: "decrypt"}, {0: "ok", 2: "bad-signature"}
    mac = ackmac.mac(hm, enc, ack, rej, ver)
    assert not s.verify_ack(enc, ack, rej, ver, bytes(32))
    assert not s.verify_ack(enc, [0, 3], rej, ver, mac)
    assert not s.verify_ack(enc, ack, {}, ver, mac)
    assert not s.verify_ack(enc, ack, rej, {0: "ok", 2: "ok"}, mac)
    assert not s.verify_ack(bytes(32), ack, rej, ver, mac)
    assert not s.verify_ack(enc, ack, rej, ver, mac[:31])
    # malformed answers are refused, never raise
    for a, r, v in (([2, 0], rej, ver), ([0, 0], {}, {}), ([1024], {}, {}), ("x", {}, {}),
                    ([0], {0: "decrypt"}, {}), ([0], {}, {1: "ok"}), ([0], {}, {0: "fine"}),
                    ([0], {1: "Bad Reason"}, {}), ([True], {}, {})):
        assert not s.verify_ack(enc, a, r, v, mac)
    assert s.settle(enc, answer_body(ack, rej, ver, bytes(32))) is None and len(s.queue) == 4
    assert s.verify_ack(enc, ack, rej, ver, mac)
    assert s.settle(enc, answer_body(ack, rej, ver, mac)) == (ack, rej, ver)
    assert len(s.queue) == 1  # 3 dropped
    assert [i for _, i, _ in s.queue.entries()] == [3]
    # sessions with records still queued keep their slot; with every slot busy no new one
    for _ in range(sealer.SLOTS - 1):
        await s.start_session()
        s.seal(1, "SF", "W", b"T", "C")
    with raises(sealer.QueueFull):
        await s.start_session()
    # the first session's last record is acked: its slot (and ack key) is freed and reused
    mac = ackmac.mac(hm, enc, [3], {}, {})
    assert s.settle(enc, answer_body([3], {}, {}, mac)) is not None
    assert len(s.queue) == sealer.SLOTS - 1  # 1 dropped
    assert session["ack_key"] not in bytes(s._ack_keys)
    await s.start_session()


def test_queue_compacts_and_keeps_order():
    import sealq

    q = sealq.SealQueue(5 * (sealq.HEADER + 4) + 14)
    for i in range(5):
        mv = q.reserve(4)
        mv[:] = bytes([i] * 4)
        q.commit(0, i, 4, 0, 0)
    assert q.used == 5 * (sealq.HEADER + 4)
    assert q.drop(0, 1) and q.drop(0, 3) and not q.drop(0, 3) and not q.drop(1, 0)
    mv = q.reserve(20)  # only fits after compaction
    mv[:20] = bytes([9] * 20)
    q.commit(1, 7, 20, 0, 0)
    assert [(s, i, bytes(b)) for s, i, b in q.entries()] == [
        (0, 0, bytes(4)), (0, 2, bytes([2] * 4)), (0, 4, bytes([4] * 4)), (1, 7, bytes([9] * 20))]
    with raises(sealq.QueueFull):
        q.reserve(20)


async def test_fits_the_esp32_heap_with_full_queue():
    # From .mpy at 110 KB: the default 16 KiB queue filled with the largest records.
    import gc

    import cose
    import record
    import sealer
    import sealq

    gc.collect()
    s = sealer.Sealer(DEVICE, PSK, PK_R)
    await s.start_session()
    n = 0
    while True:
        try:
            s.seal(1763856000, "S" * 16, "W" * 40, bytearray(b"T" * 768), "C" * 32)
        except sealer.QueueFull:
            break
        n += 1
    size = cose.sealed_len(record.encoded_len(1763856000, "S" * 16, "W" * 40, b"T" * 768,
                                              "C" * 32))
    assert n == 16384 // (sealq.HEADER + size), (n, size)
    gc.collect()
    assert gc.mem_free() > 20000, gc.mem_free()


async def test_batch_pins_the_queue_and_takes_the_oldest_session():
    import batch
    import sealer
    import sealq

    s = _sealer(queue_bytes=1024)
    enc0 = await s.start_session(fixed_encap(IKM_E))
    for i in range(3):
        s.seal(1, "SF", "W%d" % i, b"T" * 100, "C")
    enc1 = await s.start_session()
    s.seal(1, "SF", "X", b"T" * 100, "C")
    with s.batch(limit=2) as b:
        assert b.enc == enc0 and [i for i, _ in b.items] == [0, 1]
        body = b"".join(bytes(c) for c in b.chunks())
        assert len(body) == b.length()
        assert body[:5] == b"\xa4\x61v\x01\x63"
        assert body.endswith(bytes(b.items[1][1]))
        first = bytes(b.items[0][1])
        # record 1 of session 0 is acked meanwhile; a seal now needs compaction, which
        # would move the records being sent: refused while the batch is open
        assert s.queue.drop(s._slot_of(enc0), 1)
        with raises(sealq.QueueFull):
            for _ in range(20):
                s.seal(1, "SF", "Y", b"T" * 100, "C")
        assert bytes(b.items[0][1]) == first  # the views still show the same record
    assert b.items == []
    s.seal(1, "SF", "Y", b"T" * 100, "C")  # unpinned: compaction makes room
    with s.batch() as b:
        assert b.enc == enc0 and [i for i, _ in b.items] == [0, 2]
    assert enc1 != enc0
    empty = sealer.Sealer(DEVICE, PSK, PK_R, queue_bytes=256)
    with empty.batch() as b:
        assert b.items == [] and b.enc is None
    with raises(ValueError):
        batch.length(DEVICE, [])


def test_unix_time_on_either_epoch():
    import time

    import sealer

    t = sealer.unix_time()
    assert t > 1_700_000_000  # after 2023 in Unix seconds, whichever epoch the port uses
    assert abs(t - (time.time() + (946684800 if time.gmtime(0)[0] == 2000 else 0))) <= 1


def test_overdue_latches_by_the_later_clock_until_the_record_goes():
    # The overdue rule (handheld alarm, I3): a record is overdue once its age by the monotonic
    # clock or by the wall clock, whichever is later, reaches the limit; once overdue it stays
    # so until it leaves the queue, whatever either clock does after.
    import sealq

    q = sealq.SealQueue(256)
    for i, (ticks, wall) in enumerate(((1000, 500), (20000, 520))):
        q.reserve(4)
        q.commit(0, i, 4, ticks, wall)
    assert not q.overdue(1000, 500, 30000)  # empty ages
    assert not q.overdue(30999, 529, 30000)  # 29.999 s monotonic, 29 s wall
    assert q.overdue(31000, 529, 30000)  # monotonic age reached 30 s
    # a fresh queue: the wall clock alone (NTP stepped it forward) makes it overdue
    q2 = sealq.SealQueue(256)
    q2.reserve(4)
    q2.commit(0, 0, 4, 1000, 500)
    assert not q2.overdue(2000, 529, 30000)
    assert q2.overdue(2000, 530, 30000)
    # latched: both clocks stepped back (NTP, ticks of a fresh count) change nothing ...
    assert q2.overdue(1000, 0, 30000)
    # ... only dropping the record (its ack) clears it
    assert q2.drop(0, 0)
    assert not q2.overdue(1000, 0, 30000)
    # each record keeps its own latch: record 0 of q is overdue, record 1 is not yet
    assert q.drop(0, 0)
    assert not q.overdue(31000, 529, 30000)
    assert q.overdue(50000, 529, 30000)


def test_overdue_survives_ticks_wraparound_and_compaction():
    import sealq

    period = 1 << 30  # the ESP32's ticks_ms period (this port's may be longer)
    q = sealq.SealQueue(256)
    q.reserve(4)
    q.commit(0, 0, 4, 0, 0)
    q.reserve(4)
    q.commit(0, 1, 4, period - 10000, 100)  # 10 s before the wrap
    q.drop(0, 0)
    q.compact()  # record 1 slides down with its header
    assert [i for _, i, _ in q.entries()] == [1]
    assert not q.overdue(19999, 129, 30000)  # 29.999 s after capture, across the wrap
    assert not q.overdue(period + 19999, 129, 30000)  # a longer period: the same ages
    assert not q.overdue(period - 10001, 100, 30000)  # a clock before the capture: age < 0
    assert q.overdue(20000, 100, 30000)


async def test_sealer_records_capture_times_with_each_record():
    import sealer

    now = [5000]
    s = _sealer(clock=lambda: now[0])
    await s.start_session(fixed_encap(IKM_E))
    assert s.seal(int(sealer.unix_time()), "SF", "W", b"T", "C") == 0
    now[0] += 29999
    assert not s.overdue(30000)
    now[0] += 1
    assert s.overdue(30000)
    # a record whose capture time is 30 s old by the wall clock is overdue at once
    s2 = _sealer(clock=lambda: now[0])
    await s2.start_session(fixed_encap(IKM_E))
    s2.seal(int(sealer.unix_time()) - 30, "SF", "W", b"T", "C")
    assert s2.overdue(30000)
