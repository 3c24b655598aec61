"""The depot technician's device commands: deploy, provision, verify, audit, ports.

Thin click commands over `sealscan.device`: they parse and check flags, open the device link
once and call the library with it; its errors carry their exit code and reach the CLI's one
funnel (`sealscan.cli`). Secrets (the device key, badge/config keys, Wi-Fi password) are
never printed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sealscan.cli import EXIT_FAILURE, EXIT_INPUT, emit_json, fail, load_board_or_exit, on_interrupt
from sealscan.errors import InputError, bad_value, file_problem

_PORT = click.option("--port", "-p", required=True, envvar="SEALSCAN_PORT",
                     help="Serial port of the scanner, e.g. /dev/ttyUSB0 (or $SEALSCAN_PORT).")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_READ_ONLY = "nothing was changed (this command only reads)"


def _provision_check(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback running sealscan.device.provision's check `name` on the flag's value:
    its InputError is a bad flag value (exit 2)."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        from sealscan.device import provision

        if value is None:
            return value
        try:
            return getattr(provision, name)(value)
        except InputError as e:
            raise bad_value(str(e)) from None

    return callback


@click.command(short_help="Copy the compiled firmware to a scanner (skips unchanged files).")
@_PORT
@click.option("--board", "-b", "board_name", required=True, help="Board name or board file.")
@click.option("--firmware", "src", type=click.Path(path_type=Path, file_okay=False,
                                                   exists=True),
              help="Firmware tree to deploy (default: the repository's firmware/).")
@click.option("--force", is_flag=True, help="Redeploy a device deployed as another board.")
@click.option("--no-reset", is_flag=True, help="Do not soft-reset the device afterwards.")
@_JSON
@on_interrupt("the device may hold part of the new firmware (whole files only; firmware.json "
              "goes last, so `sealscan verify` fails until then): run `sealscan deploy` again")
def deploy(port: str, board_name: str, src: Path | None, force: bool, no_reset: bool,
           as_json: bool) -> None:
    """Compile the firmware and copy it, board.json and firmware.json to the device.

    Unchanged files are skipped (sha256 computed on the device); files an older firmware
    left behind are removed; each file is replaced atomically and firmware.json is written
    last. The device is soft-reset at the end so the new firmware runs."""
    from sealscan.device.deploy import deploy as run
    from sealscan.device.firmware import build_firmware
    from sealscan.device.link import open_link
    from sealscan.fwtools import FirmwareCheckError
    from sealscan.paths import FIRMWARE_DIR

    board = load_board_or_exit(board_name)
    say = None if as_json else click.echo
    try:  # before the port is opened: firmware that does not compile never touches a device
        build = build_firmware(board, src or FIRMWARE_DIR)
    except FirmwareCheckError as e:
        fail(str(e).replace("\n", "; "), EXIT_INPUT)  # one line
    with open_link(port) as link:
        result = run(link, board, build, force=force, reset=not no_reset, progress=say)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"deployed {result.version} for {result.board} on {port}: "
               f"{len(result.written)} written, {len(result.skipped)} unchanged, "
               f"{len(result.removed)} removed" + ("; soft reset" if result.reset else ""))


_RESTARTED = ("; restarted into the app (its console is locked now: power it on holding BACK "
              "for more depot work)")


@click.command(short_help="Give a deployed scanner its id and keys (NVS).")
@_PORT
@click.option("--device-id", required=True, callback=_provision_check("check_device_id_value"),
              help="The device's id (1-32 of A-Z a-z 0-9 . _ -).")
@click.option("--upstream", "upstream_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Upstream state directory (`sealscan upstream init`): public key, TLS "
                   "certificate, port.")
@click.option("--upstream-pk", type=click.Path(path_type=Path, dir_okay=False),
              help="Upstream public key file (64 hex), instead of --upstream.")
@click.option("--upstream-url", callback=_provision_check("check_url"),
              help="https://HOST[:PORT] the device sends to.")
@click.option("--tls-cert", type=click.Path(path_type=Path, dir_okay=False),
              help="The upstream's TLS certificate (PEM or DER): the device pins it.")
@click.option("--carrier", required=True, callback=_provision_check("check_carrier"),
              help="Carrier code the device scans waybills for.")
@click.option("--badge-key", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Fleet badge key file (64 hex, `sealscan codes init-key`).")
@click.option("--config-key", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Config code key file (64 hex).")
@click.option("--wifi-ssid", required=True, callback=_provision_check("check_wifi_ssid"),
              help="Wi-Fi network name.")
@click.option("--lang", type=click.Choice(("zh", "en")), default=None,
              help="Screen language (default: zh, the language of every known carrier).")
@click.option("--entries", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Provisioning entries file (.jsonl) to append to, for `sealscan upstream "
                   "import`.")
@click.option("--board", "-b", "board_name", help="Refuse unless the device is this board.")
@click.option("--lease-hours", type=click.FloatRange(0, 8760), default=72, show_default=True,
              help="Key lease: refuse identities after this long without an authenticated "
                   "ack (0: no lease).")
@click.option("--lease-wipe-hours", type=click.FloatRange(0, 8760), default=336,
              show_default=True, help="Wipe the keys after this long without an ack (0: never).")
@click.option("--force", is_flag=True, help="Provision an already provisioned device again "
                                            "(new device key) under an id not registered yet.")
@click.option("--rekey", is_flag=True,
              help="Give a registered device id a new key (a returned scanner): the upstream "
                   "must import it with --rekey, after which the old key is refused.")
@click.option("--no-restart", is_flag=True,
              help="Leave the device at its console (maintenance mode) instead of restarting "
                   "it into the app, whose console is locked.")
@_JSON
@on_interrupt("the device is provisioned only if `sealscan verify` says so (`provisioned` is "
              "set last): run `sealscan provision` again, and import the newest entry")
def provision(port: str, device_id: str, upstream_dir: Path | None, upstream_pk: Path | None,
              upstream_url: str | None, tls_cert: Path | None, carrier: str, badge_key: Path,
              config_key: Path, wifi_ssid: str, lang: str | None, entries: Path,
              board_name: str | None, lease_hours: float, lease_wipe_hours: float,
              force: bool, rekey: bool, no_restart: bool, as_json: bool) -> None:
    """Make the device key on this host and write the device's NVS (docs/device.md).

    The key is never printed nor stored in clear: ENTRIES gets one line with it sealed to the
    upstream's public key. The Wi-Fi password comes from $SEALSCAN_WIFI_PASS or a prompt
    (never a flag: command lines are visible to every user). `provisioned` is set last."""
    from sealscan.device import provision as prov
    from sealscan.device.link import open_link

    board = load_board_or_exit(board_name) if board_name else None
    upstream = prov.load_upstream(upstream_dir, public_key=upstream_pk, url=upstream_url,
                                  tls_cert=tls_cert)
    request = prov.ProvisionRequest(
        device_id=device_id, upstream=upstream, carrier=carrier,
        badge_key=prov.load_secret_key(badge_key, "badge key"),
        config_key=prov.load_secret_key(config_key, "config key"),
        wifi_ssid=wifi_ssid, wifi_pass=_wifi_pass(), lang=lang, lease_hours=lease_hours,
        lease_wipe_hours=lease_wipe_hours)
    request.check()
    with prov.open_entries(entries) as out, open_link(port) as link:
        result = prov.provision(link, request, out, board=board, force=force, rekey=rekey,
                                restart=not no_restart)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"provisioned {result.device_id} ({result.board}) on {port}"
               f"{' again, with a new key' if result.replaced else ''}: upstream "
               f"{result.upstream_url}, TLS pin {result.tls_pin[:16]}…; entry appended to "
               f"{result.entries} (run `sealscan upstream import"
               f"{' --rekey' if result.rekeyed else ''} {result.entries}` on the upstream)"
               f"{_RESTARTED if result.restarted else ''}")
    if result.rekeyed:
        click.echo(f"re-keyed {result.device_id}: once imported with --rekey, the upstream "
                   "refuses its old key (403 unauthenticated)")


def _wifi_pass() -> str:
    value = os.environ.get("SEALSCAN_WIFI_PASS")
    if value is None:
        value = click.prompt("Wi-Fi password (empty for an open network)", default="",
                             hide_input=True, show_default=False)
    return value


@click.command(short_help="Check a scanner's firmware, board config and NVS keys.")
@_PORT
@click.option("--board", "-b", "board_name", help="Also require this board.")
@click.option("--firmware", "src", type=click.Path(path_type=Path, file_okay=False,
                                                   exists=True),
              help="Firmware tree to compare with (default: the repository's firmware/).")
@_JSON
@on_interrupt(_READ_ONLY)
def verify(port: str, board_name: str | None, src: Path | None, as_json: bool) -> None:
    """Check a scanner is ready: firmware = firmware.json = the local build, board.json =
    the board, every required NVS key present (names only). Exit 1 on any mismatch."""
    from sealscan.device.inspect import verify as run
    from sealscan.device.link import open_link
    from sealscan.fwtools import FirmwareCheckError
    from sealscan.paths import FIRMWARE_DIR

    with open_link(port) as link:
        try:
            report = run(link, board_name=board_name, src=src or FIRMWARE_DIR)
        except FirmwareCheckError as e:
            fail(str(e).replace("\n", "; "), EXIT_INPUT)  # one line
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(f"device {report.device_id or '(no device id)'} on {port}: board "
                   f"{report.board or '?'}, firmware {report.version or '?'}, "
                   f"{report.files} files, {len(report.nvs_keys)} NVS keys")
        for problem in report.problems:
            click.echo(f"  MISMATCH {problem}")
        click.echo("ok" if report.ok else f"FAILED: {len(report.problems)} problem(s)")
    if not report.ok:
        raise SystemExit(EXIT_FAILURE)


@click.command(short_help="Audit a returned scanner's flash for files, keys and record data.")
@click.option("--port", "-p", envvar="SEALSCAN_PORT",
              help="Serial port of the scanner: its whole flash is read through the ROM "
                   "bootloader (esptool read-flash), or over the REPL with --repl.")
@click.option("--dump", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="A whole-flash dump file (esptool read-flash 0 SIZE) instead of a port.")
@click.option("--board", "-b", "board_name",
              help="The scanner's board (flash size, image offset and pin); needed unless "
                   "--repl.")
@click.option("--before", type=click.Choice(["default-reset", "usb-reset", "no-reset"]),
              default="default-reset", show_default=True,
              help="How esptool gets the chip into its bootloader.")
@click.option("--baud", type=click.IntRange(9600, 4_000_000), default=None,
              help="Line speed for reading the flash through the ROM (default 460800; a 4 MB "
                   "flash takes ~90 s at that, ~45 s at 921600 where the USB bridge can).")
@click.option("--repl", is_flag=True,
              help="Audit through the firmware's REPL (mpremote) instead of the raw flash: "
                   "sees only what the firmware shows.")
@click.option("--sim-state", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="With --repl: a simulated device's state directory, to list its NVS.")
@_JSON
@on_interrupt(_READ_ONLY)
def audit(port: str | None, dump: Path | None, board_name: str | None, before: str,
          baud: int | None, repl: bool, sim_state: Path | None, as_json: bool) -> None:
    """Audit a returned or recovered scanner: every file and NVS key outside the device
    contract (docs/device.md), and record-like data (identity tokens and numbers, phone
    numbers, waybills, sealed records) anywhere, reported by place and masked.

    From the flash (--dump, or --port without --repl) the search covers deleted files'
    blocks, old filesystem metadata and erased NVS entries too, and the MicroPython image is
    checked against the board's pin. Exit 0 clean, 1 something found (or the port failed),
    3 the flash image (or part of it) is unreadable."""
    if repl:
        if port is None:
            raise click.UsageError("--repl needs --port")
        _audit_repl(port, sim_state, as_json)
        return
    if (port is None) == (dump is None):
        raise click.UsageError("give exactly one of --port and --dump")
    if board_name is None:
        raise click.UsageError("--board is needed to audit a flash image (size, image "
                               "offset, pin)")
    from sealscan.device.flashaudit import audit_dump, dump_json, dump_text
    from sealscan.flashing import DEFAULT_BAUD, connect, read_whole_flash

    board = load_board_or_exit(board_name)
    if dump is not None:
        try:
            data = dump.read_bytes()
        except OSError as e:
            fail(file_problem(dump, e), EXIT_INPUT)
        source = str(dump)
    else:
        with connect(port, before=before, quiet=True) as esp:
            data = read_whole_flash(esp, board, baud=baud or DEFAULT_BAUD)
        source = str(port)
    report = audit_dump(data, board, source=source)  # an unreadable dump: exit 3
    if as_json:
        click.echo(dump_json(report))
    else:
        for line in dump_text(report):
            click.echo(line)
    for part in report.unreadable:
        click.echo(f"error: {part}", err=True)
    if report.unreadable:
        raise SystemExit(EXIT_INPUT)
    if not report.clean:
        raise SystemExit(EXIT_FAILURE)


def _audit_repl(port: str, sim_state: Path | None, as_json: bool) -> None:
    from sealscan.device.contract import file_listing
    from sealscan.device.inspect import audit as run
    from sealscan.device.link import open_link

    with open_link(port) as link:
        report = run(link, sim_state=sim_state)
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(f"{port}: {len(report.files)} filesystem entries")
        for line in file_listing(report.files):
            click.echo(line)
        for ns, keys in sorted(report.nvs.items()):
            click.echo(f"NVS {ns}: {', '.join(keys) or '(empty)'}")
        if not report.nvs_listed:
            click.echo("NVS: only the contract keys could be probed (this port cannot list "
                       "NVS keys)")
        for item in report.flagged:
            click.echo(f"FLAG {item}")
        for hit in report.findings:
            click.echo(f"RECORD DATA {hit.where} @{hit.offset}: {hit.kind} {hit.masked}")
        click.echo("clean" if report.clean else
                   f"NOT CLEAN: {len(report.flagged)} flagged, {len(report.findings)} "
                   "record-like finding(s)")
    if not report.clean:
        raise SystemExit(EXIT_FAILURE)


@click.command(short_help="List serial ports; ESP32 USB bridges first, with hints.")
@click.option("--all", "include_all", is_flag=True, help="Also list non-USB serial ports.")
@_JSON
def ports(include_all: bool, as_json: bool) -> None:
    """List serial ports; USB bridges used on ESP32 boards (CP210x, CH340/CH9102, FTDI,
    ESP USB-JTAG) first, each with a hint."""
    from sealscan.device.ports import discover

    found = discover(include_all)
    if as_json:
        emit_json([p.to_dict() for p in found])
        return
    if not found:
        click.echo("no USB serial ports found: plug the scanner in with a data cable "
                   "(some cables only charge); `--all` lists other serial ports")
        return
    for p in found:
        click.echo(f"{p.device}  {p.vid_pid or '-'}  {p.bridge or p.description or '-'}  "
                   f"({p.hint})")


@click.command(short_help="Follow a scanner's console, ids and phones masked.")
@_PORT
@click.option("--seconds", type=click.FloatRange(min=0), help="Stop after this many seconds "
              "(default: until Ctrl-C).")
def monitor(port: str, seconds: float | None) -> None:
    """Follow the scanner's console, masking anything that looks like an identity token,
    identity number or phone number. Read only: main.py keeps running."""
    from sealscan.device.monitor import follow

    try:
        follow(port, click.echo, seconds=seconds)
    except KeyboardInterrupt:  # the way to stop it: exit 0
        click.echo("stopped: the monitor only read, main.py keeps running", err=True)
