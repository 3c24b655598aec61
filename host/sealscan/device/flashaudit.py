"""`sealscan audit --dump FILE` / `--port P`: audit a scanner from its whole flash, read
through the ROM bootloader (or from a file), never through the firmware being audited.

    1. the dump is the board's flash size; the partition table at 0x8000 parses (MD5 too)
    2. the release (bootloader at the board offset, app in `factory`) is well formed and its
       sha256 is the board's pin
    3. the vfs partition mounts as LittleFS: every file against the device contract, names
       and contents searched for record data
    4. NVS is parsed with erased entries and leftovers: live keys against the contract
    5. every byte outside the pinned release is searched raw for record data (stale file
       blocks, old metadata commits, erased NVS entries, free space), each hit named by
       partition, flash address and what is there now (file, metadata, free block, NVS key)

Nothing matched is ever kept: findings carry kind, place and a masked form (records.scan).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sealscan.boards import Board
from sealscan.device.contract import file_flag, file_listing, nvs_flags
from sealscan.device.firmware import MANIFEST, parse_manifest
from sealscan.device.records import Finding, mask_name, scan
from sealscan.flashimage import FlashImageError
from sealscan.flashimage import lfs as lfsmod
from sealscan.flashimage.appimage import ImageCheck, check_release
from sealscan.flashimage.layout import TABLE_LENGTH, TABLE_OFFSET, FlashLayout, read_layout
from sealscan.flashimage.nvs import ENTRY, FIRST_ENTRY, PAGE, NvsView, read_nvs


class DumpUnreadable(FlashImageError):
    """The dump cannot be audited at all (wrong size, no partition table)."""


@dataclass
class DumpReport:
    source: str
    board: str
    flash_size: int
    partitions: list[dict[str, Any]] = field(default_factory=list)
    image: dict[str, Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    nvs: dict[str, list[str]] = field(default_factory=dict)
    nvs_erased: int = 0  # erased NVS entries still readable
    free_blocks_with_data: int = 0  # vfs blocks outside the tree that are not erased
    flagged: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # parts that could not be parsed
    scanned_bytes: int = 0

    @property
    def clean(self) -> bool:
        return not self.flagged and not self.findings and not self.unreadable

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "board": self.board, "flash_size": self.flash_size,
                "clean": self.clean, "partitions": self.partitions, "image": self.image,
                "files": self.files, "nvs": self.nvs, "nvs_erased": self.nvs_erased,
                "free_blocks_with_data": self.free_blocks_with_data,
                "flagged": self.flagged, "unreadable": self.unreadable,
                "scanned_bytes": self.scanned_bytes,
                "findings": [f.to_dict() for f in self.findings]}


def audit_dump(flash: bytes, board: Board, *, source: str = "dump") -> DumpReport:
    """Audit a whole-flash image of a scanner built on `board`. DumpUnreadable if it is
    not one; damage to a part (app, vfs) is reported in `unreadable` and the rest audited."""
    if len(flash) != board.flash_size:
        what = "truncated" if len(flash) < board.flash_size else "too long"
        raise DumpUnreadable(f"{source}: {len(flash)} bytes, but {board.name} has "
                             f"{board.flash_size} bytes of flash ({what}: not a whole dump)")
    try:
        layout = read_layout(flash)
    except FlashImageError as e:
        raise DumpUnreadable(f"{source}: {e}") from None
    report = DumpReport(source, board.name, len(flash),
                        [p.to_dict() for p in layout.partitions])
    skip = _check_image(flash, board, layout, report)
    tree = _audit_vfs(flash, layout, report)
    view = _audit_nvs(flash, layout, report)
    _raw_scan(flash, layout, skip, tree, view, report)
    report.findings.sort(key=lambda f: (f.partition, f.where, f.offset))
    return report


def _check_image(flash: bytes, board: Board, layout: FlashLayout, report: DumpReport
                 ) -> list[tuple[int, int]]:
    """Check the release; returns the flash ranges it vouches for (not searched): the
    bootloader and partition table, and the app image."""
    try:
        app = layout.app
        data = tuple((p.offset, p.end) for p in layout.partitions if p.type != app.type)
        check: ImageCheck = check_release(board.chip, flash, board.flash_offset, app.offset,
                                          app.size, board.image_sha256, data)
    except FlashImageError as e:
        report.unreadable.append(f"app: {e}")
        return []
    report.image = check.to_dict()
    report.flagged += [f"image: {p}" for p in check.problems
                       if not p.startswith("the board pins no")]
    if not check.matches_pin:
        return []
    return [(board.flash_offset, TABLE_OFFSET + TABLE_LENGTH),
            (app.offset, app.offset + check.app_length)]


def _audit_vfs(flash: bytes, layout: FlashLayout, report: DumpReport) -> lfsmod.FsTree | None:
    part = layout.find("vfs")
    if part is None:
        report.unreadable.append("vfs: no vfs partition")
        return None
    region = bytearray(flash[part.offset:part.end])
    if region.count(0xFF) == len(region):
        return None  # erased: MicroPython formats it at its next boot
    try:
        tree = lfsmod.walk(region)
    except FlashImageError as e:
        report.unreadable.append(f"vfs at {part.offset:#x}: {e}")
        return None
    manifest_raw = tree.contents.get("/" + MANIFEST)
    manifest = parse_manifest(manifest_raw) if manifest_raw is not None else None
    for entry in tree.entries:
        shown = mask_name(entry.path)
        report.findings += [_in(f, "vfs") for f in scan(entry.path.encode(), f"name:{shown}")]
        content = tree.contents.get(entry.path)
        digest = hashlib.sha256(content).hexdigest() if content is not None else None
        flag = file_flag(entry.path, entry.is_dir, manifest, digest)
        report.files.append({"path": shown, "dir": entry.is_dir, "size": entry.size,
                             "contract": flag is None or "changed since" in flag})
        if flag is not None:
            report.flagged.append(flag)
        if content is not None:
            report.findings += [_in(f, "vfs") for f in scan(content, f"fs:{shown}")]
    return tree


def _audit_nvs(flash: bytes, layout: FlashLayout, report: DumpReport) -> NvsView | None:
    part = layout.find("nvs")
    if part is None:
        report.unreadable.append("nvs: no nvs partition")
        return None
    try:
        view = read_nvs(flash[part.offset:part.end])
    except FlashImageError as e:
        report.unreadable.append(f"nvs at {part.offset:#x}: {e}")
        return None
    keys = view.keys()
    report.nvs = {mask_name(ns): [mask_name(k) for k in names]
                  for ns, names in keys.items()}
    report.nvs_erased = sum(1 for e in view.entries if e.state != "written")
    report.flagged += nvs_flags(keys)
    return view


def _in(f: Finding, partition: str) -> Finding:
    return Finding(f.where, f.offset, f.kind, f.masked, partition)


def _raw_scan(flash: bytes, layout: FlashLayout, skip: list[tuple[int, int]],
              tree: lfsmod.FsTree | None, view: NvsView | None, report: DumpReport) -> None:
    """Search every byte outside the pinned release, partition by partition."""
    live = {(f.where[3:], f.kind, f.masked) for f in report.findings if f.where.startswith("fs:")}
    regions = []
    start = 0
    for part in layout.partitions:
        if part.offset > start:
            regions.append((start, part.offset, ""))
        regions.append((part.offset, part.end, part.label))
        start = part.end
    if start < len(flash):
        regions.append((start, len(flash), ""))
    vfs = layout.find("vfs")
    if tree is not None and vfs is not None:
        report.free_blocks_with_data = sum(
            1 for b in range(tree.block_count) if tree.owner(b) is None and
            flash[vfs.offset + b * lfsmod.BLOCK:vfs.offset + (b + 1) * lfsmod.BLOCK].count(0xFF)
            != lfsmod.BLOCK)
    for lo, hi, label in regions:
        for a, b in _without(lo, hi, skip):
            report.scanned_bytes += b - a
            for hit in scan(flash[a:b], ""):
                at = a + hit.offset
                where = _describe(at, label, layout, tree, view)
                if where is None:
                    continue
                if tree is not None and label == "vfs" and vfs is not None:
                    owner = tree.owner((at - vfs.offset) // lfsmod.BLOCK)
                    if owner not in (None, lfsmod.META) and \
                            (mask_name(owner), hit.kind, hit.masked) in live:
                        continue  # the live file's own bytes: reported with its path
                report.findings.append(Finding(where, at, hit.kind, hit.masked, label or "-"))


def _without(lo: int, hi: int, skip: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """[lo, hi) less the skipped ranges."""
    out = [(lo, hi)]
    for s0, s1 in skip:
        out = [piece for a, b in out for piece in ((a, min(b, s0)), (max(a, s1), b))
               if piece[0] < piece[1]]
    return out


def _describe(at: int, label: str, layout: FlashLayout, tree: lfsmod.FsTree | None,
              view: NvsView | None) -> str | None:
    if label == "vfs":
        part = layout.get("vfs")
        block = (at - part.offset) // lfsmod.BLOCK
        if tree is None:
            return f"vfs block {block}"
        owner = tree.owner(block)
        if owner is None:
            return f"vfs block {block} (free: not in the current tree, old data)"
        if owner == lfsmod.META:
            return f"vfs block {block} (metadata log: inline files, old commits)"
        return f"vfs block {block} (data of {mask_name(owner)})"
    if label == "nvs" and view is not None:
        rel = at - layout.get("nvs").offset
        e = view.entry_at(rel)
        page, slot = rel // PAGE, (rel % PAGE - FIRST_ENTRY) // ENTRY
        if e is None:
            return f"nvs page {page} slot {slot} (free space)" if slot >= 0 else \
                f"nvs page {page} header"
        name = f"{mask_name(view.ns_name(e.ns))}/{mask_name(e.key)}"
        return f"nvs page {e.page} entry {e.slot} {name} ({e.state})"
    if label:
        return f"{label} partition"
    return "outside every partition"


def locate(flash: bytes, at: int) -> str:
    """What is at flash address `at` of a whole-flash image, as the audit names it."""
    try:
        layout = read_layout(flash)
    except FlashImageError:
        return f"{at:#x}"
    part = layout.partition_at(at)
    tree = view = None
    if part is not None and part.label == "vfs":
        try:
            tree = lfsmod.walk(bytearray(flash[part.offset:part.end]))
        except FlashImageError:
            pass
    if part is not None and part.label == "nvs":
        view = read_nvs(flash[part.offset:part.end])
    where = _describe(at, part.label if part else "", layout, tree, view)
    return f"{at:#x} [{part.label if part else '-'}] {where}"


def dump_text(report: DumpReport) -> list[str]:
    """The report as the CLI prints it (masked: no matched data is in the report)."""
    lines = [f"{report.source}: {report.board}, {report.flash_size} bytes of flash"]
    for p in report.partitions:
        lines.append(f"  partition {p['label']:<9} {p['offset']:#09x} {p['size']:#09x}"
                     + (" (registered at boot)" if p["registered"] else ""))
    if report.image is not None:
        lines.append(f"image: sha256 {report.image['sha256']} "
                     + ("= the board's pin" if report.image["matches_pin"] else
                        "(not the board's pin)" if report.image["pin"] != "unpinned" else
                        "(board unpinned)"))
    lines.append(f"vfs: {len(report.files)} filesystem entries, "
                 f"{report.free_blocks_with_data} free block(s) holding old data")
    lines += file_listing(report.files)
    lines += [f"NVS {ns}: {', '.join(keys) or '(empty)'}"
              for ns, keys in sorted(report.nvs.items())]
    lines.append(f"NVS: {report.nvs_erased} erased or leftover entr(y/ies) still readable")
    lines += [f"UNREADABLE {u}" for u in report.unreadable]
    lines += [f"FLAG {item}" for item in report.flagged]
    for hit in report.findings:
        at = f"{hit.offset:#x}" if not hit.where.startswith(("fs:", "name:")) else \
            f"@{hit.offset}"
        lines.append(f"RECORD DATA [{hit.partition}] {hit.where} {at}: {hit.kind} "
                     f"{hit.masked}")
    lines.append("clean" if report.clean else
                 f"NOT CLEAN: {len(report.flagged)} flagged, {len(report.findings)} "
                 f"record-like finding(s), {len(report.unreadable)} unreadable part(s)")
    return lines


def dump_json(report: DumpReport) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=True, ensure_ascii=False)
