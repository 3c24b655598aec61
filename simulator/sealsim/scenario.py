"""Scenario helpers for pytest and the CLI: boot simulated devices with firmware on them.

    from sealsim.scenario import start_device
    with start_device("esp32-devkitc-gm65", tmp_path / "dev1") as dev:
        dev.wait_for("app ready")
        dev.scan("EA123456785CN")        # the GM65 reads a code
        dev.press("ok"); dev.set_wifi(False); dev.skew_clock(3600)
        dev.screen_text(); dev.frame().save("f.png"); dev.power_cut(); dev.power_on()

Several devices can run at once (each has its own process, ptys, sockets and state dir).
"""

from __future__ import annotations

from pathlib import Path

from sealscan.boards import Board, load_board
from sealscan.device.firmware import font_asset
from sealscan.fonttool import DEVICE_NAME as FONT_BIN
from sealsim.device import Device

TESTFW_DIR = Path(__file__).resolve().parents[1] / "testfw"
SAMPLE_CODES = {
    "1": "EA123456785CN",  # UPU S10, check digit ok
    "2": "106141411928374657",  # GS1 SSCC-18, check digit ok
    "3": "EA123456784CN",  # UPU S10, wrong check digit
    "4": "SF1234567890123",  # SF Express pattern
}


def firmware_files(firmware_dir: Path | str, board: Board) -> dict[str, bytes | str | Path]:
    """Every file of a firmware tree (flat or nested) plus the board's `board.json`."""
    root = Path(firmware_dir)
    files: dict[str, bytes | str | Path] = {
        p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in (".py", ".mpy", ".json") and "__pycache__" not in p.parts
    }
    files["board.json"] = board.device_config_json()
    if (root / "assets").is_dir():  # the product firmware: its font asset too
        files[FONT_BIN] = font_asset(board, root)
    return files


def start_device(board: Board | str, state_dir: Path | str, *,
                 firmware: Path | str | None = TESTFW_DIR,
                 files: dict[str, bytes | str | Path] | None = None, **kwargs) -> Device:
    """A started Device; `firmware` (a directory) and `files` are deployed to its filesystem
    first, when given, with the board's `board.json` (its device config). Use it as a context
    manager so the process is always stopped."""
    board = load_board(board) if isinstance(board, str) else board
    dev = Device(board, state_dir, **kwargs)
    if firmware is not None:
        dev.deploy(firmware_files(firmware, board))
    elif files is not None:
        dev.deploy({"board.json": board.device_config_json()})
    if files:
        dev.deploy(files)
    return dev.start()
