"""`sealscan sim`: run the firmware on simulated devices.

The simulator's own CLI: `sealscan` loads this module by name when `sim` is asked for (see
sealscan.cli.GROUPS), so the host package never imports the simulator."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import click

from sealscan.boards import DEFAULT_BOARD, Board
from sealscan.cli import EXIT_USAGE, emit_json, fail, load_board_or_exit
from sealsim import interactive
from sealsim.audit import Snapshot, audit
from sealsim.courier import CourierDevice
from sealsim.device import SimDeviceError
from sealsim.micropython import MicroPythonNotFound
from sealsim.scenario import start_device


@click.group()
def sim() -> None:
    """Simulated scanners: the unmodified firmware on MicroPython with simulated hardware.

    \b
    Interactive mode: sealscan sim run [--board B] [--state DIR] [--firmware DIR]
    is a courier's handheld in this terminal (80x24): the product firmware, provisioned,
    with its own upstream; the text on its screen, Wi-Fi/power/LED/buzzer state and the
    console (also a pty for mpremote; the path is shown). Keys:
      l    scan the courier badge   1-5  scan sample codes (senders' IDs)
      y x  a waybill, another's     c    a settings code (zh/en)
      o b  the OK / BACK keys       w    Wi-Fi on/off
      p    power cut / power on     s    save frames as PNG
      g    garbage on the scan-engine line          q    quit
    `sealscan sim run --help` has the details.
    """


@sim.command("info")
@click.option("--board", default=DEFAULT_BOARD, show_default=True, help="board name or file")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def info(board: str, as_json: bool) -> None:
    """The simulator's interpreter (path, MicroPython release, word size) and the board's
    memory model (the RAM budget its heap grows from, docs/simulator.md "Memory")."""
    from sealsim import micropython as mp

    b = load_board_or_exit(board)
    try:
        interp = mp.interp_info()
    except (MicroPythonNotFound, OSError, ValueError) as e:
        fail(f"cannot run the simulator's interpreter: {e}")
    mem = b.memory
    model = {"ram_bytes": mem.ram_bytes, "wifi_bytes": mem.wifi_bytes,
             "initial_heap_bytes": mem.initial_heap_bytes,
             "heap_and_tls_bytes": mem.ram_bytes - mem.wifi_bytes,
             "growth": "split heap, grows on demand from the RAM budget (esp32 v1.28 policy)",
             "tls": "mbedTLS allocations charged to the same budget"}
    if as_json:
        emit_json({"interpreter": interp, "board": b.name, "memory": model})
        return
    click.echo(f"interpreter  {interp['path']}")
    click.echo(f"             MicroPython {interp['release']} ({interp['variant']}), "
               f"{interp['word_bits']}-bit, mpy v{interp['mpy_version']}")
    click.echo(f"board        {b.name}")
    click.echo(f"memory       {mem.ram_kib} KiB RAM budget: Wi-Fi/lwIP {mem.wifi_kib} KiB, "
               f"GC heap from {mem.initial_heap_kib} KiB growing on demand, mbedTLS from "
               f"the same budget")


@sim.command("run")
@click.option("--board", default=DEFAULT_BOARD, show_default=True, help="board name or file")
@click.option("--state", type=click.Path(file_okay=False, path_type=Path),
              help="state directory (the device's flash); default: a new temporary one")
@click.option("--firmware", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="another firmware directory to deploy, unprovisioned, instead of the "
                   "courier's device (e.g. simulator/testfw: 1-4 scan sample codes; nothing "
                   "is deployed when --state already holds a filesystem)")
@click.option("--pixels", is_flag=True,
              help="draw the screen with half blocks too (130 columns or more)")
@click.option("--png-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("sim-frames"), show_default=True, help="where `s` saves frames")
def run(board: str, state: Path | None, firmware: Path | None, pixels: bool,
        png_dir: Path) -> None:
    """A courier's handheld in this terminal (80x24).

    \b
    The product firmware on the board, deployed and provisioned for carrier SF (screen in
    Chinese) against a reference upstream of its own on loopback. Shows the text on the
    device screen (as a person reads it), Wi-Fi/power/LED/buzzer state, what the last key did
    and the last console lines. The console is also on a pty (path shown at the top) for
    `mpremote connect PATH ...` in another terminal.
    \b
    Keys:
      l        scan the courier's badge (log in)
      1 2 3    scan a sender's identity QR: a two-character name, a compound surname,
               a name with ·  (made-up people; the screen shows them masked)
      4  5     an expired identity; a surname outside the device's font
      y  x     a waybill of the device's carrier (SF); one of another carrier (YTO)
      c        a settings code (RNCF1:) that switches the screen to English / Chinese
      g        random bytes on the scan engine line
      o  b     press the OK / BACK key
      w        Wi-Fi on/off (off breaks every connection, like losing the access point)
      p        power cut (RAM lost, flash kept) / power on again
      s        save the captured display frames as PNG under --png-dir
      q        quit: the device and its upstream stop; their state (a temporary directory)
               is removed, unless --state named it
    \b
    With --firmware DIR (e.g. simulator/testfw), DIR is deployed unprovisioned instead and
    1-4 scan sample codes (EA123456785CN, SSCC 106141411928374657, EA123456784CN with a
    wrong check digit, SF1234567890123).
    """
    b = load_board_or_exit(board)
    keep = state is not None
    if state is None:
        state = Path(tempfile.mkdtemp(prefix="sealsim-state-"))
    try:
        if firmware is None:
            _run_courier(b, state, keep, pixels, png_dir)
        else:
            _run_firmware(b, state, firmware, pixels, png_dir)
    finally:
        if not keep:
            shutil.rmtree(state, ignore_errors=True)


def _run_courier(b: Board, state: Path, keep: bool, pixels: bool, png_dir: Path) -> None:
    if keep and state.exists() and any(state.iterdir()):
        fail(f"{state}: not empty (a courier's device starts from a new state directory)",
             EXIT_USAGE)
    click.echo("starting the upstream and the courier's device (a few seconds)...")
    try:
        courier = CourierDevice.start(b, state, keep=True)
    except (SimDeviceError, MicroPythonNotFound, OSError, RuntimeError,
            subprocess.CalledProcessError) as e:
        fail(f"cannot start the simulated device: {e}")
    try:
        interactive.run(courier.dev, png_dir, courier, pixels)
    finally:
        courier.close()


def _run_firmware(b: Board, state: Path, firmware: Path, pixels: bool, png_dir: Path) -> None:
    fresh = not (state / "flash.bin").exists()
    try:
        dev = start_device(b, state, firmware=firmware if fresh else None)
    except (SimDeviceError, MicroPythonNotFound, OSError) as e:
        fail(f"cannot start the simulated device: {e}")
    with dev:
        interactive.run(dev, png_dir, None, pixels)


@sim.command("audit")
@click.argument("state", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--canary", "canaries", multiple=True, required=True,
              help="a value that must not be on flash (repeatable)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def audit_cmd(state: Path, canaries: tuple[str, ...], as_json: bool) -> None:
    """Search a device state directory (flash.bin: its files, NVS and every raw byte;
    rtc.bin) for canary values."""
    report = audit(Snapshot(state, {}), state, list(canaries))
    if as_json:
        emit_json({"ok": not report.hits,
                   "hits": [{"where": h.where, "canary": h.canary, "form": h.form,
                             "offset": h.offset} for h in report.hits]})
    else:
        click.echo("\n".join(f"CANARY {h.canary!r} ({h.form}) in {h.where} at byte {h.offset}"
                             for h in report.hits) or "clean: no canary found")
    if report.hits:
        raise SystemExit(1)
