# Display drivers over framebuf for the boards in boards/ (SSD1306 I2C, ST7789 SPI).
import framebuf
from machine import I2C, SPI, Pin
from micropython import const

_SSD_INIT = (0xAE, 0x20, 0x00, 0x40, 0xA1, 0xA8, 63, 0xC8, 0xD3, 0x00, 0xDA, 0x12, 0xD5, 0x80,
             0xD9, 0xF1, 0xDB, 0x30, 0x81, 0xFF, 0xA4, 0xA6, 0x8D, 0x14, 0xAF)
_CASET = const(0x2A)
_RASET = const(0x2B)
_RAMWR = const(0x2C)


class SSD1306(framebuf.FrameBuffer):
    def __init__(self, cfg):
        self.width = cfg["width"]
        self.height = cfg["height"]
        self.buf = bytearray(self.width * self.height // 8)
        super().__init__(self.buf, self.width, self.height, framebuf.MONO_VLSB)
        self.i2c = I2C(0, scl=Pin(cfg["scl"]), sda=Pin(cfg["sda"]))
        self.addr = cfg["address"]
        self.cmd = bytearray(2)
        self.cmd[0] = 0x80  # Co=1, D/C=0: one command byte follows
        for c in _SSD_INIT:
            self.command(c)

    def command(self, c):
        self.cmd[1] = c
        self.i2c.writeto(self.addr, self.cmd)

    def show(self):
        for c in (0x21, 0, self.width - 1, 0x22, 0, self.height // 8 - 1):
            self.command(c)
        self.i2c.writevto(self.addr, (b"\x40", self.buf))


class ST7789(framebuf.FrameBuffer):
    # RGB565 frame buffer; bytes go to the panel big-endian, so colours are given swapped.
    def __init__(self, cfg):
        self.width = cfg["width"]
        self.height = cfg["height"]
        self.buf = bytearray(self.width * self.height * 2)
        super().__init__(self.buf, self.width, self.height, framebuf.RGB565)
        self.spi = SPI(1, baudrate=40000000, sck=Pin(cfg["sck"]), mosi=Pin(cfg["mosi"]))
        self.dc = Pin(cfg["dc"], Pin.OUT, value=1)
        self.cs = Pin(cfg["cs"], Pin.OUT, value=1)
        for c in (0x01, 0x11, 0x3A, 0x21, 0x29):
            self.write(c, b"\x55" if c == 0x3A else None)

    def write(self, c, data=None):
        self.cs(0)
        self.dc(0)
        self.spi.write(bytes((c,)))
        if data is not None:
            self.dc(1)
            self.spi.write(data)
        self.cs(1)

    def show(self):
        w, h = self.width - 1, self.height - 1
        self.write(_CASET, bytes((0, 0, w >> 8, w & 255)))
        self.write(_RASET, bytes((0, 0, h >> 8, h & 255)))
        self.write(_RAMWR, self.buf)


def open_display(cfg):
    return SSD1306(cfg) if cfg["driver"] == "ssd1306" else ST7789(cfg)
