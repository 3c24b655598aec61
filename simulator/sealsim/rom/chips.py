"""What a simulated ESP32 or ESP32-S3 shows the serial bootloader's host through registers.

esptool identifies a chip and reads its identity with READ_REG, so each model here is a
register map: the chip-detect word in ROM, the eFuse words holding the factory MAC, package
and revision, a few clock and strapping registers, and where the SPI0 flash controller sits
(esptool runs RDID through it to learn the flash chip and its size).

    ESP32     GET_SECURITY_INFO unsupported; 0x40001000 reads 0x00F01D83; eFuse at 0x3FF5A000
              (word 1 = MAC[2:6], word 2 low half = MAC[0:2]); SPI0 at 0x3FF42000, W0 +0x80
    ESP32-S3  GET_SECURITY_INFO answers chip id 9; eFuse BLOCK1 at 0x60007044 (word 0 =
              MAC[2:6], word 1 low half = MAC[0:2]); SPI0 at 0x60002000, W0 +0x58

Every value is derived from the device id, so two simulated boards never share a MAC.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

CHIP_DETECT_MAGIC_REG = 0x40001000
ESPRESSIF_OUI = bytes((0x24, 0x0A, 0xC4))
SPI_CMD_USR = 1 << 18
# JEDEC RDID of a Winbond W25Q-series flash: manufacturer EF, type 40, capacity 2^n bytes.
_JEDEC_CAPACITY = {2 << 20: 0x15, 4 << 20: 0x16, 8 << 20: 0x17, 16 << 20: 0x18}


@dataclass(frozen=True)
class ChipModel:
    name: str  # board-file spelling: "esp32", "esp32s3"
    display: str  # esptool's CHIP_NAME
    chip_id: int | None  # GET_SECURITY_INFO chip id; None: command unsupported (ESP32)
    magic: int  # what 0x40001000 reads
    spi_base: int
    spi_usr: int
    spi_usr2: int
    spi_miso_dlen: int
    spi_w0: int
    spi_addr_msb: bool


ESP32 = ChipModel(name="esp32", display="ESP32", chip_id=None, magic=0x00F01D83,
                  spi_base=0x3FF42000, spi_usr=0x1C, spi_usr2=0x24, spi_miso_dlen=0x2C,
                  spi_w0=0x80, spi_addr_msb=True)
ESP32S3 = ChipModel(name="esp32s3", display="ESP32-S3", chip_id=9, magic=0x00000009,
                    spi_base=0x60002000, spi_usr=0x18, spi_usr2=0x20, spi_miso_dlen=0x28,
                    spi_w0=0x58, spi_addr_msb=False)
MODELS = {m.name: m for m in (ESP32, ESP32S3)}
# The model a chip with the "wrong model" fault answers as.
OTHER_MODEL = {"esp32": ESP32S3, "esp32s3": ESP32}

ROM_CRYSTAL_HZ = 40_000_000


def derive_mac(chip: str, device_id: str) -> bytes:
    """A stable, unicast, Espressif-OUI MAC for this simulated device."""
    digest = hashlib.sha256(f"sealsim-efuse-mac:{chip}:{device_id}".encode()).digest()
    return ESPRESSIF_OUI + digest[:3]


def jedec_id(flash_size: int) -> int:
    """RDID as esptool reads it from W0: manufacturer | type << 8 | capacity << 16."""
    try:
        capacity = _JEDEC_CAPACITY[flash_size]
    except KeyError:
        raise ValueError(f"no simulated SPI flash part of {flash_size} bytes") from None
    return 0xEF | (0x40 << 8) | (capacity << 16)


def initial_registers(model: ChipModel, mac: bytes) -> dict[int, int]:
    """Register values at reset (anything not listed reads 0)."""
    hi = int.from_bytes(mac[0:2], "big")
    lo = int.from_bytes(mac[2:6], "big")
    regs = {CHIP_DETECT_MAGIC_REG: model.magic}
    if model is ESP32:
        efuse = 0x3FF5A000
        regs.update({
            efuse + 4 * 1: lo,
            efuse + 4 * 2: hi,
            # word 3: package 1 (ESP32-D0WD-V3) in bits 9-11, revision bit 0 in bit 15
            efuse + 4 * 3: (1 << 9) | (1 << 15),
            # word 4: the 8 MHz oscillator calibration the ROM's crystal estimate uses
            efuse + 4 * 4: 100,
            # word 5: revision bit 1 (bit 20), minor revision 1 (bits 24-25) -> v3.1
            efuse + 4 * 5: (1 << 20) | (1 << 24),
            0x3FF6607C: 1 << 31,  # APB_CTL_DATE: revision bit 2
            # RTC calibration: 1024 * 15625 * 100 / 40 = 40 MHz crystal, exactly
            0x3FF5F06C: 1024 << 7,
            0x3FF44038: 0x13,  # GPIO_STRAP: GPIO0 low, download boot
        })
    else:
        block1 = 0x60007044
        regs.update({
            block1 + 4 * 0: lo,
            block1 + 4 * 1: hi,
            # word 3: minor revision 2 (bits 18-20), block version minor 1 (bits 24-26)
            block1 + 4 * 3: (2 << 18) | (1 << 24),
            # word 4: in-package PSRAM 8 MB (cap 1, bits 3-4), vendor AP 1.8 V (bits 7-8)
            block1 + 4 * 4: (1 << 3) | (2 << 7),
            0x6000706C: 1,  # BLOCK2 word 4: block version major 1
            0x60004038: 0x0,  # GPIO_STRAP: SPI boot bit clear -> download mode
        })
    return regs


def uart_clkdiv(baud: int) -> int:
    """UART_CLKDIV integer part for a 40 MHz APB clock at this baud rate."""
    return ROM_CRYSTAL_HZ // max(baud, 1)


UART_CLKDIV_REG = {"esp32": 0x3FF40014, "esp32s3": 0x60000014}
