"""Deterministic CBOR (RFC 8949 section 4.2.1) for the few structures of protocol v1.

`dumps` encodes the subset v1 uses (unsigned and negative integers, byte strings, text
strings, arrays, maps) with shortest-form heads and map keys sorted by their encoded bytes.
`loads_strict` decodes with cbor2 and then demands that the input is exactly the
deterministic encoding of what it decoded: one item, no trailing bytes, no indefinite
lengths, no tags, no floats/simple values, no duplicate or unsorted keys, shortest heads.
Every failure becomes the caller's typed error.
"""

from __future__ import annotations

import io
from typing import Any

import cbor2

from sealscan.protocol.errors import ProtocolError

MAX_INPUT = 1 << 20  # nothing in v1 comes near 1 MiB; refuse before decoding


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    if n < 0x100:
        return bytes([major << 5 | 24, n])
    if n < 0x10000:
        return bytes([major << 5 | 25]) + n.to_bytes(2, "big")
    if n < 0x100000000:
        return bytes([major << 5 | 26]) + n.to_bytes(4, "big")
    if n < 0x10000000000000000:
        return bytes([major << 5 | 27]) + n.to_bytes(8, "big")
    raise ValueError("integer out of CBOR range")


head = _head  # the shortest-form head of major type `major` with argument `n`


def dumps(obj: Any) -> bytes:
    """Deterministic encoding of int / bytes / str / list / tuple / dict (no bool, no None)."""
    t = type(obj)  # exact types first (the common case; bool is not int here)
    if t is int:
        return _head(0, obj) if obj >= 0 else _head(1, -1 - obj)
    if t is bytes:
        return _head(2, len(obj)) + obj
    if t is str:
        b = obj.encode("utf-8")
        return _head(3, len(b)) + b
    if t is list or t is tuple:
        return _head(4, len(obj)) + b"".join([dumps(x) for x in obj])
    if t is dict:
        items = sorted([(dumps(k), dumps(v)) for k, v in obj.items()])
        return _head(5, len(items)) + b"".join([k + v for k, v in items])
    return _dumps_other(obj)


def _dumps_other(obj: Any) -> bytes:
    """Subclasses and views become their plain type; everything else v1 refuses."""
    if isinstance(obj, bool) or obj is None:
        raise TypeError("v1 CBOR has no simple values")
    for kind, plain in ((int, int), (bytes | bytearray | memoryview, bytes), (str, str.__str__),
                        (list | tuple, list), (dict, dict)):
        if isinstance(obj, kind):
            return dumps(plain(obj))
    raise TypeError(f"v1 CBOR cannot encode {type(obj).__name__}")


def _plain(obj: Any, depth: int = 0) -> bool:
    """True if obj is built only from the types `dumps` writes (tags decode to other types)."""
    if depth > 8:
        return False
    t = type(obj)  # exact types: cbor2 makes plain ones; bool, None and tags are other types
    if t is int or t is bytes or t is str:
        return True
    if t is list or t is tuple:
        return all([_plain(x, depth + 1) for x in obj])
    if t is dict:
        return all([_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in obj.items()])
    return False


def loads_strict(data: Any, error: type[ProtocolError], what: str) -> Any:
    """Decode exactly one deterministic CBOR item or raise `error`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise error(f"{what}: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise error(f"{what}: empty")
    if len(data) > MAX_INPUT:
        raise error(f"{what}: {len(data)} bytes is too large")
    fp = io.BytesIO(data)
    try:
        obj = cbor2.CBORDecoder(fp).decode()
    except Exception as e:  # cbor2 raises many types (CBORDecodeError, ValueError, ...)
        raise error(f"{what}: not CBOR ({type(e).__name__})") from None
    if fp.tell() != len(data):
        raise error(f"{what}: {len(data) - fp.tell()} trailing bytes")
    if not _plain(obj):
        raise error(f"{what}: tags, floats, simple values or deep nesting are not allowed")
    try:
        canonical = dumps(obj)
    except (TypeError, ValueError):
        raise error(f"{what}: value out of range") from None
    if canonical != data:
        raise error(f"{what}: not deterministic CBOR (RFC 8949 4.2.1)")
    return obj
