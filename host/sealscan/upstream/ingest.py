"""The batch handler's logic, independent of HTTP: body in, (status, CBOR body) out.

Order of work for `POST /v1/batches` (docs/upstream.md has the table of answers):

1. size limit (413), CBOR batch structure (400; more than MAX_RECORDS records: 413);
2. registry: unknown or revoked device (403), per-device rate (429), store backlog (503);
3. HPKE session for (device, key, enc) from an LRU cache, else `ReceiverSession` (400);
4. every record: open (AES-CCM under K_i), decode the plaintext strictly, check its fields,
   verify the identity token (Ed25519 against configured issuers, expiry). A record that
   fails gets a `rej` reason; if NO record of the batch authenticates the sender has not
   shown the device key: 403 "unauthenticated", and nothing is written;
5. commit the batch in one transaction (dedup by (device, enc, index); a duplicate is acked
   again with its stored verdict; the same index with other bytes is rejected "conflict");
6. only then answer `{ack, rej, ver, mac}`, MAC'd with the session's ack key.

Fault points for crash tests: with SEALSCAN_UPSTREAM_FAULT=<point> the process kills itself
(SIGKILL, no cleanup) when a batch reaches <point>: "after-receive", "before-commit",
"after-commit" (committed, answer not sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import cbor2

from sealscan.codes import IDENTITY_PREFIX
from sealscan.protocol import (
    MAX_RECORDS,
    AuthenticationFailed,
    BadAckMac,
    MalformedBatch,
    ProtocolError,
    ReceiverSession,
    decode_batch,
)
from sealscan.protocol.heartbeat import decode_heartbeat, heartbeat_ack_mac, verify_heartbeat
from sealscan.upstream import logs
from sealscan.upstream.config import Limits, Operations
from sealscan.upstream.errors import StorageError
from sealscan.upstream.metrics import Metrics
from sealscan.upstream.registry import fleet_summary
from sealscan.upstream.storage import BatchCommit, CommitResult, Device, OpenedRecord, Storage
from sealscan.upstream.tokens import TokenVerdicts

FAULT_ENV = "SEALSCAN_UPSTREAM_FAULT"
FAULT_POINTS = ("after-receive", "before-commit", "after-commit")
REFUSAL_FLUSH = 1.0  # seconds refused-batch counts wait before they are written
FLEET_REFRESH = 10.0  # seconds the fleet gauge of /metrics is reused
# Reasons a record cannot be accepted, sent in `rej` (never retried by the device):
#   decrypt    the record does not open under this session and index (wrong key, tampered)
#   malformed  not a COSE_Encrypt0 of v1, or its plaintext is not exactly the v1 record map
#   fields     it opens, but field 4 is not an identity token (no RNID1: prefix)
#   conflict   this (session, index) is stored already with other bytes
REJECT_REASONS = ("decrypt", "malformed", "fields", "conflict")
# Verdicts on the wire; a token that does not even parse is stored as "malformed" and
# answered "bad-signature" (the courier sees a cross either way).
WIRE_VERDICT = {"ok": "ok", "bad-signature": "bad-signature", "expired": "expired",
                "unknown-issuer": "unknown-issuer", "malformed": "bad-signature"}


class Reply:
    """An HTTP answer: status, CBOR body, and extra headers."""

    __slots__ = ("status", "body", "headers")

    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}

    @classmethod
    def error(cls, status: int, reason: str, retry_after: int | None = None) -> Reply:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return cls(status, cbor2.dumps({"error": reason}), headers)


_FAULT = os.environ.get(FAULT_ENV)  # read once: a crash-test server is started with it


def fault(point: str) -> None:
    if _FAULT == point:
        logs.event("fault-kill", logging.WARNING, point=point)
        os.kill(os.getpid(), signal.SIGKILL)


class RateLimiter:
    """Token bucket per device: `rate` batches/s sustained, `burst` at once."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.buckets: dict[str, tuple[float, float]] = {}

    def allow(self, device_id: str) -> bool:
        now = self.clock()
        tokens, last = self.buckets.get(device_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self.buckets[device_id] = (tokens, now)
            return False
        self.buckets[device_id] = (tokens - 1.0, now)
        return True


class GroupCommitter:
    """Commits batches from one thread; batches that arrive while a commit runs go together
    into the next transaction (group commit: one fsync for many batches). Each batch is
    still all-or-nothing, and no caller is answered before its transaction committed."""

    def __init__(self, storage: Storage, late_seconds: int, max_group: int = 512,
                 delay: float = 0.0):
        self.storage, self.late_seconds, self.max_group = storage, late_seconds, max_group
        self.delay = delay  # seconds a group waits for more batches before it commits
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="sealscan-commit")
        self.queue: list[tuple[BatchCommit, asyncio.Future[CommitResult]]] = []
        self.in_flight = 0
        self.task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return len(self.queue) + self.in_flight

    async def commit(self, batch: BatchCommit) -> CommitResult:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[CommitResult] = loop.create_future()
        self.queue.append((batch, fut))
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        if self.delay > 0:  # device-shaped traffic: few concurrent batches; a few ms of
            await asyncio.sleep(self.delay)  # waiting puts many in one fsync + handoff
        while self.queue:
            group, self.queue = self.queue[:self.max_group], self.queue[self.max_group:]
            self.in_flight = len(group)
            try:
                results = await loop.run_in_executor(
                    self.executor, self.storage.commit_batches, [b for b, _ in group],
                    time.time(), self.late_seconds)
            except Exception as e:  # StorageError, or anything else: nothing was committed
                for _, fut in group:
                    if not fut.done():
                        fut.set_exception(e if isinstance(e, StorageError)
                                          else StorageError(type(e).__name__))
            else:
                for (_, fut), res in zip(group, results, strict=True):
                    if not fut.done():
                        fut.set_result(res)
            finally:
                self.in_flight = 0

    def close(self) -> None:
        self.executor.shutdown(wait=True)


