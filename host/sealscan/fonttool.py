"""The handheld's font asset: a bitmap subset of WenQuanYi Bitmap Song with the screen texts.

The device has no CJK font, and a glyph table in RAM would not fit the ~110 KB heap, so the
host builds a read-only file, `font.bin`, that `sealscan deploy` puts on the device; the
firmware (`firmware/display.py`) reads one glyph or one text at a time from it into a
preallocated buffer. Two strikes, one per display class:

    12 px  SSD1306 128x64   wenquanyi_9pt.pcf   5 rows of 12 px
    16 px  ST7789 240x320   wenquanyi_12pt.pcf  rows of 18 px (its descenders reach 18)

The source is Debian's `xfonts-wqy` (GPL-2 with the font embedding exception, see
firmware/assets/FONT-LICENSE.txt); FreeType (through Pillow) renders its PCF strikes. The
characters: printable ASCII, the common surnames and the first characters of names in parts
(firmware/assets/names.txt), the compound surnames of firmware/mask.py, every character of the
screen texts (firmware/texts.py) and a few symbols. The generated files are committed (a fresh
machine has no font package): `sealscan firmware font` (or `python -m sealscan.fonttool`)
rewrites them and `--check` compares byte for byte.

font.bin layout (little-endian):

    0   4  magic b"SSF1"
    4   1  cell height H (pixels)        5  1  bytes per glyph row R (glyphs are <= 8R wide)
    6   1  number of languages L         7  1  number of texts T
    8   2  number of glyphs G            10 2  reserved (0)
    12  4  offset of the text table
    16  2G glyph index: codepoints (BMP), ascending; entry 0 is U+0000, the placeholder drawn
           for any character without a glyph; entries 1..95 are U+0020..U+007E
    ..  G x (H*R + 1)  glyphs in index order: H rows MONO_HLSB, then the advance width
    text table  L*T x (u16 offset, u16 length) into the UTF-8 blob after it, language-major
"""

from __future__ import annotations

import ast
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sealscan import fwshared, fwtools
from sealscan.paths import FIRMWARE_DIR

MAGIC = b"SSF1"
HEADER = struct.Struct("<4sBBBBHHI")
ASSETS = FIRMWARE_DIR / "assets"
DEVICE_NAME = "font.bin"
FONT_DIR = Path("/usr/share/fonts/X11/misc")
SOURCE_PACKAGE = "xfonts-wqy"
PLACEHOLDER = "\u25a1"  # □: the glyph of every character the asset lacks
SYMBOLS = "·*√×!"
LANGS = ("zh", "en")


@dataclass(frozen=True)
class Strike:
    size: int  # nominal pixel size (the asset's name)
    source: str  # PCF file in FONT_DIR
    top: int  # first rendered row kept (rows above hold no letter, digit or CJK pixel)
    height: int  # cell height: the line pitch on the screen

    @property
    def path(self) -> Path:
        return FONT_DIR / self.source

    @property
    def asset(self) -> Path:
        return ASSETS / f"font{self.size}.bin"


STRIKES = {12: Strike(12, "wenquanyi_9pt.pcf", 2, 12), 16: Strike(16, "wenquanyi_12pt.pcf", 0, 18)}


class FontError(Exception):
    """The source font is missing or an asset is malformed."""


def strike_for(width: int, height: int) -> Strike:
    """The strike a display of this size uses: 12 px below 128 pixels of height, else 16."""
    return STRIKES[12 if height < 128 else 16]


# -- the screen texts (firmware/texts.py) ---------------------------------------------------

@cache
def text_table(path: Path = FIRMWARE_DIR / "texts.py"
               ) -> tuple[dict[str, int], dict[int, tuple[str, str]]]:
    """(id names -> numbers, id number -> (zh, en)) read from the firmware's texts.py. The
    words sit in an `if False:` block that MicroPython never compiles, so they are read here
    with `ast`, not imported."""
    all_ids = fwtools.text_ids(path)
    ids = {n: v for n, v in all_ids.items() if n.lower() not in LANGS}  # not ZH, EN
    words: dict[int, tuple[str, str]] = {}
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Constant) \
                and node.test.value is False:
            for sub in node.body:
                if isinstance(sub, ast.Assign) and isinstance(sub.value, ast.Dict):
                    for k, v in zip(sub.value.keys, sub.value.values, strict=True):
                        if not isinstance(k, ast.Name) or k.id not in ids:
                            raise FontError(f"{path}: a WORDS key is not a text id")
                        pair = ast.literal_eval(v)
                        words[ids[k.id]] = (pair[0], pair[1])
    count = ids.pop("COUNT", None)
    if count != len(ids) or sorted(ids.values()) != list(range(len(ids))):
        raise FontError(f"{path}: text ids must be 0..COUNT-1, each once")
    missing = [n for n, i in ids.items() if i not in words]
    if missing:
        raise FontError(f"{path}: no words for {', '.join(missing)}")
    return ids, words


