"""`sealscan stage`: a thin click command over `sealscan.stage` with a live table (rich)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from sealscan.cli import EXIT_FAILURE, emit_json, fail, load_board_or_exit, on_interrupt


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        board, sep, rest = v.partition("=")
        if not sep or not board or not rest:
            fail(f"--{what} {v!r}: expected BOARD={what.upper()}", 2)
        out[board] = rest
    return out


def _station_ports() -> list[str]:
    """Scanners plugged in, as `sealscan ports` finds them, by their stable by-id names."""
    from sealscan.device.ports import discover

    by_id = Path("/dev/serial/by-id")
    names = {}
    if by_id.is_dir():
        names = {os.path.realpath(p): str(p) for p in by_id.iterdir()}
    return [names.get(os.path.realpath(p.device), p.device) for p in discover()
            if p.likely_scanner]


@click.command(short_help="Stage every scanner on the station at once: flash, deploy, "
                          "provision, verify, register, test record.")
@click.option("--port", "-p", "ports", multiple=True,
              help="A scanner's port (repeat; default: every scanner `sealscan ports` finds). "
                   "FLASH+CONSOLE when the two differ (the simulator).")
@click.option("--board", "-b", "boards", multiple=True,
              help="Boards on the station (repeat; default: all); the chip picks the board.")
@click.option("--image", "images", multiple=True, required=True,
              help="BOARD=FILE: the board's MicroPython image (repeat per board).")
@click.option("--sha256", "hashes", multiple=True,
              help="BOARD=HEX: the image hash, for a board file without a pin.")
@click.option("--ids", "id_pattern", help="Device id pattern, e.g. sz-{n:03d}.")
@click.option("--first", type=int, default=1, show_default=True,
              help="First number the pattern tries.")
@click.option("--ids-csv", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="CSV with columns port,device_id[,board] (a slot per row).")
@click.option("--upstream", "upstream_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Upstream state directory: keys and certificate from it, entries imported "
                   "into it, and a test record acked by it.")
@click.option("--upstream-pk", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--upstream-url")
@click.option("--tls-cert", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--carrier", required=True)
@click.option("--badge-key", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--config-key", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--wifi-ssid", required=True)
@click.option("--lease-hours", type=click.FloatRange(0, 8760), default=72, show_default=True)
@click.option("--lease-wipe-hours", type=click.FloatRange(0, 8760), default=336,
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("stage"),
              show_default=True, help="Receipts, entries and per-device state (re-runs "
                                      "continue from it).")
@click.option("--baud", type=int, default=921600, show_default=True)
@click.option("--before", default="default-reset", show_default=True,
              type=click.Choice(["default-reset", "usb-reset", "no-reset"]))
@click.option("--retries", type=click.IntRange(0, 5), default=1, show_default=True)
@click.option("--rekey", is_flag=True, help="Re-stage returned scanners under their ids with "
                                            "new keys (the upstream refuses the old ones).")
@click.option("--json", "as_json", is_flag=True, help="No live table; print the summary as "
                                                      "JSON.")
@on_interrupt("a scanner without a receipt in OUT/receipts is not staged; run stage again to "
              "continue where each one stopped")
def stage(ports: tuple[str, ...], boards: tuple[str, ...], images: tuple[str, ...],
          hashes: tuple[str, ...], id_pattern: str | None, first: int, ids_csv: Path | None,
          upstream_dir: Path | None, upstream_pk: Path | None, upstream_url: str | None,
          tls_cert: Path | None, carrier: str, badge_key: Path, config_key: Path,
          wifi_ssid: str, lease_hours: float, lease_wipe_hours: float, out: Path, baud: int,
          before: str, retries: int, rekey: bool, as_json: bool) -> None:
    """Stage every scanner on the station at once, each in its own thread: identify the
    chip, flash the board's image unless the chip holds it already (MD5 read back), deploy,
    provision (keys made here, never shown), verify, register with the upstream, and send a
    test record that must be acked. A failing scanner is marked and retried or left; the
    others go on. Ctrl-C stops each scanner after its current step; running the command again
    continues where each stopped. A scanner counts as staged only once its receipt is in
    OUT/receipts (board, chip, MAC, image sha256, firmware hash, device id, fingerprint of its
    sealed entry: never a key)."""
    from sealscan import stage as st
    from sealscan.boards import load_all
    from sealscan.cli_device import _wifi_pass
    from sealscan.device import provision as prov

    # errors (sealscan.errors) are reported once, by the CLI's funnel
    board_list = [load_board_or_exit(b) for b in boards] or load_all()
    by_name = {b.name: b for b in board_list}
    sha = _pairs(hashes, "sha256")
    imgs = {}
    for name, path in _pairs(images, "image").items():
        if name not in by_name:
            fail(f"--image {name}=…: not a board on this station", 2)
        imgs[name] = st.Image(Path(path), sha.get(name))
    csv_rows = st.read_ids_csv(ids_csv) if ids_csv else {}
    if id_pattern:
        st.check_pattern(id_pattern)
    specs = [st.Scanner.parse(p) for p in (ports or _station_ports())]
    scanners = [st.Scanner(s.port, s.console, *csv_rows.get(s.port, (None, None))[::-1])
                for s in specs]
    upstream = prov.load_upstream(upstream_dir, public_key=upstream_pk, url=upstream_url,
                                  tls_cert=tls_cert)
    opts = st.StageOptions(
        boards=board_list, images=imgs, upstream=upstream, upstream_dir=upstream_dir,
        badge_key=prov.load_secret_key(badge_key, "badge key"),
        config_key=prov.load_secret_key(config_key, "config key"), carrier=carrier,
        wifi_ssid=wifi_ssid, wifi_pass=_wifi_pass(), out=out, id_pattern=id_pattern,
        first=first, lease_hours=lease_hours, lease_wipe_hours=lease_wipe_hours,
        baud=baud, before=before, retries=retries, rekey=rekey)
    station = st.Station(scanners, opts)
    summary = _run(station, as_json)
    if as_json:
        emit_json(summary)
    else:
        c = summary["counts"]
        click.echo(f"{len(summary['devices'])} scanner(s) in {summary['wall_seconds']:.1f} s: "
                   + ", ".join(f"{n} {k}" for k, n in sorted(c.items()))
                   + f"; receipts in {out / 'receipts'}")
        for d in summary["devices"]:
            if d["status"] not in (st.STAGED, st.ALREADY):
                click.echo(f"{d['status']}: {d['port']}: {d['detail']}", err=True)
    if any(d["status"] not in (st.STAGED, st.ALREADY) for d in summary["devices"]):
        sys.exit(EXIT_FAILURE)


def _run(station: object, as_json: bool) -> dict:
    from sealscan.stage import Station

    assert isinstance(station, Station)
    live = None
    if not as_json and sys.stdout.isatty():
        from rich.live import Live

        live = Live(_table(station), refresh_per_second=4, transient=False)
        live.start()
    station.start()
    try:
        while True:
            try:
                return _watch(station, live)
            except KeyboardInterrupt:
                if station.stop.is_set():
                    raise
                station.stop.set()
                click.echo("stopping: each scanner finishes its current step "
                           "(Ctrl-C again to quit at once; run stage again to continue)",
                           err=True)
    finally:
        if live is not None:
            live.update(_table(station))
            live.stop()


def _watch(station: object, live: object) -> dict:
    from sealscan.stage import Station

    assert isinstance(station, Station)
    while not all(r.done for r in station.runs):
        if live is not None:
            live.update(_table(station))  # type: ignore[attr-defined]
        time.sleep(0.25)
    return station.wait()


def _table(station: object) -> object:
    from rich.table import Table

    from sealscan.stage import STEPS, Station

    assert isinstance(station, Station)
    t = Table(title="sealscan stage", expand=False)
    for col in ("port", "board", "MAC", "device id", "step", "detail"):
        t.add_column(col)
    for r in station.runs:
        step = r.status
        if step in STEPS:
            step = f"{step} ({STEPS.index(step) + 1}/{len(STEPS)})"
        t.add_row(r.scanner.port, r.board or "", r.mac or "", r.device_id or "", step,
                  r.detail[:60])
    return t


__all__ = ["stage"]
