"""Read text off a simulated screen.

The product firmware draws with its font asset (firmware/display.py, `sealscan.fonttool`): rows
of the asset's cell height from the top, glyphs compared with the asset's own bitmaps (the
screen's size picks the asset, as `sealscan deploy` does). Test firmware draws with
MicroPython's built-in `framebuf` 8x8 font: that table is made once per process by asking
MicroPython itself to draw every printable ASCII character. `read_text` reads both ways and
keeps the reading that found more characters.
"""

from __future__ import annotations

import functools

from sealsim import micropython as mp

_SNIPPET = """
import framebuf
b = bytearray(8)
f = framebuf.FrameBuffer(b, 8, 8, framebuf.MONO_HLSB)
for c in range(33, 127):
    f.fill(0)
    f.text(chr(c), 0, 0, 1)
    print(c, b.hex())
"""


@functools.cache
def glyphs() -> dict[bytes, str]:
    proc = mp.run(["-c", _SNIPPET], heap_bytes=64 * 1024, path=mp.module_path(shims=False),
                  timeout=30)
    table: dict[bytes, str] = {}
    words = proc.stdout.decode().split()
    for code, hexrows in zip(words[::2], words[1::2], strict=True):
        table.setdefault(bytes.fromhex(hexrows), chr(int(code)))
    return table


def read_text(rows: list[list[bool]]) -> list[str]:
    """Lines of text on the screen, top to bottom (font asset or framebuf.text())."""
    from sealscan.fonttool import Asset, strike_for

    builtin = read_builtin_text(rows)
    if not rows:
        return builtin
    asset = Asset.load(strike_for(len(rows[0]), len(rows)).size).read_lines(rows)
    count = sum(len(line.replace(" ", "")) for line in asset)
    return asset if count > sum(len(line.replace(" ", "")) for line in builtin) else builtin


def read_builtin_text(rows: list[list[bool]]) -> list[str]:
    """Lines of text drawn with framebuf.text() anywhere on the screen, top to bottom."""
    table = glyphs()
    height, width = len(rows), len(rows[0]) if rows else 0
    packed = [[sum(1 << (7 - i) for i in range(8) if x + i < width and row[x + i])
               for x in range(width)] for row in rows]
    candidates: list[tuple[int, int, str]] = []  # (matches, y, text)
    for y in range(height - 7):
        found: list[tuple[int, str]] = []
        x = 0
        while x < width - 7:
            key = bytes(packed[y + i][x] for i in range(8))
            ch = table.get(key) if any(key) else None
            if ch is not None:
                found.append((x, ch))
                x += 8
                continue
            x += 1
        if found:
            text, last = "", None
            for fx, ch in found:
                if last is not None:
                    text += " " * max(0, (fx - last - 8) // 8)
                text += ch
                last = fx
            candidates.append((len(found), y, text))
    # A real text line matches many glyphs; windows shifted by a row match few. Keep the
    # best line in every 8-pixel band.
    chosen: list[tuple[int, str]] = []
    for _, y, text in sorted(candidates, key=lambda c: (-c[0], c[1])):
        if all(abs(y - cy) >= 8 for cy, _ in chosen):
            chosen.append((y, text))
    return [text for _, text in sorted(chosen)]


def term_width(text: str) -> int:
    """Columns `text` takes in a terminal (CJK characters take two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def term_pad(text: str, cols: int) -> str:
    """`text` padded with spaces to `cols` terminal columns."""
    return text + " " * max(0, cols - term_width(text))