class RegistryCache:
    """Registry rows (and unknown ids) a worker keeps, so a batch costs no store round
    trip. Every `ttl` seconds one query asks the store which devices changed since the last
    poll (registered, re-keyed, revoked, unrevoked; with a margin for clock skew between
    nodes and transactions in flight) and drops those rows. A revocation made on any node or
    by the CLI therefore holds here within `ttl` seconds: the bound docs/upstream.md gives.
    ttl = 0: no cache, every batch reads the store."""

    SKEW_MARGIN = 30.0  # seconds the change poll looks back beyond its last run

    def __init__(self, storage: Storage, ttl: float, size: int,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time):
        self.storage, self.ttl, self.size, self.clock, self.wall = (storage, ttl, size,
                                                                    clock, wall)
        self.rows: OrderedDict[str, Device | None] = OrderedDict()
        self.polled_at = clock()
        self.polled_wall = wall()

    def _poll(self) -> None:
        now, wall = self.clock(), self.wall()
        for device_id in self.storage.changed_devices(self.polled_wall - self.SKEW_MARGIN):
            self.rows.pop(device_id, None)
        self.polled_at, self.polled_wall = now, wall

    def get(self, device_id: str) -> Device | None:
        if self.ttl <= 0:
            return self.storage.get_device(device_id)
        if self.clock() - self.polled_at >= self.ttl:
            self._poll()  # StorageError propagates (503), the cache stays as it was
        if device_id in self.rows:
            self.rows.move_to_end(device_id)
            return self.rows[device_id]
        device = self.storage.get_device(device_id)
        self.rows[device_id] = device
        if len(self.rows) > self.size:
            self.rows.popitem(last=False)
        return device


