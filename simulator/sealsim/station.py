"""A simulated depot station for `sealscan stage`: scanners plugged in at once, each a ROM
bootloader (what esptool talks to) and a MicroPython console (what deploy/provision talk to)
over one `flash.bin`, with stable by-id style link names for the bootloader port.

On a real board both are one USB serial port: esptool resets the chip into its ROM, and its
hard reset after writing boots MicroPython from what was written. The simulator has one pty
each, so a scanner's port for `sealscan stage --port` is `FLASH+CONSOLE` (`SimScanner.spec`),
and the board's reset is modelled here: when a flasher stub session on the ROM port ends (the
host let go of the port), the console side reboots from the flash.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sealscan.boards import load_board
from sealsim.device import Device
from sealsim.rom import Faults, SimulatedChip
from sealsim.rom.images import release_image


@dataclass
class SimScanner:
    chip: SimulatedChip
    device: Device
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def spec(self) -> str:
        assert self.chip.port is not None
        return f"{self.chip.port}+{self.device.port}"

    def replug(self, chip: SimulatedChip) -> None:
        """The same board on a new ROM (e.g. a cable plugged back in, without the fault)."""
        self.chip.stop()
        self.chip = chip
        chip.start()

    def watch(self) -> None:
        """Reboot the console side after each stub session on the ROM port (the hard reset
        that follows esptool's write)."""
        chip, seen, stub = self.chip, 0, False
        while not self._stop.wait(0.05):
            if self.chip is not chip:  # plugged in again: a new chip, its own events
                chip, seen, stub = self.chip, 0, False
            events = chip.events
            for e in events[seen:len(events)]:
                if e == "stub":
                    stub = True
                elif e == "reset" and stub:
                    stub = False
                    self.device.reboot()
            seen = len(events)

    def close(self) -> None:
        self._stop.set()
        self.chip.stop()
        self.device.close()


def scanner(board: str, state: Path, *, name: str, link_dir: Path,
            faults: Faults | None = None, pace: bool = True) -> SimScanner:
    """A scanner fresh from the box (MicroPython, nothing of ours), plugged in."""
    b = load_board(board)
    state.mkdir(parents=True, exist_ok=True)
    link_dir.mkdir(parents=True, exist_ok=True)
    dev = Device(b, state, name=name)  # first: a new flash.bin gets the factory's release
    dev.deploy({"board.json": b.device_config_json(), "boot.py": "# default\n"})
    dev.start()
    chip = SimulatedChip(b, state, device_id=name, faults=faults,
                         link=link_dir / f"usb-sealsim_{name}-if00-port0", pace=pace)
    chip.start()
    sc = SimScanner(chip, dev)
    threading.Thread(target=sc.watch, name=f"station-{name}", daemon=True).start()
    return sc


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
