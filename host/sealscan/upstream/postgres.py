"""PostgreSQL store: the same guarantees as the SQLite one, shared by several upstream nodes.

psycopg 3 with a connection pool (psycopg_pool), chosen over asyncpg because the `Storage`
interface is blocking (one commit thread per worker, CLI commands); asyncpg measured ~1.7x
less client CPU per commit group (bench/bench_pgdriver.py), a few µs per record against
~1–4 ms of server CPU per request, and would need an event loop of its own in the commit
thread (docs/upstream.md, "Storage").

- A commit group is ONE transaction of four statements whatever its size: every record
  inserted with one `INSERT … SELECT FROM unnest(…) ON CONFLICT (device_id, enc, idx) DO
  NOTHING RETURNING`, the stored bytes of the keys that were there already read back with
  one `SELECT` (duplicate or conflict), then the per-device counters and rejects as two
  upserts. `synchronous_commit = on`: committed means on disk before the answer.
- Migrations: `MIGRATIONS[n]` takes schema n -> n+1; the version lives in the table
  `sealscan_schema`; every migration runs in its own transaction under an advisory lock,
  so nodes starting together migrate once; a database newer than this code is refused.
- Every method raises StorageError (or RegistryError), never a driver error.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import psycopg
import psycopg_pool

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
    Storage,
    aggregate_commit,
    stats_from_rows,
)

MIGRATIONS: list[str] = schema.migrations("postgresql")  # upstream/schema.py
SCHEMA_VERSION = len(MIGRATIONS)
_LOCK_KEY = 0x5EA15CA9  # advisory lock for migrations

_DEVICE_COLUMNS = "device_id, device_key, revoked, created_at, revoked_at, revoked_reason"


def _device(row: tuple) -> Device:
    return Device(row[0], bytes(row[1]), bool(row[2]), row[3], row[4], row[5])


class PostgresStorage(Storage):
    def __init__(self, url: str, max_connections: int = 4, timeout: float = 30.0):
        self.url = url
        self._shown = _redact(url)
        try:
            self.pool = psycopg_pool.ConnectionPool(
                url, min_size=1, max_size=max_connections, timeout=timeout, open=False,
                kwargs={"autocommit": True}, configure=_configure, name="sealscan")
            self.pool.open(wait=True, timeout=timeout)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as e:
            raise StorageError(f"{self._shown}: {_reason(e)}") from None
        try:
            self.migrate()
        except BaseException:
            self.pool.close()
            raise

    def close(self) -> None:
        self.pool.close()

    @contextlib.contextmanager
    def _conn(self, what: str, transaction: bool = False) -> Iterator[psycopg.Connection]:
        try:
            with self.pool.connection() as conn:
                if transaction:
                    with conn.transaction():
                        yield conn
                else:
                    yield conn
        except (psycopg.Error, psycopg_pool.PoolTimeout) as e:
            raise StorageError(f"{self._shown}: {what}: {_reason(e)}") from None

    def migrate(self) -> int:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StorageError(f"{self._shown}: schema version {version} is newer than this "
                               f"sealscan understands ({SCHEMA_VERSION}); upgrade sealscan")
        while version < SCHEMA_VERSION:
            with self._conn(f"migration {version + 1}", transaction=True) as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                conn.execute("CREATE TABLE IF NOT EXISTS sealscan_schema "
                             "(one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), "
                             "version INTEGER NOT NULL)")
                row = conn.execute("SELECT version FROM sealscan_schema").fetchone()
                version = row[0] if row else 0  # another node may have migrated meanwhile
                if version < SCHEMA_VERSION:
                    conn.execute(MIGRATIONS[version])
                    version += 1
                    conn.execute("INSERT INTO sealscan_schema (version) VALUES (%s) "
                                 "ON CONFLICT (one) DO UPDATE SET version = excluded.version",
                                 (version,))
        return version

    def schema_version(self) -> int:
        with self._conn("schema version") as conn:
            if conn.execute("SELECT to_regclass('sealscan_schema')").fetchone()[0] is None:
                return 0
            row = conn.execute("SELECT version FROM sealscan_schema").fetchone()
        return int(row[0]) if row else 0

    # -- registry
    def get_device(self, device_id: str) -> Device | None:
        with self._conn("registry lookup") as conn:
            row = conn.execute(f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE device_id = %s",
                               (device_id,)).fetchone()
        return None if row is None else _device(row)

    def add_devices(self, entries: list[tuple[str, bytes]], replace: bool = False) -> int:
        now = time.time()
        with self._conn("registry import", transaction=True) as conn:
            if not replace:
                rows = conn.execute("SELECT device_id FROM devices WHERE device_id = ANY(%s) "
                                    "ORDER BY device_id LIMIT 1",
                                    ([d for d, _ in entries],)).fetchall()
                if rows:
                    raise RegistryError(f"device {rows[0][0]} is registered already "
                                        "(use --replace to re-provision it)")
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO devices (device_id, device_key, revoked, created_at, "
                    "changed_at) VALUES (%s, %s, FALSE, %s, %s) ON CONFLICT (device_id) DO "
                    "UPDATE SET device_key = excluded.device_key, created_at = "
                    "excluded.created_at, changed_at = excluded.changed_at",
                    [(d, k, now, now) for d, k in entries])
        return len(entries)

    def set_revoked(self, device_id: str, revoked: bool, reason: str | None = None) -> Device:
        with self._conn("registry update") as conn:
            row = conn.execute(
                "UPDATE devices SET revoked = %s, revoked_at = %s, revoked_reason = %s, "
                f"changed_at = %s WHERE device_id = %s RETURNING {_DEVICE_COLUMNS}",
                (revoked, time.time() if revoked else None, reason if revoked else None,
                 time.time(), device_id)).fetchone()
        if row is None:
            raise RegistryError(f"no device {device_id} in the registry")
        return _device(row)

    def changed_devices(self, since: float) -> list[str]:
        with self._conn("registry changes") as conn:
            rows = conn.execute("SELECT device_id FROM devices WHERE changed_at >= %s",
                                (since,)).fetchall()
        return [r[0] for r in rows]

    def list_devices(self) -> list[Device]:
        with self._conn("registry list") as conn:
            rows = conn.execute(f"SELECT {_DEVICE_COLUMNS} FROM devices "
                                "ORDER BY device_id").fetchall()
        return [_device(r) for r in rows]

    # -- records
    def commit_batches(self, batches: list[BatchCommit], now: float,
                       late_seconds: int) -> list[CommitResult]:
        first: dict[tuple[str, bytes, int], OpenedRecord] = {}
        for b in batches:
            for r in b.records:
                first.setdefault((b.device_id, b.enc, r.index), r)
        with self._conn("commit", transaction=True) as conn:
            inserted: set[tuple[str, bytes, int]] = set()
            if first:
                keys = list(first)
                recs = list(first.values())
                cur = conn.execute(
                    "INSERT INTO records (device_id, enc, idx, sealed, capture_time, carrier, "
                    "waybill, identity_token, courier_id, verdict, committed_at) "
                    "SELECT d, e, i, s, c, ca, w, t, co, v, %s FROM unnest("
                    "%s::text[], %s::bytea[], %s::int[], %s::bytea[], %s::bigint[], %s::text[],"
                    " %s::text[], %s::bytea[], %s::text[], %s::text[]) AS u(d, e, i, s, c, ca,"
                    " w, t, co, v) ON CONFLICT (device_id, enc, idx) DO NOTHING "
                    "RETURNING device_id, enc, idx",
                    (now, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
                     [r.sealed for r in recs], [r.capture_time for r in recs],
                     [r.carrier for r in recs], [r.waybill for r in recs],
                     [r.identity_token for r in recs], [r.courier_id for r in recs],
                     [r.verdict for r in recs]))
                inserted = {(d, bytes(e), i) for d, e, i in cur.fetchall()}
            stored: dict[tuple[str, bytes, int], tuple[bytes, str]] = {
                k: (first[k].sealed, first[k].verdict) for k in inserted}
            old = [k for k in first if k not in inserted]
            if old:
                rows = conn.execute(
                    "SELECT r.device_id, r.enc, r.idx, r.sealed, r.verdict FROM records r "
                    "JOIN unnest(%s::text[], %s::bytea[], %s::int[]) AS u(d, e, i) "
                    "ON r.device_id = u.d AND r.enc = u.e AND r.idx = u.i",
                    ([k[0] for k in old], [k[1] for k in old], [k[2] for k in old])).fetchall()
                for d, e, i, s, v in rows:
                    stored[(d, bytes(e), i)] = (bytes(s), v)
            results, counters, rejects = aggregate_commit(batches, inserted, stored, now,
                                                          late_seconds)
            if counters:
                devs = sorted(counters)
                conn.execute(
                    "INSERT INTO device_stats (device_id, last_seen, records, late, duplicates, "
                    "last_late) SELECT d, %s, r, l, u, CASE WHEN l > 0 THEN %s END FROM "
                    "unnest(%s::text[], %s::bigint[], %s::bigint[], %s::bigint[]) AS "
                    "x(d, r, l, u) ON CONFLICT (device_id) DO UPDATE SET "
                    "last_seen = greatest(device_stats.last_seen, excluded.last_seen), "
                    "last_late = coalesce(excluded.last_late, device_stats.last_late), "
                    "records = device_stats.records + excluded.records, "
                    "late = device_stats.late + excluded.late, "
                    "duplicates = device_stats.duplicates + excluded.duplicates",
                    (now, now, devs, [counters[d][0] for d in devs], [counters[d][1] for d in devs],
                     [counters[d][2] for d in devs]))
            if rejects:
                keys2 = sorted(rejects)
                conn.execute(
                    "INSERT INTO device_rejects (device_id, reason, count) SELECT * FROM "
                    "unnest(%s::text[], %s::text[], %s::bigint[]) ON CONFLICT (device_id, "
                    "reason) DO UPDATE SET count = device_rejects.count + excluded.count",
                    ([k[0] for k in keys2], [k[1] for k in keys2], [rejects[k] for k in keys2]))
        return results

    def count_records(self, device_id: str | None = None) -> int:
        with self._conn("count") as conn:
            if device_id is None:
                row = conn.execute("SELECT count(*) FROM records").fetchone()
            else:
                row = conn.execute("SELECT count(*) FROM records WHERE device_id = %s",
                                   (device_id,)).fetchone()
        return int(row[0])

    def load_records(self, device_id: str) -> list[tuple[bytes, OpenedRecord]]:
        with self._conn("load") as conn:
            rows = conn.execute(
                "SELECT enc, idx, sealed, capture_time, carrier, waybill, identity_token, "
                "courier_id, verdict FROM records WHERE device_id = %s ORDER BY enc, idx",
                (device_id,)).fetchall()
        return [(bytes(r[0]), OpenedRecord(r[1], bytes(r[2]), r[3], r[4], r[5], bytes(r[6]),
                                           r[7], r[8])) for r in rows]

    def export_page(self, after: tuple[float, str, bytes, int] | None, until: float,
                    limit: int) -> list[ExportedRecord]:
        cond, args = "committed_at < %s", [until]
        if after is not None:
            cond += " AND (committed_at, device_id, enc, idx) > (%s, %s, %s, %s)"
            args += list(after)
        with self._conn("export") as conn:
            rows = conn.execute(
                "SELECT committed_at, device_id, enc, idx, sealed, capture_time, carrier, "
                "waybill, identity_token, courier_id, verdict FROM records WHERE "
                f"{cond} ORDER BY committed_at, device_id, enc, idx LIMIT %s",
                (*args, limit)).fetchall()
        return [ExportedRecord(r[0], r[1], bytes(r[2]), OpenedRecord(
            r[3], bytes(r[4]), r[5], r[6], r[7], bytes(r[8]), r[9], r[10])) for r in rows]

    def delete_committed_before(self, cutoff: float) -> int:
        with self._conn("retention", transaction=True) as conn:
            cur = conn.execute("DELETE FROM records WHERE committed_at < %s", (cutoff,))
            return cur.rowcount

    # -- fleet health
    def heartbeat(self, device_id: str, enc: bytes, seq: int, queued: int, now: float) -> bool:
        with self._conn("heartbeat") as conn:
            row = conn.execute(
                "INSERT INTO device_stats (device_id, last_heartbeat, heartbeat_enc, "
                "heartbeat_seq, queued) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (device_id) "
                "DO UPDATE SET last_heartbeat = excluded.last_heartbeat, heartbeat_enc = "
                "excluded.heartbeat_enc, heartbeat_seq = excluded.heartbeat_seq, queued = "
                "excluded.queued WHERE device_stats.heartbeat_enc IS DISTINCT FROM "
                "excluded.heartbeat_enc OR device_stats.heartbeat_seq < excluded.heartbeat_seq "
                "RETURNING 1", (device_id, now, enc, seq, queued)).fetchone()
        return row is not None

    def add_refusals(self, counts: dict[tuple[str, str], int], now: float) -> None:
        if not counts:
            return
        keys = sorted(counts)
        with self._conn("refusals") as conn:
            conn.execute(
                "INSERT INTO device_refusals (device_id, reason, count, last_at) SELECT d, r, "
                "n, %s FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS u(d, r, n) "
                "WHERE EXISTS (SELECT 1 FROM devices WHERE devices.device_id = u.d) "
                "ON CONFLICT (device_id, reason) DO UPDATE SET count = device_refusals.count "
                "+ excluded.count, last_at = greatest(device_refusals.last_at, "
                "excluded.last_at)",
                (now, [k[0] for k in keys], [k[1] for k in keys], [counts[k] for k in keys]))

    # -- operations
    def ping(self) -> None:
        with self._conn("ping") as conn:
            conn.execute("SELECT 1").fetchall()

    def device_stats(self) -> list[DeviceStats]:
        with self._conn("stats") as conn:
            return stats_from_rows(conn.execute(STATS_REJECTS_SQL).fetchall(),
                                   conn.execute(STATS_REFUSALS_SQL).fetchall(),
                                   conn.execute(STATS_DEVICES_SQL).fetchall())


def _configure(conn: psycopg.Connection) -> None:
    conn.execute("SET synchronous_commit = on")


def _redact(url: str) -> str:
    """The URL without a password, for messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://(unparsable URL)"
    host = info.get("host", "")
    return f"postgresql://{info.get('user', '')}@{host}/{info.get('dbname', '')}"


def _reason(e: BaseException) -> str:
    """One line naming the error: the server's message, never a query's parameters."""
    diag = getattr(e, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or str(e).splitlines()[0] if str(e) else type(e).__name__
    return f"{type(e).__name__}: {text}"
