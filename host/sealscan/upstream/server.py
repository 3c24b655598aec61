"""`sealscan upstream serve`: aiohttp over TLS, one or several worker processes.

Routes: `POST /v1/batches` (ingest.Ingestor), `GET /v1/health`, `GET /metrics`.
With `workers > 1` each worker is a forked process listening on the same port with
SO_REUSEPORT (the kernel spreads connections); they share the SQLite file and one
shared-memory metrics table.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import ssl
import sys
from collections.abc import Callable, MutableSequence
from dataclasses import dataclass

import cbor2
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from sealscan.upstream import logs
from sealscan.upstream.config import UpstreamConfig
from sealscan.upstream.errors import StorageError, UpstreamConfigError
from sealscan.upstream.ingest import Ingestor, Reply
from sealscan.upstream.metrics import Metrics, shared_rows
from sealscan.upstream.registry import open_store
from sealscan.upstream.storage import Storage

CBOR = "application/cbor"
INGESTOR: web.AppKey[Ingestor] = web.AppKey("ingestor", Ingestor)


def tls_context(cfg: UpstreamConfig) -> ssl.SSLContext:
    """Server TLS: TLS 1.2 minimum (ESP32 mbedTLS has no 1.3), operator's or init's cert."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cfg.path(cfg.tls_cert), cfg.path(cfg.tls_key))
    except (OSError, ssl.SSLError) as e:
        raise UpstreamConfigError(f"TLS certificate/key ({cfg.tls_cert}, {cfg.tls_key}): {e}"
                                  ) from e
    return ctx


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than `limit` (read no further than that)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


def _respond(reply: Reply) -> web.Response:
    return web.Response(status=reply.status, body=reply.body, content_type=CBOR,
                        headers=reply.headers)


