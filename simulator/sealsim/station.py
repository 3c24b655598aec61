"""A simulated depot station for `sealscan stage`: scanners plugged in at once, each a ROM
bootloader (what esptool talks to) and a MicroPython console (what deploy/provision talk to)
over one state directory, with stable by-id style link names for the bootloader port.

On a real board both are one USB serial port (esptool resets the chip into its ROM, a hard
reset brings MicroPython back); the simulator has one pty each, so a scanner's port for
`sealscan stage --port` is `FLASH+CONSOLE` (`SimScanner.spec`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sealscan.boards import load_board
from sealsim.device import Device
from sealsim.rom import Faults, SimulatedChip
from sealsim.rom.images import release_image

# The app's TLS context on the unix port comes from the MicroPython heap (sealsim.endtoend
# explains the allowance); a scanner at the depot runs the staging test record through it.
TLS_HEAP_BYTES = 40 * 1024


@dataclass
class SimScanner:
    chip: SimulatedChip
    device: Device

    @property
    def spec(self) -> str:
        assert self.chip.port is not None
        return f"{self.chip.port}+{self.device.port}"

    def close(self) -> None:
        self.chip.stop()
        self.device.close()


def scanner(board: str, state: Path, *, name: str, link_dir: Path,
            faults: Faults | None = None, pace: bool = True) -> SimScanner:
    """A scanner fresh from the box (MicroPython, nothing of ours), plugged in."""
    b = load_board(board)
    state.mkdir(parents=True, exist_ok=True)
    link_dir.mkdir(parents=True, exist_ok=True)
    chip = SimulatedChip(b, state, device_id=name, faults=faults,
                         link=link_dir / f"usb-sealsim_{name}-if00-port0", pace=pace)
    dev = Device(b, state, name=name)
    dev.deploy({"board.json": b.device_config_json(), "boot.py": "# default\n"})
    dev.heap_bytes += TLS_HEAP_BYTES
    chip.start()
    dev.start()
    return SimScanner(chip, dev)


def release_images(directory: Path, boards: list[str], app_size: int,
                   prefix: str = "") -> dict[str, tuple[Path, str]]:
    """A synthetic release image per board (sealsim.rom.images), written to `directory`:
    board -> (path, sha256), as `sealscan stage --image B=PATH --sha256 B=HEX` wants them."""
    out = {}
    for name in boards:
        board = load_board(name)
        img = release_image(board.chip, flash_size=board.flash_size, app_size=app_size)
        path = Path(directory) / f"{prefix}{name}.bin"
        path.write_bytes(img)
        out[name] = (path, hashlib.sha256(img).hexdigest())
    return out
