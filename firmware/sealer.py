# The device's sealer (sealscan protocol v1): HPKE mode_psk sessions, the record ratchet,
# COSE_Encrypt0 records in a preallocated queue, and the check of the upstream's ack MAC.
#
#   session: enc, exporter_secret = SetupPSKS(upstream pk, "sealscan/v1", device key,
#            device id)  (X25519 yields to the asyncio loop)
#            chain_0 = Export("sealscan/v1 chain", 32); ack_key = Export("sealscan/v1 ack", 32)
#            the ephemeral key, shared secret and exporter secret are wiped at once
#   record i: K_i = HMAC(chain_i, 01)[:16], chain_{i+1} = HMAC(chain_i, 02), chain_i wiped;
#            sealed = COSE_Encrypt0 under K_i (see cose.py), K_i and the plaintext wiped
#   rotation: a session seals at most 1024 records and lives at most 60 minutes
#
# State that survives a seal: the device key and id, the upstream public key, chain_{i+1},
# and per session still holding queued records its enc and ack key. None of it opens a record
# already sealed (the test suite proves that on the object's whole state).
#
# Limit: hashlib digests, cryptolib key schedules and X25519's big ints are immutable heap
# objects. Their freed copies (e.g. of K_i) stay in the heap until the garbage collector
# reuses those blocks; MicroPython offers no way to overwrite them in place.
import asyncio
import gc
import time

import ackmac
import aesccm
import answer
import batch
import cose
import hmac256
import record
import sealq
import transient
from micropython import const
from wipe import wipe

INFO = b"sealscan/v1"
EXPORT_CHAIN = b"sealscan/v1 chain"
EXPORT_ACK = b"sealscan/v1 ack"
MAX_SESSION_RECORDS = const(1024)
MAX_SESSION_MS = const(3_600_000)
SLOTS = const(4)  # sessions that may have records waiting for acks at once
MAX_PLAINTEXT = const(1024)
MAX_CARRIER = const(16)
MAX_WAYBILL = const(40)
MAX_TOKEN = const(768)
MAX_COURIER = const(32)
MAX_DEVICE_ID = const(32)
_MAX_AAD = const(96)
_NONE = const(-1)
_SESSION_MODULES = ("hpkeks", "hkdf", "x25519")


async def _encap_dh(pk):
    # (enc, dh) of a fresh ephemeral key with x25519 loaded alone (transient.py); a function
    # of its own so no name keeps the module once it is released
    fresh = transient.loading("x25519")
    try:
        import x25519

        return await x25519.ephemeral_async(pk)
    finally:
        transient.release(fresh)


class SealerError(Exception):
    pass


class NoSession(SealerError):
    """No usable session: start_session() first (at boot, after 1024 records or 60 min)."""


class InvalidRecord(SealerError):
    pass


QueueFull = sealq.QueueFull
MalformedAnswer = ackmac.MalformedAnswer


_EPOCH_2000 = const(946684800)  # seconds from 1970-01-01 to 2000-01-01


def unix_time():
    """Capture time for a record: Unix seconds UTC (the ESP32 port counts from 2000)."""
    t = time.time()
    return t + _EPOCH_2000 if time.gmtime(0)[0] == 2000 else t


def _wall():
    # the wall clock in seconds since 2000 (the ESP32's own count: a small int there)
    t = time.time()
    return t if time.gmtime(0)[0] == 2000 else max(0, t - _EPOCH_2000)


def check_device_id(device_id):
    if not isinstance(device_id, str) or not 1 <= len(device_id) <= MAX_DEVICE_ID:
        raise SealerError("device id must be 1-32 characters")
    for c in device_id:
        if not ("A" <= c <= "Z" or "a" <= c <= "z" or "0" <= c <= "9" or c in "._-"):
            raise SealerError("device id may hold only A-Z a-z 0-9 . _ -")
    return device_id


def _check_text(value, limit, what):
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise InvalidRecord(what + ": must be text of 1-%d characters" % limit)