def words(name: str, lang: str = "zh") -> str:
    """The words of text id `name` (e.g. "REC_ACCEPTED") in `lang`, as texts.py has them."""
    ids, table = text_table()
    return table[ids[name]][LANGS.index(lang)]


def surnames() -> str:
    lines = (ASSETS / "names.txt").read_text(encoding="utf-8").splitlines()
    return "".join(ch for line in lines if not line.startswith("#") for ch in line.strip())


def charset() -> list[str]:
    """Every character the asset covers, in index order (after the placeholder)."""
    chars = {chr(c) for c in range(0x20, 0x7F)}
    chars.update(surnames())
    chars.update("".join(fwshared.load("mask").COMPOUND_SURNAMES))
    chars.update(SYMBOLS, PLACEHOLDER)
    for pair in text_table()[1].values():
        for text in pair:
            chars.update(text.replace("\n", ""))
    wide = sorted(c for c in chars if ord(c) > 0x7E)
    if any(ord(c) > 0xFFFF for c in wide):
        raise FontError("the asset indexes BMP characters only")
    return [chr(c) for c in range(0x20, 0x7F)] + wide


# -- building -------------------------------------------------------------------------------

def _font(strike: Strike):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    if not strike.path.exists():
        raise FontError(f"{strike.path} not found: install the Debian package {SOURCE_PACKAGE}")
    return ImageFont.truetype(str(strike.path), strike.size)


def render(strike: Strike, ch: str, font=None) -> tuple[int, list[int]]:  # type: ignore[no-untyped-def]
    """(advance, rows) of one glyph as the source font draws it: rows are ints, bit 15 the
    leftmost pixel (16 wide), `strike.height` of them."""
    from PIL import Image, ImageDraw

    font = font or _font(strike)
    advance = int(font.getlength(ch))
    img = Image.new("1", (16, strike.height), 0)
    ImageDraw.Draw(img).text((0, -strike.top), ch, font=font, fill=1)
    data = img.tobytes()  # mode "1": rows of 2 bytes, leftmost pixel in the high bit
    rows = [int.from_bytes(data[2 * y:2 * y + 2], "big") for y in range(strike.height)]
    if advance > 16:
        raise FontError(f"{ch!r}: {advance} px wide, the asset holds 16")
    return advance, rows


def build(strike: Strike) -> bytes:
    font = _font(strike)
    chars = charset()
    missing = [c for c in chars[95:] if c != PLACEHOLDER and not _has_glyph(font, c)]
    if missing:
        raise FontError(f"{strike.source} has no glyph for {''.join(missing)}")
    glyphs = [render(strike, PLACEHOLDER, font)] + [render(strike, c, font) for c in chars]
    index = [0] + [ord(c) for c in chars]
    body = bytearray()
    body += struct.pack(f"<{len(index)}H", *index)
    for advance, rows in glyphs:
        for r in rows:
            body += r.to_bytes(2, "big")
        body.append(advance)
    _, words = text_table()
    blob = bytearray()
    table = bytearray()
    for lang in range(len(LANGS)):
        for tid in range(len(words)):
            data = words[tid][lang].encode()
            table += struct.pack("<HH", len(blob), len(data))
            blob += data
    text_at = HEADER.size + len(body)
    head = HEADER.pack(MAGIC, strike.height, 2, len(LANGS), len(words), len(index), 0, text_at)
    return head + bytes(body) + bytes(table) + bytes(blob)


def _has_glyph(font, ch: str) -> bool:  # type: ignore[no-untyped-def]
    # FreeType draws a missing character as the font's default glyph: compare with one that
    # is certainly missing (a private-use codepoint).
    return bool(font.getmask(ch).getbbox()) and \
        bytes(font.getmask(ch)) != bytes(font.getmask("\ue000"))


# -- reading (the host's side of what the firmware does) -----------------------------------

