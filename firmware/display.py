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
_g = None  # (font.bin's path, glyph buffer: rows then advance, its FrameBuffer)
_f = None  # font.bin while held open (hold): one open file per screen drawn
lang = 0  # the UI language: texts.ZH or texts.EN


def open_font(path, language=0):
    """Read the font asset's header; glyphs and texts are then read one at a time."""
    global _g, lang
    f = open(path, "rb")
    f.readinto(_h)
    f.close()
    if _h[:4] != b"SSF1":
        raise ValueError("not a font asset")
    buf = bytearray(_h[4] * _h[5] + 1)
    _g = (path, buf, framebuf.FrameBuffer(buf, 8 * _h[5], _h[4], framebuf.MONO_HLSB))
    lang = language if language < _h[6] else 0


def hold(on):
    """Keep font.bin open (on) or close it: an open file costs ~0.3 KB of heap on LittleFS
    (its cache), so it is open only while a screen is made and drawn."""
    global _f
    if on and _f is None:
        _f = open(_g[0], "rb")  # type: ignore[index]
    elif not on and _f is not None:
        _f.close()
        _f = None


def text(tid, language=-1):
    """The words of text id `tid` (texts.py) in the UI language (or `language`)."""
    f = _f or open(_g[0], "rb")  # type: ignore[index]
    at = _h[12] | _h[13] << 8 | _h[14] << 16
    f.seek(at + 4 * ((lang if language < 0 else language) * _h[7] + tid))
    f.readinto(memoryview(_h)[_HEAD:])  # type: ignore[attr-defined]
    f.seek(at + 4 * _h[6] * _h[7] + (_h[_HEAD] | _h[_HEAD + 1] << 8))
    words = str(f.read(_h[_HEAD + 2] | _h[_HEAD + 3] << 8), "utf-8")
    if f is not _f:
        f.close()
    return words


def draw(d, s, x, y, pal):
    """Draw str `s` on framebuf `d` at (x, y), glyph bit 1 through palette `pal` (None:
    as 1); a character without a glyph draws the placeholder. Returns the x after it."""
    _, buf, fb = _g  # type: ignore[misc]
    f = _f or open(_g[0], "rb")  # type: ignore[index]
    n = _h[8] | _h[9] << 8
    for c in s:
        # the glyph's index: ASCII directly, the rest by binary search in the index on flash
        cp = ord(c)
        i = 0
        if 0x20 <= cp <= 0x7E:
            i = cp - 0x1F
        else:
            lo = _FIRST_WIDE
            hi = n - 1
            while lo <= hi:
                mid = (lo + hi) >> 1
                f.seek(_HEAD + 2 * mid)
                f.readinto(buf)  # type: ignore[attr-defined]  # (the glyph's room as scratch)
                v = buf[0] | buf[1] << 8
                if v == cp:
                    i = mid
                    break
                if v < cp:
                    lo = mid + 1
                else:
                    hi = mid - 1
        f.seek(_HEAD + 2 * n + i * len(buf))
        f.readinto(buf)  # type: ignore[attr-defined]
        d.blit(fb, x, y, 0, pal)
        x += buf[-1]
    if f is not _f:
        f.close()
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
    hold(True)
    d.fill(0)
    y = 0
    for line in lines:
        draw(d, line, 0, y, d.pal)
        y += _h[4]
    hold(False)
    d.show()
