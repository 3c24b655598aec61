"""A simulated ESP32 / ESP32-S3 serial bootloader on a pty: the ROM and the flasher stub.

The host side is the unmodified esptool. `SimulatedChip` is one board's chip, in parts:

    sealsim/rom/port.py      the USB serial port: pty, auto-baud, SLIP, unplug and replug
    sealsim/rom/commands.py  the ROM and flasher-stub command set
    sealsim/rom/chips.py     the chip as data: models, registers, eFuse MAC, flash ids
    sealsim/rom/flash.py     the flash chip: `<state>/flash.bin`
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from pathlib import Path

from sealscan.boards import Board, load_board
from sealsim.rom import slip
from sealsim.rom.chips import MODELS, OTHER_MODEL, derive_mac, initial_registers, jedec_id
from sealsim.rom.commands import FlashSession, Loader
from sealsim.rom.flash import Flash, FlashError
from sealsim.rom.port import UsbPort


@dataclass(frozen=True)
class Faults:
    """Faults a simulated chip can be told to have.

    corrupt_write: the first block of every flash write reads back with one bit flipped, so
        esptool's MD5 verification must catch it.
    drop_after_blocks: after this many flash data blocks (counted from start) the USB serial
        port disappears (the pty is hung up and removed, and the link with it), as when a
        cable is pulled. Give the chip a `link` and the host that link: a bare /dev/pts/N
        number can be handed to another program's pty as soon as it is free.
    replug_after: with drop_after_blocks, the port comes back this many seconds later as a
        new pty behind the same link path (as udev's /dev/serial/by-id names do), and the
        chip, power-cycled by the unplug, is back in its ROM. Needs `link`.
    wrong_model: the chip answers as the other model (an ESP32 board answers as ESP32-S3
        and vice versa), so a flasher that checks the chip must refuse.
    """

    corrupt_write: bool = False
    drop_after_blocks: int | None = None
    replug_after: float | None = None
    wrong_model: bool = False


class RomSimError(Exception):
    """The simulated chip cannot start (bad board, flash file of the wrong size, ...)."""


class SimulatedChip(UsbPort, Loader):
    """One simulated board's serial bootloader. `start()` returns the pty path to give esptool.

        chip = SimulatedChip("esp32-devkitc-gm65", state_dir)
        port = chip.start()      # /dev/pts/N
        ...                      # esptool --port {port} --before no-reset ...
        chip.stop()

    `device_id` (default: the state directory's name) is the chip's identity: its MAC and
    eFuse words derive from it. With `link`, a symlink at that path points at the current
    pty and `port` is the link (a stable name across an unplug, like /dev/serial/by-id).
    `events` records what happened ("sync", "stub", "baud N", "reset", "corrupted",
    "dropped", "replugged", "garbled") for tests and the console entry.
    """

    def __init__(self, board: Board | str | Path, state_dir: Path | str, *,
                 device_id: str | None = None, faults: Faults | None = None,
                 link: Path | str | None = None):
        try:
            self.board = board if isinstance(board, Board) else load_board(str(board))
        except ValueError as e:  # BoardError is a ValueError with a one-line message
            raise RomSimError(str(e)) from None
        self.state_dir = Path(state_dir)
        self.device_id = device_id or self.state_dir.resolve().name
        self.faults = faults or Faults()
        self.link = Path(link) if link is not None else None
        if self.faults.replug_after is not None and self.link is None:
            raise RomSimError("replug_after needs a link path for the host to find the port")
        chip = self.board.chip
        if chip not in MODELS:
            raise RomSimError(f"no simulated bootloader for chip {chip!r}")
        self.model = OTHER_MODEL[chip] if self.faults.wrong_model else MODELS[chip]
        self.mac = derive_mac(chip, self.device_id)
        self.flash_id = jedec_id(self.board.flash_size)
        self.flash_path = self.state_dir / "flash.bin"
        try:
            self.flash = Flash(self.flash_path, self.board.flash_size)
        except (FlashError, OSError) as e:
            raise RomSimError(str(e)) from None
        self.events: list[str] = []
        self.port: str | None = None
        self.error: BaseException | None = None
        self._master = -1
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._decoder = slip.Decoder()
        self._frames: collections.deque[bytes] = collections.deque()
        self._blocks = 0
        self._dropped = False
        self._host_present = False
        self._current_op = 0
        self._reset_state()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        self._plug_in()
        self._thread = threading.Thread(target=self._run, name=f"rom-{self.device_id}",
                                        daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._close_master()
        if self.link is not None and self.link.is_symlink():
            self.link.unlink()
        self.flash.close()

    def __enter__(self) -> SimulatedChip:
        if self.port is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def mac_text(self) -> str:
        return ":".join(f"{b:02x}" for b in self.mac)

    def _reset_state(self) -> None:
        """Power-on / reset into the ROM download mode."""
        self.mode = "rom"  # "rom", "stub", or "app" (user code running: no SLIP)
        self.baud: int | None = None  # locked on at the first byte (ROM auto-baud)
        self.regs = initial_registers(self.model, self.mac)
        self._mem: tuple[int, int, int] | None = None  # (offset, blocks, blocksize)
        self._ram: list[tuple[int, bytes]] = []
        self._session: FlashSession | None = None
        self._corrupt_pending = False
        self._decoder.reset()
        self._frames.clear()
