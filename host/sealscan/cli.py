"""The `sealscan` command line: thin click commands over the library modules.

Each command group lives in its own module and is registered in GROUPS below. Commands do
no work of their own: they parse flags, open what they need once (a device link, a store)
and call the library. Errors carry their exit code (`sealscan.errors`) and are caught in one
place, `SealscanGroup.invoke`: one line on stderr, that code. Ctrl-C is caught there too and
says what state the command left (`on_interrupt`).
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from sealscan import __version__
from sealscan.errors import (  # noqa: F401  the exit codes, re-exported for the cli_* modules
    EXIT_FAILURE,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Interrupted,
    SealscanError,
)

if TYPE_CHECKING:
    from sealscan.boards import Board

_INTERRUPT_KEY = "sealscan.on_interrupt"
F = TypeVar("F", bound=Callable[..., Any])


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

    def invoke(self, ctx: click.Context) -> Any:
        # The one error funnel: every command's errors end here as one line and their code.
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            state = ctx.meta.get(_INTERRUPT_KEY)
            _exit(ctx, Interrupted("interrupted" + (f": {state}" if state else "")))
        except SealscanError as e:
            _exit(ctx, e)


def _exit(ctx: click.Context, e: SealscanError) -> NoReturn:
    prefix = "" if isinstance(e, Interrupted) else "error: "
    click.echo(f"{prefix}{e}", err=True)
    ctx.exit(e.exit_code)


def on_interrupt(state: str) -> Callable[[F], F]:
    """Declare what Ctrl-C leaves behind while this command runs (printed by the funnel)."""

    def wrap(f: F) -> F:
        @functools.wraps(f)
        def run(*args: Any, **kwargs: Any) -> Any:
            click.get_current_context().meta[_INTERRUPT_KEY] = state
            return f(*args, **kwargs)

        return run  # type: ignore[return-value]

    return wrap


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
    """Stop the command with a one-line error and `code` (printed by the funnel)."""
    raise SealscanError(message, code)


def load_board_or_exit(name_or_path: str) -> Board:
    """The board; a BoardError (one line naming file and field, exit 3) otherwise."""
    from sealscan.boards import load_board

    return load_board(name_or_path)


def main() -> None:
    cli(prog_name="sealscan")
