# SSD1306 over I2C (128x64 mono, MONO_VLSB): the ESP32 board's screen. display.py imports
# the one driver its board names, so the other board's driver costs no heap.
import framebuf
from machine import I2C, Pin
from micropython import const

# init: display off, horizontal addressing, start line 0, segment remap, mux 63, COM scan
# reversed, offset 0, COM pins, clock, precharge, VCOMH, contrast, resume, normal, charge pump
# on, display on.
_INIT = (b"\xae\x20\x00\x40\xa1\xa8\x3f\xc8\xd3\x00\xda\x12\xd5"
         b"\x80\xd9\xf1\xdb\x30\x81\xff\xa4\xa6\x8d\x14\xaf")
_CO_CMD = const(0x80)  # control byte: Co=1, D/C#=0, one command byte follows


class SSD1306(framebuf.FrameBuffer):
    ink = 1
    pal = None  # glyphs (display.draw) are blitted as they are: bit 1 lights a pixel

    def __init__(self, cfg):
        self.width = cfg["width"]
        self.height = cfg["height"]
        self.buf = bytearray(self.width * self.height // 8)
        super().__init__(self.buf, self.width, self.height, framebuf.MONO_VLSB)
        self.i2c = I2C(0, scl=Pin(cfg["scl"]), sda=Pin(cfg["sda"]))
        self.addr = cfg["address"]
        self._cmd = bytearray(2)
        self._cmd[0] = _CO_CMD
        for c in _INIT:
            self._command(c)

    def _command(self, c):
        self._cmd[1] = c
        self.i2c.writeto(self.addr, self._cmd)

    def show(self):
        # column range 0..w-1, page range 0..h/8-1, then the whole buffer as data (0x40)
        for c in (0x21, 0, self.width - 1, 0x22, 0, self.height // 8 - 1):
            self._command(c)
        self.i2c.writevto(self.addr, (b"\x40", self.buf))
