"""Device heartbeat (protocol v1 addition, docs/protocol.md section 5.1).

    heartbeat = {"q": queued records (uint <= 65535), "t": device clock (Unix seconds),
                 "v": 1, "dev": device id, "enc": bstr 32, "mac": bstr 32, "seq": uint < 2^32}
    mac       = HMAC-SHA256(ack_key, CBOR ["beat", dev, enc, seq, t, q])
    answer    = {"mac": HMAC-SHA256(ack_key, CBOR ["beat-ack", enc, seq])}

`POST /v1/heartbeat`. The MAC is made with the session's `ack_key` (the label "beat" keeps
it apart from answer MACs, which start with "ack"), so only a holder of the device key can
make one; `seq` rises within a session (a replay of the same or an older `seq` is not
stored) and `t` must be within the upstream's skew bound (a heartbeat recorded in an old
session cannot be replayed later). Deterministic CBOR with exactly these keys.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sealscan.protocol import cbor
from sealscan.protocol.errors import BadAckMac, InvalidDeviceId, MalformedBatch
from sealscan.protocol.keys import check_device_id

VERSION = 1
MAX_SEQ = 2**32 - 1
MAX_QUEUED = 65535
MAX_TIME = 2**40
_KEYS = sorted(["v", "dev", "enc", "seq", "t", "q", "mac"], key=cbor.dumps)


class MalformedHeartbeat(MalformedBatch):
    """Not exactly a v1 heartbeat."""


@dataclass(frozen=True)
class Heartbeat:
    device_id: str
    enc: bytes
    seq: int
    time: int
    queued: int
    mac: bytes


def _uint(x: object, top: int, what: str) -> int:
    if not isinstance(x, int) or isinstance(x, bool) or not 0 <= x <= top:
        raise MalformedHeartbeat(f"heartbeat {what}: must be an integer 0..{top}")
    return x


def heartbeat_mac(ack_key: bytes, device_id: str, enc: bytes, seq: int, t: int,
                  queued: int) -> bytes:
    return hmac.new(ack_key, cbor.dumps(["beat", device_id, enc, seq, t, queued]),
                    hashlib.sha256).digest()


def heartbeat_ack_mac(ack_key: bytes, enc: bytes, seq: int) -> bytes:
    return hmac.new(ack_key, cbor.dumps(["beat-ack", enc, seq]), hashlib.sha256).digest()


def encode_heartbeat(device_id: str, enc: bytes, ack_key: bytes, seq: int, t: int,
                     queued: int) -> bytes:
    """The body a device sends (the host side of it, for tests, vectors and load)."""
    hb = Heartbeat(device_id, enc, seq, t, queued,
                   heartbeat_mac(ack_key, device_id, enc, seq, t, queued))
    _check(hb)
    return cbor.dumps({"v": VERSION, "dev": device_id, "enc": enc, "seq": seq, "t": t,
                       "q": queued, "mac": hb.mac})


def _check(hb: Heartbeat) -> None:
    try:
        check_device_id(hb.device_id)
    except InvalidDeviceId as e:
        raise MalformedHeartbeat(f"heartbeat dev: {e}") from None
    for name, value in (("enc", hb.enc), ("mac", hb.mac)):
        if not isinstance(value, bytes) or len(value) != 32:
            raise MalformedHeartbeat(f"heartbeat {name}: must be 32 bytes")
    _uint(hb.seq, MAX_SEQ, "seq")
    _uint(hb.time, MAX_TIME, "t")
    _uint(hb.queued, MAX_QUEUED, "q")


def decode_heartbeat(data: bytes) -> Heartbeat:
    """Strict: exactly the deterministic encoding of a v1 heartbeat, else
    MalformedHeartbeat (a MalformedBatch). The MAC is not checked here."""
    m = cbor.loads_strict(data, MalformedHeartbeat, "heartbeat")
    if not isinstance(m, dict) or list(m) != _KEYS:
        raise MalformedHeartbeat("heartbeat: must be a map with exactly v, dev, enc, seq, t, "
                                 "q, mac (in deterministic order)")
    if type(m["v"]) is not int or m["v"] != VERSION:
        raise MalformedHeartbeat(f"heartbeat v: unsupported version (this is v{VERSION})")
    hb = Heartbeat(m["dev"], m["enc"], m["seq"], m["t"], m["q"], m["mac"])
    _check(hb)
    if cbor.dumps(m) != bytes(data):
        raise MalformedHeartbeat("heartbeat: not deterministic CBOR (RFC 8949 4.2.1)")
    return hb


def verify_heartbeat(hb: Heartbeat, ack_key: bytes) -> None:
    """Raise BadAckMac unless the heartbeat's MAC verifies under this session's ack key."""
    want = heartbeat_mac(ack_key, hb.device_id, hb.enc, hb.seq, hb.time, hb.queued)
    if not hmac.compare_digest(want, hb.mac):
        raise BadAckMac("heartbeat MAC does not verify under this session's ack key")
