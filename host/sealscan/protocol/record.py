"""Record plaintext: the CBOR map sealed inside every COSE_Encrypt0.

    {1: capture time (uint, Unix seconds UTC, < 2**32), 2: carrier code (tstr, 1-16 chars),
     3: waybill (tstr, 1-40 chars), 4: identity token (bstr, 1-768 bytes, the scanned text),
     5: courier id (tstr, 1-32 chars)}

Exactly these five keys, deterministic CBOR; nothing else (minimum necessary data).
"""

from __future__ import annotations

from dataclasses import dataclass

from sealscan.protocol import cbor
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
        return cbor.dumps({1: self.capture_time, 2: self.carrier, 3: self.waybill,
                           4: self.identity_token, 5: self.courier_id})

    @classmethod
    def decode(cls, data: bytes) -> Record:
        """Strict: exactly the deterministic encoding of a v1 record map, else
        MalformedRecord."""
        r = cbor.Reader(data, MalformedRecord, "record")
        if len(r.data) > MAX_PLAINTEXT:
            raise MalformedRecord(f"record: more than {MAX_PLAINTEXT} bytes")
        if r.head(5) != 5:
            raise r.fail("must be a map with exactly the keys 1..5")
        r.expect(b"\x01")
        t = r.uint(MAX_CAPTURE_TIME)
        r.expect(b"\x02")
        carrier = r.text(1, MAX_CARRIER)
        r.expect(b"\x03")
        waybill = r.text(1, MAX_WAYBILL)
        r.expect(b"\x04")
        token = r.bstr(1, MAX_TOKEN)
        r.expect(b"\x05")
        courier = r.text(1, MAX_COURIER)
        r.end()
        return cls(capture_time=t, carrier=carrier, waybill=waybill, identity_token=token,
                   courier_id=courier)
