"""Synthetic, well-formed firmware images laid out like a MicroPython ESP32 release.

No MicroPython release can be downloaded where the tests run, so this builds one with the
same shape: a merged binary starting at the chip's bootloader offset (0x1000 on the ESP32,
0x0 on the ESP32-S3) holding

    bootloader   ESP image: E9 header, extended header (chip id, SHA-256 appended),
                 two RAM segments, checksum, SHA-256 digest
    0x8000       partition table: 32-byte AA 50 entries (nvs, phy_init, factory), an EB EB
                 MD5 row, FF padding to 3 KiB (sealscan.flashimage.layout.micropython_table)
    0x10000      app: ESP image with a flash-mapped DROM segment, a DRAM and an IRAM segment

Gaps are FF, as `esptool merge-bin` leaves them. The header's flash mode and size/frequency
byte start as DIO / 4MB / 40 MHz, so esptool's header rewrite has something to change.

Image header (8 bytes):  E9 segments:u8 flash_mode:u8 size_freq:u8 entry:u32
Extended header (16):    wp_pin drv drv drv chip_id:u16 min_rev:u8 min_rev_full:u16
                         max_rev_full:u16 reserved[4] hash_appended:u8
Segment:                 load_addr:u32 length:u32 data[length]
"""

from __future__ import annotations

import hashlib
import random
import struct

from sealscan.flashimage.layout import micropython_table

IMAGE_MAGIC = 0xE9
CHECKSUM_SEED = 0xEF
FLASH_MODE_DIO = 2
SIZE_4MB_40M = 0x20
PARTITION_TABLE_OFFSET = 0x8000
APP_OFFSET = 0x10000

# chip -> (bootloader flash offset, image chip id, bootloader segments+entry, app segments)
_LAYOUT = {
    "esp32": dict(offset=0x1000, chip_id=0, boot_entry=0x40080618,
                  boot_segments=(0x3FFF0030, 0x40078000), app_entry=0x400814B4,
                  app_segments=(0x3F400020, 0x3FFB0000, 0x40080000)),
    "esp32s3": dict(offset=0x0, chip_id=9, boot_entry=0x403C98D0,
                    boot_segments=(0x3FCE3808, 0x403C9700), app_entry=0x40375A5C,
                    app_segments=(0x3C020020, 0x3FC92000, 0x40374000)),
}


def bootloader_offset(chip: str) -> int:
    return _LAYOUT[chip]["offset"]


def esp_image(chip_id: int, entry: int, segments: list[tuple[int, bytes]], *,
              flash_mode: int = FLASH_MODE_DIO, size_freq: int = SIZE_4MB_40M,
              hash_appended: bool = True) -> bytes:
    """An ESP32-family application/bootloader image as esptool's elf2image lays it out."""
    out = bytearray(struct.pack("<BBBBI", IMAGE_MAGIC, len(segments), flash_mode, size_freq,
                                entry))
    out += struct.pack("<BBBBHBHH4BB", 0xEE, 0, 0, 0, chip_id, 0, 0, 0xFFFF, 0, 0, 0, 0,
                       1 if hash_appended else 0)
    checksum = CHECKSUM_SEED
    for addr, data in segments:
        if len(data) % 4:
            raise ValueError("segment lengths must be multiples of 4")
        out += struct.pack("<II", addr, len(data)) + data
        for b in data:
            checksum ^= b
    out += b"\x00" * (15 - len(out) % 16)
    out.append(checksum)
    if hash_appended:
        out += hashlib.sha256(out).digest()
    return bytes(out)


def partition_table(flash_size: int) -> bytes:
    """ESP32_GENERIC's table (nvs, phy_init, factory; the vfs region after it is registered
    by MicroPython's main.c at boot). `flash_size` is kept for callers; the table is the same
    for every flash size of 4 MB and more."""
    return micropython_table()


def _payload(rng: random.Random, size: int) -> bytes:
    """Code-like bytes: compressible (as real firmware is) but not trivially so."""
    words = [rng.getrandbits(32).to_bytes(4, "little") for _ in range(64)]
    return b"".join(rng.choice(words) for _ in range(size // 4))


def release_image(chip: str, *, flash_size: int = 4 << 20, app_size: int = 0xC000,
                  seed: int = 1) -> bytes:
    """A merged MicroPython-style release for `chip`, to be written at its bootloader offset."""
    layout = _LAYOUT[chip]
    rng = random.Random(seed)
    dram, iram = layout["boot_segments"]
    boot = esp_image(layout["chip_id"], layout["boot_entry"],
                     [(dram, _payload(rng, 0x600)), (iram, _payload(rng, 0x2400))])
    drom, adram, airam = layout["app_segments"]
    app = esp_image(layout["chip_id"], layout["app_entry"],
                    [(drom, _payload(rng, app_size // 2)), (adram, _payload(rng, 0x400)),
                     (airam, _payload(rng, app_size // 2 - 0x400))])
    base = layout["offset"]
    image = bytearray(b"\xff" * (APP_OFFSET - base))
    image[0:len(boot)] = boot
    table = partition_table(flash_size)
    image[PARTITION_TABLE_OFFSET - base:PARTITION_TABLE_OFFSET - base + len(table)] = table
    return bytes(image + app)
