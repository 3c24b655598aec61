# ST7789 over SPI (RGB565, bytes sent big-endian): the ESP32-S3 board's screen. display.py
# imports the one driver its board names, so the other board's driver costs no heap.
import framebuf
from machine import SPI, Pin
from micropython import const

_CASET = const(0x2A)
_RASET = const(0x2B)
_RAMWR = const(0x2C)


class ST7789(framebuf.FrameBuffer):
    ink = 0xFFFF

    def __init__(self, cfg):
        self.width = cfg["width"]
        self.height = cfg["height"]
        self.buf = bytearray(self.width * self.height * 2)
        super().__init__(self.buf, self.width, self.height, framebuf.RGB565)
        # display.draw's palette for the mono glyphs: bit 1 -> white
        self.pal = framebuf.FrameBuffer(bytearray(4), 2, 1, framebuf.RGB565)
        self.pal.pixel(1, 0, self.ink)
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
        self._write(_CASET, bytes((0, 0, w >> 8, w & 255)))
        self._write(_RASET, bytes((0, 0, h >> 8, h & 255)))
        self._write(_RAMWR, self.buf)
