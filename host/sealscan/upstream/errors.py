"""Typed errors of the reference upstream. The CLI maps each to a one-line message."""

from __future__ import annotations


class UpstreamError(Exception):
    """Base of every error the upstream library raises on purpose."""


class ConfigError(UpstreamError):
    """The upstream state directory or its configuration is missing or malformed."""


class StorageError(UpstreamError):
    """The store could not do what was asked (schema too new, disk error, ...)."""


class RegistryError(UpstreamError):
    """A device registry operation was refused (unknown device, already registered, ...)."""


class ProvisioningEntryError(UpstreamError):
    """A provisioning entry is malformed or does not open with this upstream's key."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line
