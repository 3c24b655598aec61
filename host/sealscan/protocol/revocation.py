"""The authenticated revocation of protocol v1 (docs/protocol.md §6.1): the upstream's `403`
answer to a batch from a revoked device, which only that device can verify.

    body = {"mac": bstr 32, "error": "revoked-device"}      deterministic: "mac" sorts first
         = a2 63 6d6163 58 20 <mac> 65 6572726f72 6e 7265766f6b65642d646576696365
    mac  = HMAC-SHA256(ack_key, CBOR ["revoked", enc, device id])
         = 83 67 7265766f6b6564 58 20 <enc> <tstr device id>

`ack_key` and `enc` are the batch's session (HPKE mode_psk: only the device that set the
session up and an upstream holding `skR` and the device key derive `ack_key`), and the device
id is inside the MAC, so a revocation neither verifies on another device nor in another
session, and a network attacker cannot make one.
"""

from __future__ import annotations

import hashlib
import hmac

from sealscan.protocol import cbor
from sealscan.protocol.errors import BadAckMac, InvalidKey, MalformedAnswer
from sealscan.protocol.keys import check_device_id

REASON = "revoked-device"
_HEAD = b"\xa2\x63mac\x58\x20"
_TAIL = cbor.dumps("error") + cbor.dumps(REASON)
BODY_LEN = len(_HEAD) + 32 + len(_TAIL)


def revocation_mac(ack_key: bytes, enc: bytes, device_id: str) -> bytes:
    """HMAC-SHA256(ack_key, CBOR ["revoked", enc, device id])."""
    check_device_id(device_id)
    if not isinstance(ack_key, bytes | bytearray) or len(ack_key) != 32:
        raise InvalidKey("ack key: must be 32 bytes")
    if not isinstance(enc, bytes | bytearray) or len(enc) != 32:
        raise InvalidKey("enc: must be 32 bytes")
    msg = cbor.dumps(["revoked", bytes(enc), device_id])
    return hmac.new(bytes(ack_key), msg, hashlib.sha256).digest()


def revocation_body(ack_key: bytes, enc: bytes, device_id: str) -> bytes:
    """The 403 body carrying the revocation MAC (the deterministic CBOR above)."""
    return _HEAD + revocation_mac(ack_key, enc, device_id) + _TAIL


def decode_revocation(body: bytes) -> bytes:
    """The MAC of a revocation body; MalformedAnswer unless it is exactly that layout."""
    if (not isinstance(body, bytes | bytearray) or len(body) != BODY_LEN
            or not body.startswith(_HEAD) or not body.endswith(_TAIL)):
        raise MalformedAnswer("revocation: not {\"mac\": bstr 32, \"error\": \"revoked-device\"}")
    return bytes(body[len(_HEAD):len(_HEAD) + 32])


def verify_revocation(ack_key: bytes, enc: bytes, device_id: str, body: bytes) -> None:
    """Raise MalformedAnswer or BadAckMac unless `body` revokes `device_id` in session `enc`."""
    mac = decode_revocation(body)
    if not hmac.compare_digest(revocation_mac(ack_key, enc, device_id), mac):
        raise BadAckMac("revocation MAC does not verify for this device and session")
