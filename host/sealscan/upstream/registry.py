"""Device registry operations over the store, for the CLI and for tests."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from sealscan.upstream.config import UpstreamConfig
from sealscan.upstream.errors import ProvisioningEntryError
from sealscan.upstream.provisioning import read_entries
from sealscan.upstream.sqlite import SQLiteStorage
from sealscan.upstream.storage import Device, DeviceStats, Storage


def open_store(cfg: UpstreamConfig, max_connections: int = 4) -> Storage:
    """The configured store: PostgreSQL for a postgresql:// `database`, else the SQLite
    file (relative to the state directory). Migrates it; StorageError if it cannot."""
    if cfg.is_postgres:
        from sealscan.upstream.postgres import PostgresStorage  # psycopg only when used

        return PostgresStorage(cfg.database, max_connections=max_connections)
    return SQLiteStorage(cfg.db_path)


def import_entries(cfg: UpstreamConfig, path: Path, replace: bool = False) -> list[str]:
    """Open every provisioning entry in `path` with the upstream key and register the
    devices in one transaction (all or nothing). Returns the device ids."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ProvisioningEntryError(f"{path}: {e}") from e
    entries = read_entries(cfg.private_key(), text)
    store = open_store(cfg)
    try:
        store.add_devices([(e.device_id, e.device_key) for e in entries], replace=replace)
    finally:
        store.close()
    return [e.device_id for e in entries]


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.datetime.fromtimestamp(t, datetime.UTC).isoformat(timespec="seconds")


def device_row(d: Device) -> dict[str, Any]:
    return {"device_id": d.device_id, "revoked": d.revoked, "registered": _iso(d.created_at),
            "revoked_at": _iso(d.revoked_at)}


def stats_row(s: DeviceStats) -> dict[str, Any]:
    """Per-device operations view. Counts only: no record field ever appears here."""
    return {"device_id": s.device_id, "revoked": s.revoked, "last_seen": _iso(s.last_seen),
            "records": s.records, "late": s.late, "duplicates": s.duplicates,
            "rejects": sum(s.rejects.values()), "rejects_by_reason": dict(sorted(
                s.rejects.items()))}
