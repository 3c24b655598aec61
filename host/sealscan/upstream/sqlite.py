"""SQLite store (the default): WAL journal, synchronous=FULL, numbered schema migrations.

Migrations: MIGRATIONS[n] takes a database from schema version n to n+1; the version lives in
`PRAGMA user_version`. Opening a database applies the missing ones, each in its own
transaction, and refuses a database newer than this code. Add a migration by appending to
the list; never edit one that has shipped.

One connection per thread (the server reads the registry on its event loop and writes from
one commit thread; several server worker processes share the file, serialised by SQLite's
write lock with a busy timeout).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from sealscan.upstream import schema
from sealscan.upstream.errors import RegistryError, StorageError
from sealscan.upstream.storage import (
    STATS_DEVICES_SQL,
    STATS_REFUSALS_SQL,
    STATS_REJECTS_SQL,
    BatchCommit,
    CommitResult,
    Device,
    DeviceStats,
    ExportedRecord,
    OpenedRecord,
    RecordKey,
    Storage,
    aggregate_commit,
    stats_from_rows,
)

MIGRATIONS: list[str] = schema.migrations("sqlite")  # upstream/schema.py
SCHEMA_VERSION = len(MIGRATIONS)

_STATS_UPSERT = """
INSERT INTO device_stats (device_id, last_seen, records, late, duplicates, last_late)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (device_id) DO UPDATE SET last_seen = max(coalesce(last_seen, 0), excluded.last_seen),
    last_late = coalesce(excluded.last_late, last_late),
    records = records + excluded.records, late = late + excluded.late,
    duplicates = duplicates + excluded.duplicates
