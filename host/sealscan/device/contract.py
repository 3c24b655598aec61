"""What a deployed scanner may hold on flash (the device contract, docs/device.md), as one
set of rules for both audits: over the REPL (`inspect.audit`) and from a flash dump
(`flashaudit`).

    filesystem  main.py, board.json, firmware.json, the .mpy files and the font asset
                (font.bin) firmware.json lists (each with the hash it lists); nothing in
                directories (deploy removes the boot.py
                MicroPython's first boot writes)
    NVS         namespace "sealscan": the keys `provision` writes (provision.NVS_KEYS);
                namespace "phy": ESP-IDF's RF calibration (cal_data, cal_mac, cal_version)
"""

from __future__ import annotations

from sealscan.device.firmware import BOARD_JSON, FONT_BIN, MANIFEST
from sealscan.device.link import NVS_NAMESPACE
from sealscan.device.provision import NVS_KEYS
from sealscan.device.records import mask_name

CONTRACT_FILES = frozenset({"main.py", BOARD_JSON, MANIFEST})
SYSTEM_NVS = {"phy": frozenset({"cal_data", "cal_mac", "cal_version"})}


def file_flag(path: str, is_dir: bool, manifest: dict[str, str] | None,
              sha256: str | None) -> str | None:
    """Why `path` (absolute) breaks the contract, as a FLAG line, or None if it does not."""
    name = path[1:]
    shown = mask_name(path)
    allowed = not is_dir and "/" not in name and (
        name in CONTRACT_FILES or ((name.endswith(".mpy") or name == FONT_BIN)
                                   and manifest is not None and name in manifest))
    if not allowed:
        return f"{shown}: not in the device contract (docs/device.md)"
    if manifest is not None and name in manifest and sha256 != manifest[name]:
        return f"{shown}: changed since deploy (not the hash in {MANIFEST})"
    return None


def file_listing(files: list[dict[str, object]]) -> list[str]:
    """An audit's file list as printed: `!` marks what the contract does not allow."""
    return [f" {' ' if f['contract'] else '!'} "
            f"{'dir ' if f['dir'] else format(f['size'], '>7')} {f['path']}" for f in files]


def nvs_flags(keys: dict[str, list[str]]) -> list[str]:
    """FLAG lines for every live NVS key outside the contract."""
    flags = []
    for ns, names in sorted(keys.items()):
        allowed = NVS_KEYS.keys() if ns == NVS_NAMESPACE else SYSTEM_NVS.get(ns, frozenset())
        for key in names:
            if key not in allowed:
                flags.append(f"NVS {mask_name(ns)}/{mask_name(key)}: not in the device "
                             "contract (docs/device.md)")
    return flags
