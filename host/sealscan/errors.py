"""The errors the `sealscan` CLI reports, each carrying its exit code.

Library errors that a technician can meet derive from `SealscanError` and say which exit code
they mean; the CLI catches them in one place (`sealscan.cli.SealscanGroup.invoke`, the shape
of esptool's `_main` and mpremote's `main`) and prints `error: <one line>`. Code that calls the
library directly catches the family it cares about (`DeviceError`, `FlashingError`, ...).

    0    ok
    1    the operation ran and failed (a check failed, the device refused, ...)
    2    bad flags or flag values (click's own code; `bad_value` for checks of our own)
    3    a malformed or missing input file (board, key, image, upstream state)
    130  interrupted (Ctrl-C); the message says what state it left
"""

from __future__ import annotations

import click

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_INTERRUPTED = 130


class SealscanError(Exception):
    """Base of every error the CLI turns into one line and `exit_code`."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(SealscanError):
    """An input file (key, certificate, upstream state, ...) is missing or malformed."""

    exit_code = EXIT_INPUT


class Interrupted(SealscanError):
    """Ctrl-C: the message says what state the interrupted command left."""

    exit_code = EXIT_INTERRUPTED


def bad_value(message: str, flag: str | None = None) -> click.BadParameter:
    """A flag value our own checks refuse: click reports it like its own, exit 2."""
    return click.BadParameter(message, param_hint=f"'{flag}'" if flag else None)


def file_problem(path: object, e: OSError) -> str:
    """One line for an input file that cannot be read: "PATH: not found", ..."""
    if isinstance(e, FileNotFoundError):
        return f"{path}: not found"
    if isinstance(e, IsADirectoryError):
        return f"{path}: a directory, not a file"
    if isinstance(e, PermissionError):
        return f"{path}: permission denied"
    return f"{path}: cannot read ({e.strerror or e})"
