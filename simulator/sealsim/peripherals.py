"""Peripherals: the parts on the board, built from the board file and found by bus and pin.

`Peripherals.build(board)` reads the board file once and wires each part to what it is
connected to; from then on the bus traffic finds parts by address only:

    pin N written       -> the part driving from pin N (LED, scan-engine trigger), level kept
    pin N read          -> the part on input pin N (a key), else the last level written
    PWM on pin N        -> the part on pin N (buzzer)
    I2C write to ADDR   -> the part at ADDR (SSD1306 panel)
    SPI write           -> the SPI parts (ST7789 panel, reading its D/C pin's level)
    UART N              -> the link channel `uartN` (the scan-engine model, through the
                           UART's receive path: sealsim.uartline, bytes at the baud rate
                           into the driver's ring buffer); bus op U: the firmware read n

It stands for the ESP32's GPIO matrix, I2C/SPI controllers and UARTs with what the board
wires to them. Add a part: a class below and a line in `build`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from sealscan.boards import Board
from sealsim.display import Panel, make_panel
from sealsim.gm65 import GM65
from sealsim.link import Conn, Link
from sealsim.speed import DeviceClock
from sealsim.uartline import UartLine

# Scan engine models by the board file's `scan_engine.model`.
SCAN_ENGINES = {"gm65": GM65}
Event = Callable[[str], None]


def misclocked(data: bytes, sent_baud: int, read_baud: int) -> bytes:
    """What a UART at `read_baud` makes of bytes sent at `sent_baud`: garbage of about the
    length ratio, deterministic so tests can rely on it never being the original text."""
    n = max(1, len(data) * read_baud // sent_baud) if data else 0
    return bytes(((data[i * len(data) // n] * 7) ^ 0xA5) & 0xFF | 0x80 for i in range(n))


class Led:
    def __init__(self, event: Event):
        self.event = event

    def write(self, level: int) -> None:
        self.event(f"led {'on' if level else 'off'}")


class Buzzer:
    def __init__(self, event: Event):
        self.event = event

    def pwm(self, freq: int, duty: int) -> None:
        on = freq > 0 and duty > 0
        self.event(f"buzzer {freq} Hz" if on else "buzzer off")


class Key:
    """A key to GND with the pin's pull-up: reads 0 while held."""

    def __init__(self, name: str):
        self.name = name
        self.down = False
        self.seen = False  # the firmware has read it pressed since the last `hold`

    def read(self) -> int:
        if self.down:
            self.seen = True
            return 0
        return 1


class ScanEngine:
    """A scan-engine model on UART `uart` (the link channel `uartN`) and a trigger pin. What
    it sends reaches the firmware through `line` (the UART's receive path, opened with the
    firmware's UART: `uartN BAUD RXBUF`)."""

    def __init__(self, model: str, uart: int, event: Event):
        self.uart = uart
        self.event = event
        self.conn: Conn | None = None
        self.baud = 0  # the line speed the firmware's UART runs at
        self.line: UartLine | None = None
        self.model: Any = SCAN_ENGINES[model](self._to_firmware)

    def power_cut(self) -> None:
        # The module loses power too: it restarts from what it saved to its EEPROM.
        self.model = type(self.model)(self._to_firmware, self.model.eeprom)

    def trigger(self, level: int) -> None:
        self.model.trigger_pin(level)

    # the link Channel interface
    def opened(self, conn: Conn, arg: str, rest: bytes) -> bool:
        self.conn = conn
        words = arg.split()
        self.baud = int(words[0]) if words else 115200
        # timed at the firmware UART's rate: misclocked bytes come in at that rate too
        self.line = UartLine(self.baud, int(words[1]) if len(words) > 1 else 256, conn.send)
        return True

    def set_baud(self, baud: int) -> None:
        self.baud = baud
        if self.line is not None:
            self.line.baud = baud

    def data(self, conn: Conn, data: bytes) -> None:
        if conn is self.conn and self.baud == self.model.baud:
            self.model.receive(data)
        # at another line speed the module decodes nothing it can act on

    def dropped(self, conn: Conn) -> None:
        if conn is self.conn:
            self.conn = None

    def _to_firmware(self, data: bytes) -> None:
        conn, line = self.conn, self.line
        if conn is not None and line is not None:
            if self.baud != self.model.baud:
                data = misclocked(data, self.model.baud, self.baud)
            line.send(data)
        else:  # as on the board: nobody listens on the line, the bytes are gone
            self.event(f"scan engine sent {len(data)} bytes to a UART the firmware has not "
                       "opened")


