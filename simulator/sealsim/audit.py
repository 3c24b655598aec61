"""Flash audit: prove that nothing but what is allowed reached a simulated device's flash.

A snapshot covers the whole state directory: `flash.bin` (the device's SPI flash), read as
the device sees it — `fs/<path>` for each file of its LittleFS, `nvs/<namespace>.nvs` for each
NVS namespace, `flash.bin (image)` for the rest — and `rtc.bin` (RTC memory).
`audit(before, state_dir, canaries)` reports every write (added, changed or deleted file or
namespace, with the NVS keys and RTC writes the supervisor journaled) and searches every
live file and every raw byte of the flash (deleted files' blocks, old metadata, erased NVS
entries included) for each canary - as raw bytes, UTF-8 text, UTF-16-LE, hex and base64 -
naming where it was found (partition, address and what is there now).
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class AuditFailed(AssertionError):
    """Record data (a canary) reached flash, or a write that was not allowed happened."""


@dataclass(frozen=True)
class Snapshot:
    root: Path
    files: dict[str, str]  # state-relative path -> sha256

    @classmethod
    def take(cls, state_dir: Path | str) -> Snapshot:
        root = Path(state_dir)
        files = {name: hashlib.sha256(data).hexdigest() for name, data in _parts(root).items()}
        return cls(root, files)


def _parts(root: Path) -> dict[str, bytes]:
    """The state directory as the device sees it: its files, NVS namespaces, the rest."""
    from sealscan.flashimage import FlashImageError
    from sealscan.flashimage import lfs as lfsmod
    from sealscan.flashimage.layout import read_layout
    from sealscan.flashimage.nvs import read_nvs

    out: dict[str, bytes] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != "flash.bin":
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    path = root / "flash.bin"
    if not path.exists():
        return out
    flash = path.read_bytes()
    try:
        layout = read_layout(flash)
    except FlashImageError:
        out["flash.bin (image)"] = flash
        return out
    rest = bytearray(flash)
    vfs, nvs = layout.find("vfs"), layout.find("nvs")
    if vfs is not None:
        rest[vfs.offset:vfs.end] = b""
        try:
            tree = lfsmod.walk(bytearray(flash[vfs.offset:vfs.end]))
            out.update({"fs" + name: data for name, data in tree.contents.items()})
        except FlashImageError:
            out["flash.bin (vfs)"] = flash[vfs.offset:vfs.end]
    if nvs is not None:
        items: dict[str, bytes] = {}
        for (ns, key), value in sorted(read_nvs(flash[nvs.offset:nvs.end]).items().items()):
            raw = str(value).encode() if isinstance(value, int) else value
            items[ns] = items.get(ns, b"") + _NVS_LINE.pack(len(key), len(raw)) + \
                key.encode() + raw
        out.update({f"nvs/{ns}.nvs": data for ns, data in items.items()})
        rest[nvs.offset:nvs.end] = b""
    out["flash.bin (image)"] = bytes(rest)
    return out


@dataclass
class Hit:
    where: str  # e.g. "fs/log.txt", "nvs/cfg.nvs key 'last'", "rtc.bin (RTC memory)"
    canary: str
    form: str  # raw, utf-16-le, hex, base64
    offset: int


@dataclass
class AuditReport:
    writes: list[tuple[str, str]] = field(default_factory=list)  # (path, added/changed/...)
    hits: list[Hit] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # written paths not allowed

    @property
    def ok(self) -> bool:
        return not self.hits and not self.unexpected

    def summary(self) -> str:
        lines = [f"flash audit: {len(self.writes)} write(s), {len(self.hits)} canary hit(s)"]
        lines += [f"  write {path}: {what}" for path, what in self.writes]
        lines += [f"  CANARY {h.canary!r} ({h.form}) in {h.where} at byte {h.offset}"
                  for h in self.hits]
        lines += [f"  UNEXPECTED write to {p}" for p in self.unexpected]
        return "\n".join(lines)

    def check(self) -> None:
        if not self.ok:
            raise AuditFailed(self.summary())


def _base64_forms(canary: bytes) -> list[bytes]:
    # The canary inside longer base64 text: at each of the 3 byte alignments, the characters
    # that depend on the canary's bytes only (the edges also carry its neighbours' bits).
    out = []
    for pad in range(3):
        enc = base64.b64encode(bytes(pad) + canary)
        lead = (pad * 8 + 5) // 6  # characters touched by the padding bytes
        tail = ((pad + len(canary)) * 8) // 6  # characters made of whole input bits
        out.append(enc[lead:tail])
    return out


def _forms(canary: bytes) -> list[tuple[str, bytes]]:
    forms = [("raw", canary), ("hex", canary.hex().encode()),
             ("HEX", canary.hex().upper().encode())]
    forms += [("base64", b) for b in _base64_forms(canary)]
    try:
        forms.append(("utf-16-le", canary.decode("utf-8").encode("utf-16-le")))
    except UnicodeDecodeError:
        pass
    return [(f, b) for f, b in forms if len(b) >= 4]


def _searched(root: Path) -> list[tuple[str, bytes]]:
    """What the canary search reads: every live file and namespace, rtc.bin, and the raw
    flash (whatever the filesystem and NVS no longer show is still there)."""
    parts = _parts(root)
    out = [(name, data) for name, data in parts.items() if not name.startswith("flash.bin")]
    path = root / "flash.bin"
    if path.exists():
        out.append(("flash.bin", path.read_bytes()))
    return out


_NVS_LINE = struct.Struct("<BI")  # a namespace's part: [key len][value len][key][value]...


def _nvs_key(data: bytes, offset: int) -> str | None:
    i = 0
    while i < len(data):
        klen, vlen = _NVS_LINE.unpack_from(data, i)
        end = i + _NVS_LINE.size + klen + vlen
        if offset < end:
            return data[i + _NVS_LINE.size:i + _NVS_LINE.size + klen].decode("utf-8", "replace")
        i = end
    return None


def _where(name: str, data: bytes, offset: int) -> str:
    if name == "rtc.bin":
        return "rtc.bin (RTC memory)"
    if name == "flash.bin":
        from sealscan.device.flashaudit import locate
        return f"flash.bin {locate(data, offset)}"
    if name.startswith("nvs/"):
        return f"{name} (NVS namespace {Path(name).stem!r}, key {_nvs_key(data, offset)!r})"
    return name


def sweep(root: Path | str, canaries: list[str | bytes], *,
          patterns: dict[str, re.Pattern[bytes]] | None = None,
          allowed: Callable[[Path], bool] = lambda _p: False) -> list[Hit]:
    """Every file under `root` (any depth) searched for every canary in every form (raw,
    UTF-16-LE, hex, base64) and for every pattern (label -> bytes regex, raw form only);
    files for which `allowed(path)` is true are skipped."""
    root = Path(root)
    hits = []
    needles = [(c if isinstance(c, str) else bytes(c).hex(),
                c.encode() if isinstance(c, str) else bytes(c)) for c in canaries]
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.is_symlink() or allowed(p):
            continue
        try:
            data = p.read_bytes()
        except OSError:
            continue
        for label, canary in needles:
            for form, needle in _forms(canary):
                i = data.find(needle)
                if i >= 0:
                    hits.append(Hit(str(p.relative_to(root)), label, form, i))
        for label, pattern in (patterns or {}).items():
            m = pattern.search(data)
            if m:
                hits.append(Hit(str(p.relative_to(root)), label, "raw", m.start()))
    return hits


def audit(before: Snapshot, state_dir: Path | str | None = None,
          canaries: list[str | bytes] = (), *, journal: list[tuple[float, str, str]] = (),
          allowed: set[str] | None = None) -> AuditReport:
    """Compare the state directory with `before`, and search it all for canaries.

    `journal` is the device's write journal (`Device.writes`: NVS keys, RTC memory);
    `allowed`, when given, lists the state-relative paths that may be written (any other
    write is reported as unexpected and fails the audit)."""
    root = Path(state_dir) if state_dir is not None else before.root
    after = Snapshot.take(root)
    report = AuditReport()
    for path in sorted(set(before.files) | set(after.files)):
        a, b = before.files.get(path), after.files.get(path)
        if a != b:
            report.writes.append((path, "added" if a is None else "deleted" if b is None
                                  else "changed"))
    for _, path, what in journal:
        report.writes.append((path, what))
    written = {path for path, _ in report.writes}
    if allowed is not None:
        report.unexpected = sorted(p for p in written if p not in allowed)
    needles = [c.encode() if isinstance(c, str) else bytes(c) for c in canaries]
    live: set[tuple[bytes, str]] = set()
    for name, data in _searched(root):  # the raw flash last
        for canary, original in zip(needles, canaries, strict=True):
            for form, needle in _forms(canary):
                i = data.find(needle)
                if name == "flash.bin" and (canary, form) in live:
                    continue  # the live file's (or key's) own bytes, already named
                if i >= 0:
                    live.add((canary, form))
                    report.hits.append(Hit(_where(name, data, i),
                                           original if isinstance(original, str)
                                           else original.hex(), form, i))
    return report
