"""The store behind the upstream: a small interface the HTTP handler codes against.

Implementations: `sqlite.SQLiteStorage` (the default, one machine) and
`postgres.PostgresStorage` (several upstream nodes sharing one PostgreSQL). Both keep the
same tables (`devices`, `records` keyed (device_id, enc, idx), `device_stats`,
`device_rejects`, `device_refusals`) and the same numbered migrations, and both run a
commit group as ONE transaction; `aggregate_commit` below is the shared logic that turns
"which keys were inserted now, and what was stored under the others" into the per-batch
results and per-device counters, so the two stores cannot disagree on what a duplicate or
a conflict is.

Every method is blocking; the server calls them from a worker thread. Methods raise
StorageError (never a driver error) so the handler can answer 503 "retry later".
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Device:
    device_id: str
    device_key: bytes
    revoked: bool
    created_at: float
    revoked_at: float | None
    revoked_reason: str | None = None

    def __repr__(self) -> str:  # never show the key
        return (f"Device({self.device_id!r}, revoked={self.revoked}, "
                f"created_at={self.created_at})")


@dataclass(frozen=True)
class OpenedRecord:
    """What is stored for one accepted record: the sealed record as received, the fields of
    its plaintext (identity token included: it is the regulator's data), and the verdict."""

    index: int
    sealed: bytes
    capture_time: int
    carrier: str
    waybill: str
    identity_token: bytes
    courier_id: str
    verdict: str  # "ok", "bad-signature", "expired", "unknown-issuer", "malformed"

    def __repr__(self) -> str:  # no record data in any log or traceback
        return f"OpenedRecord(index={self.index}, verdict={self.verdict!r})"


@dataclass
class BatchCommit:
    """One authenticated batch to commit: its opened records and its rejects by reason."""

    device_id: str
    enc: bytes
    records: list[OpenedRecord]
    rejects: dict[str, int] = field(default_factory=dict)


@dataclass
class CommitResult:
    stored: dict[int, str] = field(default_factory=dict)  # index -> verdict, new now
    duplicate: dict[int, str] = field(default_factory=dict)  # index -> stored verdict
    conflict: list[int] = field(default_factory=list)  # stored earlier with other bytes


@dataclass(frozen=True)
class DeviceStats:
    device_id: str
    revoked: bool
    last_seen: float | None
    records: int
    late: int
    duplicates: int
    rejects: dict[str, int]  # records rejected, by reason
    last_heartbeat: float | None = None  # last authenticated heartbeat (upstream clock)
    queued: int | None = None  # records the device said it holds, in that heartbeat
    revoked_reason: str | None = None
    refusals: dict[str, int] = field(default_factory=dict)  # batches refused, by reason
    last_refused: float | None = None
    last_late: float | None = None  # last commit that stored a late record


@dataclass(frozen=True)
class ExportedRecord:
    """One stored record in export order (commit time, device, session, index)."""

    committed_at: float
    device_id: str
    enc: bytes
    record: OpenedRecord

    @property
    def cursor(self) -> tuple[float, str, bytes, int]:
        return (self.committed_at, self.device_id, self.enc, self.record.index)


RecordKey = tuple[str, bytes, int]  # (device_id, enc, index)

# The queries behind `device_stats`, the same text on both stores (no placeholders).
STATS_REJECTS_SQL = "SELECT device_id, reason, count FROM device_rejects"
STATS_REFUSALS_SQL = "SELECT device_id, reason, count, last_at FROM device_refusals"
STATS_DEVICES_SQL = (
    "SELECT d.device_id, d.revoked, s.last_seen, coalesce(s.records, 0), "
    "coalesce(s.late, 0), coalesce(s.duplicates, 0), s.last_heartbeat, s.queued, "
    "d.revoked_reason, s.last_late FROM devices d LEFT JOIN device_stats s "
    "ON s.device_id = d.device_id ORDER BY d.device_id")


def stats_from_rows(rejects_rows: Iterable[Sequence[Any]], refusal_rows: Iterable[Sequence[Any]],
                    device_rows: Iterable[Sequence[Any]]) -> list[DeviceStats]:
    """DeviceStats from the rows of the three STATS_*_SQL queries."""
    rejects: dict[str, dict[str, int]] = {}
    for dev, reason, n in rejects_rows:
        rejects.setdefault(dev, {})[reason] = n
    refusals: dict[str, dict[str, int]] = {}
    last_refused: dict[str, float] = {}
    for dev, reason, n, at in refusal_rows:
        refusals.setdefault(dev, {})[reason] = n
        last_refused[dev] = max(at, last_refused.get(dev, at))
    return [DeviceStats(r[0], bool(r[1]), r[2], r[3], r[4], r[5], rejects.get(r[0], {}),
                        last_heartbeat=r[6], queued=r[7], revoked_reason=r[8],
                        refusals=refusals.get(r[0], {}), last_refused=last_refused.get(r[0]),
                        last_late=r[9])
            for r in device_rows]


def aggregate_commit(batches: list[BatchCommit], inserted: set[RecordKey],
                     stored: dict[RecordKey, tuple[bytes, str]], now: float,
                     late_seconds: int) -> tuple[list[CommitResult],
                                                 dict[str, list[int]],
                                                 dict[tuple[str, str], int]]:
    """Results of a commit group, in batch order, as if its batches were stored one after
    the other: `inserted` = keys whose FIRST occurrence in the group was inserted now;
    `stored` = (sealed, verdict) under every key of the group after the insert. A later
    occurrence of a key is a duplicate if its bytes equal the stored ones, else a conflict.
    Returns (results, per-device [records, late, duplicates], per-(device, reason) rejects)."""
    results: list[CommitResult] = []
    counters: dict[str, list[int]] = {}
    rejects: dict[tuple[str, str], int] = {}
    seen: set[RecordKey] = set()
    for b in batches:
        res = CommitResult()
        late = 0
        for r in b.records:
            key = (b.device_id, b.enc, r.index)
            if key in inserted and key not in seen:
                res.stored[r.index] = r.verdict
                late += now - r.capture_time > late_seconds
            elif stored[key][0] == r.sealed:
                res.duplicate[r.index] = stored[key][1]
            else:
                res.conflict.append(r.index)
            seen.add(key)
        c = counters.setdefault(b.device_id, [0, 0, 0])
        c[0] += len(res.stored)
        c[1] += late
        c[2] += len(res.duplicate)
        reasons = dict(b.rejects)
        if res.conflict:
            reasons["conflict"] = reasons.get("conflict", 0) + len(res.conflict)
        for reason, n in reasons.items():
            rejects[(b.device_id, reason)] = rejects.get((b.device_id, reason), 0) + n
        results.append(res)
    return results, counters, rejects


class Storage(abc.ABC):
    """Registry + record store. Implementations: SQLiteStorage (default), PostgresStorage."""

    # -- registry
    @abc.abstractmethod
    def get_device(self, device_id: str) -> Device | None: ...

    @abc.abstractmethod
    def add_devices(self, entries: list[tuple[str, bytes]], replace: bool = False) -> int:
        """Register (device_id, device_key) pairs in one transaction; RegistryError if one is
        registered already (unless replace). Returns how many were added or replaced."""

    @abc.abstractmethod
    def set_revoked(self, device_id: str, revoked: bool, reason: str | None = None) -> Device:
        """Revoke (with the operator's reason) or unrevoke; RegistryError for an unknown
        device."""

    @abc.abstractmethod
    def list_devices(self) -> list[Device]: ...

    @abc.abstractmethod
    def changed_devices(self, since: float) -> list[str]:
        """Ids of devices registered, replaced, revoked or unrevoked at or after `since`
        (the store's writers' clocks), for the registry caches of the serving nodes."""

    # -- records
    @abc.abstractmethod
    def commit_batches(self, batches: list[BatchCommit], now: float,
                       late_seconds: int) -> list[CommitResult]:
        """Store every batch in ONE transaction and return, per batch, what was new, what
        was there already, and what conflicts. Durable when this returns; on any failure
        nothing of it is stored and StorageError is raised."""

    def commit_batch(self, batch: BatchCommit, now: float, late_seconds: int) -> CommitResult:
        return self.commit_batches([batch], now, late_seconds)[0]

    @abc.abstractmethod
    def count_records(self, device_id: str | None = None) -> int: ...

    @abc.abstractmethod
    def load_records(self, device_id: str) -> list[tuple[bytes, OpenedRecord]]:
        """(enc, record) of a device, for the regulator's export and for tests."""

    @abc.abstractmethod
    def export_page(self, after: tuple[float, str, bytes, int] | None, until: float,
                    limit: int) -> list[ExportedRecord]:
        """Up to `limit` records committed before `until`, after the cursor `after`, in
        (committed_at, device_id, enc, index) order: a resumable export."""

    @abc.abstractmethod
    def delete_committed_before(self, cutoff: float) -> int:
        """Retention: delete records committed before `cutoff`; returns how many."""

    # -- fleet health
    @abc.abstractmethod
    def heartbeat(self, device_id: str, enc: bytes, seq: int, queued: int, now: float) -> bool:
        """Store an authenticated heartbeat; False (nothing stored) when it is not newer
        than the last one of the same session (a replay)."""

    @abc.abstractmethod
    def add_refusals(self, counts: dict[tuple[str, str], int], now: float) -> None:
        """Count refused batches of registered devices by (device_id, reason)."""

    # -- operations
    @abc.abstractmethod
    def ping(self) -> None:
        """Raise StorageError unless the store answers (for /v1/health)."""

    @abc.abstractmethod
    def device_stats(self) -> list[DeviceStats]: ...

    @abc.abstractmethod
    def close(self) -> None: ...
