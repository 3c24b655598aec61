"""The reference upstream: receives sealed batches over HTTPS, opens and verifies them,
stores each record exactly once, and only then acks (docs/upstream.md).

Modules: `config` (state directory, keys, TLS), `provisioning` (sealed device-key entries),
`storage` (the store interface) and `sqlite` (its default implementation), `ingest` (the
batch handler), `server` (aiohttp), `metrics`, `logs`, `stats`.
"""

from sealscan.upstream.config import Limits, UpstreamConfig, init_state, load_config
from sealscan.upstream.errors import (
    AlreadyInitialised,
    ProvisioningEntryError,
    RegistryError,
    StorageError,
    UpstreamConfigError,
    UpstreamError,
)
from sealscan.upstream.provisioning import make_provisioning_entry, read_entries

__all__ = ["AlreadyInitialised", "Limits", "ProvisioningEntryError", "RegistryError",
           "StorageError", "UpstreamConfig", "UpstreamConfigError", "UpstreamError", "init_state",
           "load_config", "make_provisioning_entry", "read_entries"]
