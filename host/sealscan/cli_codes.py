"""`sealscan codes`: make and check the codes a scanner reads (identity tokens from a TEST
issuer, courier badges, configuration codes), as text and optionally as QR PNGs.

Identity data goes only where the user asked for it (the token on stdout, the PNG file);
`verify` shows it masked. Private keys and Wi-Fi passwords are never printed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click

from sealscan import codes
from sealscan.cli import EXIT_INPUT, emit_json, fail
from sealscan.errors import bad_value

_DAY = 86400


@click.group("codes")
def codes_group() -> None:
    """Make and check scanned codes: test identity tokens, badges, config codes."""


def _expiry(now: int, expires_in: int | None, expired: bool) -> int:
    if expired and expires_in is not None:
        raise click.UsageError("--expired and --expires-in exclude each other")
    if expired:
        return now - 1
    return now + (expires_in if expires_in is not None else 365 * _DAY)


def _make_mac0_code(make: Any, key_file: Path, expires_in: int | None, expired: bool,
                    now: int | None, png: Path | None, **fields: Any) -> None:
    """Shared body of `badge` and `config`: load the key, make the code, print it."""
    key = _load_key(key_file)
    t = int(time.time()) if now is None else now
    try:
        text = make(key, expires_at=_expiry(t, expires_in, expired), **fields)
    except codes.MalformedCode as e:  # a field given as a flag
        raise bad_value(str(e)) from None
    _emit(text, png)


def _emit(text: str, png: Path | None) -> None:
    if png is not None:
        try:
            codes.write_qr_png(text, png)
        except OSError as e:
            fail(f"{png}: {e.strerror or e}")
    click.echo(text)


def _load_issuer(path: Path) -> codes.Issuer:
    try:
        return codes.load_issuer(path)
    except codes.MalformedCode as e:
        fail(str(e), EXIT_INPUT)


def _load_key(path: Path) -> bytes:
    try:
        return codes.load_key_file(path)
    except codes.MalformedCode as e:
        fail(str(e), EXIT_INPUT)


_NOW = click.option("--now", type=int, default=None,
                    help="Unix time to use as now (default: the clock).")
_EXPIRES_IN = click.option("--expires-in", type=click.IntRange(min=1), default=None,
                           metavar="SECONDS", help="Validity from now (default one year).")
_EXPIRED = click.option("--expired", is_flag=True,
                        help="Make it already expired (negative tests).")
_PNG = click.option("--png", type=click.Path(dir_okay=False, path_type=Path), default=None,
                    help="Also write a QR code PNG here.")


@codes_group.command("init-issuer")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Issuer key file to create (mode 0600; never overwritten).")
def init_issuer(out: Path) -> None:
    """Create a TEST identity issuer key (clearly labelled, never for real identities)."""
    issuer = codes.new_test_issuer()
    try:
        codes.save_issuer(issuer, out)
    except FileExistsError:
        fail(f"{out}: exists; refusing to overwrite an issuer key")
    except OSError as e:
        fail(f"{out}: {e.strerror}")
    click.echo(f"issuer {issuer.name!r} kid {issuer.kid.decode()} "
               f"public key {issuer.public_bytes.hex()} -> {out}")


@codes_group.command("issuer-public")
@click.option("--issuer-key", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the public issuer file (what an upstream trusts) here.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def issuer_public(issuer_key: Path, out: Path | None, as_json: bool) -> None:
    """Show an issuer's kid and public key (what an upstream needs to verify tokens)."""
    issuer = _load_issuer(issuer_key)
    data = codes.issuer_public_data(issuer)
    if out is not None:
        out.write_text(json.dumps(data, indent=2) + "\n")
    if as_json:
        emit_json(data)
    else:
        click.echo(f"{issuer.name}  kid {issuer.kid.decode(errors='replace')}  "
                   f"public {data['ed25519_public']}")


@codes_group.command("init-key")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Key file to create (64 hex characters, mode 0600; never overwritten).")
def init_key(out: Path) -> None:
    """Create a random 32-byte badge or config key file."""
    try:
        codes.save_key_file(os.urandom(32), out)
    except FileExistsError:
        fail(f"{out}: exists; refusing to overwrite a key")
    except OSError as e:
        fail(f"{out}: {e.strerror}")
    click.echo(f"key -> {out}")


