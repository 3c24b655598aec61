"""`sealscan deploy`: put the compiled firmware, board.json and firmware.json on a device.

Idempotent: each file's sha256 is computed on the device and a file is written only when it
differs. Each write goes to `name.part` and is renamed over the old file, so a power cut
leaves whole files. Before the first file changes, firmware.json is removed; main.py and
bootcheck (which check every file against firmware.json at boot and refuse to start
otherwise) are written first and firmware.json last. So a power cut anywhere leaves the old
firmware complete (the cut came before anything changed: the old main.py runs the old
modules), the new one complete, or a device that refuses to start and says so on its screen;
never mixed modules running, and a cut-short deploy never looks complete to `sealscan
verify`. Firmware files of an older build (`.mpy`/`.py` in the root that the new build does
not have, such as MicroPython's default boot.py) and leftover `.part` files are removed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sealscan.boards import Board
from sealscan.device.firmware import BOARD_JSON, MANIFEST, FirmwareBuild
from sealscan.device.link import DeviceError, DeviceLink

Progress = Callable[[str], None]


class WrongBoard(DeviceError):
    """The device is another board (or chip) than the one asked for."""


@dataclass
class DeployResult:
    port: str
    board: str
    version: str
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reset: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def chip_of_machine(machine: str) -> str | None:
    """The board-file chip name in `sys.implementation._machine`, if it names one."""
    m = machine.upper().replace("-", "").replace("_", "")
    for chip in ("ESP32S3", "ESP32S2", "ESP32C3", "ESP32C6", "ESP32"):
        if chip in m:
            return chip.lower()
    return None


def device_board_name(link: DeviceLink) -> str | None:
    """The board named by the device's board.json; None if it has none (or not one of ours)."""
    if link.sha256_files(["/" + BOARD_JSON])["/" + BOARD_JSON] is None:
        return None
    try:
        name = json.loads(link.read_file("/" + BOARD_JSON)).get("board")
    except (ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def check_board(link: DeviceLink, board: Board, *, force: bool = False) -> None:
    chip = chip_of_machine(link.machine())
    if chip is not None and chip != board.chip:
        raise WrongBoard(f"{link.port}: the device is an {chip}, board {board.name} is an "
                         f"{board.chip}")
    current = device_board_name(link)
    if current is not None and current != board.name and not force:
        raise WrongBoard(f"{link.port}: the device was deployed as board {current}, not "
                         f"{board.name} (use --force to redeploy it as {board.name})")


def deploy(link: DeviceLink, board: Board, build: FirmwareBuild, *, force: bool = False,
           reset: bool = True, progress: Progress | None = None) -> DeployResult:
    """Bring the device's filesystem on `link` to exactly `build` (build_firmware(board):
    make it before opening the link, so firmware that does not compile never touches a
    device)."""
    say = progress or (lambda _msg: None)
    check_board(link, board, force=force)
    result = sync_files(link, build, say)
    result.board = board.name
    if reset:
        say("soft reset")
        link.soft_reset()
        result.reset = True
    return result


def sync_files(link: DeviceLink, build: FirmwareBuild, say: Progress) -> DeployResult:
    result = DeployResult(link.port, "", build.version)
    wanted = dict(build.files)
    wanted[MANIFEST] = build.manifest()
    local = {name: hashlib.sha256(data).hexdigest() for name, data in wanted.items()}
    on_device = link.sha256_files(["/" + name for name in wanted])
    changes = [n for n in wanted if on_device["/" + n] != local[n]]
    if changes and on_device["/" + MANIFEST] is not None:
        # Nothing claims a build from here until firmware.json is written last: a device cut
        # off in between refuses to start (main.py) instead of running a mix.
        link.remove("/" + MANIFEST)
        link.sync()
        on_device["/" + MANIFEST] = None
        say(f"{MANIFEST}: removed until the deploy is complete")
    # main.py and its check first: from then on the device checks what it runs (main.py,
    # bootcheck.py)
    first = ("main.py", "bootcheck.mpy")
    order = sorted((n for n in wanted if n != MANIFEST),
                   key=lambda n: (first.index(n) if n in first else len(first), n))
    total = len(order) + 1
    for i, name in enumerate(order, 1):
        _put(link, name, wanted[name], on_device["/" + name] == local[name], f"[{i}/{total}]",
             result, say)
    for entry in link.walk("/"):
        name = entry.path[1:]
        if not entry.is_dir and "/" not in name and name not in wanted \
                and name.endswith((".mpy", ".py", ".part")):
            link.remove(entry.path)
            result.removed.append(name)
            say(f"{name}: removed (not part of this firmware)")
    _put(link, MANIFEST, wanted[MANIFEST], on_device["/" + MANIFEST] == local[MANIFEST],
         f"[{total}/{total}]", result, say)
    link.sync()
    return result


def _put(link: DeviceLink, name: str, data: bytes, same: bool, step: str,
         result: DeployResult, say: Progress) -> None:
    if same:
        result.skipped.append(name)
        say(f"{step} {name}: unchanged")
        return
    link.write_file("/" + name, data)
    result.written.append(name)
    say(f"{step} {name}: written ({len(data)} bytes)")
