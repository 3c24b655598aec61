"""Where things are in a scanner's flash: the partition table, and the `vfs` region that
MicroPython's esp32 `main.c` adds after it.

    0x8000  partition table, parsed by esp-idf-defs (ESP-IDF's gen_esp32part):
            32-byte rows  [AA 50][type u8][subtype u8][offset u32][size u32][label 16][flags u32]
            then an MD5 row [EB EB FF*14][md5 16] and FF to 0xC00
    vfs     ESP32_GENERIC's table (partitions-4MiBplus.csv) has nvs, phy_init and factory only;
            at boot main.c registers "vfs" from the end of the last partition to the end of
            the flash when the table has neither "vfs" nor "ffat". A table with a "vfs" row
            uses that row, as main.c does.
"""

from __future__ import annotations

from dataclasses import dataclass

from esp_idf_defs.partitions import MAX_PARTITION_LENGTH, PARTITION_TABLE_OFFSET, PartitionTable
from esp_idf_defs.partitions import InputError as _TableError

from sealscan.flashimage import FlashImageError

DATA_TYPE = 0x01
APP_TYPE = 0x00
TABLE_OFFSET = PARTITION_TABLE_OFFSET
TABLE_LENGTH = MAX_PARTITION_LENGTH


@dataclass(frozen=True)
class Partition:
    label: str
    type: int
    subtype: int
    offset: int
    size: int
    registered: bool = False  # True: not in the table, added at boot (main.c's vfs)

    @property
    def end(self) -> int:
        return self.offset + self.size

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, "type": self.type, "subtype": self.subtype,
                "offset": self.offset, "size": self.size, "registered": self.registered}


@dataclass(frozen=True)
class FlashLayout:
    flash_size: int
    partitions: tuple[Partition, ...]

    def find(self, label: str) -> Partition | None:
        return next((p for p in self.partitions if p.label == label), None)

    def get(self, label: str) -> Partition:
        part = self.find(label)
        if part is None:
            raise FlashImageError(f"the partition table has no {label!r} partition")
        return part

    @property
    def app(self) -> Partition:
        apps = [p for p in self.partitions if p.type == APP_TYPE]
        if not apps:
            raise FlashImageError("the partition table has no app partition")
        return next((p for p in apps if p.label == "factory"), apps[0])

    def partition_at(self, offset: int) -> Partition | None:
        return next((p for p in self.partitions if p.offset <= offset < p.end), None)


def parse_table(raw: bytes, flash_size: int) -> FlashLayout:
    """The partitions of a table read from 0x8000, plus main.c's vfs. FlashImageError if the
    table is erased, corrupt (magic, MD5, overlaps) or does not fit the flash."""
    if raw[:2] == b"\xff\xff":
        raise FlashImageError(f"no partition table at {TABLE_OFFSET:#x} (erased flash?)")
    try:
        table = PartitionTable.from_binary(bytes(raw[:TABLE_LENGTH]))
        table.verify()
    except (_TableError, UnicodeDecodeError, ValueError) as e:
        raise FlashImageError(f"corrupt partition table at {TABLE_OFFSET:#x}: "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}"
                              ) from None
    if not table:
        raise FlashImageError(f"empty partition table at {TABLE_OFFSET:#x}")
    parts = [Partition(p.name, p.type, p.subtype, p.offset, p.size) for p in table]
    end = max(p.end for p in parts)
    if end > flash_size:
        raise FlashImageError(f"the partition table reaches {end:#x}, past the end of the "
                              f"{flash_size:#x}-byte flash")
    labels = {p.label for p in parts if p.type == DATA_TYPE}
    if not labels & {"vfs", "ffat"} and flash_size > end:
        parts.append(Partition("vfs", DATA_TYPE, 0x81, end, flash_size - end, registered=True))
    return FlashLayout(flash_size, tuple(sorted(parts, key=lambda p: p.offset)))


def read_layout(image: bytes | memoryview, flash_size: int | None = None) -> FlashLayout:
    """The layout of a whole-flash image (its length is the flash size unless given)."""
    size = len(image) if flash_size is None else flash_size
    if len(image) < TABLE_OFFSET + TABLE_LENGTH:
        raise FlashImageError(f"{len(image)} bytes end before the partition table at "
                              f"{TABLE_OFFSET:#x}")
    return parse_table(bytes(image[TABLE_OFFSET:TABLE_OFFSET + TABLE_LENGTH]), size)


def micropython_table() -> bytes:
    """ESP32_GENERIC v1.28.0's partition table as the build writes it (partitions-4MiBplus.csv:
    nvs 0x9000/0x6000, phy_init 0xF000/0x1000, factory 0x10000/0x1F0000; no vfs row)."""
    csv = ("nvs,      data, nvs,     0x9000,  0x6000,\n"
           "phy_init, data, phy,     0xf000,  0x1000,\n"
           "factory,  app,  factory, 0x10000, 0x1F0000,\n")
    return bytes(PartitionTable.from_csv(csv).to_binary())
