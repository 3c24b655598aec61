"""Storage: what an ESP32 keeps across a power cut, as files in the device's state directory.

    fs/           the filesystem MicroPython mounts as `/` (VfsPosix over a host directory)
    nvs/NS.nvs    one esp32.NVS namespace per file (format: sealscan.device.simnvs)
    rtc.bin       RTC slow memory (machine.RTC().memory())

Every write is journaled in `writes` as (time, state-relative path, what), so tests can say
what the firmware wrote and when. The rest of the simulator reaches storage only through
`fs_dir`, `call(name, arg)` (the shims' binary calls) and `writes`: a flash-image-backed
store can replace this class behind the same three names.
"""

from __future__ import annotations

import errno
import time
from pathlib import Path

from sealscan.device.simnvs import read_nvs, write_nvs

__all__ = ["ESP_ERR_NVS_NOT_FOUND", "FileStorage", "read_nvs", "write_nvs"]

ESP_ERR_NVS_NOT_FOUND = -4354  # the OSError errno ESP32 MicroPython raises for a missing key


class FileStorage:
    """NVS, RTC memory and the filesystem of one device, as files under `state`."""

    def __init__(self, state: Path):
        self.state = state
        for sub in ("fs", "nvs"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        self.writes: list[tuple[float, str, str]] = []  # (time, state-relative path, what)

    @property
    def fs_dir(self) -> Path:
        """The host directory MicroPython mounts as its filesystem root."""
        return (self.state / "fs").resolve()

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
        if not ns.replace("_", "").isalnum():
            raise OSError(errno.EINVAL, ns)
        path = self.state / "nvs" / f"{ns}.nvs"
        entries = read_nvs(path)
        rel = f"nvs/{ns}.nvs"
        if op == "get":
            if key not in entries:
                raise OSError(ESP_ERR_NVS_NOT_FOUND, "ESP_ERR_NVS_NOT_FOUND")
            return entries[key]
        if op == "set":
            entries[key] = value
            write_nvs(path, entries)
            self._journal(rel, f"set {key!r}: {len(value) - 1} bytes")
            return b""
        if op == "erase":
            if key not in entries:
                raise OSError(ESP_ERR_NVS_NOT_FOUND, "ESP_ERR_NVS_NOT_FOUND")
            del entries[key]
            write_nvs(path, entries)
            self._journal(rel, f"erase {key!r}")
            return b""
        if op == "commit":
            return b""
        raise OSError(errno.EINVAL, op)
