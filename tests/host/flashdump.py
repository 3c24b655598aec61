"""Whole-flash images of a scanner for audit tests, made with the real formats: the
synthetic release (sealsim.rom.images) at the board's offset, LittleFS v2 in the vfs region
(littlefs-python, MicroPython's geometry) and NVS pages (sealscan.flashimage.nvs)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from sealscan.boards import BOARDS_DIR, Board, load_board
from sealscan.device.firmware import MANIFEST, build_firmware
from sealscan.flashimage import lfs
from sealscan.flashimage.layout import read_layout
from sealscan.flashimage.nvs import NvsPartition
from sealsim.rom.images import release_image

BOARD = "esp32-devkitc-gm65"
CANARY_ID = "11010519491231002X"
CANARY_PHONE = "13812345678"
CANARY_S10 = "EA123456785CN"
PROVISIONED = {"device_id": b"dev-17", "device_key": bytes(range(32)),
               "upstream_pk": bytes(range(32, 64)), "upstream_url": b"https://127.0.0.1:8443",
               "tls_cert": bytes(range(256)) * 3, "badge_key": bytes(range(64, 96)),
               "config_key": bytes(range(96, 128)), "carrier": b"SF",
               "wifi_ssid": b"depot-ap", "wifi_pass": b"pw", "config_serial": 0,
               "provisioned": 1}


def pinned_board(tmp_path: Path, name: str = BOARD) -> Board:
    """The board with its image sha256 pinned to the synthetic release."""
    board = load_board(name)
    digest = hashlib.sha256(release_image(board.chip, flash_size=board.flash_size)).hexdigest()
    text = (BOARDS_DIR / f"{name}.toml").read_text().replace('sha256 = "unpinned"',
                                                             f'sha256 = "{digest}"')
    path = tmp_path / "boards" / f"{name}.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return load_board(str(path))


@functools.cache
def _firmware(name: str) -> tuple[tuple[str, bytes], ...]:
    build = build_firmware(load_board(name))
    return tuple(sorted(build.files.items())) + ((MANIFEST, build.manifest()),)


class DeviceFlash:
    """A deployed, provisioned scanner's flash; change it through .fs and .nvs."""

    def __init__(self, board: Board):
        self.board = board
        self.data = bytearray(b"\xff" * board.flash_size)
        image = release_image(board.chip, flash_size=board.flash_size)
        self.data[board.flash_offset:board.flash_offset + len(image)] = image
        layout = read_layout(self.data)
        self.vfs_part = layout.get("vfs")
        self.nvs_part = layout.get("nvs")
        view = memoryview(self.data)
        self.vfs = view[self.vfs_part.offset:self.vfs_part.end]
        lfs.mkfs(self.vfs)
        self.fs = lfs.mount(self.vfs)
        for name, content in _firmware(board.name):
            self.write("/" + name, content)
        self.nvs = NvsPartition(view[self.nvs_part.offset:self.nvs_part.end])
        for key, value in PROVISIONED.items():
            if isinstance(value, int):
                self.nvs.set_int("sealscan", key, value)
            else:
                self.nvs.set_blob("sealscan", key, value)

    def write(self, path: str, content: bytes) -> None:
        with self.fs.open(path, "wb") as f:
            f.write(content)

    def remove(self, path: str) -> None:
        self.fs.remove(path)

    def dump(self, path: Path) -> Path:
        self.fs.unmount()
        path.write_bytes(bytes(self.data))
        self.fs.mount()
        return path
