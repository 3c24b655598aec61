"""Helpers for driving the unmodified esptool against simulated ROM bootloaders."""

from __future__ import annotations

import random
import subprocess
import sys

from sealsim.rom import SimulatedChip

ESP32_BOARD = "esp32-devkitc-gm65"
S3_BOARD = "esp32s3-devkitc-st7789"
ESPTOOL_TIMEOUT = 90  # generous: CI shares 2 cores; a hang still ends here


def esptool(port: str, *args: str, before: str = "no-reset",
            timeout: float = ESPTOOL_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run the real esptool (5.x, dashed commands) against a port, output captured."""
    cmd = [sys.executable, "-m", "esptool", "--port", port, "--before", before, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def ok(result: subprocess.CompletedProcess[str]) -> str:
    text = output(result)
    assert result.returncode == 0, text
    return text


def flash_bytes(chip: SimulatedChip, offset: int, length: int) -> bytes:
    with open(chip.flash_path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def compressible(size: int, seed: int = 7) -> bytes:
    """Firmware-like bytes that zlib shrinks (so esptool really sends deflate blocks)."""
    rng = random.Random(seed)
    words = [rng.getrandbits(32).to_bytes(4, "little") for _ in range(32)]
    return b"".join(rng.choice(words) for _ in range(size // 4))
