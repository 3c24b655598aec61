# Glyphs and screen texts from the font asset on flash (font.bin, written by the host's
# sealscan.fonttool, deployed read-only): one glyph or one text is read at a time into a
# preallocated buffer, so no glyph table is ever in the heap.
#
#   0   4  b"SSF1"      4  1  cell height H      5  1  bytes per glyph row R
#   6   1  languages L  7  1  texts T            8  2  glyphs G      12 4  text table offset
#   16  2G glyph index: BMP codepoints ascending; 0 = the placeholder, 1..95 = U+0020..U+007E
#   ..  G x (1 + H*R)   advance width, then H rows MONO_HLSB
#   text table: L*T x (u16 offset, u16 length) into the UTF-8 blob that follows it
import framebuf
from micropython import const

_HEAD = const(16)
_FIRST_WIDE = const(96)  # index of the first glyph after ASCII
_TEXT_MAX = const(96)  # bytes of the longest text (fonttool checks)


class Font:
    def __init__(self, path, lang=0):
        f = open(path, "rb")
        h = bytearray(_HEAD)
        f.readinto(h)
        if h[:4] != b"SSF1":
            raise ValueError("not a font asset")
        self.f = f
        self.height = h[4]
        self.langs = h[6]
        self.texts = h[7]
        self.count = h[8] | h[9] << 8
        self.text_at = h[12] | h[13] << 8 | h[14] << 16 | h[15] << 24
        self.glyph_at = _HEAD + 2 * self.count
        self.size = 1 + self.height * h[5]
        self.lang = lang if lang < self.langs else 0
        self.buf = bytearray(self.size)  # advance + rows of the glyph being drawn
        self.fb = framebuf.FrameBuffer(memoryview(self.buf)[1:], 8 * h[5], self.height,
                                       framebuf.MONO_HLSB)
        self.two = bytearray(4)
        self.tbuf = bytearray(_TEXT_MAX)
        self.pal = None  # 2x1 RGB565 palette for inks other than 1, made on first use

    def _find(self, cp):
        if 0x20 <= cp <= 0x7E:
            return cp - 0x1F
        f = self.f
        two = memoryview(self.two)[:2]
        lo = _FIRST_WIDE
        hi = self.count - 1
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

    def text(self, tid, lang=-1):
        """The words of text id `tid` (texts.py) in this device's language (or `lang`)."""
        f = self.f
        two = self.two
        f.seek(self.text_at + 4 * ((self.lang if lang < 0 else lang) * self.texts + tid))
        f.readinto(two)
        f.seek(self.text_at + 4 * self.langs * self.texts + (two[0] | two[1] << 8))
        mv = memoryview(self.tbuf)[:two[2] | two[3] << 8]
        f.readinto(mv)
        return str(mv, "utf-8")

    def draw(self, d, s, x, y, ink):
        """Draw str `s` on framebuf `d` at (x, y); a character without a glyph draws the
        placeholder. Returns the x after the last glyph."""
        pal = None
        if ink != 1:
            pal = self.pal
            if pal is None:
                pal = self.pal = framebuf.FrameBuffer(bytearray(4), 2, 1, framebuf.RGB565)
            pal.pixel(1, 0, ink)
        f = self.f
        buf = self.buf
        for c in s:
            f.seek(self.glyph_at + self._find(ord(c)) * self.size)
            f.readinto(buf)
            d.blit(self.fb, x, y, 0, pal)
            x += buf[0]
        return x
