"""The `sealscan` command line: thin click commands over the library modules.

Each command group lives in its own module and is registered in GROUPS below. Commands do
no work of their own: they parse flags, call the library, and turn its typed errors into a
one-line message and an exit code.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from sealscan import __version__

if TYPE_CHECKING:
    from sealscan.boards import Board

# Exit codes shared by every command (documented in README "Exit codes").
EXIT_OK = 0
EXIT_FAILURE = 1  # the operation ran and failed (check failed, device refused, ...)
EXIT_USAGE = 2  # click's own code for bad flags
EXIT_INPUT = 3  # an input file (board, key, image) is malformed


class SealscanGroup(click.Group):
    """Loads command groups lazily so `sealscan --help` stays fast and one broken optional
    dependency does not take the whole CLI down."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module_name, attr = self.lazy[name].split(":")
            package = module_name.partition(".")[0]
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as e:
                if package == "sealscan" or e.name != package:
                    raise
                return _missing(name, package)
            return getattr(module, attr)
        return super().get_command(ctx, name)


def _missing(name: str, package: str) -> click.Command:
    """A command whose package is not installed: says so, and how to get it."""

    @click.command(name, context_settings={"ignore_unknown_options": True},
                   help=f"(not available: the {package} package is not installed)")
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        fail(f"`sealscan {name}` needs the {package} package, which is not installed; "
             "install the repository with `make setup` (or `pip install -e .` in it)")

    return command


# name -> "module:click object". `sim` is the simulator's own CLI module, loaded by name: the
# host package never imports the simulator (tests/host/test_import_graph.py).
GROUPS = {
    "boards": "sealscan.cli_boards:boards",
    "codes": "sealscan.cli_codes:codes_group",
    "firmware": "sealscan.cli_firmware:firmware",
    "upstream": "sealscan.cli_upstream:upstream",
    "flash": "sealscan.cli_flash:flash",
    "sim": "sealsim.cli:sim",
    # The depot technician's device commands (sealscan.device), top-level like mpremote's.
    "deploy": "sealscan.cli_device:deploy",
    "provision": "sealscan.cli_device:provision",
    "verify": "sealscan.cli_device:verify",
    "audit": "sealscan.cli_device:audit",
    "ports": "sealscan.cli_device:ports",
    "hil": "sealscan.cli_hil:hil",
    "monitor": "sealscan.cli_device:monitor",
}


@click.group(cls=SealscanGroup, lazy=GROUPS, context_settings={"help_option_names": ["-h",
                                                                                   "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="sealscan")
def cli() -> None:
    """sealscan: privacy-preserving courier scanners.

    Flash, deploy, provision and audit ESP32 handhelds that seal every sender identity in
    RAM and push it upstream within 30 seconds, never writing it to flash.
    """


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print a one-line error to stderr and exit with `code`."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def load_board_or_exit(name_or_path: str) -> Board:
    """The board, or a one-line error naming file and field and exit code 3."""
    from sealscan.boards import BoardError, load_board

    try:
        return load_board(name_or_path)
    except BoardError as e:
        fail(str(e), EXIT_INPUT)


def main() -> None:
    cli(prog_name="sealscan")
