"""Device-shaped load on the upstream: many devices, small batches, a fresh TLS connection
per batch (as the firmware sends: `Connection: close`), Poisson arrivals, the rate stepped
up until p99 > 1 s. Loopback only; every loop is bounded in count and time.

    .venv/bin/python -m bench fleet      (env: BENCH_FLEET_DEVICES=5000, _STORES=sqlite,postgresql,
                                          _START=100 batches/s, _FACTOR=1.5, _STEP_SECONDS=8,
                                          _MAX_STEPS=8, _GENERATORS=2, _WORKERS=1, _NODES=1,2)

- Devices: BENCH_FLEET_DEVICES registered devices (provisioning entries imported as a depot
  does), each with its own HPKE session; a batch holds 1-4 records (1: 50 %, 2: 30 %,
  3: 12 %, 4: 8 %: a courier's batch is usually one or two records), every record a
  distinct identity token (the costly case: a full parse + Ed25519 verify each).
- Arrivals: a Poisson process at the step's rate; each arrival takes a random idle device,
  opens a new TLS connection (full handshake, ECDHE P-256 + ECDSA P-256 like the device),
  POSTs the batch with `Connection: close`, reads and MAC-checks the answer, closes. Latency
  runs from the scheduled arrival to the verified answer (a generator that falls behind
  shows up as latency, not as a lower rate). The generators are separate processes
  (BENCH_FLEET_GENERATORS) sharing the box with the server.
- Each step reports offered and acked rec/s, p50/p99, the server's CPU seconds (all its
  workers; PostgreSQL's own processes apart) and records per server CPU-second. "Max
  sustained" is the highest step whose p99 <= 1 s with every batch acked.
- Floor (same run, one core, no I/O): per record open + verdict (AES-CCM, strict plaintext,
  base45, zlib, COSE, Ed25519), plus per batch the server's side of a full TLS 1.2
  handshake with this server's certificate (measured over memory BIOs: only the server
  object's calls are timed) and of the request/answer records. Ratio = records per server
  CPU-second / floor (goal >= 0.6).
- Keep-alive (BENCH_FLEET_KEEPALIVE=1): the same batches, but each device keeps its TLS
  connection open between batches: what a device keeping its connection would save the
  server (the firmware does not; docs/upstream.md weighs it against the device's heap).
- Proxy (BENCH_FLEET_PROXY=1, when Debian's haproxy is installed): HAProxy terminates TLS
  with the upstream's certificate in front of `serve --insecure-http`; server CPU = node +
  proxy.
- Nodes: on PostgreSQL, the same fixed rate against 1 node and against 2 nodes (two `serve`
  processes on their own ports; arrivals alternate): records per server CPU-second should
  not drop (nodes add capacity, not overhead).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.bench_upstream import _cpu_seconds, floor
from sealscan.codes import make_identity_token, new_test_issuer
from sealscan.protocol import Batch, Record, SenderSession, decode_answer, encode_batch
from sealscan.protocol.keys import generate_device_key
from sealscan.upstream.config import init_state, load_config
from sealscan.upstream.pglocal import LocalPostgres
from sealscan.upstream.provisioning import make_provisioning_entry
from sealscan.upstream.registry import import_entries, open_store

DEVICES = int(os.environ.get("BENCH_FLEET_DEVICES", 5000))
STORES = os.environ.get("BENCH_FLEET_STORES", "sqlite,postgresql").split(",")
START = float(os.environ.get("BENCH_FLEET_START", 100))  # batches/s of the first step
FACTOR = float(os.environ.get("BENCH_FLEET_FACTOR", 1.5))
STEP_SECONDS = float(os.environ.get("BENCH_FLEET_STEP_SECONDS", 8))
MAX_STEPS = int(os.environ.get("BENCH_FLEET_MAX_STEPS", 8))
GENERATORS = int(os.environ.get("BENCH_FLEET_GENERATORS", 2))
WORKERS = int(os.environ.get("BENCH_FLEET_WORKERS", 1))
NODES = [int(n) for n in os.environ.get("BENCH_FLEET_NODES", "1,2").split(",") if n]
TLS = os.environ.get("BENCH_FLEET_TLS", "1") != "0"
KEEPALIVE = os.environ.get("BENCH_FLEET_KEEPALIVE", "1") != "0"  # the keep-alive comparison
# HAProxy (Debian's) terminating TLS in front of `serve --insecure-http`, if installed
PROXY = os.environ.get("BENCH_FLEET_PROXY", "1") != "0" and shutil.which("haproxy") is not None
SIZES = (1, 1, 1, 1, 1, 2, 2, 2, 3, 4)  # ~50 % 1, 30 % 2, 10 % 3, 10 % 4 (mean 1.8)
P99_GOAL = 1.0


@dataclass
class Fleet:
    cfg: object
    keys: dict[str, bytes]
    tokens: list[bytes]
    pg: LocalPostgres | None = None
    pids: list[int] = field(default_factory=list)
    token_pos: int = 0
    sessions: dict[str, SenderSession] = field(default_factory=dict)
    nodes_acked: int = 0


def _prepare(tmp: Path, store: str, pg: LocalPostgres | None) -> Fleet:
    init_state(tmp / "up")
    cfg = load_config(tmp / "up")
    if store == "postgresql":
        assert pg is not None
        cfg.database = pg.new_database("bench")
    issuer = new_test_issuer()
    cfg.trust_issuer(issuer.kid, issuer.public_bytes)
    cfg.limits = type(cfg.limits)(max_pending=100000)
    cfg.save()
    pk = cfg.public_key()
    keys = {f"fleet-{n:05d}": generate_device_key() for n in range(DEVICES)}
    entries = tmp / "entries.jsonl"
    entries.write_text("".join(make_provisioning_entry(pk, d, k) + "\n" for d, k in keys.items()))
    import_entries(cfg, entries)
    now = int(time.time())
    steps = sum(FACTOR ** k for k in range(MAX_STEPS))
    budget = DEVICES + int(START * steps * STEP_SECONDS * 2.5) \
        + 1000 * GENERATORS * (MAX_STEPS + 3)
    tokens = [make_identity_token(issuer, id_type=11, id_number="440524188001010014",
                                  name=f"测试{k}", phone=f"139{k % 10**8:08d}", issued_at=now,
                                  expires_at=now + 86400).encode() for k in range(budget)]
    fleet = Fleet(cfg, keys, tokens, pg)
    fleet.sessions = {d: SenderSession.start(pk, d, k) for d, k in keys.items()}
    return fleet


# -- the load generator (one process per BENCH_FLEET_GENERATORS, forked) -----------------

async def _generate(ports: list[int], cadata: str | None, sessions: dict[str, SenderSession],
                    tokens: list[bytes], rate: float, seconds: float, seed: int,
                    keepalive: bool = False) -> dict:
    """One generator process's share of a step. `sessions` are the devices' sessions as
    they stand (warm on the server); their advanced state is returned in out["sessions"]."""
    rng = random.Random(seed)
    ctx = None
    if cadata is not None:
        ctx = ssl.create_default_context(cadata=cadata)
        ctx.check_hostname = False  # pinned by the CA list; the cert names localhost
    idle = list(sessions)
    lat: list[float] = []
    out = {"acked": 0, "records": 0, "statuses": {}, "errors": 0, "reused": 0}

    def token_stream():
        while True:  # distinct tokens; past the slice they repeat (counted: memo hits)
            yield from tokens
            out["reused"] += 1

    tok = token_stream()
    conns: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
    now = int(time.time())
    t0 = time.monotonic() + 0.2
    tasks = set()

    async def one(dev: str, at: float, n: int, port: int) -> None:
        s = sessions[dev]
        recs = [s.seal(Record(now, "SF", f"SF{rng.randrange(10**13):013d}", next(tok),
                              "courier-1")) for _ in range(n)]
        body = encode_batch(Batch(dev, s.enc, recs))
        try:
            if keepalive and dev in conns:
                r, w = conns.pop(dev)
            else:
                r, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
            w.write(b"POST /v1/batches HTTP/1.1\r\nHost: upstream\r\nContent-Type: "
                    b"application/cbor\r\n%sContent-Length: %d\r\n\r\n"
                    % (b"" if keepalive else b"Connection: close\r\n", len(body)) + body)
            head = await r.readuntil(b"\r\n\r\n")
            m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            data = await r.readexactly(int(m.group(1)) if m else 0)
            if keepalive:
                conns[dev] = (r, w)
            else:
                w.close()
            status = int(head[9:12])
            out["statuses"][status] = out["statuses"].get(status, 0) + 1
            if status == 200:
                ans = decode_answer(data)
                s.verify_answer(ans)  # as the device does before dropping anything
                out["acked"] += len(ans.ack)
            lat.append(time.monotonic() - at)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            out["errors"] += 1
        finally:
            out["records"] += n
            idle.append(dev)

    k = 0
    at = t0
    while True:
        at += rng.expovariate(rate)
        if at - t0 > seconds:
            break
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if not idle:
            out["errors"] += 1  # every device busy: counted, never silently skipped
            continue
        dev = idle.pop(rng.randrange(len(idle)))
        t = asyncio.create_task(one(dev, at, rng.choice(SIZES), ports[k % len(ports)]))
        k += 1
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=30)
    for _, w in conns.values():
        w.close()
    out["lat"] = lat
    out["elapsed"] = time.monotonic() - t0
    out["sessions"] = {d: (x.next_index, x._chain) for d, x in sessions.items()}
    return out


def _generator_main(conn, *args) -> None:
    conn.send(asyncio.run(_generate(*args)))
    conn.close()


def _step(fleet: Fleet, ports: list[int], rate: float, seconds: float, step: int,
          keepalive: bool = False) -> dict:
    cadata = fleet.cfg.path(fleet.cfg.tls_cert).read_text() if TLS else None
    devs = list(fleet.sessions)
    need = int(rate / GENERATORS * seconds * 2.5) + 200  # mean 1.8 records per batch
    ctx = multiprocessing.get_context("fork")
    procs = []
    for g in range(GENERATORS):
        parent, child = ctx.Pipe()
        tok = [fleet.tokens[(fleet.token_pos + j) % len(fleet.tokens)] for j in range(need)]
        fleet.token_pos += need
        mine = {d: fleet.sessions[d] for d in devs[g::GENERATORS]}
        p = ctx.Process(target=_generator_main, args=(
            child, ports, cadata, mine, tok, rate / GENERATORS, seconds, 1000 * step + g,
            keepalive))
        p.start()
        procs.append((p, parent))
    cpu0 = sum(_cpu_seconds(pid) for pid in fleet.pids)
    db0 = _db_cpu(fleet)
    t0 = time.monotonic()
    parts = []
    for p, parent in procs:
        if parent.poll(seconds + 60):
            parts.append(parent.recv())
        p.join(10)
        if p.is_alive():
            p.kill()
    wall = time.monotonic() - t0
    res = {"rate": rate, "lat": sorted(x for r in parts for x in r["lat"]),
           "acked": sum(r["acked"] for r in parts), "records": sum(r["records"] for r in parts),
           "errors": sum(r["errors"] for r in parts) + GENERATORS - len(parts),
           "reused": sum(r["reused"] for r in parts),
           "statuses": {}, "elapsed": max([r["elapsed"] for r in parts] or [wall]),
           "cpu": sum(_cpu_seconds(pid) for pid in fleet.pids) - cpu0,
           "db_cpu": _db_cpu(fleet) - db0}
    for r in parts:
        for s, n in r["statuses"].items():
            res["statuses"][s] = res["statuses"].get(s, 0) + n
        for d, (index, chain) in r["sessions"].items():  # the ratchet moves on
            fleet.sessions[d].next_index, fleet.sessions[d]._chain = index, chain
    return res


async def _warm(fleet: Fleet, port: int) -> None:
    """Every device sends one batch (over a few kept-alive connections, untimed), so the
    server holds every device's session: a device opens a session once an hour and sends
    many batches in it, so a session setup per batch would not be device-shaped."""
    ctx = None
    if TLS:
        ctx = ssl.create_default_context(cadata=fleet.cfg.path(fleet.cfg.tls_cert).read_text())
        ctx.check_hostname = False
    devs = list(fleet.sessions)
    now = int(time.time())

    async def lane(part: list[str]) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
        for d in part:
            s = fleet.sessions[d]
            tok = fleet.tokens[fleet.token_pos % len(fleet.tokens)]
            fleet.token_pos += 1
            body = encode_batch(Batch(d, s.enc, [s.seal(Record(now, "SF", "SF0", tok, "c"))]))
            w.write(b"POST /v1/batches HTTP/1.1\r\nHost: u\r\nContent-Length: %d\r\n\r\n"
                    % len(body) + body)
            head = await r.readuntil(b"\r\n\r\n")
            m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            await r.readexactly(int(m.group(1)) if m else 0)
            assert head[9:12] == b"200", head
        w.close()

    await asyncio.gather(*(lane(devs[k::8]) for k in range(8)))


def _db_cpu(fleet: Fleet) -> float:
    if fleet.pg is None or fleet.pg._server is None:
        return 0.0
    return _cpu_seconds(fleet.pg._server.get_pid())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HAPROXY_CFG = """global
    nbthread 1
    maxconn 8000
    ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option forwardfor
    http-reuse always
