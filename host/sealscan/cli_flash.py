"""`sealscan flash`: identify a scanner's chip and write its MicroPython image (esptool)."""

from __future__ import annotations

from pathlib import Path

import click

from sealscan import flashing
from sealscan.cli import emit_json, load_board_or_exit, on_interrupt
from sealscan.errors import bad_value

_BEFORE = click.Choice(flashing.BEFORE_MODES)


def _sha256(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not flashing.is_sha256(value):
        raise bad_value(f"{value!r} is not 64 hex digits")
    return value


@click.group()
def flash() -> None:
    """Flash scanners over the ESP serial bootloader (esptool)."""


@flash.command("info")
@click.option("--port", "-p", required=True, help="Serial port, e.g. /dev/ttyUSB0.")
@click.option("--before", type=_BEFORE, default="default-reset", show_default=True,
              help="How to get the chip into its bootloader.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@on_interrupt("nothing was written (this command only reads)")
def info(port: str, before: str, as_json: bool) -> None:
    """Identify the chip on PORT: model, revision, MAC, flash size."""
    with flashing.connect(port, before=before) as esp:
        chip = flashing.identify(esp)
    if as_json:
        emit_json(chip.to_dict())
        return
    size = f"{chip.flash_size >> 20} MB" if chip.flash_size else "unknown"
    click.echo(f"{port}: {chip.description}, MAC {chip.mac}, flash {size}")


@flash.command("write")
@click.option("--port", "-p", required=True, help="Serial port, e.g. /dev/ttyUSB0.")
@click.option("--board", "-b", "board_name", required=True, help="Board name or board file.")
@click.option("--image", "-i", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The MicroPython release image (.bin) the board file names.")
@click.option("--sha256", callback=_sha256,
              help="Expected image sha256 (required for an unpinned board; must match the pin "
                   "otherwise).")
@click.option("--baud", type=click.IntRange(9600, 4_000_000), default=flashing.DEFAULT_BAUD,
              show_default=True, help="Baud rate for the transfer.")
@click.option("--before", type=_BEFORE, default="default-reset", show_default=True,
              help="How to get the chip into its bootloader.")
@click.option("--after", type=click.Choice(flashing.AFTER_MODES), default="hard-reset",
              show_default=True, help="What to do with the chip afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@on_interrupt("the flash may hold part of the image: the board will not boot it; run "
              "`sealscan flash write` again")
def write(port: str, board_name: str, image: Path, sha256: str | None, baud: int, before: str,
          after: str, as_json: bool) -> None:
    """Check IMAGE against the board's pinned hash, check the chip, write, verify."""
    board = load_board_or_exit(board_name)
    data = flashing.load_image(board, image, sha256)  # checked before the port is opened
    with flashing.connect(port, before=before, quiet=as_json) as esp:
        result = flashing.flash_image(esp, board, image, data, baud=baud, after=after)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"wrote {result.size} bytes of {image.name} (sha256 {result.sha256}) at "
               f"0x{result.offset:x} on {result.chip.description}, MAC {result.chip.mac}; "
               "verified")
