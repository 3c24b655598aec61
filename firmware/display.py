# The handheld's screen through framebuf: SSD1306 over I2C (128x64 mono, 16x8 characters of
# the built-in 8x8 font) or ST7789 over SPI (RGB565, bytes sent big-endian). The font is
# ASCII only: callers pass ASCII (view.py replaces anything else).
import framebuf
from machine import I2C, SPI, Pin
from micropython import const

# SSD1306 init: display off, horizontal addressing, start line 0, segment remap, mux 63,
# COM scan reversed, offset 0, COM pins, clock, precharge, VCOMH, contrast, resume, normal,
# charge pump on, display on.
_SSD_INIT = (0xAE, 0x20, 0x00, 0x40, 0xA1, 0xA8, 63, 0xC8, 0xD3, 0x00, 0xDA, 0x12, 0xD5, 0x80,
             0xD9, 0xF1, 0xDB, 0x30, 0x81, 0xFF, 0xA4, 0xA6, 0x8D, 0x14, 0xAF)
_SSD_CO_CMD = const(0x80)  # control byte: Co=1, D/C#=0, one command byte follows
_ST_CASET = const(0x2A)
_ST_RASET = const(0x2B)
_ST_RAMWR = const(0x2C)


class SSD1306(framebuf.FrameBuffer):
    ink = 1

    def __init__(self, cfg):
        self.width = cfg["width"]
        self.height = cfg["height"]
        self.buf = bytearray(self.width * self.height // 8)
        super().__init__(self.buf, self.width, self.height, framebuf.MONO_VLSB)
        self.i2c = I2C(0, scl=Pin(cfg["scl"]), sda=Pin(cfg["sda"]))
        self.addr = cfg["address"]
        self._cmd = bytearray(2)
        self._cmd[0] = _SSD_CO_CMD
        for c in _SSD_INIT:
            self._command(c)

    def _command(self, c):
        self._cmd[1] = c
        self.i2c.writeto(self.addr, self._cmd)

    def show(self):
        # column range 0..w-1, page range 0..h/8-1, then the whole buffer as data (0x40)
        for c in (0x21, 0, self.width - 1, 0x22, 0, self.height // 8 - 1):
            self._command(c)
        self.i2c.writevto(self.addr, (b"\x40", self.buf))


class ST7789(framebuf.FrameBuffer):
    ink = 0xFFFF

    def __init__(self, cfg):
        self.width = cfg["width"]
        self.height = cfg["height"]
        self.buf = bytearray(self.width * self.height * 2)
        super().__init__(self.buf, self.width, self.height, framebuf.RGB565)
        self.spi = SPI(1, baudrate=40000000, sck=Pin(cfg["sck"]), mosi=Pin(cfg["mosi"]))
        self.dc = Pin(cfg["dc"], Pin.OUT, value=1)
        self.cs = Pin(cfg["cs"], Pin.OUT, value=1)
        # software reset, sleep out, 16-bit colour, inversion on, display on
        for c in (0x01, 0x11, 0x3A, 0x21, 0x29):
            self._write(c, b"\x55" if c == 0x3A else None)

    def _write(self, c, data=None):
        self.cs(0)
        self.dc(0)
        self.spi.write(bytes((c,)))
        if data is not None:
            self.dc(1)
            self.spi.write(data)
        self.cs(1)

    def show(self):
        w, h = self.width - 1, self.height - 1
        self._write(_ST_CASET, bytes((0, 0, w >> 8, w & 255)))
        self._write(_ST_RASET, bytes((0, 0, h >> 8, h & 255)))
        self._write(_ST_RAMWR, self.buf)


def open_display(cfg):
    return ST7789(cfg) if cfg["driver"] == "st7789" else SSD1306(cfg)


def draw_lines(d, lines):
    d.fill(0)
    for i, line in enumerate(lines):
        d.text(line, 0, 8 * i, d.ink)
    d.show()
