"""Display panels on the host side: decode what the firmware sends over I2C/SPI into pixels.

- SSD1306 (I2C): control byte 0x00/0x80 = command(s), 0x40/0xC0 = GDDRAM data; horizontal
  addressing with the column (0x21) and page (0x22) windows, page addressing (0xB0.., 0x00..,
  0x10..), display on/off (0xAF/0xAE), inverse (0xA7/0xA6). GDDRAM is framebuf MONO_VLSB.
- ST7789 (SPI, D/C pin): CASET 0x2A, RASET 0x2B, RAMWR 0x2C with RGB565 big-endian pixels,
  DISPON/DISPOFF, INVON/INVOFF (kept as state; colours are stored as sent).

A frame is captured whenever a data write completes its addressing window (a full `show()`).

Timing and pins, as the datasheets have them (times are the device's: the shims stamp each
pin and bus write with the device's clock, so the supervisor's own delays do not count):

- ST7789 (Sitronix ST7789V datasheet, 9.12 "Reset timing" and the SLPOUT/SWRESET command
  descriptions): with a reset pin on the board (`display.rst`), the controller stays in
  reset until the firmware drives that pin high (the ESP32's GPIO floats after boot); a
  pulse low (>= 10 us) then high resets it. After a reset (pin or SWRESET 0x01) it takes no
  command for 120 ms; after SLPOUT 0x11 none for 120 ms (5 ms is the datasheet's minimum
  before the next command, 120 ms before the supply is stable and SLPIN may follow: the
  model takes the longer, as the issue's review did). A command that comes too early is
  lost, and its effect with it: a panel that never left sleep, or whose DISPON was lost,
  stays dark. Out of sleep it starts in sleep-in mode, so SLPOUT is required. The
  backlight pin (`display.backlight`, high or PWM duty > 0) must be on to see anything.
  `rejected` lists what was lost and why.
- SSD1306 (Solomon SSD1306 datasheet, 8.9 "Power ON and OFF sequence" and the charge pump
  application note): the I2C modules the boards use have no reset pin (an RC on the
  module); the panel lights only with the charge pump enabled (0x8D 0x14) before display
  on (0xAF), otherwise it stays dark.
"""

from __future__ import annotations

from collections import deque

from PIL import Image

MAX_FRAMES = 256


class Panel:
    width: int
    height: int

    def __init__(self, width: int, height: int, wiring: dict | None = None):
        self.width, self.height = width, height
        self.frames: deque[Image.Image] = deque(maxlen=MAX_FRAMES)
        self.frame_count = 0
        self.on = False
        self.wiring = dict(wiring or {})  # the board file's display table (pins)
        self.rejected: list[str] = []  # commands the panel did not take, and why

    def pin(self, role: str, level: int, t: float) -> None:
        """The firmware drove the panel's `role` pin (rst, backlight) to `level` at device
        time `t` (seconds)."""

    def pwm(self, role: str, duty: int) -> None:
        """PWM on the panel's `role` pin (backlight dimming)."""

    def image(self) -> Image.Image:
        raise NotImplementedError

    def _capture(self) -> None:
        self.frames.append(self.image())
        self.frame_count += 1

    def mono(self) -> list[list[bool]]:
        """Lit pixels as rows of booleans (for the terminal view and text reading)."""
        data = self.image().convert("L").tobytes()
        w = self.width
        return [[v > 0 for v in data[y * w:(y + 1) * w]] for y in range(self.height)]


