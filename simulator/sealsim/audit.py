"""Flash audit: prove that nothing but what is allowed reached a simulated device's flash.

A snapshot covers the whole state directory: `fs/` (the device filesystem), `nvs/` (esp32.NVS
namespaces), `rtc.bin` (RTC memory) and `flash.bin` (the raw SPI flash image) when present.
`audit(before, state_dir, canaries)` reports every write (added, changed or deleted file, by
state-relative path, with the NVS keys and RTC writes the supervisor journaled) and searches
every byte of every file for each canary - as raw bytes, UTF-8 text, UTF-16-LE, hex and
base64 - naming where it was found (for NVS, the namespace and key).
"""

from __future__ import annotations

import base64
import hashlib
import re
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
        files = {}
        for p in sorted(root.rglob("*")):
            if p.is_file():
                files[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
        return cls(root, files)


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


def _where(root: Path, rel: str, offset: int) -> str:
    if rel.startswith("nvs/"):
        from sealsim.storage import read_nvs
        entries = read_nvs(root / rel)
        pos = 0
        raw = (root / rel).read_bytes()
        for key in entries:
            k = key.encode()
            start = raw.find(bytes([len(k)]) + k, pos)
            end = start + 1 + len(k) + 4 + len(entries[key])
            if start <= offset < end:
                return f"{rel} (NVS namespace {Path(rel).stem!r}, key {key!r})"
            pos = end
        return f"{rel} (NVS)"
    if rel == "rtc.bin":
        return "rtc.bin (RTC memory)"
    if rel == "flash.bin":
        return "flash.bin (SPI flash image)"
    return rel


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
    for rel in after.files:
        data = (root / rel).read_bytes()
        for canary, original in zip(needles, canaries, strict=True):
            for form, needle in _forms(canary):
                i = data.find(needle)
                if i >= 0:
                    report.hits.append(Hit(_where(root, rel, i),
                                           original if isinstance(original, str)
                                           else original.hex(), form, i))
    return report
