"""Device registry operations over the store, for the CLI and for tests."""

from __future__ import annotations

import datetime
import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealscan.upstream.config import UpstreamConfig
from sealscan.upstream.errors import ProvisioningEntryError, RegistryError
from sealscan.upstream.provisioning import read_entries
from sealscan.upstream.sqlite import SQLiteStorage
from sealscan.upstream.storage import Device, DeviceStats


def open_store(cfg: UpstreamConfig) -> SQLiteStorage:
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
            "revoked_at": _iso(d.revoked_at)}


def stats_row(s: DeviceStats) -> dict[str, Any]:
    """Per-device operations view. Counts only: no record field ever appears here."""
    return {"device_id": s.device_id, "revoked": s.revoked, "last_seen": _iso(s.last_seen),
            "records": s.records, "late": s.late, "duplicates": s.duplicates,
            "rejects": sum(s.rejects.values()), "rejects_by_reason": dict(sorted(
                s.rejects.items()))}