frontend devices
    bind 127.0.0.1:{front} ssl crt {pem}
    default_backend upstream
backend upstream
    server node 127.0.0.1:{back} maxconn 64
"""


def _start_proxy(fleet: Fleet, tmp: Path, tag: str, back: int) -> subprocess.Popen:
    """HAProxy terminating TLS with the upstream's own certificate, in front of a node
    serving plain HTTP (kept-alive connections from the proxy)."""
    pem = tmp / f"{tag}-proxy.pem"
    fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(fleet.cfg.path(fleet.cfg.tls_cert).read_bytes()
                + fleet.cfg.path(fleet.cfg.tls_key).read_bytes())
    front = _free_port()
    conf = tmp / f"{tag}-haproxy.cfg"
    conf.write_text(HAPROXY_CFG.format(front=front, pem=pem, back=back))
    proc = subprocess.Popen(["haproxy", "-W", "-db", "-f", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=open(tmp / f"{tag}-proxy.log", "wb"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", front)) == 0:
                break
        time.sleep(0.05)
    proc.port = front  # type: ignore[attr-defined]
    return proc


def _start_nodes(fleet: Fleet, n: int, tmp: Path, tag: str,
                 proxy: bool = False) -> list[subprocess.Popen]:
    """n `serve` processes; with `proxy`, each behind its own HAProxy (the returned
    processes are then node, proxy, node, proxy...; .port of a proxy is the devices')."""
    nodes = []
    for k in range(n):
        port = _free_port()
        log = open(tmp / f"{tag}-node{k}.log", "wb")  # noqa: SIM115 - lives with the node
        plain = proxy or not TLS
        proc = subprocess.Popen(
            [sys.executable, "-m", "sealscan", "upstream", "serve", "-d",
             str(fleet.cfg.directory), "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(WORKERS), *(["--insecure-http"] if plain else [])],
            stdout=subprocess.PIPE, stderr=log, env=_server_env())
        line = proc.stdout.readline() if proc.stdout else b""
        if b"listening on" not in line:
            proc.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        proc.port = port  # type: ignore[attr-defined]
        proc.front = proc  # type: ignore[attr-defined]
        nodes.append(proc)
        if proxy:
            px = _start_proxy(fleet, tmp, f"{tag}{k}", port)
            proc.front = px  # type: ignore[attr-defined]
            nodes.append(px)
    time.sleep(0.5)
    return nodes


def _fronts(nodes: list[subprocess.Popen]) -> list[int]:
    """The ports devices connect to: each node's, or its proxy's."""
    return [p.front.port for p in nodes if getattr(p, "front", None) is not None]


def _server_env() -> dict[str, str]:
    """BENCH_FLEET_SERVER_PATH=<checkout>/host runs another checkout's server (before/after
    comparisons in one run of this bench)."""
    env = dict(os.environ)
    if env.get("BENCH_FLEET_SERVER_PATH"):
        env["PYTHONPATH"] = env["BENCH_FLEET_SERVER_PATH"]
    return env


def _stop(nodes: list[subprocess.Popen]) -> None:
    for p in nodes:
        p.terminate()
    for p in nodes:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()


def tls_server_floor(cfg, seconds: float = 1.5) -> tuple[float, float]:
    """Server-side CPU seconds of one full TLS handshake (ECDHE P-256, ECDSA P-256, TLS 1.2
    as the ESP32 speaks) and of one request/answer exchange over it, timing only the
    server object's calls over memory BIOs."""
    from sealscan.upstream.server import tls_context

    sctx = tls_context(cfg)
    cctx = ssl.create_default_context(cadata=cfg.path(cfg.tls_cert).read_text())
    cctx.check_hostname = False
    cctx.maximum_version = ssl.TLSVersion.TLSv1_2
    hs = io_t = 0.0
    n = 0
    request, answer = b"x" * 400, b"y" * 120
    t_end = time.perf_counter() + seconds
    while n < 20 or time.perf_counter() < t_end:
        c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
        client = cctx.wrap_bio(c_in, c_out, server_hostname="localhost")
        server = sctx.wrap_bio(s_in, s_out, server_side=True)
        done_c = done_s = False
        while not (done_c and done_s):
            if not done_c:
                try:
                    client.do_handshake()
                    done_c = True
                except ssl.SSLWantReadError:
                    pass
            s_in.write(c_out.read())
            if not done_s:
                t = time.perf_counter()
                try:
                    server.do_handshake()
                    done_s = True
                except ssl.SSLWantReadError:
                    pass
                hs += time.perf_counter() - t
            c_in.write(s_out.read())
        client.write(request)
        s_in.write(c_out.read())
        t = time.perf_counter()
        server.read(len(request))
        server.write(answer)
        io_t += time.perf_counter() - t
        n += 1
    return hs / n, io_t / n


def _pct(lat: list[float], p: float) -> float:
    return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")


def _run_store(store: str, tmp: Path, pg: LocalPostgres | None, fl: dict,
               proxy: bool = False, keepalive: bool = False) -> list[str]:
    t0 = time.perf_counter()
    fleet = _prepare(tmp / (store + "-proxy" * proxy + "-keepalive" * keepalive), store, pg)
    prep = time.perf_counter() - t0
    nodes = _start_nodes(fleet, 1, tmp, store, proxy)
    fleet.pids = [p.pid for p in nodes]
    steps = []
    try:
        t1 = time.perf_counter()
        asyncio.run(_warm(fleet, _fronts(nodes)[0]))
        prep += time.perf_counter() - t1
        rate = START
        for k in range(MAX_STEPS):
            r = _step(fleet, _fronts(nodes), rate, STEP_SECONDS, k, keepalive)
            steps.append(r)
            if _pct(r["lat"], .99) > P99_GOAL * 3 or r["errors"] > r["records"] * 0.05:
                break  # well past saturation: stop stepping
            rate *= FACTOR
    finally:
        _stop(nodes)
    how = "TLS terminated by HAProxy (1 thread), node on plain HTTP; server CPU = node + " \
          "proxy" if proxy else "TLS" if TLS else "plain HTTP"
    if keepalive:
        how += ", devices KEEP their connection (keep-alive, same batches)"
    lines = [f"store {store}: {DEVICES} devices, 1 node x {WORKERS} worker(s), {how}, "
             f"{GENERATORS} generator processes, prep {prep:.0f} s",
             f"{'batches/s offered':>18} {'rec/s acked':>12} {'p50 ms':>8} {'p99 ms':>8} "
             f"{'errors':>6} {'server CPU-s':>12} {'db CPU-s':>8} {'rec/CPU-s':>9} "
             f"{'/ floor':>7}"]
    best = None
    for r in steps:
        per_cpu = r["acked"] / max(r["cpu"], 1e-9)
        ok = _pct(r["lat"], .99) <= P99_GOAL and r["errors"] == 0 and \
            set(r["statuses"]) <= {200} and r["acked"] == r["records"]
        if ok:
            best = r
        lines.append(f"{r['rate']:>18.0f} {r['acked'] / r['elapsed']:>12.0f} "
                     f"{_pct(r['lat'], .5) * 1000:>8.0f} {_pct(r['lat'], .99) * 1000:>8.0f} "
                     f"{r['errors']:>6} {r['cpu']:>12.1f} {r['db_cpu']:>8.1f} {per_cpu:>9.0f} "
                     f"{per_cpu / fl['rec_s']:>7.2f}{'' if ok else '  (over)'}")
    if best:
        per_cpu = best["acked"] / max(best["cpu"], 1e-9)
        lines.append(f"max sustained (p99 <= 1 s, all acked): {best['acked'] / best['elapsed']:.0f}"
                     f" rec/s; {per_cpu:.0f} rec per server CPU-s = {per_cpu / fl['rec_s']:.2f}"
                     f" of the floor")
    else:
        lines.append("max sustained: no step met p99 <= 1 s")
    if store == "postgresql" and len(NODES) > 1 and best and not proxy:
        lines += _nodes_case(fleet, tmp, best["rate"] * 0.8, fl)
    st = open_store(fleet.cfg)
    stored = st.count_records()
    st.close()
    acked = sum(r["acked"] for r in steps) + fleet.nodes_acked
    lines.append(f"records acked {acked} + {DEVICES} warm-up = {acked + DEVICES}, stored "
                 f"{stored} (must be equal)")
    return lines


def _nodes_case(fleet: Fleet, tmp: Path, rate: float, fl: dict) -> list[str]:
    lines = [f"nodes on one PostgreSQL, {rate:.0f} batches/s for {STEP_SECONDS:g} s each:"]
    for n in NODES:
        nodes = _start_nodes(fleet, n, tmp, f"nodes{n}")
        fleet.pids = [p.pid for p in nodes]
        try:
            r = _step(fleet, _fronts(nodes), rate, STEP_SECONDS, MAX_STEPS + n)
        finally:
            _stop(nodes)
        fleet.nodes_acked += r["acked"]
        per_cpu = r["acked"] / max(r["cpu"], 1e-9)
        lines.append(f"  {n} node(s): {r['acked'] / r['elapsed']:.0f} rec/s acked, p99 "
                     f"{_pct(r['lat'], .99) * 1000:.0f} ms, server CPU {r['cpu']:.1f} s, "
                     f"{per_cpu:.0f} rec per server CPU-s ({per_cpu / fl['rec_s']:.2f} of "
                     f"the floor), errors {r['errors']}")
    return lines


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pg = LocalPostgres().start() if "postgresql" in STORES else None
        try:
            # floors, from a small fleet of their own (same code, same certificate type)
            probe = _prepare_floor(tmp / "floor")
            floor0 = probe["rec_s"]
            out = []
            for store in STORES:
                out += _run_store(store, tmp, pg, probe)
                out.append("")
            if KEEPALIVE:
                out += _run_store(STORES[0], tmp, pg, probe, keepalive=True)
                out.append("")
            if PROXY and TLS:
                out += _run_store(STORES[0], tmp, pg, probe, proxy=True)
                out.append("")
            again = _prepare_floor(tmp / "floor2")  # the box is shared: keep the best floor
            if again["rec_s"] > probe["rec_s"]:
                probe.update(again)
                out = [_rescale(line, floor0, probe["rec_s"]) for line in out]
        finally:
            if pg is not None:
                pg.stop()
    mean = statistics.mean(SIZES)
    print(f"device-shaped load: batches of 1-4 records (mean {mean:.1f}), a new "
          f"{'TLS ' if TLS else ''}connection per batch, Poisson arrivals, rate x{FACTOR:g} "
          f"per {STEP_SECONDS:g} s step; generators and server share {os.cpu_count()} cores")
    print(f"floor (1 core, no I/O): open + verdict {probe['rec_us']:.0f} µs/record, server "
          f"side of a TLS handshake {probe['hs_us']:.0f} µs + request/answer records "
          f"{probe['io_us']:.0f} µs per batch -> {probe['rec_s']:.0f} rec/s at the mean "
          f"batch size")
    print("\n".join(out))
    print("goal: records per server CPU-second >= 0.6 of the floor; 2 nodes within 10 % of "
          "1 node per server CPU-second.")


def _rescale(line: str, old: float, new: float) -> str:
    """Ratios printed against the first floor, restated against the better second one."""
    return re.sub(r"(\d+\.\d\d)(?=(  \(over\))?$| of the floor)",
                  lambda m: f"{float(m.group(1)) * old / new:.2f}", line)


def _prepare_floor(tmp: Path) -> dict:
    init_state(tmp / "up")
    cfg = load_config(tmp / "up")
    issuer = new_test_issuer()
    pk = cfg.public_key()
    keys = {f"floor-{n}": generate_device_key() for n in range(20)}
    now = int(time.time())
    records = []
    for n, (dev, key) in enumerate(keys.items()):
        s = SenderSession.start(pk, dev, key)
        for j in range(50):
            tok = make_identity_token(issuer, id_type=11, id_number="440524188001010014",
                                      name=f"地板{n}-{j}", phone="13900000000", issued_at=now,
                                      expires_at=now + 86400).encode()
            i, sealed = s.seal(Record(now, "SF", "SF0000000000000", tok, "courier-1"))
            records.append((dev, s.enc, i, sealed))
    rec_s = floor(cfg, issuer, keys, records, memo=0, min_seconds=2.0)
    hs, io_t = tls_server_floor(cfg) if TLS else (0.0, 0.0)
    mean = statistics.mean(SIZES)
    per_batch = hs + io_t + mean / rec_s
    return {"rec_us": 1e6 / rec_s, "hs_us": hs * 1e6, "io_us": io_t * 1e6,
            "rec_s": mean / per_batch}


if __name__ == "__main__":
    main()