class Ingestor:
    def __init__(self, storage: Storage, upstream_sk: bytes, issuers: dict, limits: Limits,
                 metrics: Metrics | None = None, clock: Callable[[], float] = time.time,
                 operations: Operations | None = None):
        self.storage, self.upstream_sk, self.issuers = storage, upstream_sk, issuers
        self.limits, self.clock = limits, clock
        self.metrics = metrics or Metrics()
        self.rate = RateLimiter(limits.device_rate, limits.device_burst)
        self.committer = GroupCommitter(storage, limits.late_seconds,
                                        delay=limits.commit_delay_ms / 1000)
        self.sessions: OrderedDict[tuple[str, bytes, bytes], ReceiverSession] = OrderedDict()
        self.tokens = TokenVerdicts(issuers, limits.token_cache)
        self.registry = RegistryCache(storage, limits.registry_ttl, limits.registry_cache)
        self.refusals: dict[tuple[str, str], int] = {}
        self.operations = operations or Operations()
        self.heartbeat_skew = self.operations.heartbeat_skew_seconds
        self._fleet: tuple[float, dict[str, int]] | None = None

    def close(self) -> None:
        self.flush_refusals()
        self.committer.close()

    # -- refused batches of registered devices, counted per device (fleet health)
    def refused(self, device_id: str, reason: str) -> None:
        """Count a refused batch; the counts reach the store at most REFUSAL_FLUSH seconds
        later, in one statement from the commit thread (a flood of refused batches does
        not turn into a flood of writes)."""
        self.metrics.inc("refused", reason)
        key = (device_id, reason)
        first = not self.refusals
        self.refusals[key] = self.refusals.get(key, 0) + 1
        if first:
            with contextlib.suppress(RuntimeError):  # no running loop: flushed at close
                asyncio.get_running_loop().call_later(REFUSAL_FLUSH, self._flush_soon)

    def _flush_soon(self) -> None:
        counts, self.refusals = self.refusals, {}
        if counts:
            fut = self.committer.executor.submit(self._store_refusals, counts)
            fut.add_done_callback(lambda f: f.exception())  # logged in _store_refusals

    def flush_refusals(self) -> None:
        counts, self.refusals = self.refusals, {}
        if counts:
            self._store_refusals(counts)

    def _store_refusals(self, counts: dict[tuple[str, str], int]) -> None:
        try:
            self.storage.add_refusals(counts, time.time())
        except StorageError:
            logs.event("storage-error", logging.ERROR, stage="refusals")

    # -- fleet gauge for /metrics
    async def fleet(self) -> dict[str, int] | None:
        """Registered devices per fleet state, read from the store at most every
        FLEET_REFRESH seconds (on the commit thread); None if the store fails."""
        now = time.monotonic()
        if self._fleet is None or now - self._fleet[0] > FLEET_REFRESH:
            try:
                stats = await asyncio.get_running_loop().run_in_executor(
                    self.committer.executor, self.storage.device_stats)
            except StorageError:
                return None
            self._fleet = (now, fleet_summary(stats, self.clock(), self.operations))
        return self._fleet[1]

    # -- heartbeats
    async def heartbeat(self, body: bytes) -> Reply:
        """POST /v1/heartbeat: authenticated liveness (docs/protocol.md 5.1)."""
        m = self.metrics
        try:
            hb = decode_heartbeat(body)
        except ProtocolError:
            m.inc("heartbeats", "refused")
            logs.event("heartbeat-refused", status=400, reason="malformed", size=len(body))
            return Reply.error(400, "malformed")
        try:
            device = self.registry.get(hb.device_id)
        except StorageError:
            return Reply.error(503, "storage", retry_after=5)
        if device is None or device.revoked:
            m.inc("heartbeats", "refused")
            reason = "unknown-device" if device is None else "revoked-device"
            logs.event("heartbeat-refused", status=403, reason=reason,
                       device=logs.claimed_id(hb.device_id) if device is None
                       else device.device_id)
            if device is not None:
                self.refused(device.device_id, reason)
            else:
                self.metrics.inc("refused", reason)
            return Reply.error(403, reason)
        session = self._session(device.device_id, device.device_key, hb.enc)
        try:
            if session is None:
                raise BadAckMac("no session")
            verify_heartbeat(hb, session.ack_key)
        except BadAckMac:
            m.inc("heartbeats", "refused")
            logs.event("heartbeat-refused", status=403, reason="unauthenticated",
                       device=device.device_id)
            self.refused(device.device_id, "unauthenticated")
            return Reply.error(403, "unauthenticated")
        now = self.clock()
        if abs(hb.time - now) > self.heartbeat_skew:
            m.inc("heartbeats", "refused")
            logs.event("heartbeat-refused", status=400, reason="clock", device=device.device_id,
                       skew=round(hb.time - now))
            self.refused(device.device_id, "clock")
            return Reply.error(400, "clock")
        try:
            fresh = await asyncio.get_running_loop().run_in_executor(
                self.committer.executor, self.storage.heartbeat, device.device_id, hb.enc,
                hb.seq, hb.queued, now)
        except StorageError:
            logs.event("storage-error", logging.ERROR, stage="heartbeat")
            return Reply.error(503, "storage", retry_after=5)
        m.inc("heartbeats", "ok" if fresh else "replay")
        logs.event("heartbeat", device=device.device_id, queued=hb.queued, fresh=fresh)
        return Reply(200, cbor2.dumps({"mac": heartbeat_ack_mac(session.ack_key, hb.enc,
                                                                hb.seq)}))

    async def handle(self, body: bytes) -> Reply:
        t0 = time.perf_counter()
        reply = await self._handle(body, t0)
        self.metrics.status(reply.status)
        return reply

    async def _handle(self, body: bytes, t0: float) -> Reply:
        lim = self.limits
        if len(body) > lim.max_body:
            logs.event("batch-refused", status=413, reason="too-large", size=len(body))
            return Reply.error(413, "too-large")
        fault("after-receive")
        try:
            batch = decode_batch(body)
        except MalformedBatch:
            reason = "too-many-records" if _count_records(body) > MAX_RECORDS else "malformed"
            status = 413 if reason == "too-many-records" else 400
            logs.event("batch-refused", status=status, reason=reason, size=len(body))
            return Reply.error(status, reason)
        if len(batch.records) > lim.max_records:
            logs.event("batch-refused", status=413, reason="too-many-records")
            return Reply.error(413, "too-many-records")
        try:
            device = self.registry.get(batch.device_id)
        except StorageError:
            logs.event("storage-error", logging.ERROR, stage="registry")
            return Reply.error(503, "storage", retry_after=5)
        if device is None or device.revoked:
            reason = "unknown-device" if device is None else "revoked-device"
            shown = logs.claimed_id(batch.device_id) if device is None else device.device_id
            logs.event("batch-refused", status=403, reason=reason, device=shown)
            if device is not None:
                self.refused(device.device_id, reason)
            else:
                self.metrics.inc("refused", reason)
            return Reply.error(403, reason)
        if not self.rate.allow(device.device_id):
            logs.event("batch-refused", status=429, reason="rate", device=device.device_id)
            self.refused(device.device_id, "rate")
            return Reply.error(429, "rate", retry_after=1)
        if self.committer.pending >= lim.max_pending:
            logs.event("batch-refused", status=503, reason="busy", device=device.device_id)
            return Reply.error(503, "busy", retry_after=1)
        session = self._session(device.device_id, device.device_key, batch.enc)
        if session is None:
            logs.event("batch-refused", status=400, reason="session", device=device.device_id)
            self.refused(device.device_id, "session")
            return Reply.error(400, "session")

        opened: list[OpenedRecord] = []
        rej: dict[int, str] = {}
        authenticated = 0
        now = int(self.clock())
        hits, misses = self.tokens.hits, self.tokens.misses
        for index, sealed in batch.records:
            result = self._open(session, index, sealed, now)
            if isinstance(result, OpenedRecord):
                opened.append(result)
                authenticated += 1
            else:
                rej[index] = result
                authenticated += result not in ("decrypt", "malformed")
        self.metrics.inc("tokens", "cached", self.tokens.hits - hits)
        self.metrics.inc("tokens", "verified", self.tokens.misses - misses)
        if not authenticated:
            self.metrics.inc("rejects", "unauthenticated")
            logs.event("batch-refused", status=403, reason="unauthenticated",
                       device=device.device_id, records=len(batch.records))
            self.refused(device.device_id, "unauthenticated")
            return Reply.error(403, "unauthenticated")

        fault("before-commit")
        rejects: dict[str, int] = {}
        for reason in rej.values():
            rejects[reason] = rejects.get(reason, 0) + 1
        try:
            res = await self.committer.commit(
                BatchCommit(device.device_id, batch.enc, opened, rejects))
        except StorageError:
            logs.event("storage-error", logging.ERROR, stage="commit", device=device.device_id)
            return Reply.error(503, "storage", retry_after=5)
        fault("after-commit")

        for index in res.conflict:
            rej[index] = "conflict"
        if res.conflict:  # protocol 9.2: only a key holder or a repeated ikmE can do this
            logs.event("conflict", logging.WARNING, device=device.device_id,
                       records=len(res.conflict))
        verdicts = {**res.duplicate, **res.stored}
        ack = sorted(verdicts)
        ver = {i: WIRE_VERDICT[verdicts[i]] for i in ack}
        body = session.answer_body(ack, rej, ver)

        m = self.metrics
        m.inc("records", "stored", len(res.stored))
        m.inc("records", "duplicate", len(res.duplicate))
        m.inc("records", "rejected", len(rej))
        for reason in rej.values():
            m.inc("rejects", reason)
        for verdict in res.stored.values():
            m.inc("verdicts", verdict)
        late = sum(1 for r in opened if r.index in res.stored
                   and now - r.capture_time > self.limits.late_seconds)
        if late:
            m.inc("late", "", late)
        elapsed = time.perf_counter() - t0
        m.observe_latency(elapsed)
        logs.event("batch", status=200, device=device.device_id, stored=len(res.stored),
                   duplicate=len(res.duplicate), rejected=len(rej), late=late,
                   ms=round(elapsed * 1000, 2))
        return Reply(200, body)

    def _session(self, device_id: str, key: bytes, enc: bytes) -> ReceiverSession | None:
        ck = (device_id, key, enc)
        s = self.sessions.get(ck)
        if s is not None:
            self.sessions.move_to_end(ck)
            return s
        try:
            s = ReceiverSession(self.upstream_sk, device_id, key, enc)
        except ProtocolError:
            return None
        self.sessions[ck] = s
        if len(self.sessions) > self.limits.session_cache:
            self.sessions.popitem(last=False)
        return s

    def _open(self, session: ReceiverSession, index: int, sealed: bytes,
              now: int) -> OpenedRecord | str:
        """The stored form of one record, or the reason it is rejected."""
        try:
            rec = session.open(index, sealed)
        except AuthenticationFailed:
            return "decrypt"
        except ProtocolError:  # MalformedRecord: the structure, or the plaintext fields
            return "malformed"
        if not rec.identity_token.startswith(_IDENTITY_PREFIX):
            return "fields"
        verdict = self.tokens.verdict(rec.identity_token, now)
        return OpenedRecord(index, sealed, rec.capture_time, rec.carrier, rec.waybill,
                            rec.identity_token, rec.courier_id, verdict)


_IDENTITY_PREFIX = IDENTITY_PREFIX.encode()


def _count_records(body: bytes) -> int:
    """How many records a body that failed to decode claims (to tell 413 from 400)."""
    try:
        m = cbor2.loads(body)
        recs = m.get("recs") if isinstance(m, dict) else None
        return len(recs) if isinstance(recs, (list, tuple)) else 0
    except Exception:  # any garbage: it is simply malformed
        return 0
