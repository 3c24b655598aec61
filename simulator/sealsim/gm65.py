"""A GM65-class scan engine as the firmware sees it over its UART.

Decoded codes go out as text followed by CR. Configuration uses the module's serial command
frames (GM65 user manual §8, "serial port instruction"):

    host -> module   7E 00 | type | len | addr(2, big endian) | data(len) | crc(2)
        type 07 read zone bits (data = count, 0 means 256), 08 write, 09 save to EEPROM
    module -> host   02 00 | 00 | len | data(len) | crc(2)        (00 = success)

The CRC is CRC-16/XMODEM over type..data; `AB CD` in the CRC field means "do not check".
A frame with a wrong CRC or a bad format gets no reply; bytes that are not a frame are
ignored. Zone bit 0x0000 bits 1-0 select the mode (00 manual, 01 command, 10 continuous,
11 sensor); writing 1 to zone bit 0x0002 bit 0 starts a read in command mode.
"""

from __future__ import annotations

import binascii
import threading
from collections.abc import Callable

WRITE_OK = bytes.fromhex("02000001003331")
_HEAD = b"\x7e\x00"
_NO_CRC = b"\xab\xcd"

MODE_MANUAL, MODE_COMMAND, MODE_CONTINUOUS, MODE_SENSOR = 0, 1, 2, 3
BAUD_RATES = (1200, 4800, 9600, 14400, 19200, 38400, 57600, 115200)


def crc(data: bytes) -> bytes:
    return binascii.crc_hqx(data, 0).to_bytes(2, "big")


def frame(kind: int, address: int, data: bytes) -> bytes:
    """A host -> module command frame with its CRC (what firmware sends)."""
    body = bytes([kind, len(data) & 0xFF]) + address.to_bytes(2, "big") + data
    return _HEAD + body + crc(body)


def reply(data: bytes) -> bytes:
    body = bytes([0, len(data) & 0xFF]) + data
    return b"\x02\x00" + body + crc(body)


class GM65:
    """Scan engine model. `send` delivers bytes to the firmware's UART RX."""

    def __init__(self, send: Callable[[bytes], None], eeprom: bytes | None = None):
        self._send = send
        self._lock = threading.Lock()
        if eeprom is None:
            defaults = bytearray(256)
            defaults[0x00] = 0xD4  # LED on success, sound on, standard aim/light, manual mode
            defaults[0x2A:0x2C] = (0x0139).to_bytes(2, "little")  # 9600 baud
            eeprom = bytes(defaults)
        self.eeprom = eeprom  # what the module boots with (kept across power cuts)
        self.zone = bytearray(eeprom)
        self._rx = bytearray()
        self._pending: bytes | None = None  # a code held in front of a command-mode module
        self._trigger_low = False
        self.commands: list[bytes] = []  # every well-formed frame received, for tests
        self.sent: list[bytes] = []  # every code output

    @property
    def mode(self) -> int:
        return self.zone[0] & 0x03

    @property
    def baud(self) -> int:
        """Line speed from zone bits 0x2A-0x2B (divisor of 3 MHz), as a standard rate."""
        divisor = int.from_bytes(self.zone[0x2A:0x2C], "little") or 1
        return min(BAUD_RATES, key=lambda b: abs(b - 3_000_000 / divisor))

    # --- harness side -------------------------------------------------------------------
    def scan(self, code: str | bytes) -> None:
        """A code held in front of the module. Manual, continuous and sensor modes read it at
        once (the courier pressed the module's button); command mode waits for a trigger
        (serial command or the trigger pin)."""
        data = code.encode() if isinstance(code, str) else bytes(code)
        with self._lock:
            if self.mode == MODE_COMMAND and not self._reading():
                self._pending = data
                return
        self._output(data)

    def raw(self, data: bytes) -> None:
        """Arbitrary bytes on the module's TX line (noise, a different module, ...)."""
        self._send(bytes(data))

    def trigger_pin(self, level: int) -> None:
        self._trigger_low = level == 0
        if self._trigger_low:
            self._fire()

    # --- internals ----------------------------------------------------------------------
    def _reading(self) -> bool:
        return bool(self.zone[0x02] & 1) or self._trigger_low

    def _fire(self) -> None:
        with self._lock:
            data, self._pending = self._pending, None
            if data is not None:
                self.zone[0x02] &= 0xFE  # one read per trigger
        if data is not None:
            self._output(data)

    def _output(self, data: bytes) -> None:
        self.sent.append(data)
        self._send(data + b"\r")

    def receive(self, data: bytes) -> None:
        """Bytes the firmware wrote to the module's RX line."""
        self._rx += data
        while True:
            start = self._rx.find(_HEAD)
            if start < 0:
                del self._rx[:-1]  # keep a possible lone 0x7E
                return
            del self._rx[:start]
            if len(self._rx) < 4:
                return
            kind, n = self._rx[2], self._rx[3] or 256
            if kind not in (0x07, 0x08, 0x09):
                del self._rx[:2]  # not a command type: resynchronise
                continue
            size = 2 + 1 + 1 + 2 + n + 2
            if len(self._rx) < size:
                return
            raw = bytes(self._rx[:size])
            del self._rx[:size]
            self._command(raw)

    def _command(self, raw: bytes) -> None:
        body, check = raw[2:-2], raw[-2:]
        if check != _NO_CRC and check != crc(body):
            return  # wrong CRC: the module stays silent
        kind, address = body[0], int.from_bytes(body[2:4], "big")
        self.commands.append(raw)
        if kind == 0x07:
            count = body[4] or 256
            if address + count > 256:
                return
            self._send(reply(bytes(self.zone[address: address + count])))
        elif kind == 0x08:
            data = body[4:]
            if address + len(data) > 256:
                return
            self._send(WRITE_OK)  # the reply still goes out at the old line speed
            self.zone[address: address + len(data)] = data
            if address <= 0x02 < address + len(data) and self.zone[0x02] & 1:
                self._fire()
        elif kind == 0x09:
            self.eeprom = bytes(self.zone)
            self._send(WRITE_OK)
