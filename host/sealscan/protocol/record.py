"""Record plaintext: the CBOR map sealed inside every COSE_Encrypt0.

    {1: capture time (uint, Unix seconds UTC, < 2**32), 2: carrier code (tstr, 1-16 chars),
     3: waybill (tstr, 1-40 chars), 4: identity token (bstr, 1-768 bytes, the scanned text),
     5: courier id (tstr, 1-32 chars)}

Exactly these five keys, deterministic CBOR; nothing else (minimum necessary data).
"""

from __future__ import annotations

from dataclasses import dataclass

import cbor2

from sealscan.protocol.cbor import head
from sealscan.protocol.errors import MalformedRecord

MAX_CAPTURE_TIME = (1 << 32) - 1
MAX_CARRIER = 16
MAX_WAYBILL = 40
MAX_TOKEN = 768
MAX_COURIER = 32
MAX_PLAINTEXT = 1024  # bytes of the encoded map; the fields above fit well inside


def _text(value: object, name: str, limit: int) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise MalformedRecord(f"record {name}: must be text of 1-{limit} characters")
    return value


@dataclass(frozen=True)
class Record:
    capture_time: int
    carrier: str
    waybill: str
    identity_token: bytes
    courier_id: str

    def __post_init__(self) -> None:
        t = self.capture_time
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= MAX_CAPTURE_TIME:
            raise MalformedRecord("record capture time: must be a uint below 2**32")
        _text(self.carrier, "carrier", MAX_CARRIER)
        _text(self.waybill, "waybill", MAX_WAYBILL)
        _text(self.courier_id, "courier id", MAX_COURIER)
        tok = self.identity_token
        if not isinstance(tok, bytes) or not 1 <= len(tok) <= MAX_TOKEN:
            raise MalformedRecord(f"record identity token: must be 1-{MAX_TOKEN} bytes")

    def __repr__(self) -> str:  # never put identity data into logs or tracebacks
        return f"Record(capture_time={self.capture_time}, carrier={self.carrier!r}, ...)"

    def encode(self) -> bytes:
        """The deterministic encoding (the fixed layout below, which is exactly what
        `cbor.dumps` makes of the map: tests/host/test_protocol_session.py checks it)."""
        c, w = self.carrier.encode(), self.waybill.encode()
        k, d = self.identity_token, self.courier_id.encode()
        return b"".join((b"\xa5\x01", head(0, self.capture_time), b"\x02", head(3, len(c)), c,
                         b"\x03", head(3, len(w)), w, b"\x04", head(2, len(k)), k,
                         b"\x05", head(3, len(d)), d))

    @classmethod
    def decode(cls, data: bytes) -> Record:
        """Strict: exactly the deterministic encoding of a v1 record map, else
        MalformedRecord. cbor2's C decoder reads the map; the record is accepted only if
        its values have the exact types and limits of a Record AND re-encoding it gives
        back exactly `data` (so no other head form, key order, duplicate key, tag, float or
        trailing byte gets through). Tests check it against the generic strict decoder
        on mutated inputs."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise MalformedRecord(f"record: expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) > MAX_PLAINTEXT:
            raise MalformedRecord(f"record: more than {MAX_PLAINTEXT} bytes")
        try:
            m = cbor2.loads(data)
        except Exception:  # cbor2 raises many types on garbage
            raise MalformedRecord("record: not CBOR") from None
        if type(m) is not dict or len(m) != 5:
            raise MalformedRecord("record: must be a map with exactly the keys 1..5")
        try:
            t, carrier, waybill, token, courier = m[1], m[2], m[3], m[4], m[5]
        except (KeyError, TypeError):  # TypeError: an unhashable key cannot be there anyway
            raise MalformedRecord("record: must be a map with exactly the keys 1..5") from None
        if type(t) is not int or type(carrier) is not str or type(waybill) is not str \
                or type(token) is not bytes or type(courier) is not str:
            raise MalformedRecord("record: a field has the wrong type")
        rec = cls(capture_time=t, carrier=carrier, waybill=waybill, identity_token=token,
                  courier_id=courier)
        if rec.encode() != data:
            raise MalformedRecord("record: not the deterministic encoding (RFC 8949 4.2.1)")
        return rec
