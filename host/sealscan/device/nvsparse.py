"""Key names in a raw ESP-IDF NVS partition (what `esp32.Partition(...).readblocks` gives).

esp32.NVS cannot list keys, so on a real board the audit reads the partition and walks it
(ESP-IDF "Non-Volatile Storage Library", page layout, format version 2)::

    page (4096 B): header 32 B  [state u32][seqno u32][version u8][reserved 19][crc32 u32]
                   entry state bitmap 32 B (2 bits per entry: 11 empty, 10 written, 00 erased)
                   126 entries x 32 B: [ns u8][type u8][span u8][chunk u8][crc32 u32]
                                       [key 16 B, NUL-terminated][data 8 B]
    namespace 0 holds the namespace names: type U8, key = name, data[0] = namespace index.
    Blob data chunks (type 0x42) belong to a BLOB_IDX entry (0x48) of the same key.

Only names are returned (values are never needed to list what is there).
"""

from __future__ import annotations

import struct

_PAGE = 4096
_ENTRIES = 126
_ACTIVE_STATES = {0xFFFFFFFE, 0xFFFFFFFC, 0xFFFFFFF8}  # active, full, freeing
_BLOB_DATA = 0x42
_U8 = 0x01


def parse_nvs(data: bytes) -> dict[str, list[str]]:
    """{namespace: sorted key names} of every written entry in the partition image."""
    ns_names: dict[int, str] = {}
    keys: list[tuple[int, str]] = []
    for off in range(0, len(data) - _PAGE + 1, _PAGE):
        page = data[off:off + _PAGE]
        (state,) = struct.unpack_from("<I", page, 0)
        if state not in _ACTIVE_STATES:
            continue
        bitmap = page[32:64]
        i = 0
        while i < _ENTRIES:
            bits = (bitmap[i // 4] >> ((i % 4) * 2)) & 3
            if bits != 2:
                i += 1
                continue
            entry = page[64 + 32 * i:96 + 32 * i]
            ns, typ, span = entry[0], entry[1], entry[2]
            key = entry[8:24].split(b"\0", 1)[0].decode("utf-8", "replace")
            if ns == 0 and typ == _U8:
                ns_names[entry[24]] = key
            elif ns not in (0, 0xFF) and typ != _BLOB_DATA:
                keys.append((ns, key))
            i += max(span, 1)
    out: dict[str, list[str]] = {}
    for ns, key in keys:
        out.setdefault(ns_names.get(ns, f"#{ns}"), []).append(key)
    return {ns: sorted(set(k)) for ns, k in sorted(out.items())}