class SSD1306(Panel):
    _ARGS = {0x20: 1, 0x21: 2, 0x22: 2, 0x81: 1, 0x8D: 1, 0xA8: 1, 0xD3: 1, 0xD5: 1, 0xD9: 1,
             0xDA: 1, 0xDB: 1, 0x26: 6, 0x27: 6, 0x29: 5, 0x2A: 5, 0xA3: 2}

    def __init__(self, width: int = 128, height: int = 64, wiring: dict | None = None):
        super().__init__(width, height, wiring)
        self.charge_pump = False  # 0x8D 0x14: the panel's supply (no external VCC)
        self.pages = height // 8
        self.ram = bytearray(width * self.pages)
        self.invert = False
        self.mode = 2  # page addressing after reset
        self.col0, self.col1, self.page0, self.page1 = 0, width - 1, 0, self.pages - 1
        self.col, self.page = 0, 0
        self._cmd: list[int] = []

    def i2c_write(self, data: bytes) -> None:
        i = 0
        while i < len(data):
            control = data[i]
            i += 1
            if control & 0x40:  # data
                if control & 0x80:  # Co=1: one byte, then another control byte
                    self._data(data[i:i + 1])
                    i += 1
                else:
                    self._data(data[i:])
                    return
            else:
                if control & 0x80:
                    self._command(data[i])
                    i += 1
                else:
                    for b in data[i:]:
                        self._command(b)
                    return

    def _command(self, b: int) -> None:
        self._cmd.append(b)
        op = self._cmd[0]
        if len(self._cmd) <= self._ARGS.get(op, 0):
            return
        args, self._cmd = self._cmd[1:], []
        if op == 0x20:
            self.mode = args[0] & 3
        elif op == 0x21:
            self.col0, self.col1 = args[0] % self.width, args[1] % self.width
            self.col = self.col0
        elif op == 0x22:
            self.page0, self.page1 = args[0] % self.pages, args[1] % self.pages
            self.page = self.page0
        elif op == 0x8D:
            self.charge_pump = bool(args[0] & 0x04)
        elif op in (0xAE, 0xAF):
            self.on = op == 0xAF
            if self.on and not self.charge_pump:
                self.rejected.append("display on without the charge pump: the panel stays dark")
            self._capture()
        elif op in (0xA6, 0xA7):
            self.invert = op == 0xA7
        elif 0xB0 <= op <= 0xB7:
            self.page = (op & 7) % self.pages
        elif op <= 0x0F:
            self.col = (self.col & 0xF0) | op
        elif op <= 0x1F:
            self.col = (self.col & 0x0F) | ((op & 0x0F) << 4)

    def _data(self, data: bytes) -> None:
        for b in data:
            if self.col < self.width and self.page < self.pages:
                self.ram[self.page * self.width + self.col] = b
            if self.mode == 2:  # page mode: column advances, no wrap to the next page
                self.col = min(self.col + 1, self.width)
                continue
            self.col += 1
            if self.col > self.col1:
                self.col = self.col0
                self.page += 1
                if self.page > self.page1:
                    self.page = self.page0
                    self._capture()

    def pixel(self, x: int, y: int) -> bool:
        return bool(self.ram[(y // 8) * self.width + x] >> (y % 8) & 1)

    def image(self) -> Image.Image:
        img = Image.new("1", (self.width, self.height), 0)
        if self.on and self.charge_pump:
            px = img.load()
            for y in range(self.height):
                for x in range(self.width):
                    if self.pixel(x, y) != self.invert:
                        px[x, y] = 1
        return img


RESET_MS = 120  # no command this long after a reset (pin or SWRESET)
SLPOUT_MS = 120  # no command this long after SLPOUT
_NEVER = -1e18


class ST7789(Panel):
    def __init__(self, width: int = 240, height: int = 320, wiring: dict | None = None):
        super().__init__(width, height, wiring)
        # with a reset pin wired, the controller is held in reset until it is driven high
        self.in_reset = "rst" in self.wiring
        self.busy_until = _NEVER  # device time before which a command is lost
        self.busy_why = ""
        self.asleep = True
        self.backlight = "backlight" not in self.wiring  # no backlight pin: always lit
        self.ram = bytearray(width * height * 2)
        self.x0, self.x1, self.y0, self.y1 = 0, width - 1, 0, height - 1
        self.x, self.y = 0, 0
        self.inverted = False
        self._op: int | None = None
        self._args = bytearray()
        self._half: int | None = None

    def pin(self, role: str, level: int, t: float) -> None:
        if role == "rst":
            if not level:
                self.in_reset = True
            elif self.in_reset:  # released: a hardware reset, as at power-on
                self.in_reset = False
                self._reset(t, "hardware reset")
        elif role == "backlight":
            self.backlight = bool(level)
            self._capture()

    def pwm(self, role: str, duty: int) -> None:
        if role == "backlight":
            self.backlight = duty > 0
            self._capture()

    def _reset(self, t: float, why: str) -> None:
        self.on = False
        self.asleep = True
        self.inverted = False
        self.x0, self.x1, self.y0, self.y1 = 0, self.width - 1, 0, self.height - 1
        self.busy_until, self.busy_why = t + RESET_MS / 1000, why

    def spi_write(self, data: bytes, dc: int, t: float = 0.0) -> None:
        if self.in_reset:
            self._op = None
            self.rejected.append(f"{len(data)} bytes while held in reset (rst low)")
            return
        if dc == 0:
            for b in data:
                if t < self.busy_until:
                    self.rejected.append(f"command {b:#04x} {(t - self.busy_until) * -1000:.1f} "
                                         f"ms too early after {self.busy_why}")
                    self._op = None  # lost, and the data that follows it with it
                    continue
                self._begin(b, t)
            return
        if self._op is None:
            return
        if self._op == 0x2C:
            self._pixels(data)
            return
        self._args += data
        self._finish()

    def _begin(self, op: int, t: float = 0.0) -> None:
        self._op, self._args, self._half = op, bytearray(), None
        if op == 0x01:
            self._reset(t, "SWRESET")
        elif op == 0x11:
            self.asleep = False
            self.busy_until, self.busy_why = t + SLPOUT_MS / 1000, "SLPOUT"
        elif op == 0x10:
            self.asleep = True
            self._capture()
        elif op in (0x28, 0x29):
            self.on = op == 0x29
            self._capture()
        elif op in (0x20, 0x21):
            self.inverted = op == 0x21
        elif op == 0x2C:
            self.x, self.y = self.x0, self.y0

    def _finish(self) -> None:
        a = self._args
        if self._op == 0x2A and len(a) >= 4:
            self.x0, self.x1 = (a[0] << 8 | a[1]), (a[2] << 8 | a[3])
        elif self._op == 0x2B and len(a) >= 4:
            self.y0, self.y1 = (a[0] << 8 | a[1]), (a[2] << 8 | a[3])

    def _pixels(self, data: bytes) -> None:
        buf = data if self._half is None else bytes([self._half]) + data
        n = len(buf) // 2 * 2
        self._half = buf[n] if n < len(buf) else None
        i = 0
        while i < n:  # copy a row segment at a time
            run = min(self.x1 - self.x + 1, (n - i) // 2)
            if self.y < self.height and self.x < self.width:
                keep = min(run, self.width - self.x)
                o = (self.y * self.width + self.x) * 2
                self.ram[o:o + keep * 2] = buf[i:i + keep * 2]
            i += run * 2
            self.x += run
            if self.x > self.x1:
                self.x = self.x0
                self.y += 1
                if self.y > self.y1:
                    self.y = self.y0
                    self._capture()

    def rgb565(self, x: int, y: int) -> int:
        o = (y * self.width + x) * 2
        return self.ram[o] << 8 | self.ram[o + 1]

    @property
    def lit(self) -> bool:
        """Whether anything can be seen: out of reset and sleep, display on, backlight on."""
        return self.on and not self.asleep and not self.in_reset and self.backlight

    def image(self) -> Image.Image:
        if not self.lit:
            return Image.new("RGB", (self.width, self.height), (0, 0, 0))
        le = bytearray(len(self.ram))  # Pillow's BGR;16 reads little-endian RGB565
        le[0::2], le[1::2] = self.ram[1::2], self.ram[0::2]
        return Image.frombytes("RGB", (self.width, self.height), bytes(le), "raw", "BGR;16")


def rgb565_to_rgb(c: int) -> tuple[int, int, int]:
    r, g, b = c >> 11 & 0x1F, c >> 5 & 0x3F, c & 0x1F
    return (r * 255 // 31, g * 255 // 63, b * 255 // 31)  # as Pillow expands RGB565


# Display models by the board file's `display.driver` (add a panel here to support a board).
PANELS: dict[str, type[Panel]] = {"ssd1306": SSD1306, "st7789": ST7789}


def make_panel(display: dict) -> Panel:
    return PANELS[display["driver"]](display["width"], display["height"], display)


def terminal_lines(panel: Panel) -> list[str]:
    """The screen as text for a terminal: one character per 1x2 pixels (half blocks)."""
    rows = panel.mono()
    out = []
    for y in range(0, panel.height, 2):
        top, bottom = rows[y], rows[y + 1] if y + 1 < panel.height else [False] * panel.width
        out.append("".join(" ▀▄█"[t | b << 1] for t, b in zip(top, bottom, strict=True)))
    return out


def pixels_from_terminal(lines: list[str], width: int, height: int) -> list[list[bool]]:
    """Inverse of terminal_lines (tests read the terminal back into pixels)."""
    rows = [[False] * width for _ in range(height)]
    for ty, line in enumerate(lines[: (height + 1) // 2]):
        for x, ch in enumerate(line[:width]):
            v = " ▀▄█".find(ch)
            v = max(v, 0)
            rows[2 * ty][x] = bool(v & 1)
            if 2 * ty + 1 < height:
                rows[2 * ty + 1][x] = bool(v & 2)
    return rows
