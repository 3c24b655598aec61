"""Simulated ESP32 / ESP32-S3 serial ROM bootloader (and esptool flasher stub) on a pty.

    from sealsim.rom import SimulatedChip, Faults
    with SimulatedChip("esp32-devkitc-gm65", state_dir) as chip:
        subprocess.run([sys.executable, "-m", "esptool", "--port", chip.port,
                        "--before", "no-reset", "flash-id"], timeout=60)

The flash lives in `<state>/flash.bin` (the board's flash size). `python -m sealsim.rom
--board B --state DIR` runs one for people and prints the port.
"""

from sealsim.rom.chip import Faults, RomSimError, SimulatedChip
from sealsim.rom.flash import Flash, FlashError

__all__ = ["Faults", "Flash", "FlashError", "RomSimError", "SimulatedChip", "start"]


def start(board, state_dir, **kwargs) -> SimulatedChip:
    """Start a simulated chip; its pty path is `.port`. Call `.stop()` when done."""
    chip = SimulatedChip(board, state_dir, **kwargs)
    chip.start()
    return chip
