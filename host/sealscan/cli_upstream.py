"""`sealscan upstream`: run the reference upstream and manage its device registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sealscan.cli import EXIT_INPUT, emit_json, fail
from sealscan.codes import TEST_ISSUER_NAME
from sealscan.upstream import registry
from sealscan.upstream.config import UpstreamConfig, init_state, load_config
from sealscan.upstream.errors import (
    ConfigError,
    ProvisioningEntryError,
    RegistryError,
    StorageError,
)
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
    try:
        cfg = load_config(directory)
    except ConfigError as e:
        fail(str(e), EXIT_INPUT)
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
@click.option("--port", type=int, default=8443, show_default=True)
@click.option("--force", is_flag=True, help="Replace existing keys (orphans every device).")
def init(directory: Path, hosts: tuple[str, ...], port: int, force: bool) -> None:
    """Make a state directory: X25519 key pair, self-signed TLS certificate, config.

    Prints what every device needs: the upstream public key and the TLS certificate pin.
    The private keys stay in the directory (mode 0600) and are never printed."""
    try:
        res = init_state(directory, list(hosts) or None, port, force)
    except ConfigError as e:
        fail(str(e))
    click.echo(f"upstream state in {res.directory}")
    click.echo(f"upstream public key (X25519): {res.public_key}")
    click.echo(f"TLS certificate: {res.cert_path}")
    click.echo(f"TLS pin (SHA-256 of the certificate DER): {res.cert_sha256}")


@upstream.command()
@DIR_OPTION
@click.option("--host", default=None, help="Listen address (default from the config).")
@click.option("--port", type=int, default=None, help="Listen port (0: any free port).")
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
    except ConfigError as e:
        fail(str(e), EXIT_INPUT)
    except (StorageError, OSError) as e:
        fail(str(e))


@upstream.command("trust-issuer")
@DIR_OPTION
@click.argument("issuer_public", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--allow-test-issuer", is_flag=True,
              help="Accept a TEST issuer (CI and demos only, never in production).")
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
    except ConfigError as e:
        fail(f"{issuer_public}: {e}", EXIT_INPUT)
    click.echo(f"trusting issuer kid {data['kid']} ({data.get('issuer', 'unnamed')})")


@upstream.command("import")
@DIR_OPTION
@click.argument("entries", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--replace", is_flag=True, help="Re-provision devices registered already.")
def import_(directory: Path, entries: Path, replace: bool) -> None:
    """Register devices from a provisioning entries file (.jsonl, keys sealed to us)."""
    cfg = _config(directory)
    try:
        ids = registry.import_entries(cfg, entries, replace)
    except ProvisioningEntryError as e:
        fail(f"{entries}: {e}", EXIT_INPUT)
    except (RegistryError, StorageError) as e:
        fail(str(e))
    click.echo(f"registered {len(ids)} device(s)")


def _set_revoked(directory: Path, device_id: str, revoked: bool) -> None:
    store = registry.open_store(_config(directory))
    try:
        store.set_revoked(device_id, revoked)
    except (RegistryError, StorageError) as e:
        fail(str(e))
    finally:
        store.close()
    click.echo(f"{device_id}: {'revoked' if revoked else 'active'}")


@upstream.command()
@DIR_OPTION
@click.argument("device_id")
def revoke(directory: Path, device_id: str) -> None:
    """Refuse every batch from a device from now on (403)."""
    _set_revoked(directory, device_id, True)


@upstream.command()
@DIR_OPTION
@click.argument("device_id")
def unrevoke(directory: Path, device_id: str) -> None:
    """Accept a revoked device again."""
    _set_revoked(directory, device_id, False)


def _read_store(directory: Path, read: Callable[[Storage], list[dict[str, Any]]]
                ) -> list[dict[str, Any]]:
    store = registry.open_store(_config(directory))
    try:
        return read(store)
    except StorageError as e:
        fail(str(e))
    finally:
        store.close()


@upstream.command("devices")
@DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def devices(directory: Path, as_json: bool) -> None:
    """List registered devices (never their keys)."""
    rows = _read_store(directory, lambda st: [registry.device_row(d)
                                              for d in st.list_devices()])
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked"] else "active"
        click.echo(f"{r['device_id']:32} {state:28} registered {r['registered']}")


@upstream.command()
@DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(directory: Path, as_json: bool) -> None:
    """Per device: last seen, records, late records (> 30 s capture to commit), rejects.
    Counts only: no identity, name, phone or waybill is ever shown."""
    rows = _read_store(directory, lambda st: [registry.stats_row(s)
                                              for s in st.device_stats()])
    if as_json:
        emit_json(rows)
        return
    click.echo(f"{'device':32} {'state':7} {'last seen':25} {'records':>8} {'late':>6} "
               f"{'rejects':>7}")
    for r in rows:
        click.echo(f"{r['device_id']:32} {'revoked' if r['revoked'] else 'active':7} "
                   f"{r['last_seen'] or '-':25} {r['records']:>8} {r['late']:>6} "
                   f"{r['rejects']:>7}")
