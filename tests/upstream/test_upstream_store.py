"""The store, on SQLite and on PostgreSQL (conftest's `backend`): migrations, one
transaction per commit, dedup, conflicts, counters."""

import sqlite3

import psycopg
import pytest
import upkit

from sealscan.upstream import postgres
from sealscan.upstream import sqlite as sqlite_store
from sealscan.upstream.errors import RegistryError, StorageError
from sealscan.upstream.postgres import PostgresStorage
from sealscan.upstream.sqlite import SQLiteStorage
from sealscan.upstream.storage import BatchCommit, OpenedRecord

ENC = bytes(range(32))


def rec(i, sealed=b"sealed", capture=1_000_000, verdict="ok"):
    return OpenedRecord(i, sealed + bytes([i]), capture, "SF", "SF1234567890123",
                        b"RNID1:token", "courier-1", verdict)


@pytest.fixture
def location(backend, tmp_path):
    """Where a store of this backend lives: a file path or a fresh database URL."""
    return tmp_path / "u.db" if backend == "sqlite" else upkit.new_database()


def open_at(location):
    if isinstance(location, str):
        return PostgresStorage(location)
    return SQLiteStorage(location)


def set_version(location, version):
    """Write a schema version behind the store's back (as a newer sealscan would)."""
    if isinstance(location, str):
        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute("UPDATE sealscan_schema SET version = %s", (version,))
    else:
        conn = sqlite3.connect(location)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.close()


def has_table(location, name):
    if isinstance(location, str):
        with psycopg.connect(location) as conn:
            return conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is not None
    conn = sqlite3.connect(location)
    try:
        return bool(conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?",
                                 (name,)).fetchall())
    finally:
        conn.close()


@pytest.fixture
def store(location):
    s = open_at(location)
    s.add_devices([("dev-a", b"k" * 32), ("dev-b", b"j" * 32)])
    yield s
    s.close()


def module_of(location):
    return postgres if isinstance(location, str) else sqlite_store


def test_new_database_is_migrated_to_the_latest_schema(location):
    s = open_at(location)
    mod = module_of(location)
    assert s.schema_version() == mod.SCHEMA_VERSION == len(mod.MIGRATIONS)
    assert sqlite_store.SCHEMA_VERSION == postgres.SCHEMA_VERSION  # the stores keep in step
    if isinstance(s, SQLiteStorage):
        assert s._conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.close()
    s = open_at(location)
    assert s.migrate() == mod.SCHEMA_VERSION  # idempotent
    s.close()


def test_database_from_a_newer_sealscan_is_refused(location):
    open_at(location).close()
    set_version(location, module_of(location).SCHEMA_VERSION + 1)
    with pytest.raises(StorageError, match="newer than this sealscan"):
        open_at(location)


def test_failed_migration_leaves_the_old_version(location, monkeypatch):
    mod = module_of(location)
    open_at(location).close()
    monkeypatch.setattr(mod, "MIGRATIONS",
                        [*mod.MIGRATIONS, "CREATE TABLE extra (x INTEGER); "
                                          "CREATE TABLE devices (y INTEGER)"])
    monkeypatch.setattr(mod, "SCHEMA_VERSION", mod.SCHEMA_VERSION + 1)
    with pytest.raises(StorageError, match=f"migration {mod.SCHEMA_VERSION}"):
        open_at(location)
    monkeypatch.undo()
    s = open_at(location)
    assert s.schema_version() == mod.SCHEMA_VERSION
    s.close()
    assert not has_table(location, "extra")


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


def test_unreachable_store_is_a_storage_error(backend, tmp_path):
    if backend == "sqlite":
        (tmp_path / "dir.db").mkdir()
        where = tmp_path / "dir.db"
    else:
        where = f"postgresql://nobody@/nowhere?host={tmp_path}&connect_timeout=2"
    with pytest.raises(StorageError) as err:
        SQLiteStorage(where) if backend == "sqlite" else PostgresStorage(where, timeout=3)
    assert "Traceback" not in str(err.value)


def test_the_same_key_twice_in_one_group_is_stored_once(store):
    res = store.commit_batches([BatchCommit("dev-a", ENC, [rec(0)]),
                                BatchCommit("dev-a", ENC, [rec(0), rec(1, b"o")]),
                                BatchCommit("dev-a", ENC, [rec(1, b"x")])], 10, 30)
    assert [r.stored for r in res] == [{0: "ok"}, {1: "ok"}, {}]
    assert res[1].duplicate == {0: "ok"} and res[2].conflict == [1]
    assert store.count_records() == 2


def test_both_stores_have_the_same_tables_and_columns(backend, tmp_path):
    """The two dialects of one schema (postgres.MIGRATIONS, sqlite.MIGRATIONS) stay in
    step: the same tables with the same columns after all migrations."""
    if backend != "postgresql":  # needs the PostgreSQL server; the sqlite run checks its own
        open_at(tmp_path / "u.db").close()
        return
    url = upkit.new_database()
    open_at(url).close()
    open_at(tmp_path / "u.db").close()
    with psycopg.connect(url) as conn:
        pg = {(t, c) for t, c in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name <> 'sealscan_schema'")}
    conn = sqlite3.connect(tmp_path / "u.db")
    lite = {(t, c[1]) for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE "
                                               "type = 'table'").fetchall()
            for c in conn.execute(f"PRAGMA table_info({t})")}
    conn.close()
    assert pg == lite and len(pg) > 30
