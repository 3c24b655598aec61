"""esptool writes, verifies, reads and erases the simulated flash byte for byte."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys

import pytest
from rom_helpers import (
    ESP32_BOARD,
    ESPTOOL_TIMEOUT,
    S3_BOARD,
    compressible,
    esptool,
    flash_bytes,
    ok,
    output,
)

from sealscan.boards import load_board
from sealsim.rom.images import bootloader_offset, release_image

ADDR = 0x20000


@pytest.mark.parametrize("baud", ["115200", "921600"])
@pytest.mark.parametrize("loader", ["stub", "rom"])
@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("board", [ESP32_BOARD, S3_BOARD])
def test_write_flash_lands_byte_identical(chips, tmp_path, board, loader, compress, baud):
    chip = chips(board)
    image = compressible(0x10000 + 0x1234)  # not a multiple of a block: padding is exercised
    path = tmp_path / "image.bin"
    path.write_bytes(image)
    args = ["-b", baud] + (["--no-stub"] if loader == "rom" else [])
    args += ["write-flash", "--compress" if compress else "--no-compress", hex(ADDR), str(path)]
    text = ok(esptool(chip.port, *args))
    assert "Hash of data verified." in text
    assert ("compressed)" in text) == compress  # the deflate path really ran
    assert flash_bytes(chip, ADDR, len(image)) == image
    # NOR erase works in whole sectors: the rest of the last sector is erased, not stale.
    end = ADDR + len(image)
    assert flash_bytes(chip, end, -end % 0x1000) == b"\xff" * (-end % 0x1000)
    assert ("stub" in chip.events) == (loader == "stub")
    assert (f"baud {baud}" in chip.events) == (baud == "921600")
    assert "garbled" not in chip.events


@pytest.mark.parametrize("loader", [[], ["--no-stub"]])
def test_verify_flash_matches_and_detects_a_difference(chips, tmp_path, loader):
    chip = chips(S3_BOARD)
    image = compressible(0x8000, seed=3)
    path = tmp_path / "image.bin"
    path.write_bytes(image)
    ok(esptool(chip.port, "write-flash", hex(ADDR), str(path)))
    assert "verification successful" in ok(esptool(chip.port, *loader, "verify-flash",
                                                    hex(ADDR), str(path))).lower()
    path.write_bytes(image[:100] + bytes([image[100] ^ 1]) + image[101:])
    result = esptool(chip.port, *loader, "verify-flash", "--diff", hex(ADDR), str(path))
    assert result.returncode != 0
    assert "Verification failed" in output(result)
    assert f"{ADDR + 100:#010x}" in output(result)  # esptool's diff names the byte


@pytest.mark.parametrize("loader, size", [([], 0x10000), (["--no-stub"], 0x2000)])
def test_read_flash_returns_what_is_in_flash(chips, tmp_path, loader, size):
    chip = chips(ESP32_BOARD)
    data = compressible(size, seed=11)
    with open(chip.flash_path, "r+b") as f:  # put something there behind esptool's back
        f.seek(0x3000)
        f.write(data)
    out = tmp_path / "read.bin"
    ok(esptool(chip.port, *loader, "read-flash", "0x3000", hex(size), str(out)))
    assert out.read_bytes() == data


def test_erase_flash_and_erase_region(chips, tmp_path):
    chip = chips(ESP32_BOARD)
    data = compressible(0x6000, seed=5)
    path = tmp_path / "image.bin"
    path.write_bytes(data)
    ok(esptool(chip.port, "write-flash", "0x10000", str(path)))
    ok(esptool(chip.port, "erase-region", "0x11000", "0x2000"))
    assert flash_bytes(chip, 0x11000, 0x2000) == b"\xff" * 0x2000
    assert flash_bytes(chip, 0x10000, 0x1000) == data[:0x1000]
    assert flash_bytes(chip, 0x13000, 0x3000) == data[0x3000:]
    unaligned = esptool(chip.port, "erase-region", "0x11001", "0x1000")
    assert unaligned.returncode != 0 and "multiple of" in output(unaligned)
    # The ESP32 ROM cannot erase; esptool refuses without the stub.
    rom = esptool(chip.port, "--no-stub", "erase-flash")
    assert rom.returncode != 0 and "does not support function erase_flash" in output(rom)
    ok(esptool(chip.port, "erase-flash"))
    assert chip.flash_path.read_bytes() == b"\xff" * (4 << 20)


@pytest.mark.parametrize("board", [ESP32_BOARD, S3_BOARD])
def test_micropython_style_release_reads_back_identically(chips, tmp_path, board):
    spec = load_board(board)
    assert spec.flash_offset == bootloader_offset(spec.chip)
    chip = chips(board)
    image = release_image(spec.chip, flash_size=spec.flash_size)
    path = tmp_path / spec.image
    path.write_bytes(image)
    ok(esptool(chip.port, "-b", "921600", "write-flash", hex(spec.flash_offset), str(path)))
    back = tmp_path / "back.bin"
    ok(esptool(chip.port, "-b", "921600", "read-flash", hex(spec.flash_offset),
               hex(len(image)), str(back)))
    assert back.read_bytes() == image
    assert flash_bytes(chip, spec.flash_offset, len(image)) == image
    # The partition table sits at 0x8000 and the app at 0x10000, as in a release.
    assert flash_bytes(chip, 0x8000, 2) == b"\xaa\x50"
    assert flash_bytes(chip, 0x10000, 1) == b"\xe9"


def _bootloader_length(image: bytes, chip: str) -> int:
    """Bytes of the bootloader covered by its appended SHA-256 (esptool's own parser)."""
    from esptool.targets import CHIP_DEFS

    return CHIP_DEFS[chip].BOOTLOADER_IMAGE(io.BytesIO(image)).data_length


@pytest.mark.parametrize("board, detected", [(ESP32_BOARD, 0x20), (S3_BOARD, 0x30)])
def test_header_rewrite_behaves_as_on_a_real_chip(chips, tmp_path, board, detected):
    spec = load_board(board)
    chip = chips(board)
    image = release_image(spec.chip, flash_size=spec.flash_size)
    n = _bootloader_length(image, spec.chip)
    path = tmp_path / "release.bin"
    path.write_bytes(image)
    offset = hex(spec.flash_offset)
    assert image[2:4] == b"\x02\x20"  # DIO, 4MB, 40 MHz as built

    # QIO (0), 2MB (0x10), 80 MHz (0xF): exactly bytes 2-3 change, and the SHA-256 after
    # the bootloader is recomputed over the new header; nothing else moves.
    ok(esptool(chip.port, "write-flash", "--flash-mode", "qio", "--flash-size", "2MB",
               "--flash-freq", "80m", offset, str(path)))
    flashed = flash_bytes(chip, spec.flash_offset, len(image))
    assert flashed[2:4] == b"\x00\x1f"
    assert flashed[n:n + 32] == hashlib.sha256(flashed[:n]).digest() != image[n:n + 32]
    changed = [i for i in range(len(image)) if flashed[i] != image[i]]
    assert set(changed) <= {2, 3, *range(n, n + 32)}
    boot = tmp_path / "bootloader-as-flashed.bin"
    boot.write_bytes(flashed[:n + 32])
    info = subprocess.run([sys.executable, "-m", "esptool", "--chip", spec.chip,
                           "image-info", str(boot)], capture_output=True, text=True,
                          timeout=ESPTOOL_TIMEOUT)
    assert "Flash mode: QIO" in info.stdout and "Flash size: 2MB" in info.stdout
    assert "Validation hash" in info.stdout and "invalid" not in info.stdout.lower()

    # "detect" sizes from the flash chip's RDID answer.
    ok(esptool(chip.port, "write-flash", "--flash-size", "detect", offset, str(path)))
    assert flash_bytes(chip, spec.flash_offset + 3, 1)[0] == detected  # 40 MHz kept

    # "keep" (the default) leaves the image alone.
    ok(esptool(chip.port, "write-flash", offset, str(path)))
    assert flash_bytes(chip, spec.flash_offset, len(image)) == image

    # Away from the bootloader offset the header is data: never rewritten.
    ok(esptool(chip.port, "write-flash", "--flash-mode", "qio", "0x100000", str(path)))
    assert flash_bytes(chip, 0x100000, len(image)) == image


def test_two_devices_flashed_at_once_keep_separate_images(chips, tmp_path):
    a, b = chips(ESP32_BOARD, "dev-a"), chips(ESP32_BOARD, "dev-b")
    images = {}
    procs = []
    for chip, seed in ((a, 1), (b, 2)):
        image = compressible(0x18000, seed=seed)
        path = tmp_path / f"{chip.device_id}.bin"
        path.write_bytes(image)
        images[chip.device_id] = image
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "esptool", "--port", chip.port, "--before", "no-reset",
             "-b", "921600", "write-flash", "0x10000", str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for proc in procs:
        out, _ = proc.communicate(timeout=ESPTOOL_TIMEOUT)
        assert proc.returncode == 0, out
    for chip in (a, b):
        assert flash_bytes(chip, 0x10000, 0x18000) == images[chip.device_id]
    assert a.flash_path != b.flash_path
