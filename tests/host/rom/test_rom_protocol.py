"""The simulated ROM refuses malformed requests the way the ROM does, and keeps serving."""

from __future__ import annotations

import struct

import pytest
import serial
from rom_helpers import ESP32_BOARD, S3_BOARD, flash_bytes

from sealsim.rom import slip

SYNC = b"\x07\x07\x12\x20" + b"\x55" * 32


class RawHost:
    """Just enough of a bootloader client to send bad requests on purpose."""

    def __init__(self, port: str):
        self.port = serial.Serial(port, 115200, timeout=1)
        self.decoder = slip.Decoder()
        self.pending: list[bytes] = []

    def close(self) -> None:
        self.port.close()

    def send(self, op: int, data: bytes = b"", chk: int = 0, *, raw: bytes | None = None):
        frame = raw if raw is not None else struct.pack("<BBHI", 0, op, len(data), chk) + data
        self.port.write(slip.encode(frame))

    def frame(self) -> bytes | None:
        while not self.pending:
            chunk = self.port.read(self.port.in_waiting or 1)
            if not chunk:
                return None
            self.pending += self.decoder.feed(chunk)
        return self.pending.pop(0)

    def reply(self, op: int) -> tuple[int, bytes]:
        """(value, body) of the next reply to `op` (ROM replies end in 4 status bytes)."""
        while True:
            frame = self.frame()
            assert frame is not None, f"no reply to {op:#x}"
            resp, got, size, value = struct.unpack_from("<BBHI", frame)
            if resp == 1 and got == op:
                assert size == len(frame) - 8
                return value, frame[8:]

    def sync(self) -> None:
        self.send(0x08, SYNC)
        for _ in range(8):
            value, body = self.reply(0x08)
            assert value != 0 and body == b"\0\0\0\0"  # ROM, not stub


@pytest.fixture
def host(chips):
    made = []

    def make(board=ESP32_BOARD):
        chip = chips(board)
        h = RawHost(chip.port)
        made.append(h)
        h.sync()
        return chip, h
    yield make
    for h in made:
        h.close()


def test_bad_checksum_is_refused_and_nothing_is_written(host):
    chip, h = host()
    h.send(0x02, struct.pack("<IIII", 0x1000, 1, 0x400, 0x10000))  # FLASH_BEGIN (ESP32 ROM)
    assert h.reply(0x02)[1] == b"\0\0\0\0"
    block = b"\x5a" * 0x400
    h.send(0x03, struct.pack("<IIII", len(block), 0, 0, 0) + block, chk=0x12)
    assert h.reply(0x03)[1] == b"\x01\x07\0\0"  # failed, "Checksum error"
    assert flash_bytes(chip, 0x10000, 0x400) == b"\xff" * 0x400


def test_malformed_and_unsupported_requests(host):
    chip, h = host()
    h.send(0xD0)  # ERASE_FLASH: the ROM has no such command (stub only)
    assert h.reply(0xD0)[1] == b"\x01\x05\0\0"
    h.send(0x14)  # GET_SECURITY_INFO: not on the ESP32 ROM
    assert h.reply(0x14)[1] == b"\x01\x05\0\0"
    h.send(0x02, struct.pack("<IIIII", 0x1000, 1, 0x400, 0x10000, 0))  # 20 bytes: S3 layout
    assert h.reply(0x02)[1] == b"\x01\x05\0\0"
    h.send(0x03, struct.pack("<IIII", 4, 0, 0, 0) + b"abcd", chk=slip_checksum(b"abcd"))
    assert h.reply(0x03)[1] == b"\x01\x06\0\0"  # data without FLASH_BEGIN
    h.send(0x0A, raw=struct.pack("<BBHI", 0, 0x0A, 9, 0) + b"\0\0\0\0")  # size lies
    assert h.reply(0x0A)[1] == b"\x01\x05\0\0"
    h.send(0x0E, struct.pack("<II", 0x3FFFF0, 64))  # READ_FLASH_SLOW past the end
    assert h.reply(0x0E)[1][:2] == b"\x01\x0a"
    # Noise, an unterminated escape and a response-typed frame get no answer at all...
    h.port.write(b"noise\xc0\xdb\x01\xc0\xc0\x01\x08\x00\x00\x00\x00\x00\x00\xc0")
    assert h.frame() is None
    # ...and the chip still talks.
    h.send(0x0A, struct.pack("<I", 0x40001000))
    assert h.reply(0x0A) == (0x00F01D83, b"\0\0\0\0")


def test_esp32s3_rom_reports_its_chip_id(host):
    chip, h = host(S3_BOARD)
    h.send(0x14)
    _, body = h.reply(0x14)
    flags, chip_id = struct.unpack_from("<I", body)[0], struct.unpack_from("<I", body, 12)[0]
    assert (flags, chip_id, body[20:]) == (0, 9, b"\0\0\0\0")


def slip_checksum(data: bytes) -> int:
    state = 0xEF
    for b in data:
        state ^= b
    return state