"""
_REJECT_UPSERT = """
INSERT INTO device_rejects (device_id, reason, count) VALUES (?, ?, ?)
ON CONFLICT (device_id, reason) DO UPDATE SET count = count + excluded.count
"""

_DEVICE_COLUMNS = "device_id, device_key, revoked, created_at, revoked_at, revoked_reason"


def _device(row: tuple) -> Device:
    return Device(row[0], row[1], bool(row[2]), row[3], row[4], row[5])


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600 if it does not exist, and take group/other bits
    away if it does: the store holds device keys and identity tokens. SQLite creates the
    -wal and -shm files with the database file's mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            with contextlib.suppress(FileNotFoundError, PermissionError):
                if p.stat().st_mode & 0o077:
                    p.chmod(0o600)
        return
    os.close(fd)


class SQLiteStorage(Storage):
    def __init__(self, path: Path | str, busy_timeout: float = 30.0):
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if not self.path.is_dir():
            try:
                create_private(self.path)
            except OSError as e:
                raise StorageError(f"{self.path}: {e}") from e
        self.migrate()

    # -- connections
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=self.busy_timeout,
                                       isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as e:
                raise StorageError(f"{self.path}: {e}") from e
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for c in self._all:
                c.close()
            self._all.clear()
        self._local = threading.local()

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error (then StorageError for a
        database error; typed errors of our own pass through)."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            raise StorageError(f"{self.path}: {what}: {e}") from e

    def migrate(self) -> int:
        """Apply missing migrations; returns the schema version now in the file."""
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StorageError(f"{self.path}: schema version {version} is newer than this "
                               f"sealscan understands ({SCHEMA_VERSION}); upgrade sealscan")
        while version < SCHEMA_VERSION:
            with self._transaction(f"migration {version + 1}") as conn:
                # another worker process may have migrated while we waited for the lock
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version < SCHEMA_VERSION:
                    for stmt in MIGRATIONS[version].split(";"):
                        if stmt.strip():
                            conn.execute(stmt)
                    version += 1
                    conn.execute(f"PRAGMA user_version = {version}")
        return version

    def schema_version(self) -> int:
        try:
            return int(self._conn().execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.Error as e:
            raise StorageError(f"{self.path}: {e}") from e

    # -- registry
    def get_device(self, device_id: str) -> Device | None:
        try:
            row = self._conn().execute(f"SELECT {_DEVICE_COLUMNS} FROM devices "
                                       "WHERE device_id = ?", (device_id,)).fetchone()
        except sqlite3.Error as e:
            raise StorageError(f"registry lookup: {e}") from e
        return None if row is None else _device(row)

    def add_devices(self, entries: list[tuple[str, bytes]], replace: bool = False) -> int:
        now = time.time()
        with self._transaction("registry import") as conn:
            for device_id, key in entries:
                exists = conn.execute("SELECT 1 FROM devices WHERE device_id = ?",
                                      (device_id,)).fetchone()
                if exists and not replace:
                    raise RegistryError(f"device {device_id} is registered already "
                                        "(use --replace to re-provision it)")
                conn.execute(
                    "INSERT INTO devices (device_id, device_key, revoked, created_at, "
                    "changed_at) VALUES (?, ?, 0, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
                    "device_key = excluded.device_key, created_at = excluded.created_at, "
                    "changed_at = excluded.changed_at", (device_id, key, now, now))
        return len(entries)

    def set_revoked(self, device_id: str, revoked: bool, reason: str | None = None) -> Device:
        try:
            cur = self._conn().execute(
                "UPDATE devices SET revoked = ?, revoked_at = ?, revoked_reason = ?, "
                "changed_at = ? WHERE device_id = ?",
                (int(revoked), time.time() if revoked else None, reason if revoked else None,
                 time.time(), device_id))
        except sqlite3.Error as e:
            raise StorageError(f"registry update: {e}") from e
        if cur.rowcount != 1:
            raise RegistryError(f"no device {device_id} in the registry")
        device = self.get_device(device_id)
        assert device is not None
        return device

    def changed_devices(self, since: float) -> list[str]:
        try:
            rows = self._conn().execute("SELECT device_id FROM devices WHERE changed_at >= ?",
                                        (since,)).fetchall()
        except sqlite3.Error as e:
            raise StorageError(f"{self.path}: registry changes: {e}") from e
        return [r[0] for r in rows]

    def list_devices(self) -> list[Device]:
        rows = self._conn().execute(f"SELECT {_DEVICE_COLUMNS} FROM devices "
                                    "ORDER BY device_id").fetchall()
        return [_device(r) for r in rows]

    # -- records
    def commit_batches(self, batches: list[BatchCommit], now: float,
                       late_seconds: int) -> list[CommitResult]:
        first: dict[RecordKey, OpenedRecord] = {}
        for b in batches:
            for r in b.records:
                first.setdefault((b.device_id, b.enc, r.index), r)
        with self._transaction("commit") as conn:
            inserted: set[RecordKey] = set()
            stored: dict[RecordKey, tuple[bytes, str]] = {}
            for (dev, enc, idx), r in first.items():
                cur = conn.execute(
                    # ON CONFLICT of the key only: OR IGNORE would also swallow NOT NULL errors
                    "INSERT INTO records (device_id, enc, idx, sealed, capture_time, "
                    "carrier, waybill, identity_token, courier_id, verdict, committed_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (device_id, enc, idx) DO NOTHING",
                    (dev, enc, idx, r.sealed, r.capture_time, r.carrier, r.waybill,
                     r.identity_token, r.courier_id, r.verdict, now))
                if cur.rowcount == 1:
                    inserted.add((dev, enc, idx))
                    stored[(dev, enc, idx)] = (r.sealed, r.verdict)
                else:
                    stored[(dev, enc, idx)] = conn.execute(
                        "SELECT sealed, verdict FROM records WHERE device_id = ? AND enc = ? "
                        "AND idx = ?", (dev, enc, idx)).fetchone()
            results, counters, rejects = aggregate_commit(batches, inserted, stored, now,
                                                          late_seconds)
            for dev, (records, late, dups) in counters.items():
                conn.execute(_STATS_UPSERT, (dev, now, records, late, dups, now if late else None))
            for (dev, reason), n in rejects.items():
                conn.execute(_REJECT_UPSERT, (dev, reason, n))
        return results

    def count_records(self, device_id: str | None = None) -> int:
        if device_id is None:
            row = self._conn().execute("SELECT count(*) FROM records").fetchone()
        else:
            row = self._conn().execute("SELECT count(*) FROM records WHERE device_id = ?",
                                       (device_id,)).fetchone()
        return int(row[0])

    def load_records(self, device_id: str) -> list[tuple[bytes, OpenedRecord]]:
        rows = self._conn().execute(
            "SELECT enc, idx, sealed, capture_time, carrier, waybill, identity_token, "
            "courier_id, verdict FROM records WHERE device_id = ? ORDER BY enc, idx",
            (device_id,)).fetchall()
        return [(r[0], OpenedRecord(*r[1:])) for r in rows]

    def export_page(self, after: tuple[float, str, bytes, int] | None, until: float,
                    limit: int) -> list[ExportedRecord]:
        cond, args = "committed_at < ?", [until]
        if after is not None:
            cond += " AND (committed_at, device_id, enc, idx) > (?, ?, ?, ?)"
            args += list(after)
        rows = self._conn().execute(
            "SELECT committed_at, device_id, enc, idx, sealed, capture_time, carrier, "
            "waybill, identity_token, courier_id, verdict FROM records WHERE "
            f"{cond} ORDER BY committed_at, device_id, enc, idx LIMIT ?",
            (*args, limit)).fetchall()
        return [ExportedRecord(r[0], r[1], r[2], OpenedRecord(*r[3:])) for r in rows]

    def delete_committed_before(self, cutoff: float) -> int:
        with self._transaction("retention") as conn:
            return conn.execute("DELETE FROM records WHERE committed_at < ?",
                                (cutoff,)).rowcount

    # -- fleet health
    def heartbeat(self, device_id: str, enc: bytes, seq: int, queued: int, now: float) -> bool:
        try:
            row = self._conn().execute(
                "INSERT INTO device_stats (device_id, last_heartbeat, heartbeat_enc, "
                "heartbeat_seq, queued) VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id) "
                "DO UPDATE SET last_heartbeat = excluded.last_heartbeat, heartbeat_enc = "
                "excluded.heartbeat_enc, heartbeat_seq = excluded.heartbeat_seq, queued = "
                "excluded.queued WHERE heartbeat_enc IS NOT excluded.heartbeat_enc OR "
                "heartbeat_seq < excluded.heartbeat_seq RETURNING 1",
                (device_id, now, enc, seq, queued)).fetchone()
        except sqlite3.Error as e:
            raise StorageError(f"{self.path}: heartbeat: {e}") from e
        return row is not None

    def add_refusals(self, counts: dict[tuple[str, str], int], now: float) -> None:
        if not counts:
            return
        with self._transaction("refusals") as conn:
            for (dev, reason), n in sorted(counts.items()):
                conn.execute(
                    "INSERT INTO device_refusals (device_id, reason, count, last_at) "
                    "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM devices WHERE device_id = ?)"
                    " ON CONFLICT (device_id, reason) DO UPDATE SET count = count + "
                    "excluded.count, last_at = max(last_at, excluded.last_at)",
                    (dev, reason, n, now, dev))

    # -- operations
    def ping(self) -> None:
        try:
            self._conn().execute("SELECT 1 FROM devices LIMIT 1").fetchall()
        except sqlite3.Error as e:
            raise StorageError(f"{self.path}: {e}") from e

    def device_stats(self) -> list[DeviceStats]:
        conn = self._conn()
        try:
            return stats_from_rows(conn.execute(STATS_REJECTS_SQL).fetchall(),
                                   conn.execute(STATS_REFUSALS_SQL).fetchall(),
                                   conn.execute(STATS_DEVICES_SQL).fetchall())
        except sqlite3.Error as e:
            raise StorageError(f"{self.path}: stats: {e}") from e
