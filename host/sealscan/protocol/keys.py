"""Key material and device ids of protocol v1."""

from __future__ import annotations

import os
import re

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sealscan.protocol.errors import InvalidDeviceId

_DEVICE_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")


def generate_upstream_keypair() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair for the upstream: (private 32 bytes, public 32 bytes)."""
    sk = X25519PrivateKey.generate()
    return sk.private_bytes_raw(), sk.public_key().public_bytes_raw()


def upstream_public_key(sk: bytes) -> bytes:
    """The X25519 public key of a 32-byte upstream private key."""
    if not isinstance(sk, bytes) or len(sk) != 32:
        raise ValueError("upstream private key must be 32 bytes")
    return X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes_raw()


def generate_device_key() -> bytes:
    """A fresh 32-byte device key (the HPKE PSK)."""
    return os.urandom(32)


def check_device_id(device_id: object) -> str:
    """Return device_id if it is 1-32 characters of A-Z a-z 0-9 . _ - else InvalidDeviceId."""
    if not isinstance(device_id, str) or not _DEVICE_ID.fullmatch(device_id):
        shown = repr(device_id)[:40]
        raise InvalidDeviceId(f"device id {shown}: must be 1-32 of A-Z a-z 0-9 . _ -")
    return device_id
