"""Device registry operations over the store, for the CLI and for tests."""

from __future__ import annotations

import datetime
import hmac
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealscan.upstream.config import Operations, UpstreamConfig
from sealscan.upstream.errors import ProvisioningEntryError, RegistryError
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


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # registered with this very key
    rekeyed: list[str] = field(default_factory=list)  # the old key is refused from now on
    revoked: list[str] = field(default_factory=list)  # re-keyed, but still revoked

    @property
    def device_ids(self) -> list[str]:
        return self.added + self.unchanged + self.rekeyed


def import_entries(cfg: UpstreamConfig, path: Path, rekey: bool = False) -> ImportResult:
    """Open every provisioning entry in `path` with the upstream key and register the
    devices in one transaction (all or nothing). An entry identical to what is registered
    changes nothing; one with another key for a registered id is refused (RegistryError)
    unless `rekey`: the scanner holding the old key would be refused ever after."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ProvisioningEntryError(f"{path}: {e}") from e
    entries = read_entries(cfg.private_key(), text)
    result = ImportResult()
    store = open_store(cfg)
    try:
        todo = []
        for e in entries:
            known = store.get_device(e.device_id)
            if known is None:
                result.added.append(e.device_id)
            elif hmac.compare_digest(known.device_key, e.device_key):
                result.unchanged.append(e.device_id)
                continue
            elif not rekey:
                raise RegistryError(
                    f"device {e.device_id} is registered already with another key: importing "
                    "this entry would make the scanner holding the old key be refused "
                    "(403 unauthenticated) from now on. If that scanner was re-provisioned "
                    "with this key (a returned or re-staged device), import with --rekey")
            else:
                result.rekeyed.append(e.device_id)
                if known.revoked:
                    result.revoked.append(e.device_id)
            todo.append((e.device_id, e.device_key))
        if todo:
            store.add_devices(todo, replace=bool(result.rekeyed))
    finally:
        store.close()
    return result


def is_registered(cfg: UpstreamConfig, device_id: str) -> bool:
    store = open_store(cfg)
    try:
        return store.get_device(device_id) is not None
    finally:
        store.close()


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
