"""`sealscan upstream`: run the reference upstream and manage its device registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sealscan.cli import EXIT_INPUT, emit_json, fail, on_interrupt
from sealscan.codes import TEST_ISSUER_NAME
from sealscan.upstream import registry
from sealscan.upstream.config import UpstreamConfig, init_state, load_config
from sealscan.upstream.errors import ProvisioningEntryError, UpstreamConfigError
from sealscan.upstream.storage import Storage

DIR_OPTION = click.option("--dir", "-d", "directory", type=click.Path(path_type=Path),
                          default=Path("upstream"), show_default=True, envvar="SEALSCAN_UPSTREAM",
                          help="The upstream state directory (env SEALSCAN_UPSTREAM).")


def _config(directory: Path) -> UpstreamConfig:
    return load_config(directory)  # UpstreamConfigError: exit 3


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
def serve(directory: Path, host: str | None, port: int | None, workers: int,
          insecure_http: bool, log_level: str) -> None:
    """Serve POST /v1/batches, GET /v1/health and GET /metrics until SIGTERM."""
    from sealscan.upstream.server import ServeOptions
    from sealscan.upstream.server import serve as run

    cfg = _config(directory)
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
@click.argument("entries", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--replace", is_flag=True, help="Re-provision devices registered already.")
@on_interrupt("the entries are registered in one transaction: all of them or none; run the "
              "command again")
def import_(directory: Path, entries: Path, replace: bool) -> None:
    """Register devices from a provisioning entries file (.jsonl, keys sealed to us)."""
    cfg = _config(directory)
    try:
        ids = registry.import_entries(cfg, entries, replace)
    except ProvisioningEntryError as e:
        raise ProvisioningEntryError(f"{entries}: {e}") from None
    click.echo(f"registered {len(ids)} device(s)")


def _set_revoked(directory: Path, device_id: str, revoked: bool) -> None:
    store = registry.open_store(_config(directory))
    try:
        store.set_revoked(device_id, revoked)
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
