"""The simulated SPI NOR flash of one device: `<state>/flash.bin`, memory-mapped.

NOR flash semantics: erase sets whole 4 KiB sectors to FF, programming can only clear bits
(new = old AND data). Writes land in the file at once, so the flash audit and tests see
exactly what the bootloader wrote.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from pathlib import Path

SECTOR = 0x1000


class FlashError(Exception):
    """An access outside the flash, or a flash file that does not fit the board."""


class Flash:
    def __init__(self, path: Path, size: int):
        self.path = Path(path)
        self.size = size
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            with open(self.path, "wb") as f:  # a factory-fresh chip is all FF
                chunk = b"\xff" * (1 << 20)
                for _ in range(size // len(chunk)):
                    f.write(chunk)
                f.write(b"\xff" * (size % len(chunk)))
        actual = self.path.stat().st_size
        if actual != size:
            raise FlashError(f"{self.path}: {actual} bytes, but the board's flash is {size}")
        self._fd = os.open(self.path, os.O_RDWR)
        self._map = mmap.mmap(self._fd, size)

    def close(self) -> None:
        if self._map is not None:
            self._map.flush()
            self._map.close()
            os.close(self._fd)
            self._map = None  # type: ignore[assignment]

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise FlashError(f"{offset:#x}+{length:#x} is outside the {self.size:#x}-byte flash")

    def read(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        return self._map[offset:offset + length]

    def md5(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        return hashlib.md5(memoryview(self._map)[offset:offset + length]).digest()

    def erase(self, offset: int, length: int) -> None:
        """Erase every sector the range touches (as the ROM and the stub do)."""
        start = offset - offset % SECTOR
        end = -(-(offset + length) // SECTOR) * SECTOR
        self._check(start, end - start)
        self._map[start:end] = b"\xff" * (end - start)

    def program(self, offset: int, data: bytes) -> None:
        """Page program: bits can only go from 1 to 0."""
        self._check(offset, len(data))
        old = self._map[offset:offset + len(data)]
        if old != b"\xff" * len(data):
            n = len(data)
            data = (int.from_bytes(old, "little") & int.from_bytes(data, "little")).to_bytes(
                n, "little")
        self._map[offset:offset + len(data)] = data

    def flip_bit(self, offset: int) -> None:
        """Fault injection: a cell that reads back wrong."""
        self._check(offset, 1)
        self._map[offset] ^= 0x10
