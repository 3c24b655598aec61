"""Which PostgreSQL driver for the store: psycopg 3 vs asyncpg on the commit statements the
store runs (docs/upstream.md, "Driver choice"). Loopback unix socket, a bounded number of
groups.

    .venv/bin/python -m bench pgdriver     (env: BENCH_PGDRIVER_GROUPS=300, _BATCHES=16, _RECORDS=2)

A commit group = one transaction: one `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO
NOTHING RETURNING` for all records, one counter upsert. Reports groups/s on one connection
(bound by the server's fsync) and the client's CPU per group (what the upstream pays).
asyncpg is not a dependency: install it into .venv to include it (`pip install asyncpg`).
"""

from __future__ import annotations

import asyncio
import os
import time

from sealscan.upstream.pglocal import LocalPostgres

GROUPS = int(os.environ.get("BENCH_PGDRIVER_GROUPS", 300))
BATCHES = int(os.environ.get("BENCH_PGDRIVER_BATCHES", 16))
RECORDS = int(os.environ.get("BENCH_PGDRIVER_RECORDS", 2))
DDL = ("CREATE TABLE r (device_id text, enc bytea, idx int, sealed bytea, verdict text, "
       "committed_at float8, PRIMARY KEY (device_id, enc, idx)); "
       "CREATE TABLE s (device_id text PRIMARY KEY, records bigint)")
INSERT = ("INSERT INTO r SELECT * FROM unnest({0}::text[], {1}::bytea[], {2}::int[], "
          "{3}::bytea[], {4}::text[], {5}::float8[]) ON CONFLICT DO NOTHING "
          "RETURNING device_id, enc, idx")
UPSERT = ("INSERT INTO s SELECT * FROM unnest({0}::text[], {1}::bigint[]) ON CONFLICT "
          "(device_id) DO UPDATE SET records = s.records + excluded.records")


def _groups() -> list[list[list]]:
    out = []
    for g in range(GROUPS):
        rows = [(f"dev-{g}-{b}", os.urandom(32), i, os.urandom(200), "ok", 1.0)
                for b in range(BATCHES) for i in range(RECORDS)]
        out.append([list(c) for c in zip(*rows, strict=True)])
    return out


def _psycopg(url: str, groups: list) -> tuple[float, float]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(DDL)
        ins, ups = INSERT.format(*["%s"] * 6), UPSERT.format("%s", "%s")
        t, cpu = time.perf_counter(), time.process_time()
        for cols in groups:
            with conn.transaction():
                conn.execute(ins, cols).fetchall()
                conn.execute(ups, [cols[0][::RECORDS], [RECORDS] * BATCHES])
        return time.perf_counter() - t, time.process_time() - cpu


def _asyncpg(url: str, groups: list) -> tuple[float, float]:
    import asyncpg

    async def run() -> tuple[float, float]:
        conn = await asyncpg.connect(url)
        await conn.execute(DDL)
        ins = INSERT.format(*[f"${k}" for k in range(1, 7)])
        ups = UPSERT.format("$1", "$2")
        t, cpu = time.perf_counter(), time.process_time()
        for cols in groups:
            async with conn.transaction():
                await conn.fetch(ins, *cols)
                await conn.execute(ups, cols[0][::RECORDS], [RECORDS] * BATCHES)
        out = time.perf_counter() - t, time.process_time() - cpu
        await conn.close()
        return out

    return asyncio.run(run())


def main() -> None:
    groups = _groups()
    rows = []
    with LocalPostgres() as pg:
        for name, fn in (("psycopg 3", _psycopg), ("asyncpg", _asyncpg)):
            try:
                wall, cpu = fn(pg.new_database("drv"), groups)
            except ImportError:
                rows.append(f"{name:10} not installed")
                continue
            rows.append(f"{name:10} {GROUPS / wall:8.0f} groups/s  client CPU "
                        f"{cpu / GROUPS * 1000:.2f} ms/group = "
                        f"{cpu / GROUPS / (BATCHES * RECORDS) * 1e6:.1f} µs/record")
    print(f"commit groups of {BATCHES} batches x {RECORDS} records, {GROUPS} groups, one "
          "connection, synchronous_commit on (PostgreSQL 16 from pgserver, unix socket)")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
