"""Record-like data in bytes (what must never be on a scanner's flash, docs/design.md I1), masked.

A finding names what it looks like, where it is and a masked form; the matched text itself
is never kept in a finding, so nothing that reports findings can print it.

    identity token   RNID1: followed by base45 text
    identity number  18 characters, GB 11643 MOD 11-2 check character valid
    phone number     mainland mobile, 1[3-9] + 9 digits
    waybill          UPU S10 / SSCC-18 with a valid check digit; SF, YTO, JD, J&T, Deppon
                     prefixed numbers (prefixed only: bare digit runs are too common)
    sealed record    a COSE_Encrypt0 as protocol v1 seals records (firmware/cose.py):
                     83 44 a1 01 18 1e a1 05 4d <nonce 13> <bstr ciphertext>
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from sealscan import masking
from sealscan.codes import _checkdigits as checkdigits  # the firmware's own module

_B45 = rb"[0-9A-Z $%*+\-./:]"
_PATTERNS: list[tuple[str, re.Pattern[bytes]]] = [
    ("identity token", re.compile(rb"RNID1:" + _B45 + rb"{8,}")),
    ("identity number", re.compile(rb"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")),
    # not beside a lower-case hex digit: 11 digits inside a hex digest (firmware.json's
    # sha256s) are not a phone number
    ("phone number", re.compile(rb"(?<![0-9a-f])1[3-9][0-9]{9}(?![0-9a-f])")),
    ("waybill", re.compile(rb"(?<![A-Z0-9])[A-Z]{2}[0-9]{9}[A-Z]{2}(?![A-Z0-9])")),
    ("waybill", re.compile(rb"(?<![A-Z0-9])(?:SF[0-9A-Z][0-9]{12}|YT[0-9]{13}|JD[0-9A-Z]{2}"
                           rb"[0-9]{11}|JT[0-9]{13}|DPK[0-9]{12})(?![0-9])")),
    ("sealed record", re.compile(rb"\x83\x44\xa1\x01\x18\x1e\xa1\x05\x4d[\x00-\xff]{13}"
                                 rb"[\x50-\x59]", re.DOTALL)),
]


@dataclass(frozen=True)
class Finding:
    where: str  # e.g. "fs:/notes.txt", "nvs:sealscan/carrier", "vfs block 39 (free ...)"
    offset: int  # in `where`; for a flash dump's raw areas, the flash address
    kind: str
    masked: str
    partition: str = ""  # flash dumps: the partition ("nvs", "vfs", ...) the bytes are in

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def mask(text: str, keep_start: int = 1, keep_end: int = 1) -> str:
    """Keep a few characters at the ends; at least half are always hidden."""
    n = len(text)
    if keep_start + keep_end > n // 2:
        keep_start, keep_end = min(keep_start, n // 4), min(keep_end, n // 4)
    return text[:keep_start] + "*" * (n - keep_start - keep_end) + text[n - keep_end:]


def _valid(kind: str, text: str) -> str | None:
    """The finding's kind if `text` really is one (check characters), else None."""
    if kind == "identity number":
        if checkdigits.resident_id(text):
            return kind
        return "waybill" if checkdigits.sscc18(text) else None
    if kind == "waybill" and len(text) == 13 and text[2:11].isdigit():
        return kind if checkdigits.upu_s10(text) else None
    return kind


# Every pattern but the two with a literal start holds a run of 9 or more digits, at most 4
# characters after the match starts and 2 before it ends: the search runs the patterns only
# in windows around such runs and around the literal starts (the same matches as a search
# of the whole buffer, tested, at a fraction of the cost on flash that is mostly empty).
_DIGIT_RUN = re.compile(rb"[0-9]{9,}")
_STARTS = re.compile(rb"RNID1:|\x83\x44\xa1\x01\x18\x1e\xa1\x05\x4d")
_MARGIN = 8


def _windows(data: bytes) -> list[tuple[int, int]]:
    spans = [(m.start() - _MARGIN, m.end() + _MARGIN) for m in _DIGIT_RUN.finditer(data)]
    for m in _STARTS.finditer(data):
        end = m.end() + 16
        for _, pattern in _PATTERNS[:1] + _PATTERNS[-1:]:
            hit = pattern.match(data, m.start())
            if hit:
                end = max(end, hit.end())
        spans.append((m.start() - _MARGIN, end + _MARGIN))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        a, b = max(a, 0), min(b, len(data))
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def scan(data: bytes, where: str, *, whole: bool = False) -> list[Finding]:
    """Record-like data in `data`, by offset. `whole` searches every position (the
    reference the windowed search is tested against)."""
    found: list[Finding] = []
    for a, b in [(0, len(data))] if whole else _windows(data):
        found += _scan_window(data, a, b, where)
    return sorted(found, key=lambda f: f.offset)


def _scan_window(data: bytes, lo: int, hi: int, where: str) -> list[Finding]:
    found: list[Finding] = []
    seen: set[tuple[int, int]] = set()
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(data, lo, hi):
            span = m.span()
            if any(s <= span[0] < e for s, e in seen):
                continue
            text = m.group().decode("ascii", "replace")
            real = _valid(kind, text)
            if real is None:
                continue
            seen.add(span)
            if real == "sealed record":
                shown = "COSE_Encrypt0 (sealed, unreadable here)"
            elif real == "identity token":
                shown = f"RNID1:…({len(text) - 6} characters)"
            else:
                shown = mask(text, 2 if real == "waybill" else 1, 2)
            found.append(Finding(where, span[0], real, shown))
    return found


# Console masking (sealscan monitor): defensive, no check characters needed. Any identity
# token, and any run of 7 or more digits (identity numbers, phone numbers, anything that
# might be one), keeps its first and last characters only. The firmware's console is English,
# so any run of Chinese characters on it is treated as a name: masked by the device's own
# name policy (firmware/mask.py), exactly as the scanner's screen shows it.
_CONSOLE = re.compile(r"RNID1:[0-9A-Z $%*+\-./:]*|(?<![0-9A-Za-z])[0-9]{7,}[0-9Xx]?"
                      r"(?![0-9A-Za-z])|[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]"
                      r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003ffff·•・]*")


def mask_console(line: str) -> str:
    def hide(m: re.Match[str]) -> str:
        text = m.group()
        if text.startswith("RNID1:"):
            return f"RNID1:…({len(text) - 6} characters)"
        if not text[0].isascii():
            return masking.name(text)
        return mask(text, 1, 2)

    return _CONSOLE.sub(hide, line)


def mask_name(name: str) -> str:
    """A file name, NVS key or namespace fit to print: every record-like part found by
    `scan` (even inside a longer word, `n13812345678`) replaced by its masked form, then
    anything console masking catches."""
    raw = name.encode("utf-8", "surrogateescape")
    out, last = [], 0
    for hit in scan(raw, ""):
        m = _match_len(raw, hit.offset)
        out.append(raw[last:hit.offset].decode("utf-8", "replace") + hit.masked)
        last = hit.offset + m
    out.append(raw[last:].decode("utf-8", "replace"))
    return mask_console("".join(out))


def _match_len(data: bytes, offset: int) -> int:
    for _, pattern in _PATTERNS:
        m = pattern.match(data, offset)
        if m:
            return m.end() - offset
    return 0
