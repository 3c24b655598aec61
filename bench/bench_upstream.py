"""Upstream ingest throughput: 500 simulated devices sending batches of 16 sealed records
over TLS on loopback to `sealscan upstream serve` (real CLI, real SQLite with
synchronous=FULL, N workers), against floors measured in the same run.

    .venv/bin/python -m bench upstream        (env: BENCH_UPSTREAM_WORKERS, _DEVICES, _BATCH,
                                               _BATCHES, _REUSE_BATCHES, _TOKENS, _SECONDS)

Two cases, each against a freshly started server (empty verdict memo), never mixed up:

- **distinct tokens**: every record carries an identity token the server has never seen,
  so every record costs a full parse + Ed25519 verify (the worst case, and the number to
  plan with when senders do not repeat);
- **token reuse**: tokens come from a pool of BENCH_UPSTREAM_TOKENS senders (each scanned
  for many parcels, as a sender's token is), so most verdicts come from the memo; the
  table shows how many were verified and how many were remembered.

Floors (one core, no I/O, best of a run before and after the load): open + verify of
every record (distinct), and open + memo verdict over the whole reuse corpus in order
with an empty memo (reuse). All batches are sealed before the timed window; the devices
open their TLS connections before it too. The load generator is a lean HTTP/1.1 client on
asyncio streams (one kept-alive connection per device, answers decoded and MAC-checked as
a device does) in this process; it shares the machine's cores with the server, so the
table reports the CPU seconds each side used, and records per server CPU-second (the
per-core efficiency, comparable to the floor whatever else the box was doing).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sealscan.codes import make_identity_token, new_test_issuer
from sealscan.protocol import (
    Batch,
    ReceiverSession,
    Record,
    SenderSession,
    decode_answer,
    encode_batch,
    generate_device_key,
)
from sealscan.upstream.config import UpstreamConfig, init_state, load_config
from sealscan.upstream.provisioning import make_provisioning_entry
from sealscan.upstream.registry import import_entries, open_store
from sealscan.upstream.tokens import TokenVerdicts

DEVICES = int(os.environ.get("BENCH_UPSTREAM_DEVICES", 500))
BATCH = int(os.environ.get("BENCH_UPSTREAM_BATCH", 16))  # records per batch (protocol: <= 64)
BATCHES = int(os.environ.get("BENCH_UPSTREAM_BATCHES", 6))  # per device, distinct case
REUSE_BATCHES = int(os.environ.get("BENCH_UPSTREAM_REUSE_BATCHES", 16))  # reuse case
TOKENS = int(os.environ.get("BENCH_UPSTREAM_TOKENS", 2000))  # senders in the reuse case
SECONDS = float(os.environ.get("BENCH_UPSTREAM_SECONDS", 60))  # bound on each load phase
WORKERS = int(os.environ.get("BENCH_UPSTREAM_WORKERS", os.cpu_count() or 1))
CLK = os.sysconf("SC_CLK_TCK")


@dataclass
class Corpus:
    name: str
    bodies: dict[str, list[bytes]] = field(default_factory=dict)  # device -> batch bodies
    senders: dict[str, SenderSession] = field(default_factory=dict)
    records: list[tuple[str, bytes, int, bytes]] = field(default_factory=list)  # dev,enc,i,s
    tokens: int = 0


def _token(issuer, k: int, now: int) -> bytes:
    return make_identity_token(issuer, id_type=11, id_number="440524188001010014",
                               name=f"测试{k}", phone=f"139{k % 10**8:08d}", issued_at=now,
                               expires_at=now + 86400).encode()


def _prepare(tmp: Path):
    init_state(tmp / "up")
    cfg = load_config(tmp / "up")
    issuer = new_test_issuer()
    cfg.trust_issuer(issuer.kid, issuer.public_bytes)
    pk = cfg.public_key()
    keys = {f"bench-{n:04d}": generate_device_key() for n in range(DEVICES)}
    entries = tmp / "entries.jsonl"
    entries.write_text("".join(make_provisioning_entry(pk, d, k) + "\n" for d, k in keys.items()))
    import_entries(cfg, entries)
    return cfg, issuer, keys


def _corpus(name: str, cfg: UpstreamConfig, keys: dict[str, bytes], tokens: list[bytes],
            pick, batches: int) -> Corpus:
    """Seal every batch of a case before anything is timed. `pick(t)` chooses the token of
    the t-th record."""
    pk, now, c = cfg.public_key(), int(time.time()), Corpus(name)
    used = set()
    t = 0
    for dev, key in keys.items():
        s = SenderSession.start(pk, dev, key)
        c.senders[dev] = s
        out = []
        for _ in range(batches):
            recs = []
            for _ in range(BATCH):
                k = pick(t)
                used.add(k)
                recs.append(s.seal(Record(now, "SF", f"SF{t:013d}", tokens[k], "courier-1")))
                t += 1
            out.append(encode_batch(Batch(dev, s.enc, recs)))
            c.records.extend((dev, s.enc, i, sealed) for i, sealed in recs)
        c.bodies[dev] = out
    c.tokens = len(used)
    return c


def floor(cfg, issuer, keys, records, memo: int, min_seconds: float) -> float:
    """Records/s of open (AES-CCM + strict plaintext check) + identity verdict (base45,
    zlib, strict COSE, Ed25519; or the memo), one core, no I/O, over `records` in order.
    Sessions are set up beforehand, as the server's session cache does. memo=0: every
    token verified; otherwise a fresh memo per pass, exactly as a fresh server starts."""
    sk = cfg.private_key()
    sessions = {(dev, enc): ReceiverSession(sk, dev, keys[dev], enc)
                for dev, enc, _, _ in records}
    now = int(time.time())
    n, t0 = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - t0 < min_seconds:
        verdicts = TokenVerdicts({issuer.kid: issuer.public_key}, memo)
        for dev, enc, i, sealed in records:
            tok = sessions[(dev, enc)].open(i, sealed).identity_token
            assert verdicts.verdict(tok, now) == "ok"
        n += len(records)
    return n / (time.perf_counter() - t0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(cfg, port: int, log) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "sealscan", "upstream", "serve", "-d",
                             str(cfg.directory), "--host", "127.0.0.1", "--port", str(port),
                             "--workers", str(WORKERS)],  # default log level: info
                            stdout=subprocess.PIPE, stderr=log)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not re.search(rb"listening on", line):
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return proc


def _cpu_seconds(root: int) -> float:
    """utime + stime of `root` and its direct children (the forked workers)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(entry) == root or int(fields[1]) == root:
            total += (int(fields[11]) + int(fields[12])) / CLK
    return total


