"""A simulated scanner's storage is its SPI flash: `<state>/flash.bin`, the board's size, the
one file the ROM bootloader simulator (esptool) and the running device share.

    boot      only a valid image at the board's offset and in `factory` boots (esptool's
              image code, as the ROM and the 2nd-stage bootloader check it); else the device
              stays in the ROM, as an erased ESP32 prints "invalid header"
    nvs       the nvs partition in the ESP-IDF format (sealscan.flashimage.nvs): the esp32.NVS
              shim's set/get/erase land here; a partition the library cannot use is erased,
              as MicroPython's startup does (nvs_flash_init fails -> nvs_flash_erase)
    vfs       LittleFS v2 over the vfs region main.c registers: the interpreter mounts it
              through the esp32.Partition shim (readblocks/writeblocks/ioctl straight on
              flash.bin), formats it at first boot as inisetup.py does; the host reaches it
              here, with littlefs-python, only while the device is off

Writes land in the file at once (mmap / write), so a power cut keeps what was written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sealscan.boards import Board
from sealscan.flashimage import FlashImageError
from sealscan.flashimage import lfs as lfsmod
from sealscan.flashimage.appimage import check_release
from sealscan.flashimage.layout import FlashLayout, read_layout
from sealscan.flashimage.nvs import NvsPartition
from sealsim.rom.flash import Flash
from sealsim.rom.images import release_image


class FlashStore:
    def __init__(self, board: Board, state_dir: Path | str):
        self.board = board
        self.path = Path(state_dir) / "flash.bin"
        self.flash = Flash(self.path, board.flash_size)
        self._nvs: NvsPartition | None = None

    def close(self) -> None:
        self._drop_nvs()
        self.flash.close()

    def forget(self) -> None:
        """Drop what was read from the flash (another writer, esptool, may have changed it)."""
        self._drop_nvs()

    def _drop_nvs(self) -> None:
        if self._nvs is not None:
            self._nvs.buf.release()
            self._nvs = None

    # -- what esptool does --------------------------------------------------------------
    def write_release(self, image: bytes | None = None) -> None:
        """`esptool write-flash OFFSET image` (a synthetic MicroPython release by default):
        the sectors the image covers are erased and written; everything else is kept."""
        data = image if image is not None else release_image(self.board.chip,
                                                             flash_size=self.board.flash_size)
        self.flash.erase(self.board.flash_offset, len(data))
        self._drop_nvs()
        self.flash.program(self.board.flash_offset, data)

    def erase_all(self) -> None:
        """`esptool erase-flash`."""
        self._drop_nvs()
        self.flash.erase(0, self.flash.size)

    # -- boot -----------------------------------------------------------------------------
    def layout(self) -> FlashLayout:
        return read_layout(self.flash.read(0, self.flash.size))

    def boot_problem(self) -> str | None:
        """Why this flash does not boot MicroPython (None if it does)."""
        head = self.flash.read(self.board.flash_offset, 4)
        if head[:1] != b"\xe9":
            return f"invalid header: 0x{int.from_bytes(head, 'little'):08x}"
        try:
            layout = self.layout()
            app = layout.app
            check = check_release(self.board.chip, self.flash.read(0, self.flash.size),
                                  self.board.flash_offset, app.offset, app.size, "unpinned")
            layout.get("vfs")
            layout.get("nvs")
        except FlashImageError as e:
            return str(e)
        broken = [p for p in check.problems if "bootloader" in p]
        return broken[0] if broken else None

    def partitions_env(self) -> str:
        """The partition list for the esp32.Partition shim: label:type:subtype:offset:size,..."""
        return ",".join(f"{p.label}:{p.type}:{p.subtype}:{p.offset}:{p.size}"
                        for p in self.layout().partitions)

    # -- NVS --------------------------------------------------------------------------------
    def nvs(self) -> NvsPartition:
        if self._nvs is None:
            part = self.layout().get("nvs")
            view = memoryview(self.flash._map)[part.offset:part.end]  # noqa: SLF001
            self._nvs = NvsPartition(view)
        return self._nvs

    # -- the filesystem, from the host (device off) --------------------------------------
    @contextmanager
    def filesystem(self, *, format_if_erased: bool = True) -> Iterator[object]:
        """The vfs LittleFS mounted with littlefs-python (MicroPython's geometry). An erased
        region is formatted first, as the device's first boot would."""
        part = self.layout().get("vfs")
        view = memoryview(self.flash._map)[part.offset:part.end]  # noqa: SLF001
        if format_if_erased and bytes(view[:2 * lfsmod.BLOCK]).count(0xFF) == 2 * lfsmod.BLOCK:
            lfsmod.mkfs(view)
        fs = lfsmod.mount(view)
        try:
            yield fs
        finally:
            fs.unmount()
            view.release()

    def put_files(self, files: dict[str, bytes]) -> None:
        """Write files (absolute paths) into the filesystem, making directories."""
        with self.filesystem() as fs:
            for path, data in files.items():
                parent = path.rsplit("/", 1)[0]
                if parent:
                    fs.makedirs(parent, exist_ok=True)  # type: ignore[attr-defined]
                with fs.open(path, "wb") as f:  # type: ignore[attr-defined]
                    f.write(data)

    def read_files(self) -> dict[str, bytes]:
        """Every file of the filesystem (absolute path -> bytes)."""
        part = self.layout().get("vfs")
        region = bytearray(self.flash.read(part.offset, part.size))
        return lfsmod.walk(region).contents