class Sealer:
    def __init__(self, device_id, device_key, upstream_pk, queue_bytes=16384, clock=None):
        self._device_id = check_device_id(device_id)
        if len(device_key) != 32 or len(upstream_pk) != 32:
            raise SealerError("device key and upstream public key must be 32 bytes")
        self.queue = sealq.SealQueue(queue_bytes)  # first: the one big block
        self._psk = bytearray(device_key)
        self._pk = bytes(upstream_pk)
        self._clock = clock or time.ticks_ms
        self._hm = hmac256.Hmac()
        self._ccm = aesccm.Ccm(_MAX_AAD, MAX_PLAINTEXT)
        self._pt = bytearray(MAX_PLAINTEXT)
        self._aad = bytearray(_MAX_AAD)
        self._nonce = bytearray(cose.NONCE_LEN)
        self._k = bytearray(16)
        self._chain = bytearray(32)
        self._encs = bytearray(32 * SLOTS)
        self._ack_keys = bytearray(32 * SLOTS)
        self._in_use = bytearray(SLOTS)
        self._slot = _NONE
        self._index = 0
        self._started = self._clock()
        self._starting = False

    # -- sessions --------------------------------------------------------------------------

    @property
    def enc(self):
        """The current session's enc (its id on the wire), or None."""
        return None if self._slot == _NONE else self._enc(self._slot)

    @property
    def next_index(self):
        return self._index

    def _enc(self, slot):
        return bytes(self._encs[32 * slot:32 * slot + 32])

    def needs_session(self, spare_records=0, spare_ms=0):
        """Whether seal() needs a new session first; with spares, whether it soon will (a
        background task can then rotate before a capture has to wait for it)."""
        return (self._slot == _NONE or self._index + spare_records >= MAX_SESSION_RECORDS or
                time.ticks_diff(self._clock(), self._started) + spare_ms >= MAX_SESSION_MS)

    async def ensure_session(self, spare_records=0, spare_ms=0):
        """start_session() if needs_session(spare_records, spare_ms); returns whether it did."""
        if not self.needs_session(spare_records, spare_ms):
            return False
        await self.start_session()
        return True

    def _free_slots(self):
        for s in range(SLOTS):
            if self._in_use[s] and s != self._slot and self.queue.count(s) == 0:
                self._in_use[s] = 0
                wipe(self._encs, 32 * s, 32 * s + 32)
                wipe(self._ack_keys, 32 * s, 32 * s + 32)

    def _end_session(self):
        wipe(self._chain)
        self._index = MAX_SESSION_RECORDS
        cur = self._slot
        self._slot = _NONE
        if cur != _NONE:
            self._free_slots()

    async def start_session(self, encap=None):
        """A new HPKE session (the old one ends: its chain key is wiped at once).

        `encap` (pk -> awaitable (enc, dh bytearray)) replaces the fresh ephemeral key: test
        vectors only (fixed_encap in tests/firmware/helpers/hpke.py, never deployed).
        Raises QueueFull when every session slot still holds unacknowledged records."""
        if self._starting:
            raise SealerError("a session is already being started")
        self._starting = True
        try:
            self._free_slots()
            slot = _NONE
            for s in range(SLOTS):
                if not self._in_use[s] and s != self._slot:
                    slot = s
                    break
            if slot == _NONE:
                raise QueueFull("every session slot holds unacknowledged records")
            # HPKE, HKDF and X25519 are needed here only (boot, then every 1024 records or
            # 60 min): loaded for this setup and released after it (transient.py). In two
            # stages, so the heap never holds all three: the X25519 ladder with x25519 alone,
            # then the key schedule with hpkeks + hkdf.
            enc, dh = await (encap or _encap_dh)(self._pk)
            gc.collect()  # x25519 and the ladder's big ints, before hpkeks loads
            fresh = transient.loading(*_SESSION_MODULES)
            try:
                import hpkeks

                enc, exp = hpkeks.setup_psk_sender_dh(
                    dh, enc, self._pk, INFO, self._psk, self._device_id.encode())
                chain = ack = b""
                try:
                    chain = hpkeks.export(exp, EXPORT_CHAIN, 32)
                    await asyncio.sleep(0)
                    ack = hpkeks.export(exp, EXPORT_ACK, 32)
                    # From here to the end nothing awaits: the switch is atomic for other
                    # tasks.
                    self._end_session()
                    self._chain[0:32] = chain
                    o = 32 * slot
                    self._ack_keys[o:o + 32] = ack
                    self._encs[o:o + 32] = enc
                finally:
                    wipe(exp)
                    if chain:
                        wipe(chain)
                    if ack:
                        wipe(ack)
            finally:
                wipe(dh)  # already wiped by hpkeks unless it failed to load
                transient.release(fresh)
            self._in_use[slot] = 1
            self._slot = slot
            self._index = 0
            self._started = self._clock()
            return enc
        finally:
            self._starting = False

    # -- sealing ---------------------------------------------------------------------------

    def seal(self, capture_time, carrier, waybill, identity_token, courier_id):
        """Seal one record into the queue -> its index in the current session. The queue
        keeps it with its capture times (this clock and `capture_time`) until settle() drops
        it. A bytearray identity_token is wiped after sealing.

        Raises NoSession, InvalidRecord or QueueFull before anything is consumed. The token
        buffer is wiped whatever happens once sealing began."""
        if self.needs_session():
            if self._slot != _NONE:
                self._end_session()  # exhausted or expired: its chain key goes now
            raise NoSession("no usable session")
        if not isinstance(capture_time, int) or not 0 <= capture_time <= 0xFFFFFFFF:
            raise InvalidRecord("capture time must be a uint below 2**32")
        _check_text(carrier, MAX_CARRIER, "carrier")
        _check_text(waybill, MAX_WAYBILL, "waybill")
        _check_text(courier_id, MAX_COURIER, "courier id")
        if not isinstance(identity_token, (bytes, bytearray, memoryview)) or \
                not 1 <= len(identity_token) <= MAX_TOKEN:
            raise InvalidRecord("identity token must be 1-%d bytes" % MAX_TOKEN)
        n = record.encoded_len(capture_time, carrier, waybill, identity_token, courier_id)
        sealed_n = cose.sealed_len(n)
        out = self.queue.reserve(sealed_n)
        i = self._index
        slot = self._slot
        pt = self._pt
        k = self._k
        try:
            record.encode_into(pt, capture_time, carrier, waybill, identity_token, courier_id)
            self._ratchet()
            self._index = i + 1  # from here index i is spent even if sealing failed: the chain
            # has moved on, and reusing i would pair K_{i+1} with nonce i
            cose.nonce_into(self._nonce, i)
            a = cose.aad_into(self._aad, self._device_id, self._encs[32 * slot:32 * slot + 32],
                              i)
            off = cose.header_into(out, 0, i, n)
            self._ccm.seal_into(k, self._nonce, memoryview(self._aad)[:a], pt, out[off:],
                                cose.TAG_LEN, n)
        finally:
            wipe(pt, 0, n)
            wipe(k)
            if isinstance(identity_token, bytearray):
                wipe(identity_token)
        if self._index >= MAX_SESSION_RECORDS:
            wipe(self._chain)
        self.queue.commit(slot, i, sealed_n, self._clock(), max(0, capture_time - _EPOCH_2000))
        return i

    def _ratchet(self):
        # K_i = HMAC(chain_i, 01)[:16]; chain_{i+1} = HMAC(chain_i, 02); chain_i overwritten.
        hm = self._hm
        hm.key(self._chain)
        try:
            self._k[0:16] = memoryview(hm.digest(b"\x01"))[:16]
            self._chain[0:32] = hm.digest(b"\x02")
        finally:
            hm.wipe()

    # -- the upstream's answer -------------------------------------------------------------

    def _slot_of(self, enc):
        if len(enc) != 32:
            return _NONE
        for s in range(SLOTS):
            if self._in_use[s] and self._encs[32 * s:32 * s + 32] == enc:
                return s
        return _NONE

    def batch(self, limit=batch.MAX_RECORDS):
        """The next batch to upload: up to `limit` queued records of the oldest session with
        records waiting. Use it as a context manager: while inside, the queue is pinned (no
        compaction moves the records being sent; a seal that would need it gets QueueFull).

            with sealer.batch() as b:
                if b.items:
                    await post(b.length(), b.chunks())   # then settle(b.enc, body)
        """
        return Batch(self, limit)

    def verify_ack(self, enc, ack, rej, ver, mac):
        """Whether `mac` is the answer MAC of (ack, rej, ver) for session `enc`."""
        slot = self._slot_of(enc)
        if slot == _NONE or not isinstance(mac, (bytes, bytearray)) or len(mac) != 32:
            return False
        hm = self._hm
        hm.key(memoryview(self._ack_keys)[32 * slot:32 * slot + 32])
        try:
            expected = ackmac.mac(hm, enc, ack, rej, ver)
        except ackmac.MalformedAnswer:
            return False
        finally:
            hm.wipe()
        return hmac256.equal(expected, mac)

    def settle(self, enc, body):
        """Settle session `enc` on the upstream's 200 answer body as received: if it is the
        canonical v1 encoding and its MAC verifies, drop its acked and rejected records and
        return (ack, rej, ver); otherwise drop nothing and return None."""
        try:
            ack, rej, ver, mac = answer.decode(body)
        except MalformedAnswer:
            return None
        if not self.verify_ack(enc, ack, rej, ver, mac):
            return None
        slot = self._slot_of(enc)
        for i in ack:
            self.queue.drop(slot, i)
        for i in rej:
            self.queue.drop(slot, i)
        self._free_slots()
        return ack, rej, ver

    def overdue(self, limit_ms):
        """Whether a queued record waits for its ack limit_ms or longer (by the later of the
        monotonic and the wall clock); the latch is the queue's (sealq.py)."""
        return self.queue.overdue(self._clock(), _wall(), limit_ms)


class Batch:
    def __init__(self, sealer, limit):
        self._q = sealer.queue
        self._device_id = sealer._device_id
        self.enc = None
        self.items = []  # type: list
        slot = _NONE
        for s, index, sealed in self._q.entries():
            if slot == _NONE:
                slot = s
                self.enc = sealer._enc(s)
            if s == slot and len(self.items) < limit:
                self.items.append((index, sealed))

    def __enter__(self):
        self._q.pinned += 1
        return self

    def __exit__(self, *exc):
        self._q.pinned -= 1
        self.items = []  # the views are only valid while pinned
        return False

    def length(self):
        return batch.length(self._device_id, self.items)

    def chunks(self):
        return batch.chunks(self._device_id, self.enc, self.items)
