# ST7789 over SPI (RGB565, bytes sent big-endian): the ESP32-S3 board's screen. display.py
# imports the one driver its board names, so the other board's driver costs no heap.
#
# Start-up as the datasheet times it (Sitronix ST7789V, 9.12 and the SWRESET/SLPOUT commands):
# reset pin low >= 10 us then high, 120 ms; SWRESET, 120 ms; SLPOUT, 120 ms (the supply and
# the booster settle: a command sent earlier is lost and the panel stays dark); 16-bit
# colour, inversion on, display on; then the backlight pin. 150 ms waits give the margin.
import framebuf
import time
from machine import SPI, Pin
from micropython import const

_SWRESET = const(0x01)
_SLPOUT = const(0x11)
_COLMOD = const(0x3A)
_INVON = const(0x21)
_DISPON = const(0x29)
_SETTLE_MS = const(150)  # >= 120 ms after a reset, SWRESET and SLPOUT
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
        if "rst" in cfg:  # a floating reset pin holds the controller in reset
            rst = Pin(cfg["rst"], Pin.OUT, value=0)
            time.sleep_ms(1)
            rst(1)
            time.sleep_ms(_SETTLE_MS)
        for c in (_SWRESET, _SLPOUT):
            self._write(c)
            time.sleep_ms(_SETTLE_MS)
        self._write(_COLMOD, b"\x55")  # 16 bits per pixel
        self._write(_INVON)
        self._write(_DISPON)
        if "backlight" in cfg:
            Pin(cfg["backlight"], Pin.OUT, value=1)

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
