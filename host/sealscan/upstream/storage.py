"""The store behind the upstream: a small interface the HTTP handler codes against.

SQLite (`sealscan.upstream.sqlite.SQLiteStorage`) is the default. A PostgreSQL store would
implement the same class without touching the handler:

- `devices` / `records` / `device_stats` / `device_rejects` map to the same tables;
  `record_key` = PRIMARY KEY (device_id, enc, idx);
- `commit_batches` runs ONE transaction: `INSERT ... ON CONFLICT (device_id, enc, idx)
  DO NOTHING RETURNING idx` tells stored from duplicate, a `SELECT sealed, verdict` for the
  rest, `INSERT ... ON CONFLICT DO UPDATE` for the per-device counters, then `COMMIT` (with
  `synchronous_commit = on`). Only after `commit_batches` returns may the handler answer.
- migrations are the same numbered list, tracked in a `schema_version` table instead of
  SQLite's `PRAGMA user_version`.

Every method is blocking; the server calls them from a worker thread. Methods raise
StorageError (never a driver error) so the handler can answer 503 "retry later".
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Device:
    device_id: str
    device_key: bytes
    revoked: bool
    created_at: float
    revoked_at: float | None

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
    rejects: dict[str, int]


class Storage(abc.ABC):
    """Registry + record store. Implementations: SQLiteStorage (default)."""

    # -- registry
    @abc.abstractmethod
    def get_device(self, device_id: str) -> Device | None: ...

    @abc.abstractmethod
    def add_devices(self, entries: list[tuple[str, bytes]], replace: bool = False) -> int:
        """Register (device_id, device_key) pairs in one transaction; RegistryError if one is
        registered already (unless replace). Returns how many were added or replaced."""

    @abc.abstractmethod
    def set_revoked(self, device_id: str, revoked: bool) -> Device:
        """Revoke or unrevoke; RegistryError for an unknown device."""

    @abc.abstractmethod
    def list_devices(self) -> list[Device]: ...

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

    # -- operations
    @abc.abstractmethod
    def ping(self) -> None:
        """Raise StorageError unless the store answers (for /v1/health)."""

    @abc.abstractmethod
    def device_stats(self) -> list[DeviceStats]: ...

    @abc.abstractmethod
    def close(self) -> None: ...
