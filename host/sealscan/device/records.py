"""Record-like data in bytes (what must never be on a scanner's flash, docs/design.md I1), masked.

A finding names what it looks like, where it is and a masked form; the matched text itself
is never kept in a finding, so nothing that reports findings can print it.

    identity token   RNID1: followed by base45 text
    identity number  18 characters, GB 11643 MOD 11-2 check character valid
    phone number     mainland mobile, 1[3-9] + 9 digits
    waybill          UPU S10 / SSCC-18 with a valid check digit; SF, YTO, JD, J&T, Deppon
                     prefixed numbers (prefixed only: bare digit runs are too common)
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from sealscan.codes import _checkdigits as checkdigits  # the firmware's own module

_B45 = rb"[0-9A-Z $%*+\-./:]"
_PATTERNS: list[tuple[str, re.Pattern[bytes]]] = [
    ("identity token", re.compile(rb"RNID1:" + _B45 + rb"{8,}")),
    ("identity number", re.compile(rb"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")),
    ("phone number", re.compile(rb"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")),
    ("waybill", re.compile(rb"(?<![A-Z0-9])[A-Z]{2}[0-9]{9}[A-Z]{2}(?![A-Z0-9])")),
    ("waybill", re.compile(rb"(?<![A-Z0-9])(?:SF[0-9A-Z][0-9]{12}|YT[0-9]{13}|JD[0-9A-Z]{2}"
                           rb"[0-9]{11}|JT[0-9]{13}|DPK[0-9]{12})(?![0-9])")),
]


@dataclass(frozen=True)
class Finding:
    where: str  # e.g. "fs:/notes.txt", "nvs:sealscan/carrier"
    offset: int
    kind: str
    masked: str

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


def scan(data: bytes, where: str) -> list[Finding]:
    found: list[Finding] = []
    seen: set[tuple[int, int]] = set()
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(data):
            span = m.span()
            if any(s <= span[0] < e for s, e in seen):
                continue
            text = m.group().decode("ascii", "replace")
            real = _valid(kind, text)
            if real is None:
                continue
            seen.add(span)
            shown = (f"RNID1:…({len(text) - 6} characters)" if real == "identity token"
                     else mask(text, 2 if real == "waybill" else 1, 2))
            found.append(Finding(where, span[0], real, shown))
    return sorted(found, key=lambda f: f.offset)


# Console masking (sealscan monitor): defensive, no check characters needed. Any identity
# token, and any run of 7 or more digits (identity numbers, phone numbers, anything that
# might be one), keeps its first and last characters only.
_CONSOLE = re.compile(r"RNID1:[0-9A-Z $%*+\-./:]*|(?<![0-9A-Za-z])[0-9]{7,}[0-9Xx]?"
                      r"(?![0-9A-Za-z])")


def mask_console(line: str) -> str:
    def hide(m: re.Match[str]) -> str:
        text = m.group()
        if text.startswith("RNID1:"):
            return f"RNID1:…({len(text) - 6} characters)"
        return mask(text, 1, 2)

    return _CONSOLE.sub(hide, line)
