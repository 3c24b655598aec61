"""`sealscan hil`: the hardware smoke kit (sealscan.hil) on a scanner on the bench."""

from __future__ import annotations

import socket
from pathlib import Path

import click

from sealscan.cli import EXIT_USAGE, fail, load_board_or_exit


def _lan_address() -> str:
    """The address this computer has on its default route (no packet is sent), else
    loopback."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
        return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        s.close()


@click.command(short_help="Smoke-test a scanner on the bench: deploy, provision, scan, ack, "
                          "numbers.")
@click.option("--port", "-p", envvar="SEALSCAN_PORT",
              help="Serial port of the scanner, e.g. /dev/ttyUSB0 (or $SEALSCAN_PORT).")
@click.option("--board", "-b", "board_name", default="esp32-devkitc-gm65", show_default=True,
              help="Board name or board file.")
@click.option("--wifi-ssid", default="sealscan-bench", show_default=True,
              help="Wi-Fi the scanner joins (password: $SEALSCAN_WIFI_PASS).")
@click.option("--upstream-host", help="Address the scanner reaches this computer at "
                                      "(default: this computer's LAN address).")
@click.option("--work", type=click.Path(path_type=Path, file_okay=False),
              default=Path("hil-work"), show_default=True,
              help="Directory for the bench upstream and its TEST keys.")
@click.option("--timeout", type=float, default=60, show_default=True,
              help="Seconds each step may take.")
def hil(port: str | None, board_name: str, wifi_ssid: str, upstream_host: str | None,
        work: Path, timeout: float) -> None:
    """Deploy, provision with TEST keys, boot, wait for NTP and a session, scan (QR codes on
    this terminal), check the ack, and print mem_info, the IDF heap, X25519, session setup
    and TLS handshake times. Without --port, says what it needs."""
    from sealscan import hil as kit

    if not port:
        click.echo(kit.needs(), err=True)
        raise SystemExit(EXIT_USAGE)
    board = load_board_or_exit(board_name)
    try:
        kit.run(port, board.name, work, wifi_ssid=wifi_ssid,
                upstream_host=upstream_host or _lan_address(), timeout=timeout,
                out=click.echo)
    except kit.HilError as e:
        fail(str(e))
