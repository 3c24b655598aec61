# The handheld's screen through framebuf: SSD1306 over I2C (128x64 mono, ssd1306.py) or
# ST7789 over SPI (RGB565, st7789.py). Only the board's driver is imported. Text is drawn with
# the font asset (open_font, text, draw below: the font's state is this module's), one row per
# cell height.
#
# Glyphs and screen texts from the font asset on flash (font.bin, written by the host's
# sealscan.fonttool, deployed read-only): one glyph or one text is read at a time into a
# preallocated buffer, so no glyph table is ever in the heap.
#
#   0   4  b"SSF1"      4  1  cell height H      5  1  bytes per glyph row R
#   6   1  languages L  7  1  texts T            8  2  glyphs G      12 4  text table offset
#   16  2G glyph index: BMP codepoints ascending; 0 = the placeholder, 1..95 = U+0020..U+007E
#   ..  G x (H*R + 1)   H rows MONO_HLSB, then the advance width
#   text table: L*T x (u16 offset, u16 length) into the UTF-8 blob that follows it
import framebuf
from micropython import const

_HEAD = const(16)
_FIRST_WIDE = const(96)  # index of the first glyph after ASCII

_h = bytearray(_HEAD + 4)  # the font's header, then 4 bytes of scratch
_g = None  # (file, glyph buffer: rows then advance, its FrameBuffer, palette or None)
lang = 0  # the UI language: texts.ZH or texts.EN


def open_font(path, language=0, ink=1):
    """Open the font asset (kept open: glyphs and texts are read from it one at a time);
    `ink` other than 1 is a colour panel's: glyph bit 1 is drawn in it through a palette."""
    global _g, lang
    f = open(path, "rb")
    f.readinto(_h)
    if _h[:4] != b"SSF1":
        raise ValueError("not a font asset")
    buf = bytearray(_h[4] * _h[5] + 1)
    pal = None
    if ink != 1:
        pal = framebuf.FrameBuffer(bytearray(4), 2, 1, framebuf.RGB565)
        pal.pixel(1, 0, ink)
    _g = (f, buf, framebuf.FrameBuffer(buf, 8 * _h[5], _h[4], framebuf.MONO_HLSB), pal)
    lang = language if language < _h[6] else 0


def _find(cp):
    # the glyph index of codepoint `cp`: ASCII directly, the rest by binary search on flash
    if 0x20 <= cp <= 0x7E:
        return cp - 0x1F
    f = _g[0]  # type: ignore[index]
    two = memoryview(_h)[_HEAD:_HEAD + 2]
    lo = _FIRST_WIDE
    hi = (_h[8] | _h[9] << 8) - 1
    while lo <= hi:
        mid = (lo + hi) >> 1
        f.seek(_HEAD + 2 * mid)
        f.readinto(two)
        v = two[0] | two[1] << 8
        if v == cp:
            return mid
        if v < cp:
            lo = mid + 1
        else:
            hi = mid - 1
    return 0


def text(tid, language=-1):
    """The words of text id `tid` (texts.py) in the UI language (or `language`)."""
    f = _g[0]  # type: ignore[index]
    at = _h[12] | _h[13] << 8 | _h[14] << 16
    f.seek(at + 4 * ((lang if language < 0 else language) * _h[7] + tid))
    f.readinto(memoryview(_h)[_HEAD:])
    f.seek(at + 4 * _h[6] * _h[7] + (_h[_HEAD] | _h[_HEAD + 1] << 8))
    return str(f.read(_h[_HEAD + 2] | _h[_HEAD + 3] << 8), "utf-8")


def draw(d, s, x, y):
    """Draw str `s` on framebuf `d` at (x, y); a character without a glyph draws the
    placeholder. Returns the x after the last glyph."""
    f, buf, fb, pal = _g  # type: ignore[misc]
    at = _HEAD + 2 * (_h[8] | _h[9] << 8)
    for c in s:
        f.seek(at + _find(ord(c)) * len(buf))
        f.readinto(buf)
        d.blit(fb, x, y, 0, pal)
        x += buf[-1]
    return x


def open_display(cfg):
    if cfg["driver"] == "st7789":
        import st7789

        return st7789.ST7789(cfg)
    import ssd1306

    return ssd1306.SSD1306(cfg)


def rows(d):
    """How many text rows of the open font fit on display `d`."""
    return d.height // _h[4]


def draw_lines(d, lines):
    d.fill(0)
    y = 0
    for line in lines:
        draw(d, line, 0, y)
        y += _h[4]
    d.show()