def _metric(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else float("nan")


class Conn:
    """One device's kept-alive HTTPS connection, speaking just enough HTTP/1.1."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self.reader, self.writer, self.host = reader, writer, host

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        self.writer.write(f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                          f"Content-Type: application/cbor\r\nContent-Length: {len(body)}"
                          "\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        return status, await self.reader.readexactly(int(m.group(1)) if m else 0)


async def _load(cfg, port: int, corpus: Corpus, server_pid: int) -> dict:
    ctx = ssl.create_default_context(cadata=cfg.path(cfg.tls_cert).read_text())
    host = f"127.0.0.1:{port}"
    conns: dict[str, Conn] = {}

    async def connect(dev: str) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, limit=1 << 20)
        conns[dev] = Conn(r, w, host)
        assert (await conns[dev].request("GET", "/v1/health"))[0] == 200

    sem = asyncio.Semaphore(50)  # handshakes 50 at a time, all before the timed window

    async def connect_bounded(dev: str) -> None:
        async with sem:
            await connect(dev)

    await asyncio.gather(*(connect_bounded(d) for d in corpus.bodies))
    out = {"latencies": [], "statuses": {}, "acked": 0}
    deadline = time.monotonic() + SECONDS

    async def device(dev: str) -> None:
        conn, session = conns[dev], corpus.senders[dev]
        for body in corpus.bodies[dev]:
            while time.monotonic() < deadline:
                t0 = time.perf_counter()
                status, data = await conn.request("POST", "/v1/batches", body)
                out["latencies"].append(time.perf_counter() - t0)
                out["statuses"][status] = out["statuses"].get(status, 0) + 1
                if status == 200:
                    answer = decode_answer(data)
                    session.verify_answer(answer)  # as the device does before dropping
                    out["acked"] += len(answer.ack)
                    break
                await asyncio.sleep(0.05)  # 429/503: back off and retry, as a device does

    cpu_server0, cpu_self0 = _cpu_seconds(server_pid), time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*(device(d) for d in corpus.bodies))
    out["elapsed"] = time.perf_counter() - t0
    out["cpu_server"] = _cpu_seconds(server_pid) - cpu_server0
    out["cpu_load"] = time.process_time() - cpu_self0
    metrics = []
    for _ in range(4 * WORKERS):  # any worker answers the sum of all; ask a few times
        status, text = await next(iter(conns.values())).request("GET", "/metrics")
        metrics.append(text.decode())
    text = metrics[-1]
    out["verified"] = _metric(text, 'sealscan_token_checks_total{check="verified"}')
    out["cached"] = _metric(text, 'sealscan_token_checks_total{check="cached"}')
    for c in conns.values():
        c.writer.close()
    return out


def _run_case(cfg, corpus: Corpus, tmp: Path) -> dict:
    port = _free_port()
    with open(tmp / f"server-{corpus.name}.log", "wb") as log:
        server = _start_server(cfg, port, log)
        try:
            time.sleep(0.5)  # the other workers bind the same port
            return asyncio.run(_load(cfg, port, corpus, server.pid))
        finally:
            server.terminate()
            server.wait(30)


def _pct(lat: list[float], p: float) -> float:
    lat = sorted(lat)
    return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        cfg, issuer, keys = _prepare(tmp)
        now = int(time.time())
        distinct_tokens = [_token(issuer, k, now) for k in range(DEVICES * BATCHES * BATCH)]
        pool = [_token(issuer, k, now) for k in range(TOKENS)]
        rng = random.Random(1)
        picks = [rng.randrange(TOKENS) for _ in range(DEVICES * REUSE_BATCHES * BATCH)]
        cases = [_corpus("distinct", cfg, keys, distinct_tokens, lambda t: t, BATCHES),
                 _corpus("reuse", cfg, keys, pool, picks.__getitem__, REUSE_BATCHES)]
        prep = time.perf_counter() - t0
        sample = cases[0].records[:3000]

        def floors() -> tuple[float, float]:
            return (floor(cfg, issuer, keys, sample, memo=0, min_seconds=2.0),
                    floor(cfg, issuer, keys, cases[1].records, memo=100000, min_seconds=2.0))

        before = floors()
        results = [_run_case(cfg, c, tmp) for c in cases]
        after = floors()
        fl = [max(a, b) for a, b in zip(before, after, strict=True)]
        store = open_store(cfg)
        stored = store.count_records()
        store.close()

    print(f"upstream ingest: {DEVICES} devices sending batches of {BATCH} records over TLS "
          f"(HTTP/1.1 keep-alive) to {WORKERS} server worker process(es); the load generator "
          f"(1 process) and the server share {os.cpu_count()} cores (and the box's other "
          f"jobs); prep {prep:.0f} s (all sealed and connected before timing)")
    rows = [("", "distinct tokens", "token reuse"),
            ("identity tokens in the case",
             *(f"{c.tokens} / {len(c.records)} rec" for c in cases)),
            ("floor: open + verdict, 1 core (rec/s)", *(f"{f:.0f}" for f in fl)),
            ("end to end, acked (rec/s)",
             *(f"{r['acked'] / r['elapsed']:.0f}" for r in results)),
            ("ratio end to end / floor (1 core)",
             *(f"{r['acked'] / r['elapsed'] / f:.2f}" for r, f in zip(results, fl,
                                                                     strict=True))),
            (f"ratio end to end / (floor x {WORKERS} workers)",
             *(f"{r['acked'] / r['elapsed'] / f / WORKERS:.2f}"
               for r, f in zip(results, fl, strict=True))),
            ("server CPU s / load generator CPU s / wall s",
             *(f"{r['cpu_server']:.1f} / {r['cpu_load']:.1f} / {r['elapsed']:.1f}"
               for r in results)),
            ("records per server CPU-second",
             *(f"{r['acked'] / max(r['cpu_server'], 1e-9):.0f}" for r in results)),
            ("  ratio to the floor (per-core efficiency)",
             *(f"{r['acked'] / max(r['cpu_server'], 1e-9) / f:.2f}"
               for r, f in zip(results, fl, strict=True))),
            ("batch latency p50 / p99 / max (ms)",
             *(f"{_pct(r['latencies'], .5):.0f} / {_pct(r['latencies'], .99):.0f} / "
               f"{_pct(r['latencies'], 1):.0f}" for r in results)),
            ("tokens verified / from memo (server)",
             *(f"{r['verified']:.0f} / {r['cached']:.0f}" for r in results)),
            ("answers by status", *(str(r["statuses"]) for r in results))]
    for row in rows:
        print(f"{row[0]:45} {row[1]:>26} {row[2]:>26}")
    acked = sum(r["acked"] for r in results)
    print(f"records acked {acked}, stored {stored} (must be equal)")
    print("goal: >= 20000 rec/s and >= 0.5 of the floor. Latency at saturation is the queue "
          "(devices send back to back): p50 ~ devices / batches per second.")


if __name__ == "__main__":
    main()
