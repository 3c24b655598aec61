"""Device registry operations over the store, for the CLI and for tests."""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any

from sealscan.upstream.config import Operations, UpstreamConfig
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
            "revoked_at": _iso(d.revoked_at), "revoked_reason": d.revoked_reason}


# Fleet states, in the order they take precedence (docs/upstream.md, "Fleet health").
FLEET_STATES = ("revoked", "never-connected", "refused", "silent", "late", "ok")


def last_heard(s: DeviceStats) -> float | None:
    """The last time the device reached us at all: a batch, a heartbeat or a refusal."""
    times = [t for t in (s.last_seen, s.last_heartbeat, s.last_refused) if t is not None]
    return max(times) if times else None


def fleet_state(s: DeviceStats, now: float, ops: Operations) -> str:
    """revoked: refused by the registry (its refused batches are counted, by reason);
    never-connected: registered, never heard from; refused: its last contact was refused
    (unauthenticated, rate, session...); silent: not heard from for `silent_seconds`;
    late: a record of it was committed more than `late_seconds` after capture within the
    last `late_window_seconds`; ok: none of these."""
    heard = last_heard(s)
    if s.revoked:
        return "revoked"
    if heard is None:
        return "never-connected"
    if s.last_refused is not None and s.last_refused >= max(s.last_seen or 0,
                                                            s.last_heartbeat or 0):
        return "refused"
    if now - heard > ops.silent_seconds:
        return "silent"
    if s.last_late is not None and now - s.last_late <= ops.late_window_seconds:
        return "late"
    return "ok"


def stats_row(s: DeviceStats, now: float | None = None,
              ops: Operations | None = None) -> dict[str, Any]:
    """Per-device operations view. Counts only: no record field ever appears here."""
    now = time.time() if now is None else now
    return {"device_id": s.device_id,
            "state": fleet_state(s, now, ops or Operations()),
            "revoked": s.revoked, "revoked_reason": s.revoked_reason,
            "last_seen": _iso(s.last_seen), "last_heartbeat": _iso(s.last_heartbeat),
            "last_refused": _iso(s.last_refused), "last_heard": _iso(last_heard(s)),
            "queued": s.queued,
            "records": s.records, "late": s.late, "duplicates": s.duplicates,
            "rejects": sum(s.rejects.values()), "rejects_by_reason": dict(sorted(
                s.rejects.items())),
            "refused": sum(s.refusals.values()),
            "refused_by_reason": dict(sorted(s.refusals.items()))}


def fleet_summary(stats: list[DeviceStats], now: float, ops: Operations) -> dict[str, int]:
    counts = dict.fromkeys(FLEET_STATES, 0)
    for s in stats:
        counts[fleet_state(s, now, ops)] += 1
    return counts
