"""`sealscan verify` (is this scanner ready to hand out?) and `sealscan audit` (what is on a
scanner that came back?). Both read only; neither ever reports an NVS value or a secret.

verify: firmware files on the device = its firmware.json = the local build of the board
        named in board.json; board.json = that board's config; every required NVS key
        present (names only) and `provisioned` = 1.
audit:  every file and NVS key the device contract (docs/device.md) does not allow, and
        record-like data (identity tokens and numbers, phone numbers, waybills) in every
        file and, where the keys can be listed, in NVS: reported by place and kind, masked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealscan.boards import BoardError, load_board
from sealscan.device.contract import file_flag, nvs_flags
from sealscan.device.firmware import BOARD_JSON, MANIFEST, build_firmware, parse_manifest
from sealscan.device.link import NVS_NAMESPACE, DeviceLink
from sealscan.device.provision import NVS_KEYS
from sealscan.device.records import Finding, mask_name, scan
from sealscan.flashimage.nvs import read_nvs
from sealscan.paths import FIRMWARE_DIR


@dataclass
class VerifyReport:
    port: str
    device_id: str | None = None
    board: str | None = None
    version: str | None = None
    files: int = 0
    nvs_keys: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"port": self.port, "ok": self.ok, "device_id": self.device_id,
                "board": self.board, "version": self.version, "files": self.files,
                "nvs_keys": self.nvs_keys, "problems": self.problems}


def _manifest(link: DeviceLink) -> tuple[dict[str, str] | None, str | None]:
    if link.sha256_files(["/" + MANIFEST])["/" + MANIFEST] is None:
        return None, None
    data = link.read_file("/" + MANIFEST)
    files = parse_manifest(data)
    version = json.loads(data).get("version") if files is not None else None
    return files, version if isinstance(version, str) else None


def verify(link: DeviceLink, *, board_name: str | None = None, src: Path = FIRMWARE_DIR
           ) -> VerifyReport:
    """Is the scanner on `link` ready to hand out? (read only)"""
    report = VerifyReport(link.port)
    problems = report.problems
    manifest, report.version = _manifest(link)
    if manifest is None:
        problems.append(f"{MANIFEST}: missing or malformed (run `sealscan deploy`)")
    raw_board = link.read_file("/" + BOARD_JSON) \
        if link.sha256_files(["/" + BOARD_JSON])["/" + BOARD_JSON] else None
    try:
        named = json.loads(raw_board)["board"] if raw_board is not None else None
    except (ValueError, KeyError, TypeError):
        named = None
    report.board = named if isinstance(named, str) else None
    if report.board is None:
        problems.append(f"{BOARD_JSON}: missing or malformed (run `sealscan deploy`)")
    elif board_name and report.board != board_name:
        problems.append(f"{BOARD_JSON}: board {report.board}, expected {board_name}")
    board = None
    if report.board is not None:
        try:
            board = load_board(board_name or report.board)
        except BoardError as e:
            problems.append(f"{BOARD_JSON}: {e}")
    if board is not None:
        local = build_firmware(board, src).hashes
        names = sorted(set(local) | set(manifest or {}))
        on_device = link.sha256_files(["/" + n for n in names])
        report.files = len(names)
        for name in names:
            have, want = on_device["/" + name], local.get(name)
            if want is None:
                problems.append(f"{name}: in {MANIFEST} but not in the local build")
            elif have is None:
                problems.append(f"{name}: missing on the device")
            elif have != want:
                what = "board config" if name == BOARD_JSON else "local build"
                problems.append(f"{name}: differs from the {what}")
            if manifest is not None and want is not None and manifest.get(name) != want:
                problems.append(f"{MANIFEST}: {name}: not the local build's hash")
    present = link.nvs_present(NVS_KEYS)
    report.nvs_keys = present
    for key in sorted(set(NVS_KEYS) - set(present)):
        problems.append(f"NVS {NVS_NAMESPACE}/{key}: missing")
    small = link.nvs_read({"device_id": "blob", "provisioned": "i32"})
    if "provisioned" in small and small["provisioned"] != 1:
        problems.append(f"NVS {NVS_NAMESPACE}/provisioned: not 1")
    device_id = small.get("device_id")
    if isinstance(device_id, bytes):
        report.device_id = device_id.decode("utf-8", "replace")
    return report


@dataclass
class AuditReport:
    port: str
    files: list[dict[str, Any]] = field(default_factory=list)  # path, size, contract
    nvs: dict[str, list[str]] = field(default_factory=dict)  # namespace -> key names
    nvs_listed: bool = False  # False: only the contract keys could be probed
    flagged: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.flagged and not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {"port": self.port, "clean": self.clean, "files": self.files, "nvs": self.nvs,
                "nvs_listed": self.nvs_listed, "flagged": self.flagged,
                "findings": [f.to_dict() for f in self.findings]}


def audit(link: DeviceLink, *, sim_state: Path | None = None) -> AuditReport:
    """Everything on the device on `link` against the contract, and a record-data search
    (read only). With `sim_state` (a simulated device's state directory) NVS is listed and
    searched from its flash.bin."""
    report = AuditReport(link.port)
    manifest, _ = _manifest(link)
    entries = link.walk("/")
    hashes = link.sha256_files([e.path for e in entries if not e.is_dir])
    for entry in entries:
        # A name can hold record data too (a log file named after an id): names are
        # searched, and shown masked like everything else.
        shown = mask_name(entry.path)
        report.findings += scan(entry.path.encode(), f"name:{shown}")
        content = None if entry.is_dir else link.read_file(entry.path)
        flag = file_flag(entry.path, entry.is_dir, manifest, hashes.get(entry.path))
        report.files.append({"path": shown, "dir": entry.is_dir, "size": entry.size,
                             "contract": flag is None or "changed since" in flag})
        if flag is not None:
            report.flagged.append(flag)
        if content is not None:
            report.findings += scan(content, f"fs:{shown}")
    if sim_state is not None:
        _sim_nvs(Path(sim_state), report)
    else:
        raw = link.nvs_partition()
        if raw is not None:
            report.nvs_listed = True
            report.nvs = read_nvs(raw).keys()
            report.findings += scan(raw, "nvs partition")
        else:
            report.nvs = {NVS_NAMESPACE: link.nvs_present(NVS_KEYS)}
    if report.nvs_listed:
        report.flagged += nvs_flags(report.nvs)
        report.nvs = {mask_name(ns): [mask_name(k) for k in keys]
                      for ns, keys in report.nvs.items()}
    report.findings.sort(key=lambda f: (f.where, f.offset))
    return report


def _sim_nvs(state: Path, report: AuditReport) -> None:
    """A simulated device's NVS, from the nvs partition of its flash.bin."""
    from sealscan.flashimage import FlashImageError
    from sealscan.flashimage.layout import read_layout

    try:
        flash = (state / "flash.bin").read_bytes()
        part = read_layout(flash).get("nvs")
        view = read_nvs(flash[part.offset:part.end])
    except (OSError, FlashImageError):
        return
    report.nvs_listed = True
    report.nvs = view.keys()
    for (ns, key), value in sorted(view.items().items()):
        if isinstance(value, bytes):
            report.findings += scan(value, f"nvs:{ns}/{mask_name(key)}")
    rtc = state / "rtc.bin"
    if rtc.exists():
        report.findings += scan(rtc.read_bytes(), "rtc memory")