class Peripherals:
    """The registry: parts by pin, I2C address, SPI and UART number."""

    def __init__(self, link: Link, event: Event):
        self.link = link
        self.event = event
        self.levels: dict[int, int] = {}  # last level written per pin
        self.outputs: dict[int, Callable[[int], None]] = {}
        self.inputs: dict[int, Callable[[], int]] = {}
        self.pwms: dict[int, Callable[[int, int], None]] = {}
        self.i2c: dict[int, Callable[[bytes], None]] = {}
        self.spi: list[Callable[[bytes, float], None]] = []
        self.uarts: dict[int, ScanEngine] = {}
        self.keys: dict[str, Key] = {}
        self.scan_engine: ScanEngine | None = None
        self.panel: Panel | None = None
        self.clock = DeviceClock()  # the device's time, from the shims' write stamps
        self._display: dict[str, Any] = {}
        self._pin_t = 0.0  # device time of the pin write being handled

    @classmethod
    def build(cls, board: Board, link: Link, event: Event) -> Peripherals:
        p = cls(link, event)
        pins = board.pins
        if "led" in pins:
            p.outputs[pins["led"]] = Led(event).write
        if "buzzer" in pins:
            p.pwms[pins["buzzer"]] = Buzzer(event).pwm
        for role, pin in pins.items():
            if role.startswith("key_"):
                key = p.keys[role[4:]] = Key(role[4:])
                p.inputs[pin] = key.read
        se = board.scan_engine
        engine = p.scan_engine = ScanEngine(se["model"], se["uart"], event)
        p.uarts[se["uart"]] = engine
        link.channels[f"uart{se['uart']}"] = engine
        p.outputs[se["trigger"]] = engine.trigger
        p._display = dict(board.display)
        p._new_panel()
        # the panel's own pins (reset, backlight): the panel is replaced at a power cut
        for role in ("rst", "backlight"):
            if role in p._display:
                p.outputs[p._display[role]] = (
                    lambda level, role=role: p.panel.pin(role, level, p._pin_t))  # type: ignore[union-attr]
        if "backlight" in p._display:
            p.pwms[p._display["backlight"]] = (
                lambda freq, duty: p.panel.pwm("backlight", duty if freq else 0))  # type: ignore[union-attr]
        return p

    def _new_panel(self) -> None:
        panel = self.panel = make_panel(self._display)
        self.i2c.clear()
        self.spi.clear()
        if self._display.get("address") is not None and hasattr(panel, "i2c_write"):
            self.i2c[self._display["address"]] = panel.i2c_write
        if hasattr(panel, "spi_write"):
            dc = self._display.get("dc", -1)
            self.spi.append(lambda data, t: panel.spi_write(data, self.levels.get(dc, 1), t))

    def power_cut(self) -> None:
        """Every part loses power: the scan engine keeps its EEPROM, the panel goes dark."""
        for engine in self.uarts.values():
            engine.power_cut()
        self._new_panel()

    # -- bus ops (see shims/_simlink.py) --------------------------------------------------
    def pin_write(self, p: bytes) -> None:
        pin, value = p[0], p[1]
        self._pin_t = self.clock.at(struct.unpack_from("<I", p, 2)[0])  # device time
        self.levels[pin] = value
        out = self.outputs.get(pin)
        if out is not None:
            out(value)

    def pin_read(self, p: bytes) -> bytes:
        read = self.inputs.get(p[0])
        return bytes([read() if read is not None else self.levels.get(p[0], 0)])

    def pwm(self, p: bytes) -> None:
        pin, freq, duty = struct.unpack("<BII", p)
        part = self.pwms.get(pin)
        if part is not None:
            part(freq, duty)

    def i2c_write(self, p: bytes) -> None:
        part = self.i2c.get(p[1])  # p[0] is the bus
        if part is not None:
            part(p[2:])

    def spi_write(self, p: bytes) -> None:
        t = self.clock.at(struct.unpack_from("<I", p, 1)[0])  # p[0] is the bus
        for part in self.spi:
            part(p[5:], t)

    def uart_took(self, p: bytes) -> None:
        """Bus op U: the firmware read n bytes from UART p[0]'s ring buffer."""
        engine = self.uarts.get(p[0])
        if engine is not None and engine.line is not None:
            engine.line.took(struct.unpack_from("<H", p, 1)[0])

    def tick(self) -> float:
        """Deliver the bytes that are due on every UART line; the seconds until the next
        look (a few ms while bytes are on a line)."""
        busy = False
        for engine in self.uarts.values():
            line = engine.line
            if line is not None and line.busy:
                line.tick()
                busy = True
        return 0.002 if busy else 0.05

    # -- queries --------------------------------------------------------------------------
    def query_i2c(self, words: list[str]) -> bytes:
        """I2C.scan(): the addresses that answer."""
        return " ".join(str(a) for a in sorted(self.i2c)).encode()

    def query_uart(self, words: list[str]) -> bytes:
        """UART.init() changed the line speed: `uart N ... BAUD`."""
        engine = self.uarts.get(int(words[1]))
        if engine is not None:
            engine.set_baud(int(words[3]))
        return b""

    def key(self, name: str) -> Key | None:
        return self.keys.get(name)

