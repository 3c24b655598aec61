"""Storage: what an ESP32 keeps across a power cut. The device **is** its flash image,
`<state>/flash.bin` (sealsim.flashstore: the board's flash size, shared with the ROM
bootloader simulator, so what esptool writes is what boots), plus `rtc.bin`, RTC slow
memory (machine.RTC().memory(); a real ESP32 loses it at power-off, here it is kept so the
audit sees too much rather than too little).

    boot        a valid MicroPython image at the board's offset, or the device stays in the
                ROM ("invalid header"); the interpreter mounts the vfs LittleFS through the
                esp32.Partition shim over flash.bin and formats it at first boot
    NVS         esp32.NVS calls land in the nvs partition in the ESP-IDF format

Every NVS and RTC write is journaled in `writes` as (time, path, what) with the paths
`nvs/<namespace>.nvs` and `rtc.bin`, so tests can say what the firmware wrote and when. The
rest of the simulator reaches storage through `boot_env`, `boot_problem`, `call`, `deploy`
and `writes`.
"""

from __future__ import annotations

import errno
import struct
import time
from pathlib import Path

from sealscan.boards import Board
from sealscan.flashimage import FlashImageError
from sealscan.flashimage.nvs import BLOB_IDX, I32
from sealsim.flashstore import FlashStore

__all__ = ["ESP_ERR_NVS_NOT_FOUND", "FlashStorage"]

ESP_ERR_NVS_NOT_FOUND = -4354  # the OSError errno ESP32 MicroPython raises for a missing key
ESP_ERR_NVS_NOT_ENOUGH_SPACE = -4353


class FlashStorage:
    """The flash (and RTC memory) of one device, under `state`."""

    def __init__(self, board: Board, state: Path):
        self.state = state
        state.mkdir(parents=True, exist_ok=True)
        fresh = not (state / "flash.bin").exists()
        self.flash = FlashStore(board, state)
        if fresh:  # a board as it leaves the factory line: MicroPython flashed, nothing else
            self.flash.write_release()
        self.writes: list[tuple[float, str, str]] = []  # (time, path, what)

    def close(self) -> None:
        self.flash.close()

    # -- boot -------------------------------------------------------------------------------
    def boot_problem(self) -> str | None:
        """Why the chip would not start MicroPython from this flash (None: it does)."""
        self.flash.forget()  # esptool may have rewritten it while the chip was in the ROM
        return self.flash.boot_problem()

    def boot_env(self) -> dict[str, str]:
        return {"SEALSIM_STATE": str(self.state.resolve()),
                "SEALSIM_PARTS": self.flash.partitions_env()}

    # -- the host's hands (device off) ----------------------------------------------------
    def deploy(self, files: dict[str, bytes]) -> None:
        """Write files into the device's LittleFS (formatting it first if erased)."""
        self.flash.put_files({"/" + name.lstrip("/"): data for name, data in files.items()})

    def files(self) -> dict[str, bytes]:
        return self.flash.read_files()

    # -- the shims' binary calls --------------------------------------------------------------
    def call(self, name: str, arg: bytes) -> bytes:
        """One binary call from the shims (`X` on the bus): `rtc_get`, `rtc_set`,
        `nvs_get|set|erase|commit` with `ns\\0key\\0value`. OSError goes back to the caller."""
        if name == "rtc_get":
            path = self.state / "rtc.bin"
            return path.read_bytes() if path.exists() else b""
        if name == "rtc_set":
            (self.state / "rtc.bin").write_bytes(arg)
            self._journal("rtc.bin", f"RTC memory: {len(arg)} bytes")
            return b""
        if name.startswith("nvs_"):
            ns, _, rest = arg.partition(b"\0")
            key, _, value = rest.partition(b"\0")
            return self._nvs(name[4:], ns.decode(), key.decode(), value)
        raise OSError(errno.EINVAL, name)

    def _journal(self, path: str, what: str) -> None:
        self.writes.append((time.time(), path, what))

    def _nvs(self, op: str, ns: str, key: str, value: bytes) -> bytes:
        nvs = self.flash.nvs()
        rel = f"nvs/{ns}.nvs"
        try:
            if op == "get":  # get_i32 finds I32 entries only, get_blob blobs only, as ESP-IDF
                got = nvs.get_typed(ns, key)
                if got is None:
                    raise OSError(ESP_ERR_NVS_NOT_FOUND, "ESP_ERR_NVS_NOT_FOUND")
                typ, value = got
                if typ == I32 and isinstance(value, int):
                    return b"i" + struct.pack("<i", value)
                if typ == BLOB_IDX and isinstance(value, bytes):
                    return b"b" + value
                return b"?"  # another type: the shim answers "not found" for either call
            if op == "set":
                if value[:1] == b"i":
                    nvs.set_int(ns, key, struct.unpack("<i", value[1:5])[0], I32)
                else:
                    nvs.set_blob(ns, key, value[1:])
                self._journal(rel, f"set {key!r}: {len(value) - 1} bytes")
                return b""
            if op == "erase":
                if not nvs.erase_key(ns, key):
                    raise OSError(ESP_ERR_NVS_NOT_FOUND, "ESP_ERR_NVS_NOT_FOUND")
                self._journal(rel, f"erase {key!r}")
                return b""
            if op == "commit":
                return b""
        except FlashImageError as e:
            raise OSError(ESP_ERR_NVS_NOT_ENOUGH_SPACE, str(e)) from None
        raise OSError(errno.EINVAL, op)
