"""A scanner's whole SPI flash as one image (`flash.bin`, or a dump read through the ROM
bootloader), in the formats a MicroPython ESP32 release puts there:

    board offset   bootloader (ESP image)              appimage: esptool's image code
    0x8000         partition table (AA 50 rows, MD5)    layout: esp-idf-defs (gen_esp32part)
    nvs            ESP-IDF NVS pages                    nvs: reader (erased entries too), writer
    factory        MicroPython app (ESP image)          appimage
    vfs            LittleFS v2, 4 KiB blocks            lfs: littlefs-python, MicroPython's mkfs
                   (0x200000 to the end: main.c registers it; the table has no row for it)

Every malformed input raises `FlashImageError` (str() is one line; the CLI exits 3).
"""

from __future__ import annotations

from sealscan.errors import EXIT_INPUT, SealscanError


class FlashImageError(SealscanError):
    """A flash image or one of its parts cannot be read. str() is one line."""

    exit_code = EXIT_INPUT
