"""The SQLite store: migrations, one transaction per commit, dedup, conflicts, counters."""

import sqlite3

import pytest

from sealscan.upstream.errors import RegistryError, StorageError
from sealscan.upstream.sqlite import MIGRATIONS, SCHEMA_VERSION, SQLiteStorage
from sealscan.upstream.storage import BatchCommit, OpenedRecord

ENC = bytes(range(32))


def rec(i, sealed=b"sealed", capture=1_000_000, verdict="ok"):
    return OpenedRecord(i, sealed + bytes([i]), capture, "SF", "SF1234567890123",
                        b"RNID1:token", "courier-1", verdict)


@pytest.fixture
def store(tmp_path):
    s = SQLiteStorage(tmp_path / "u.db")
    s.add_devices([("dev-a", b"k" * 32), ("dev-b", b"j" * 32)])
    yield s
    s.close()


def test_new_database_is_migrated_to_the_latest_schema_in_wal_mode(tmp_path):
    s = SQLiteStorage(tmp_path / "u.db")
    assert s.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    assert s._conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.close()
    assert SQLiteStorage(tmp_path / "u.db").migrate() == SCHEMA_VERSION  # idempotent


def test_database_from_a_newer_sealscan_is_refused(tmp_path):
    conn = sqlite3.connect(tmp_path / "u.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StorageError, match="newer than this sealscan"):
        SQLiteStorage(tmp_path / "u.db")


def test_failed_migration_leaves_the_old_version(tmp_path, monkeypatch):
    monkeypatch.setattr("sealscan.upstream.sqlite.MIGRATIONS",
                        [*MIGRATIONS, "CREATE TABLE extra (x); CREATE TABLE devices (y)"])
    monkeypatch.setattr("sealscan.upstream.sqlite.SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StorageError, match=f"migration {SCHEMA_VERSION + 1}"):
        SQLiteStorage(tmp_path / "u.db")
    conn = sqlite3.connect(tmp_path / "u.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'extra'").fetchall()


def test_commit_dedups_and_reports_conflicts(store):
    first = store.commit_batch(BatchCommit("dev-a", ENC, [rec(0), rec(1)], {"decrypt": 1}),
                               now=1_000_010, late_seconds=30)
    assert first.stored == {0: "ok", 1: "ok"} and not first.duplicate
    forged = OpenedRecord(1, b"other bytes", 5, "SF", "X", b"RNID1:x", "c", "expired")
    again = store.commit_batch(BatchCommit("dev-a", ENC, [rec(0), forged, rec(2)]),
                               now=1_000_100, late_seconds=30)
    assert again.stored == {2: "ok"} and again.duplicate == {0: "ok"} and again.conflict == [1]
    assert store.count_records() == 3
    stats = {s.device_id: s for s in store.device_stats()}
    a = stats["dev-a"]
    assert (a.records, a.late, a.duplicates, a.last_seen) == (3, 1, 1, 1_000_100)
    assert a.rejects == {"decrypt": 1, "conflict": 1}
    assert stats["dev-b"].records == 0 and stats["dev-b"].last_seen is None


def test_group_commit_is_all_or_nothing(store):
    bad = OpenedRecord(5, b"x", 1, None, "W", b"t", "c", "ok")  # NOT NULL violated
    with pytest.raises(StorageError):
        store.commit_batches([BatchCommit("dev-a", ENC, [rec(0)]),
                              BatchCommit("dev-b", ENC, [rec(1), bad])], 10, 30)
    assert store.count_records() == 0
    assert all(s.last_seen is None for s in store.device_stats())


def test_registry_add_revoke_unrevoke(store):
    with pytest.raises(RegistryError, match="registered already"):
        store.add_devices([("dev-c", b"c" * 32), ("dev-a", b"x" * 32)])
    assert store.get_device("dev-c") is None  # all or nothing
    store.add_devices([("dev-a", b"x" * 32)], replace=True)
    assert store.get_device("dev-a").device_key == b"x" * 32
    assert store.set_revoked("dev-a", True).revoked
    assert store.get_device("dev-a").revoked_at is not None
    assert not store.set_revoked("dev-a", False).revoked
    with pytest.raises(RegistryError, match="no device"):
        store.set_revoked("nobody", True)
    assert [d.device_id for d in store.list_devices()] == ["dev-a", "dev-b"]
    assert "x" * 32 not in repr(store.list_devices())  # keys never in a repr


def test_unwritable_store_is_a_storage_error(tmp_path):
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StorageError):
        SQLiteStorage(tmp_path / "dir.db")
