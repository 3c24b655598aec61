"""The serial bootloader's command set: what the ROM and the flasher stub answer.

Wire layout (little-endian, inside SLIP frames):

    request   00 op:u8 size:u16 chk:u32 data[size]   (chk = XOR of payload from 0xEF, *_DATA)
    response  01 op:u8 size:u16 value:u32 data status
              status = 4 bytes from the ROM (failed, error, 0, 0), 2 from the stub (error, 0)

The ROM answers until esptool uploads its flasher stub (MEM_BEGIN / MEM_DATA / MEM_END with
an entry point inside the uploaded code); then the stub answers: "OHAI", 2 status bytes
instead of 4, deflate writes by uncompressed size, raw MD5, streamed READ_FLASH, erase.

`Loader` is the command half of `sealsim.rom.chip.SimulatedChip`: it reads and writes the
chip's registers (`regs`, chip data from sealsim.rom.chips) and its flash
(sealsim.rom.flash), and talks through the port half (sealsim.rom.port: `_send`,
`_next_frame`, `_drop`).
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from sealsim.rom.chips import SPI_CMD_USR, UART_CLKDIV_REG, uart_clkdiv
from sealsim.rom.flash import FlashError

# Opcodes (esptool loader.ESPLoader.ESP_CMDS)
FLASH_BEGIN, FLASH_DATA, FLASH_END = 0x02, 0x03, 0x04
MEM_BEGIN, MEM_END, MEM_DATA = 0x05, 0x06, 0x07
SYNC, WRITE_REG, READ_REG = 0x08, 0x09, 0x0A
SPI_SET_PARAMS, SPI_ATTACH, READ_FLASH_SLOW, CHANGE_BAUDRATE = 0x0B, 0x0D, 0x0E, 0x0F
FLASH_DEFL_BEGIN, FLASH_DEFL_DATA, FLASH_DEFL_END = 0x10, 0x11, 0x12
SPI_FLASH_MD5, GET_SECURITY_INFO = 0x13, 0x14
ERASE_FLASH, ERASE_REGION, READ_FLASH, RUN_USER_CODE = 0xD0, 0xD1, 0xD2, 0xD3

SYNC_PAYLOAD = b"\x07\x07\x12\x20" + b"\x55" * 32
ROM_SYNC_VALUE = 0x20120707
CHECKSUM_SEED = 0xEF
ROM_READ_BLOCK = 64  # READ_FLASH_SLOW always answers 64 bytes
ACK_TIMEOUT = 5.0

# Error kinds -> (ROM error byte, stub error byte); esptool prints its own text for each.
_ERRORS = {
    "length": (0x05, 0xC0),  # "The format of the received message is invalid" / "Bad data length"
    "checksum": (0x07, 0xC1),
    "blocksize": (0x05, 0xC2),
    "command": (0x05, 0xFF),  # unsupported: invalid message / "Command not implemented"
    "not-in-flash-mode": (0x06, 0xC6),
    "inflate": (0x0B, 0xC7),
    "not-enough": (0x06, 0xC8),
    "too-much": (0x06, 0xC9),
    "range": (0x0A, 0xC4),
}


class _Refuse(Exception):
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


@dataclass
class FlashSession:
    compressed: bool
    offset: int
    size: int
    blocksize: int
    next_seq: int = 0
    pos: int = 0  # where decompressed data goes next
    received: int = 0
    inflater: Any = None


def _checksum(data: bytes) -> int:
    state = CHECKSUM_SEED
    for b in data:
        state ^= b
    return state


class Loader:
    """The ROM / stub command handlers (a mixin: the chip's state lives in SimulatedChip)."""

    def _reply(self, op: int, value: int = 0, data: bytes = b"", error: str | None = None):
        if self.mode == "stub":
            status = bytes((_ERRORS[error][1], 0)) if error else b"\x00\x00"
        else:
            status = bytes((1, _ERRORS[error][0], 0, 0)) if error else b"\x00\x00\x00\x00"
        body = data + status
        self._send(struct.pack("<BBHI", 1, op, len(body), value) + body)

    def _handle(self, frame: bytes) -> None:
        if self.mode == "app" or len(frame) < 8 or frame[0] != 0:
            return  # not a request (or no bootloader listening): ignored, as the ROM does
        _, op, size, chk = struct.unpack_from("<BBHI", frame)
        data = frame[8:]
        handler = self._handlers().get(op)
        self._current_op = op
        try:
            if len(data) != size:
                raise _Refuse("length")
            if handler is None:
                raise _Refuse("command")
            result = handler(data, chk)
        except _Refuse as r:
            self._reply(op, error=r.kind)
            return
        except FlashError:
            self._reply(op, error="range")
            return
        if result is not None:
            value, body, after = result
            self._reply(op, value, body)
            if after is not None:
                after()

    def _handlers(self) -> dict[int, Any]:
        common = {
            SYNC: self._sync, READ_REG: self._read_reg_cmd, WRITE_REG: self._write_reg_cmd,
            MEM_BEGIN: self._mem_begin, MEM_DATA: self._mem_data, MEM_END: self._mem_end,
            SPI_SET_PARAMS: self._spi_set_params, SPI_ATTACH: self._spi_attach,
            CHANGE_BAUDRATE: self._change_baud,
            FLASH_BEGIN: self._flash_begin, FLASH_DATA: self._flash_data,
            FLASH_END: self._flash_end,
            FLASH_DEFL_BEGIN: self._flash_begin, FLASH_DEFL_DATA: self._flash_data,
            FLASH_DEFL_END: self._flash_end,
            SPI_FLASH_MD5: self._md5, GET_SECURITY_INFO: self._security_info,
        }
        if self.mode == "rom":
            common[READ_FLASH_SLOW] = self._read_flash_slow
        else:
            common.update({ERASE_FLASH: self._erase_flash, ERASE_REGION: self._erase_region,
                           READ_FLASH: self._read_flash, RUN_USER_CODE: self._run_user_code})
        return common

    @staticmethod
    def _ok(value: int = 0, body: bytes = b"", after: Any = None):
        return value, body, after

    def _words(self, data: bytes, n: int) -> tuple[int, ...]:
        if len(data) != 4 * n:
            raise _Refuse("length")
        return struct.unpack_from(f"<{n}I", data)

    def _sync(self, data: bytes, chk: int):
        if data != SYNC_PAYLOAD:
            return None  # not a sync pattern: the ROM stays silent
        value = 0 if self.mode == "stub" else ROM_SYNC_VALUE
        for _ in range(8):  # the ROM answers every sync it sees while auto-bauding
            self._reply(SYNC, value)
        self.events.append("sync")
        return None

    # registers

    def read_reg(self, addr: int) -> int:
        if addr == UART_CLKDIV_REG[self.model.name]:
            return uart_clkdiv(self.baud or 115200)
        return self.regs.get(addr, 0)

    def _read_reg_cmd(self, data: bytes, chk: int):
        (addr,) = self._words(data, 1)
        return self._ok(self.read_reg(addr))

    def _write_reg_cmd(self, data: bytes, chk: int):
        if not data or len(data) % 16:
            raise _Refuse("length")
        for i in range(0, len(data), 16):
            addr, value, mask, _delay = struct.unpack_from("<IIII", data, i)
            self.regs[addr] = (self.regs.get(addr, 0) & ~mask | value & mask) & 0xFFFFFFFF
            if addr == self.model.spi_base and self.regs[addr] & SPI_CMD_USR:
                self._spi_user_command()
        return self._ok()

    def _spi_user_command(self) -> None:
        """Run the SPI0 'user command' esptool set up, the way the flash chip would answer."""
        m, regs = self.model, self.regs
        base = m.spi_base
        command = regs.get(base + m.spi_usr2, 0) & 0xFF
        miso = regs.get(base + m.spi_usr, 0) & (1 << 28)
        bits = (regs.get(base + m.spi_miso_dlen, 0) + 1) if miso else 0
        result = regs.get(base + m.spi_w0, 0)
        if command == 0x9F:  # RDID
            result = self.flash_id
        elif command in (0x05, 0x35, 0x15):  # RDSR 1/2/3: not busy, no protection
            result = 0
        elif command == 0x5A:  # RDSFDP
            addr = regs.get(base + 0x04, 0)
            if m.spi_addr_msb:
                addr >>= 8
            table = b"SFDP\x06\x01\x00\xff\x00\x06\x01\x10\x30\x00\x00\xff"
            chunk = (table[addr:addr + 4] if addr < len(table) else b"") + b"\xff" * 4
            result = int.from_bytes(chunk[:4], "little")
        if 0 < bits < 32:
            result &= (1 << bits) - 1
        regs[base + m.spi_w0] = result
        regs[base] &= ~SPI_CMD_USR  # done at once

    def _security_info(self, data: bytes, chk: int):
        if self.model.chip_id is None:
            raise _Refuse("command")  # the ESP32 ROM has no GET_SECURITY_INFO
        if data:
            raise _Refuse("length")
        return self._ok(0, struct.pack("<IBBBBBBBBII", 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                       self.model.chip_id, 0))

    # RAM download and the stub

    def _mem_begin(self, data: bytes, chk: int):
        size, blocks, blocksize, offset = self._words(data, 4)
        self._mem = (offset, blocks, blocksize)
        return self._ok()

    def _block(self, data: bytes, chk: int) -> tuple[int, bytes]:
        if len(data) < 16:
            raise _Refuse("length")
        length, seq, _, _ = struct.unpack_from("<IIII", data)
        payload = data[16:]
        if len(payload) != length:
            raise _Refuse("length")
        if _checksum(payload) != chk & 0xFF:
            raise _Refuse("checksum")
        return seq, payload

    def _mem_data(self, data: bytes, chk: int):
        seq, payload = self._block(data, chk)
        if self._mem is None:
            raise _Refuse("not-in-flash-mode")
        offset, blocks, blocksize = self._mem
        if seq >= blocks or len(payload) > blocksize:
            raise _Refuse("blocksize")
        self._ram.append((offset + seq * blocksize, payload))
        return self._ok()

    def _mem_end(self, data: bytes, chk: int):
        stay, entry = self._words(data, 2)
        self._mem = None
        if stay:
            return self._ok()
        loaded = any(addr <= entry < addr + len(code) for addr, code in self._ram)
        return self._ok(after=self._start_stub if loaded else self._crash)

    def _start_stub(self) -> None:
        self.mode = "stub"
        self._ram.clear()
        self._send(b"OHAI")
        self.events.append("stub")

    def _crash(self) -> None:
        self.mode = "app"  # jumped into nothing: silent until reset
        self.events.append("crashed")

    def _run_user_code(self, data: bytes, chk: int):
        self.mode = "app"
        self.events.append("app")
        return None

    def _spi_set_params(self, data: bytes, chk: int):
        self._words(data, 6)
        return self._ok()

    def _spi_attach(self, data: bytes, chk: int):
        self._words(data, 2 if self.mode == "rom" else 1)  # the ROM takes an is-legacy word
        return self._ok()

    def _change_baud(self, data: bytes, chk: int):
        new, _old = self._words(data, 2)

        def switch() -> None:
            self.baud = new
            self.events.append(f"baud {new}")
        return self._ok(after=switch)

    # flash

    def _flash_begin(self, data: bytes, chk: int):
        # The ESP32 ROM takes 4 words; the ESP32-S3 ROM and the stubs add an "encrypted" word.
        words = 4 if self.mode == "rom" and self.model.chip_id is None else 5
        size, _blocks, blocksize, offset = self._words(data, words)[:4]
        compressed = self._current_op == FLASH_DEFL_BEGIN
        if size:
            self.flash.erase(offset, size)  # the ROM erases up front; the stub as it goes
        self._session = FlashSession(compressed=compressed, offset=offset, size=size,
                                      blocksize=blocksize, pos=offset,
                                      inflater=zlib.decompressobj() if compressed else None)
        self._corrupt_pending = self.faults.corrupt_write and size > 0
        return self._ok()

    def _flash_data(self, data: bytes, chk: int):
        seq, payload = self._block(data, chk)
        s = self._session
        if s is None or s.compressed != (self._current_op == FLASH_DEFL_DATA):
            raise _Refuse("not-in-flash-mode")
        if seq != s.next_seq:
            raise _Refuse("blocksize")
        self._blocks += 1
        if self.faults.drop_after_blocks is not None and not self._dropped and \
                self._blocks >= self.faults.drop_after_blocks:
            self._drop()
        if s.compressed:
            try:
                out = s.inflater.decompress(payload)
            except zlib.error:
                raise _Refuse("inflate") from None
            addr = s.pos
            if self.mode == "stub" and addr + len(out) - s.offset > s.size:
                raise _Refuse("too-much")
            s.pos += len(out)
        else:
            addr, out = s.offset + seq * s.blocksize, payload
            end = self.flash.size
            if addr + len(out) > end and not out[max(end - addr, 0):].strip(b"\xff"):
                out = out[:max(end - addr, 0)]  # padding past the end of flash
        self.flash.program(addr, out)
        if self._corrupt_pending and out:
            self.flash.flip_bit(addr + len(out) // 2)
            self._corrupt_pending = False
            self.events.append("corrupted")
        s.next_seq += 1
        return self._ok()

    def _flash_end(self, data: bytes, chk: int):
        (stay,) = self._words(data, 1)
        s = self._session
        if s is not None and s.compressed and s.next_seq and not s.inflater.eof:
            raise _Refuse("not-enough")
        self._session = None
        if stay:
            if self.mode == "rom":
                return self._ok(after=self._user_code)
            return self._ok()
        return self._ok(after=self._reboot)

    def _user_code(self) -> None:
        self.mode = "app"
        self.events.append("app")

    def _reboot(self) -> None:
        self._reset_state()
        self.events.append("reset")

    def _md5(self, data: bytes, chk: int):
        addr, size, _, _ = self._words(data, 4)
        digest = self.flash.md5(addr, size)
        return self._ok(0, digest if self.mode == "stub" else digest.hex().encode())

    def _read_flash_slow(self, data: bytes, chk: int):
        offset, length = self._words(data, 2)
        if length > ROM_READ_BLOCK:
            raise _Refuse("range")
        block = self.flash.read(offset, length)  # FlashError past the end -> range error
        return self._ok(0, block.ljust(ROM_READ_BLOCK, b"\xff"))  # always a 64-byte buffer

    def _erase_flash(self, data: bytes, chk: int):
        if data:
            raise _Refuse("length")
        self.flash.erase(0, self.flash.size)
        return self._ok()

    def _erase_region(self, data: bytes, chk: int):
        offset, size = self._words(data, 2)
        if offset % 0x1000 or size % 0x1000:
            raise _Refuse("length")
        self.flash.erase(offset, size)
        return self._ok()

    def _read_flash(self, data: bytes, chk: int):
        offset, length, blocksize, inflight = self._words(data, 4)
        self.flash.read(offset, length)  # range check before saying yes
        self._reply(READ_FLASH)
        digest = hashlib.md5()
        sent = acked = 0
        window = max(blocksize, 1) * max(inflight, 1)
        while acked < length:
            while sent < length and sent - acked < window:
                chunk = self.flash.read(offset + sent, min(blocksize, length - sent))
                self._send(chunk)
                digest.update(chunk)
                sent += len(chunk)
            ack = self._next_frame(ACK_TIMEOUT)
            if ack is None or len(ack) != 4:
                return None  # the host gave up: the stub goes back to waiting for commands
            acked = struct.unpack("<I", ack)[0]
        self._send(digest.digest())
        return None
