"""Typed errors of the reference upstream, each with its CLI exit code (sealscan.errors)."""

from __future__ import annotations

from sealscan.errors import EXIT_INPUT, SealscanError


class UpstreamError(SealscanError):
    """Base of every error the upstream library raises on purpose (exit 1)."""


class UpstreamConfigError(UpstreamError):
    """The upstream state directory or its configuration is missing or malformed (exit 3)."""

    exit_code = EXIT_INPUT


class AlreadyInitialised(UpstreamError):
    """`upstream init` on a state directory that exists, without --force (exit 1)."""


class StorageError(UpstreamError):
    """The store could not do what was asked (schema too new, disk error, ...)."""


class RegistryError(UpstreamError):
    """A device registry operation was refused (unknown device, already registered, ...)."""


class ProvisioningEntryError(UpstreamError):
    """A provisioning entry is malformed or does not open with this upstream's key (exit 3)."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str, line: int | None = None):
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line
