"""`sealscan boards`: list, show and check board files."""

from __future__ import annotations

from pathlib import Path

import click

from sealscan import boards as boards_lib
from sealscan.cli import EXIT_INPUT, emit_json, load_board_or_exit


@click.group()
def boards() -> None:
    """Supported boards: list them, show one, check board files."""


@boards.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_boards(as_json: bool) -> None:
    """List the boards in boards/."""
    found = boards_lib.load_all()
    if as_json:
        emit_json([b.to_dict() for b in found])
        return
    for b in found:
        click.echo(f"{b.name:28} {b.chip:8} heap {b.heap_kib:>5} KiB  {b.description}")


@boards.command("show")
@click.argument("board")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(board: str, as_json: bool) -> None:
    """Show one board (name or path to a .toml file)."""
    b = load_board_or_exit(board)
    if as_json:
        emit_json(b.to_dict())
        return
    click.echo(f"{b.name}: {b.description}")
    click.echo(f"  chip {b.chip}, flash {b.flash_size >> 20} MB, heap budget {b.heap_kib} KiB")
    click.echo(f"  image {b.image} at 0x{b.flash_offset:x}, sha256 {b.image_sha256}")
    click.echo(f"  scan engine {b.scan_engine}")
    click.echo(f"  display {b.display}")
    click.echo(f"  pins {b.pins}")


@boards.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Check board files against the schema (all of boards/ when none are given)."""
    paths = list(files) or boards_lib.board_paths()
    bad = 0
    for path in paths:
        try:
            b = boards_lib.load_board_file(path)
        except boards_lib.BoardError as e:
            click.echo(f"error: {e}", err=True)
            bad += 1
        else:
            click.echo(f"ok: {path} ({b.name})")
    if bad:
        raise SystemExit(EXIT_INPUT)