@codes_group.command("identity")
@click.option("--issuer-key", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Issuer key file from `codes init-issuer`.")
@click.option("--id-type", type=click.Choice([str(t) for t in codes.ID_TYPES]), default="11",
              help="Document type code (11 resident ID, 18 foreign passport, ...).")
@click.option("--id-number", required=True)
@click.option("--name", required=True)
@click.option("--phone", required=True)
@click.option("--allow-invalid-id", is_flag=True,
              help="Sign even if the id number fails its check character (negative tests).")
@_EXPIRES_IN
@_EXPIRED
@_NOW
@_PNG
def identity(issuer_key: Path, id_type: str, id_number: str, name: str, phone: str,
             allow_invalid_id: bool, expires_in: int | None, expired: bool, now: int | None,
             png: Path | None) -> None:
    """Make a sender identity token (RNID1:) signed by a TEST issuer; prints the token."""
    issuer = _load_issuer(issuer_key)
    t = int(time.time()) if now is None else now
    try:
        token = codes.make_identity_token(
            issuer, id_type=int(id_type), id_number=id_number, name=name, phone=phone,
            issued_at=t, expires_at=_expiry(t, expires_in, expired),
            allow_invalid_id=allow_invalid_id)
    except codes.InvalidIdNumber as e:
        raise bad_value(f"{e} (use --allow-invalid-id to make a negative test token)",
                        "--id-number") from None
    except codes.MalformedCode as e:  # a claim given as a flag
        raise bad_value(str(e)) from None
    _emit(token, png)


@codes_group.command("badge")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Fleet badge key file (64 hex characters).")
@click.option("--courier-id", required=True)
@click.option("--name", "display_name", required=True, help="Display name on the device.")
@click.option("--carrier", required=True, help="Carrier code, e.g. SF.")
@_EXPIRES_IN
@_EXPIRED
@_NOW
@_PNG
def badge(key_file: Path, courier_id: str, display_name: str, carrier: str,
          expires_in: int | None, expired: bool, now: int | None, png: Path | None) -> None:
    """Make a courier badge (RNCB1:); prints the code."""
    _make_mac0_code(codes.make_badge, key_file, expires_in, expired, now, png,
                    courier_id=courier_id, display_name=display_name, carrier=carrier)


@codes_group.command("config")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Config key file (64 hex characters).")
@click.option("--ssid", required=True)
@click.option("--password", envvar="SEALSCAN_WIFI_PASSWORD", prompt=True, hide_input=True,
              help="Wi-Fi password (or $SEALSCAN_WIFI_PASSWORD, or asked).")
@click.option("--url", "upstream_url", required=True, help="Upstream URL.")
@click.option("--serial", type=click.IntRange(min=0), required=True,
              help="Must exceed the device's last applied serial.")
@click.option("--lang", type=click.Choice(codes.UI_LANGS), default=None,
              help="Also switch the device's screen language.")
@_EXPIRES_IN
@_EXPIRED
@_NOW
@_PNG
def config(key_file: Path, ssid: str, password: str, upstream_url: str, serial: int,
           lang: str | None, expires_in: int | None, expired: bool, now: int | None,
           png: Path | None) -> None:
    """Make a configuration code (RNCF1:); prints the code."""
    _make_mac0_code(codes.make_config, key_file, expires_in, expired, now, png, ssid=ssid,
                    password=password, upstream_url=upstream_url, serial=serial, lang=lang)


@codes_group.command("verify")
@click.argument("text")
@click.option("--issuer-key", "issuer_keys", multiple=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Trusted issuer: a public issuer file or an issuer key file (repeatable).")
@_NOW
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def verify(text: str, issuer_keys: tuple[Path, ...], now: int | None, as_json: bool) -> None:
    """Check an identity token: prints the verdict and the masked claims."""
    try:
        issuers = codes.load_trusted_issuers(*issuer_keys)
    except codes.MalformedCode as e:
        fail(str(e), EXIT_INPUT)
    t = int(time.time()) if now is None else now
    try:
        token = codes.parse_identity_token(text)
        verdict = codes.verify_identity_token(text, issuers, t)
    except codes.MalformedCode as e:
        fail(f"malformed identity token: {e}")
    data = {"verdict": verdict, "kid": token.kid.hex(), **token.claims.masked()}
    if as_json:
        emit_json(data)
    else:
        click.echo(f"{verdict}: {data['id_type_name']} {data['id_number']} {data['name']} "
                   f"{data['phone']} (issuer {data['issuer']!r})")
    if verdict != "ok":
        raise SystemExit(1)
