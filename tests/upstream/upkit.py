"""Test kit for the upstream: a TLS server in a background thread or a subprocess, simulated
devices that seal with the host sealer, and record factories with canary data."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import select
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cbor2
from aiohttp import web

from sealscan.codes import make_identity_token, new_test_issuer
from sealscan.protocol import (
    Answer,
    Batch,
    Record,
    SenderSession,
    decode_answer,
    encode_batch,
    generate_device_key,
)
from sealscan.upstream.client import BatchClient, pinned_ssl_context
from sealscan.upstream.config import Limits, UpstreamConfig, init_state, load_config
from sealscan.upstream.provisioning import make_provisioning_entry
from sealscan.upstream.registry import open_store
from sealscan.upstream.server import make_app, make_ingestor, tls_context

# Canary identity data: must never appear in a log, a metric or `stats` output.
CANARY_NAME = "欧阳金丝雀"
CANARY_ID = "11010519491231002X"
CANARY_PHONE = "13912345678"
CANARY_WAYBILL = "SF9876543210123"


# A TEST issuer every state made by make_state trusts (library-made tokens for bulk tests;
# the verdict tests make theirs with the `sealscan codes identity` command).
ISSUER = new_test_issuer(seed=bytes(range(32)))


# Set by conftest's `backend` fixture: None (SQLite file in the state directory) or a
# function returning the URL of a fresh PostgreSQL database.
new_database: Callable[[], str] | None = None


def make_state(tmp: Path, **limits: object) -> UpstreamConfig:
    """A state directory whose store is the test's backend (saved in upstream.json, so
    `serve` subprocesses and CLI commands use it too)."""
    init_state(tmp / "upstream")
    cfg = load_config(tmp / "upstream")
    if new_database is not None:
        cfg.database = new_database()
    if limits:
        cfg.limits = dataclasses.replace(Limits(), **limits)  # type: ignore[arg-type]
    cfg.trust_issuer(ISSUER.kid, ISSUER.public_bytes)  # saves
    return cfg


def token(name: str = "张三", id_number: str = "440524188001010014",
          phone: str = "13800005678") -> bytes:
    """A signed identity token's scanned text (bytes, prefix included)."""
    now = int(time.time())
    return make_identity_token(ISSUER, id_type=11, id_number=id_number, name=name,
                               phone=phone, issued_at=now - 60,
                               expires_at=now + 86400).encode()


def record(tok: bytes | None = None, waybill: str = "SF1234567890123",
           capture_time: int | None = None) -> Record:
    return Record(capture_time=int(time.time()) if capture_time is None else capture_time,
                  carrier="SF", waybill=waybill, identity_token=tok or token(),
                  courier_id="courier-7")


@dataclass
class SimDevice:
    """A device as the upstream sees it: id, key, and the host sealer's sessions."""

    device_id: str
    upstream_pk: bytes
    key: bytes = field(default_factory=generate_device_key)
    session: SenderSession | None = None

    def new_session(self) -> SenderSession:
        self.session = SenderSession.start(self.upstream_pk, self.device_id, self.key)
        return self.session

    def seal(self, records: list[Record]) -> list[tuple[int, bytes]]:
        s = self.session or self.new_session()
        return [s.seal(r) for r in records]

    def body(self, sealed: list[tuple[int, bytes]], device_id: str | None = None) -> bytes:
        assert self.session is not None
        return encode_batch(Batch(device_id or self.device_id, self.session.enc, sealed))

    def raw_body(self, recs: object, **fields: object) -> bytes:
        """A batch body built with plain cbor2, bypassing the library's checks (for hostile
        bodies): fields override v/dev/enc."""
        assert self.session is not None
        m = {"v": 1, "dev": self.device_id, "enc": self.session.enc, "recs": recs, **fields}
        return cbor2.dumps(m, canonical=True)

    def answer(self, data: bytes) -> Answer:
        """Decode an answer and check its MAC, as the device does before dropping anything."""
        assert self.session is not None
        ans = decode_answer(data)
        self.session.verify_answer(ans)
        return ans


def register(cfg: UpstreamConfig, *device_ids: str) -> list[SimDevice]:
    """Provision devices the way a depot does: entries sealed to the upstream key, imported."""
    from sealscan.upstream.registry import import_entries

    devices = [SimDevice(d, cfg.public_key()) for d in device_ids]
    path = cfg.directory / f"entries-{time.monotonic_ns()}.jsonl"
    path.write_text("\n".join(make_provisioning_entry(cfg.public_key(), d.device_id, d.key)
                              for d in devices) + "\n")
    import_entries(cfg, path)
    path.unlink()
    return devices


def stored_count(cfg: UpstreamConfig, device_id: str | None = None) -> int:
    store = open_store(cfg)
    try:
        return store.count_records(device_id)
    finally:
        store.close()


@contextlib.contextmanager
def inserts_fail(cfg: UpstreamConfig) -> Iterator[None]:
    """While inside, the configured store itself refuses every record insert (a trigger
    raises, as a full disk or a failing database would), on SQLite and PostgreSQL."""
    if cfg.is_postgres:
        import psycopg

        with psycopg.connect(cfg.database, autocommit=True) as conn:
            conn.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                         "$$BEGIN RAISE EXCEPTION 'could not extend file: No space left'; END$$")
            conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON records FOR EACH ROW "
                         "EXECUTE FUNCTION refuse()")
            try:
                yield
            finally:
                conn.execute("DROP TRIGGER refuse ON records")
                conn.execute("DROP FUNCTION refuse()")
        return
    conn = sqlite3.connect(cfg.db_path, isolation_level=None)
    conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON records BEGIN "
                 "SELECT RAISE(ABORT, 'database or disk is full'); END")
    try:
        yield
    finally:
        conn.execute("DROP TRIGGER refuse")
        conn.close()


def client_for(cfg: UpstreamConfig, port: int) -> BatchClient:
    return BatchClient("127.0.0.1", port, pinned_ssl_context(cfg.path(cfg.tls_cert).read_bytes()))


class ServerThread:
    """The real aiohttp app over TLS on 127.0.0.1, its event loop in a daemon thread."""

    def __init__(self, cfg: UpstreamConfig, tls: bool = True):
        self.cfg, self.tls = cfg, tls
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0

    async def _start(self) -> None:
        self.ingestor = make_ingestor(self.cfg)
        self.runner = web.AppRunner(make_app(self.ingestor), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0,
                           ssl_context=tls_context(self.cfg) if self.tls else None)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def __enter__(self) -> ServerThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()

    def client(self) -> BatchClient:
        return client_for(self.cfg, self.port)


class ServerProcess:
    """`sealscan upstream serve` as a subprocess (for crash tests); stderr (the JSON log)
    goes to `log_path`."""

    def __init__(self, cfg: UpstreamConfig, log_path: Path, fault: str | None = None,
                 workers: int = 1, port: int = 0, log_level: str = "info",
                 insecure_http: bool = False):
        env = dict(os.environ)
        env.pop("SEALSCAN_UPSTREAM_FAULT", None)
        if fault:
            env["SEALSCAN_UPSTREAM_FAULT"] = fault
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sealscan", "upstream", "serve", "-d", str(cfg.directory),
             "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
             "--log-level", log_level, *(["--insecure-http"] if insecure_http else [])],
            stdout=subprocess.PIPE, stderr=self.log, env=env)
        self.port = self._wait_listening(30.0)

    def _wait_listening(self, timeout: float) -> int:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                m = re.search(rb"listening on https?://[^:]+:(\d+)", line)
                if m:
                    return int(m.group(1))
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"upstream did not start: {line!r}")

    def wait_dead(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        self.log.close()
