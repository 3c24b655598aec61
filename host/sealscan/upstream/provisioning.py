"""Provisioning entries: how a device key travels from the depot to the upstream registry.

The depot makes each device's 32-byte key, writes it into the device, and hands the upstream
one *entry* per device in which the key is sealed to the upstream's X25519 public key. The
depot keeps no clear copy and the file in transit is useless to anyone but the upstream.

Entry (one JSON object per line in a `.jsonl` file)::

    {"v": 1, "device_id": "<device id>", "upstream": "<hex SHA-256(upstream pk)[:8]>",
     "sealed_key": "<base64url, no padding: enc (32) || ciphertext (32 + 16 tag)>"}

`sealed_key` is HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
AES-128-GCM, single shot, with `info = "sealscan/v1 provision" || 0x00 || device id (UTF-8)`:
the device id is bound into the key schedule, so an entry cannot be relabelled for another
device. `upstream` names the key it was sealed to so a wrong-upstream file fails clearly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from sealscan.protocol import InvalidDeviceId, check_device_id
from sealscan.upstream.errors import ProvisioningEntryError

ENTRY_VERSION = 1
_INFO = b"sealscan/v1 provision\x00"
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)
_SEALED_LEN = 32 + 32 + 16


def upstream_tag(upstream_pk: bytes) -> str:
    return hashlib.sha256(upstream_pk).hexdigest()[:16]


def make_provisioning_entry(upstream_pk: bytes, device_id: str, device_key: bytes) -> str:
    """One entry line (JSON, no newline) sealing `device_key` for `device_id` to the upstream.
    This is the host function the depot's provisioning command uses."""
    try:
        check_device_id(device_id)
    except InvalidDeviceId as e:
        raise ProvisioningEntryError(f"device id: {e}") from e
    if len(device_key) != 32 or len(upstream_pk) != 32:
        raise ProvisioningEntryError("device key and upstream public key must be 32 bytes")
    sealed = _SUITE.encrypt(device_key, X25519PublicKey.from_public_bytes(upstream_pk),
                            info=_INFO + device_id.encode())
    return json.dumps({"v": ENTRY_VERSION, "device_id": device_id,
                       "upstream": upstream_tag(upstream_pk),
                       "sealed_key": base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()},
                      sort_keys=True)


@dataclass(frozen=True)
class OpenedEntry:
    device_id: str
    device_key: bytes

    def __repr__(self) -> str:  # never show the key
        return f"OpenedEntry(device_id={self.device_id!r}, device_key=<32 bytes>)"


def open_provisioning_entry(upstream_sk: bytes, line: str, lineno: int | None = None
                            ) -> OpenedEntry:
    """Check and open one entry; ProvisioningEntryError (naming the line) on anything wrong."""
    def bad(msg: str) -> ProvisioningEntryError:
        return ProvisioningEntryError(msg, lineno)

    try:
        raw = json.loads(line)
    except ValueError as e:
        raise bad(f"not JSON: {e}") from None
    if not isinstance(raw, dict) or raw.get("v") != ENTRY_VERSION:
        raise bad(f"not a version {ENTRY_VERSION} provisioning entry")
    device_id, tag, sealed_b64 = raw.get("device_id"), raw.get("upstream"), raw.get("sealed_key")
    if not all(isinstance(x, str) for x in (device_id, tag, sealed_b64)):
        raise bad("device_id, upstream and sealed_key must be strings")
    assert isinstance(device_id, str) and isinstance(sealed_b64, str)
    try:
        check_device_id(device_id)
    except InvalidDeviceId as e:
        raise bad(f"device_id: {e}") from None
    sk = X25519PrivateKey.from_private_bytes(upstream_sk)
    if tag != upstream_tag(sk.public_key().public_bytes_raw()):
        raise bad(f"sealed to another upstream key ({tag}), not this one")
    try:
        sealed = base64.urlsafe_b64decode(sealed_b64 + "=" * (-len(sealed_b64) % 4))
    except (binascii.Error, ValueError):
        raise bad("sealed_key: not base64url") from None
    if len(sealed) != _SEALED_LEN:
        raise bad(f"sealed_key: expected {_SEALED_LEN} bytes, found {len(sealed)}")
    try:
        key = _SUITE.decrypt(sealed, sk, info=_INFO + device_id.encode())
    except (InvalidTag, ValueError):
        raise bad("sealed_key does not open (tampered, or made for another device id)") from None
    return OpenedEntry(device_id, key)


def read_entries(upstream_sk: bytes, text: str) -> list[OpenedEntry]:
    """All entries of a `.jsonl` file (blank lines and `#` comments skipped). All or nothing:
    the first bad line raises, so a half-imported file never happens."""
    out: list[OpenedEntry] = []
    seen: set[str] = set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        entry = open_provisioning_entry(upstream_sk, line, n)
        if entry.device_id in seen:
            raise ProvisioningEntryError(f"device {entry.device_id} appears twice", n)
        seen.add(entry.device_id)
        out.append(entry)
    return out