class Asset:
    """A parsed font.bin: glyph bitmaps and texts, as the firmware sees them."""

    def __init__(self, data: bytes):
        if len(data) < HEADER.size or data[:4] != MAGIC:
            raise FontError("not a sealscan font asset")
        _, self.height, self.row_bytes, self.langs, self.texts, count, _, text_at = \
            HEADER.unpack_from(data)
        self.data = data
        self.index = struct.unpack_from(f"<{count}H", data, HEADER.size)
        self.glyph_at = HEADER.size + 2 * count
        self.glyph_size = 1 + self.height * self.row_bytes
        self.text_at = text_at
        self.positions = {cp: i for i, cp in enumerate(self.index)}

    @staticmethod
    @cache
    def load(size: int) -> Asset:
        """The committed asset of strike `size` (parsed once per process)."""
        return Asset(STRIKES[size].asset.read_bytes())

    def glyph(self, ch: str) -> tuple[int, list[int]]:
        """(advance, rows) of `ch`, or of the placeholder when the asset has no glyph."""
        i = self.positions.get(ord(ch), 0) if ord(ch) else 0
        at = self.glyph_at + i * self.glyph_size
        rows = [int.from_bytes(self.data[at + 2 * y:at + 2 + 2 * y], "big")
                for y in range(self.height)]
        return self.data[at + self.glyph_size - 1], rows

    def has(self, ch: str) -> bool:
        return ord(ch) in self.positions and ord(ch) != 0

    def text(self, lang: str, tid: int) -> str:
        at = self.text_at + 4 * (LANGS.index(lang) * self.texts + tid)
        off, n = struct.unpack_from("<HH", self.data, at)
        blob = self.text_at + 4 * self.langs * self.texts
        return self.data[blob + off:blob + off + n].decode()

    def width(self, text: str) -> int:
        return sum(self.glyph(c)[0] for c in text)

    @cache  # noqa: B019 - assets live as long as the process
    def _by_width(self) -> dict[int, dict[tuple[int, ...], str]]:
        by_width: dict[int, dict[tuple[int, ...], str]] = {}
        for cp in [0, *self.index[1:]]:
            adv, g = self.glyph(chr(cp) if cp else PLACEHOLDER)
            if adv and any(g):
                key = tuple(r >> (16 - adv) for r in g)
                by_width.setdefault(adv, {}).setdefault(key, chr(cp) if cp else PLACEHOLDER)
        return by_width

    def read_lines(self, rows: list[list[bool]]) -> list[str]:
        """The text drawn on a screen (rows of lit pixels) with this asset, one string per
        text row (row pitch = cell height), trailing blank rows dropped. Blank runs between
        glyphs read as spaces (one per space advance)."""
        by_width = self._by_width()
        widths = sorted(by_width, reverse=True)
        space = max(1, self.glyph(" ")[0])
        width = len(rows[0]) if rows else 0
        out: list[str] = []
        for top in range(0, len(rows) - self.height + 1, self.height):
            band = [int("".join("1" if on else "0" for on in r), 2)
                    for r in rows[top:top + self.height]]
            line, x, gap = "", 0, 0
            while x < width:
                hit = None
                for adv in widths:
                    shift = width - x - adv
                    mask = (1 << adv) - 1
                    key = tuple((p >> shift if shift >= 0 else p << -shift) & mask for p in band)
                    ch = by_width[adv].get(key)
                    if ch is not None:
                        hit = (adv, ch)
                        break
                if hit is None:
                    x += 1
                    gap += 1
                    continue
                if gap and line:
                    line += " " * max(1, round(gap / space))
                gap = 0
                line += hit[1]
                x += hit[0]
            out.append(line)
        while out and not out[-1]:
            out.pop()
        return out


# -- command line ---------------------------------------------------------------------------

def write_assets(check: bool = False, sizes: Iterable[int] | None = None) -> list[str]:
    """Build each asset and the character list; with `check`, compare instead of writing.
    Returns the files that differ (check) or were written."""
    changed: list[str] = []
    outputs = {STRIKES[s].asset: build(STRIKES[s]) for s in (STRIKES if sizes is None else sizes)}
    outputs[ASSETS / "chars.txt"] = ("".join(charset()) + "\n").encode()
    for path, data in outputs.items():
        if not path.exists() or path.read_bytes() != data:
            changed.append(str(path))
            if not check:
                path.write_bytes(data)
    return changed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    try:
        changed = write_assets(check=check)
    except FontError as e:
        print(f"fonttool: {e}", file=sys.stderr)
        return 1
    for path in changed:
        print(("differs: " if check else "wrote: ") + path)
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