def _client(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return "unknown"


def connection_error(ing: Ingestor, reason: str, error: BaseException | None = None) -> None:
    ing.metrics.inc("conn_errors", reason)
    logs.event("connection-error", logging.WARNING, reason=reason,
               **({"error": type(error).__name__} if error is not None else {}))


async def post_batch(request: web.Request) -> web.Response:
    ing = request.app[INGESTOR]
    try:
        body = await _read_body(request, ing.limits.max_body)
    except (HttpProcessingError, ConnectionError, asyncio.IncompleteReadError) as e:
        # the body ended early (the client hung up) or its framing is broken (a bad chunk):
        # nothing to answer a device could read; never counted as a 503 "internal"
        gone = request.transport is None or request.transport.is_closing()
        connection_error(ing, "hangup" if gone else "protocol", e)
        return web.Response(status=400, body=cbor2.dumps({"error": "malformed"}),
                            content_type=CBOR, headers={"Connection": "close"})
    if body is None:
        ing.metrics.status(413)
        logs.event("batch-refused", status=413, reason="too-large")
        return _respond(Reply.error(413, "too-large"))
    return _respond(await ing.handle(body))


async def post_heartbeat(request: web.Request) -> web.Response:
    ing = request.app[INGESTOR]
    try:
        body = await _read_body(request, 1024)
    except (HttpProcessingError, ConnectionError, asyncio.IncompleteReadError) as e:
        connection_error(ing, "hangup", e)
        return web.Response(status=400, headers={"Connection": "close"})
    if body is None:
        return _respond(Reply.error(413, "too-large"))
    return _respond(await ing.heartbeat(body))


async def health(request: web.Request) -> web.Response:
    ing = request.app[INGESTOR]
    try:
        ing.storage.ping()
    except StorageError:
        return web.json_response({"status": "storage-error"}, status=503)
    return web.json_response({"status": "ok", "pending": ing.committer.pending,
                              "pid": os.getpid()})


async def metrics(request: web.Request) -> web.Response:
    ing = request.app[INGESTOR]
    return web.Response(text=ing.metrics.render(await ing.fleet()),
                        content_type="text/plain", charset="utf-8",
                        headers={"X-Prometheus-Format": "0.0.4"})


@web.middleware
async def never_500(request: web.Request,
                    handler: Callable[[web.Request], object]) -> web.StreamResponse:
    """A bug must not turn into a 500 the device cannot act on: nothing was acked, so
    "retry later" (503) is always true. The error type is logged, never its data."""
    logs.CLIENT.set(_client(request))
    try:
        return await handler(request)  # type: ignore[misc]
    except web.HTTPException:
        raise
    except (ConnectionError, asyncio.CancelledError) as e:  # the client went away
        connection_error(request.app[INGESTOR], "hangup", e)
        raise
    except Exception as e:
        logs.event("internal-error", logging.ERROR, error=type(e).__name__, path=request.path)
        request.app[INGESTOR].metrics.status(503)
        return _respond(Reply.error(503, "internal", retry_after=5))


def make_app(ingestor: Ingestor) -> web.Application:
    app = web.Application(middlewares=[never_500],
                          client_max_size=ingestor.limits.max_body + 1)
    app[INGESTOR] = ingestor
    app.router.add_post("/v1/batches", post_batch)
    app.router.add_post("/v1/heartbeat", post_heartbeat)
    app.router.add_get("/v1/health", health)
    app.router.add_get("/metrics", metrics)

    async def on_cleanup(app: web.Application) -> None:
        app[INGESTOR].close()

    app.on_cleanup.append(on_cleanup)
    return app


def make_ingestor(cfg: UpstreamConfig, storage: Storage | None = None,
                  metrics_rows: MutableSequence[float] | None = None,
                  worker: int = 0) -> Ingestor:
    return Ingestor(storage or open_store(cfg), cfg.private_key(),
                    cfg.issuer_keys(), cfg.limits, Metrics(metrics_rows, worker),
                    operations=cfg.operations)


@dataclass
class ServeOptions:
    host: str | None = None
    port: int | None = None
    workers: int = 1
    insecure_http: bool = False
    log_level: str = "info"


async def _run_worker(cfg: UpstreamConfig, opts: ServeOptions, rows: MutableSequence[float],
                      worker: int, announce: bool) -> None:
    ssl_ctx = None if opts.insecure_http else tls_context(cfg)
    ingestor = make_ingestor(cfg, metrics_rows=rows, worker=worker)
    logs.on_connection_error = lambda reason: ingestor.metrics.inc("conn_errors", reason)
    app = make_app(ingestor)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    host = opts.host or cfg.host
    port = cfg.port if opts.port is None else opts.port
    site = web.TCPSite(runner, host, port, ssl_context=ssl_ctx,
                       reuse_port=opts.workers > 1, backlog=1024)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    scheme = "http" if opts.insecure_http else "https"
    if announce:
        print(f"listening on {scheme}://{host}:{bound} ({opts.workers} worker(s))", flush=True)
    logs.event("listening", worker=worker, port=bound, tls=not opts.insecure_http)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logs.event("stopping", worker=worker)
    await runner.cleanup()


def serve(cfg: UpstreamConfig, opts: ServeOptions) -> None:
    """Run until SIGTERM/SIGINT. Several workers need a fixed port (SO_REUSEPORT)."""
    logs.configure(sys.stderr, opts.log_level)
    open_store(cfg).close()  # migrate once, before any worker starts
    tls_context(cfg) if not opts.insecure_http else None  # fail early on a bad cert
    rows = shared_rows(opts.workers)
    if opts.workers <= 1:
        asyncio.run(_run_worker(cfg, opts, rows, 0, announce=True))
        return
    if not (opts.port if opts.port is not None else cfg.port):
        raise UpstreamConfigError("several workers need a fixed --port (they share it)")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_worker_main, args=(cfg, opts, rows, k), daemon=True)
             for k in range(opts.workers)]
    for p in procs:
        p.start()

    def forward(signum: int, _frame: object) -> None:
        for p in procs:
            if p.pid and p.is_alive():
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for p in procs:
        p.join()


def _worker_main(cfg: UpstreamConfig, opts: ServeOptions, rows: MutableSequence[float],
                 worker: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    asyncio.run(_run_worker(cfg, opts, rows, worker, announce=worker == 0))
