"""The simulator's NVS namespace files (`<state>/nvs/<namespace>.nvs`).

The host reads them to audit a simulated device's state directory (`sealscan audit --sim-state`)
and the simulator (`sealsim.storage`) writes them; the format lives here so the host never
imports the simulator.

Layout, repeated per entry: [key length u8][key][value length u32le][value]; the value's first
byte is its type (b"i" i32, b"b" blob).
"""

from __future__ import annotations

import struct
from pathlib import Path


def read_nvs(path: Path) -> dict[str, bytes]:
    """The entries of one namespace file ({} when there is none)."""
    entries: dict[str, bytes] = {}
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return entries
    i = 0
    while i < len(data):
        n = data[i]
        key = data[i + 1:i + 1 + n].decode("utf-8", "replace")
        (m,) = struct.unpack_from("<I", data, i + 1 + n)
        start = i + 5 + n
        entries[key] = data[start:start + m]
        i = start + m
    return entries


def write_nvs(path: Path, entries: dict[str, bytes]) -> None:
    out = bytearray()
    for key, value in entries.items():
        k = key.encode()
        out += bytes([len(k)]) + k + struct.pack("<I", len(value)) + value
    path.write_bytes(bytes(out))
