"""`sealscan firmware`: build the firmware into .mpy files and check it."""

from __future__ import annotations

from pathlib import Path

import click

from sealscan import fwtools
from sealscan.cli import fail
from sealscan.paths import BUILD_DIR, FIRMWARE_DIR, TYPINGS_DIR


@click.group()
def firmware() -> None:
    """Build the MicroPython firmware and check it compiles and type-checks."""


_src = click.option("--src", type=click.Path(file_okay=False, path_type=Path),
                    default=FIRMWARE_DIR, show_default=True, help="Firmware tree.")


@firmware.command()
@_src
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=BUILD_DIR / "mpy", show_default=True, help="Where the .mpy files go.")
def build(src: Path, out: Path) -> None:
    """Compile every firmware module with mpy-cross."""
    try:
        compiled = fwtools.compile_firmware(src, out)
    except fwtools.FirmwareCheckError as e:
        fail(str(e))
    click.echo(f"compiled {len(compiled)} modules into {out}")


@firmware.command()
@_src
@click.option("--typings", type=click.Path(file_okay=False, path_type=Path),
              default=TYPINGS_DIR, show_default=True, help="Where the ESP32 stubs are.")
def check(src: Path, typings: Path) -> None:
    """Compile with mpy-cross and type-check against the ESP32 stubs."""
    import tempfile

    try:
        with tempfile.TemporaryDirectory() as tmp:
            compiled = fwtools.compile_firmware(src, Path(tmp))
        fwtools.typecheck_firmware(src, typings)
    except fwtools.FirmwareCheckError as e:
        fail(str(e))
    click.echo(f"firmware ok: {len(compiled)} modules compile for MicroPython and type-check "
               "against the ESP32 stubs")


@firmware.command()
@click.option("--check", "check_only", is_flag=True,
              help="Compare with the committed files instead of writing them (exit 1 if any "
                   "differs).")
def font(check_only: bool) -> None:
    """Make the screen's font assets (firmware/assets/font12.bin, font16.bin, chars.txt) from
    Debian's xfonts-wqy: the glyphs of the common surnames and of every screen text
    (firmware/texts.py), and the texts themselves. Run it after changing texts.py."""
    from sealscan import fonttool

    try:
        changed = fonttool.write_assets(check=check_only)
    except fonttool.FontError as e:
        fail(str(e))
    if check_only and changed:
        fail("differs from the committed assets: " + ", ".join(changed)
             + " (run `sealscan firmware font`)")
    click.echo(("written: " + ", ".join(changed)) if changed else "font assets up to date")
