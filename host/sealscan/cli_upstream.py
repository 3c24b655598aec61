"""`sealscan upstream`: run the reference upstream and manage its device registry."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sealscan.cli import EXIT_INPUT, EXIT_USAGE, emit_json, fail, on_interrupt
from sealscan.codes import TEST_ISSUER_NAME
from sealscan.upstream import registry
from sealscan.upstream.config import UpstreamConfig, init_state, load_config
from sealscan.upstream.errors import ProvisioningEntryError, UpstreamConfigError
from sealscan.upstream.storage import Storage

DIR_OPTION = click.option("--dir", "-d", "directory", type=click.Path(path_type=Path),
                          default=Path("upstream"), show_default=True, envvar="SEALSCAN_UPSTREAM",
                          help="The upstream state directory (env SEALSCAN_UPSTREAM).")


DB_OPTION = click.option(
    "--db", default=None, envvar="SEALSCAN_UPSTREAM_DB",
    help="The store for this run: a postgresql:// URL (several nodes share one PostgreSQL; "
         "a password is better in PGPASSWORD or ~/.pgpass) or a SQLite file; default: "
         "`database` in upstream.json (env SEALSCAN_UPSTREAM_DB).")


def _config(directory: Path, db: str | None = None) -> UpstreamConfig:
    cfg = load_config(directory)  # UpstreamConfigError: exit 3
    if db:
        cfg.database = db
    return cfg


@click.group()
def upstream() -> None:
    """Reference upstream: HTTPS ingest of sealed batches, device registry, stats."""


@upstream.command()
@DIR_OPTION
@click.option("--host", "hosts", multiple=True,
              help="Name or IP the TLS certificate is for (repeat; default localhost, "
                   "127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=8443, show_default=True)
@click.option("--force", is_flag=True, help="Replace existing keys (orphans every device).")
@on_interrupt("upstream.json is written last, so an interrupted init never looks complete: "
              "run the same command again")
def init(directory: Path, hosts: tuple[str, ...], port: int, force: bool) -> None:
    """Make a state directory: X25519 key pair, self-signed TLS certificate, config.

    Prints what every device needs: the upstream public key and the TLS certificate pin.
    The private keys stay in the directory (mode 0600) and are never printed."""
    res = init_state(directory, list(hosts) or None, port, force)  # AlreadyInitialised: exit 1
    click.echo(f"upstream state in {res.directory}")
    click.echo(f"upstream public key (X25519): {res.public_key}")
    click.echo(f"TLS certificate: {res.cert_path}")
    click.echo(f"TLS pin (SHA-256 of the certificate DER): {res.cert_sha256}")


@upstream.command()
@DIR_OPTION
@click.option("--host", default=None, help="Listen address (default from the config).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Listen port (0: any free port).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes sharing the port (SO_REUSEPORT).")
@click.option("--insecure-http", is_flag=True,
              help="Plain HTTP without TLS. Only for a TLS-terminating proxy in front.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True)
@DB_OPTION
def serve(directory: Path, host: str | None, port: int | None, workers: int,
          insecure_http: bool, log_level: str, db: str | None) -> None:
    """Serve POST /v1/batches, /v1/heartbeat, GET /v1/health and /metrics until SIGTERM."""
    from sealscan.upstream.server import ServeOptions
    from sealscan.upstream.server import serve as run

    cfg = _config(directory, db)
    if insecure_http:
        click.echo("warning: serving plain HTTP without TLS (--insecure-http)", err=True)
    try:
        run(cfg, ServeOptions(host, port, workers, insecure_http, log_level))
    except OSError as e:  # the address is taken, ...
        fail(str(e))


@upstream.command("trust-issuer")
@DIR_OPTION
@click.argument("issuer_public", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--allow-test-issuer", is_flag=True,
              help="Accept a TEST issuer (CI and demos only, never in production).")
@on_interrupt("upstream.json is replaced in one step: the issuer is trusted or not, never half; "
              "run the command again")
def trust_issuer(directory: Path, issuer_public: Path, allow_test_issuer: bool) -> None:
    """Trust an identity token issuer: ISSUER_PUBLIC is the JSON that
    `sealscan codes issuer-public --json` prints (kid and Ed25519 public key only)."""
    cfg = _config(directory)
    try:
        data = json.loads(issuer_public.read_text())
        kid, pk = bytes.fromhex(data["kid"]), bytes.fromhex(data["ed25519_public"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        fail(f"{issuer_public}: not an issuer public key file ({type(e).__name__}: {e})",
             EXIT_INPUT)
    if kid.startswith(b"TEST-") or data.get("issuer") == TEST_ISSUER_NAME:
        if not allow_test_issuer:
            fail(f"{issuer_public}: a TEST issuer; it must not be trusted by a production "
                 "upstream (--allow-test-issuer for CI and demos)")
        click.echo("warning: trusting a TEST issuer (CI and demos only)", err=True)
    try:
        cfg.trust_issuer(kid, pk)
    except UpstreamConfigError as e:
        fail(f"{issuer_public}: {e}", EXIT_INPUT)
    click.echo(f"trusting issuer kid {data['kid']} ({data.get('issuer', 'unnamed')})")


@upstream.command("import")
@DIR_OPTION
@DB_OPTION
@click.argument("entries", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--replace", is_flag=True, help="Re-provision devices registered already.")
@on_interrupt("the entries are registered in one transaction: all of them or none; run the "
              "command again")
def import_(directory: Path, db: str | None, entries: Path, replace: bool) -> None:
    """Register devices from a provisioning entries file (.jsonl, keys sealed to us)."""
    cfg = _config(directory, db)
    try:
        ids = registry.import_entries(cfg, entries, replace)
    except ProvisioningEntryError as e:
        raise ProvisioningEntryError(f"{entries}: {e}") from None
    click.echo(f"registered {len(ids)} device(s)")


def _set_revoked(directory: Path, db: str | None, device_id: str, revoked: bool,
                 reason: str | None = None) -> None:
    cfg = _config(directory, db)
    store = registry.open_store(cfg)  # StorageError: exit 1
    try:
        store.set_revoked(device_id, revoked, reason)  # RegistryError: exit 1
    finally:
        store.close()
    state = f"revoked ({reason})" if revoked and reason else "revoked" if revoked else "active"
    click.echo(f"{device_id}: {state}; every node refuses it within "
               f"{cfg.limits.registry_ttl:g} s" if revoked else f"{device_id}: {state}")


@upstream.command()
@DIR_OPTION
@DB_OPTION
@click.argument("device_id")
@click.option("--reason", default=None, metavar="TEXT",
              help="Why (lost, stolen, retired, ...): kept with the device, shown by "
                   "`devices` and `stats`.")
def revoke(directory: Path, db: str | None, device_id: str, reason: str | None) -> None:
    """Refuse every batch and heartbeat from a device from now on (403)."""
    if reason is not None and not (0 < len(reason) <= 200 and reason.isprintable()):
        fail("--reason: 1-200 printable characters", EXIT_USAGE)
    _set_revoked(directory, db, device_id, True, reason)


@upstream.command()
@DIR_OPTION
@DB_OPTION
@click.argument("device_id")
def unrevoke(directory: Path, db: str | None, device_id: str) -> None:
    """Accept a revoked device again."""
    _set_revoked(directory, db, device_id, False)


def _read_store(cfg: UpstreamConfig, read: Callable[[Storage], Any]) -> Any:
    store = registry.open_store(cfg)  # StorageError: exit 1
    try:
        return read(store)
    finally:
        store.close()


@upstream.command("devices")
@DIR_OPTION
@DB_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def devices(directory: Path, db: str | None, as_json: bool) -> None:
    """List registered devices (never their keys)."""
    rows = _read_store(_config(directory, db), lambda st: [registry.device_row(d)
                                                           for d in st.list_devices()])
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked"] else "active"
        if r["revoked_reason"]:
            state += f" ({r['revoked_reason']})"
        click.echo(f"{r['device_id']:32} {state:28} registered {r['registered']}")


@upstream.command()
@DIR_OPTION
@DB_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(directory: Path, db: str | None, as_json: bool) -> None:
    """Per device: fleet state (ok, late, silent, refused, never-connected, revoked), last
    heard, records, late records, rejected records and refused batches by reason.
    Counts only: no identity, name, phone or waybill is ever shown."""
    cfg = _config(directory, db)
    now = time.time()
    rows = _read_store(cfg, lambda st: [registry.stats_row(s, now, cfg.operations)
                                        for s in st.device_stats()])
    if as_json:
        emit_json(rows)
        return
    click.echo(f"{'device':32} {'state':15} {'last heard':25} {'records':>8} {'late':>6} "
               f"{'rejects':>7} {'refused':>7}")
    summary: dict[str, int] = {}
    for r in rows:
        summary[r["state"]] = summary.get(r["state"], 0) + 1
        click.echo(f"{r['device_id']:32} {r['state']:15} {r['last_heard'] or '-':25} "
                   f"{r['records']:>8} {r['late']:>6} {r['rejects']:>7} {r['refused']:>7}")
    click.echo("fleet: " + ", ".join(f"{summary.get(k, 0)} {k}"
                                     for k in registry.FLEET_STATES))


@upstream.command()
@DIR_OPTION
@DB_OPTION
@click.option("--out", "-o", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="JSON-lines file (created 0600; its cursor is kept in OUT.cursor).")
@click.option("--resume", is_flag=True, help="Continue an interrupted export of OUT.")
@click.option("--settle", type=click.FloatRange(0), default=60.0, show_default=True,
              help="Export only records committed at least this many seconds ago.")
@click.option("--page", type=click.IntRange(1, 100000), default=1000, show_default=True)
@on_interrupt("OUT holds whole pages up to its saved cursor: run the same command with "
              "--resume to continue, each record exactly once")
def export(directory: Path, db: str | None, out: Path, resume: bool, settle: float,
           page: int) -> None:
    """Export stored records (identity tokens included) for the regulator's downstream:
    streamed in pages, resumable, each record exactly once in OUT."""
    from sealscan.upstream.export import export_records

    cfg = _config(directory, db)
    store = registry.open_store(cfg)
    try:  # UpstreamConfigError (an existing OUT, a bad cursor file): exit 3
        res = export_records(store, out, resume=resume, settle=settle, page_size=page)
    except OSError as e:
        fail(f"{out}: {e}")
    finally:
        store.close()
    click.echo(f"exported {res.records} record(s) to {out}"
               + (f" (after {res.resumed_from} exported before)" if res.resumed_from else ""))


@upstream.command()
@DIR_OPTION
@DB_OPTION
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Delete records committed more than DAYS ago (default: "
                   "operations.retention_days in upstream.json).")
@on_interrupt("the deletion is one transaction: all of it or none; run the command again")
def prune(directory: Path, db: str | None, days: float | None) -> None:
    """Retention: delete stored records older than the retention period (run daily)."""
    cfg = _config(directory, db)
    days = days or cfg.operations.retention_days
    if not days:
        fail("no retention set: operations.retention_days is 0 (keep) and no --days",
             EXIT_USAGE)
    cutoff = time.time() - days * 86400
    n = _read_store(cfg, lambda st: st.delete_committed_before(cutoff))
    click.echo(f"deleted {n} record(s) committed more than {days:g} day(s) ago")
