"""The upstream's schema, once, in the two SQL dialects the stores speak.

`MIGRATIONS[n]` takes a database from schema n to n+1 (append, never edit one that has
shipped). Each text is a template over the few types the dialects name differently;
`migrations("sqlite")` gives exactly the SQL the SQLite store has always run, and
`migrations("postgresql")` the same tables and columns in PostgreSQL's types (a test checks
both stores end with the same tables and columns).
"""

from __future__ import annotations

DIALECTS = {
    "sqlite": {"blob": "BLOB", "real": "REAL", "bool": "INTEGER", "false": "0",
               "bigint": "INTEGER", "without_rowid": " WITHOUT ROWID"},
    "postgresql": {"blob": "BYTEA", "real": "DOUBLE PRECISION", "bool": "BOOLEAN",
                   "false": "FALSE", "bigint": "BIGINT", "without_rowid": ""},
}

MIGRATIONS: list[str] = [
    # 0 -> 1: registry, records, per-device counters for `upstream stats`.
    """
    CREATE TABLE devices (
        device_id TEXT PRIMARY KEY,
        device_key {blob} NOT NULL,
        revoked {bool} NOT NULL DEFAULT {false},
        created_at {real} NOT NULL,
        revoked_at {real}
    );
    CREATE TABLE records (
        device_id TEXT NOT NULL,
        enc {blob} NOT NULL,
        idx INTEGER NOT NULL,
        sealed {blob} NOT NULL,
        capture_time {bigint} NOT NULL,
        carrier TEXT NOT NULL,
        waybill TEXT NOT NULL,
        identity_token {blob} NOT NULL,
        courier_id TEXT NOT NULL,
        verdict TEXT NOT NULL,
        committed_at {real} NOT NULL,
        PRIMARY KEY (device_id, enc, idx)
    ){without_rowid};
    CREATE TABLE device_stats (
        device_id TEXT PRIMARY KEY,
        last_seen {real},
        records {bigint} NOT NULL DEFAULT 0,
        late {bigint} NOT NULL DEFAULT 0,
        duplicates {bigint} NOT NULL DEFAULT 0
    );
    CREATE TABLE device_rejects (
        device_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        count {bigint} NOT NULL,
        PRIMARY KEY (device_id, reason)
    );
    """,
    # 1 -> 2: fleet health (revocation reason, change time, heartbeats, refused batches),
    # export and retention by commit time.
    """
    ALTER TABLE devices ADD COLUMN revoked_reason TEXT;
    ALTER TABLE devices ADD COLUMN changed_at {real};
    CREATE INDEX devices_changed ON devices (changed_at);
    ALTER TABLE device_stats ADD COLUMN last_late {real};
    ALTER TABLE device_stats ADD COLUMN last_heartbeat {real};
    ALTER TABLE device_stats ADD COLUMN heartbeat_enc {blob};
    ALTER TABLE device_stats ADD COLUMN heartbeat_seq {bigint};
    ALTER TABLE device_stats ADD COLUMN queued {bigint};
    CREATE TABLE device_refusals (
        device_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        count {bigint} NOT NULL,
        last_at {real} NOT NULL,
        PRIMARY KEY (device_id, reason)
    );
    CREATE INDEX records_committed ON records (committed_at, device_id, enc, idx);
    """,
]


def migrations(dialect: str) -> list[str]:
    return [m.format(**DIALECTS[dialect]) for m in MIGRATIONS]
