"""What `sealscan deploy` puts on a device's filesystem (docs/device.md), built on the host.

    main.py        firmware/main.py (checks every file against firmware.json at boot, then
                   `import app` / `app.main()`), or just those two lines if the tree has
                   none: MicroPython runs main.py only as source
    <module>.mpy   every other firmware module, compiled with mpy-cross
    board.json     Board.device_config_json(): wiring only
    font.bin       the font asset for the board's display (sealscan.fonttool: glyphs and
                   screen texts, read from flash by firmware/display.py); not record data
    firmware.json  {"version": "...", "files": {name: sha256 hex}} of every file above,
                   written last, so a device whose deploy was cut short never matches it
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sealscan import __version__
from sealscan.boards import Board
from sealscan.fonttool import DEVICE_NAME as FONT_BIN
from sealscan.fonttool import strike_for
from sealscan.fwtools import FirmwareCheckError, compile_firmware, firmware_sources
from sealscan.paths import FIRMWARE_DIR

MAIN_PY = b"import app\napp.main()\n"
MANIFEST = "firmware.json"
BOARD_JSON = "board.json"


@dataclass(frozen=True)
class FirmwareBuild:
    files: dict[str, bytes]  # device root name -> content, firmware.json excluded
    version: str

    @property
    def hashes(self) -> dict[str, str]:
        return {name: hashlib.sha256(data).hexdigest() for name, data in sorted(self.files.items())}

    def manifest(self) -> bytes:
        return (json.dumps({"version": self.version, "files": self.hashes}, sort_keys=True,
                           indent=1) + "\n").encode()


def build_firmware(board: Board, src: Path = FIRMWARE_DIR) -> FirmwareBuild:
    """Compile `src` and lay it out as the device's root. FirmwareCheckError if it does not
    compile or is not flat (firmware modules are flat files deployed to the root)."""
    sources = firmware_sources(src)
    nested = [str(p) for p in sources if p.parent != src]
    if nested:
        raise FirmwareCheckError("firmware must be flat", [f"{p}: in a subfolder" for p in nested])
    files: dict[str, bytes] = {}
    main = src / "main.py"
    files["main.py"] = main.read_bytes() if main.exists() else MAIN_PY
    with tempfile.TemporaryDirectory(prefix="sealscan-fw-") as out:
        for compiled in compile_firmware(src, Path(out)):
            if compiled.source.name != "main.py":
                files[compiled.output.name] = compiled.output.read_bytes()
    files[BOARD_JSON] = board.device_config_json().encode()
    files[FONT_BIN] = font_asset(board, src)
    digest = hashlib.sha256()
    for name, data in sorted(files.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return FirmwareBuild(files, f"{__version__}+{digest.hexdigest()[:12]}")


def font_asset(board: Board, src: Path = FIRMWARE_DIR) -> bytes:
    """The font.bin for the board's display (sealscan.fonttool strike)."""
    font = src / "assets" / strike_for(board.display["width"], board.display["height"]).asset.name
    if not font.exists():
        raise FirmwareCheckError("no font asset",
                                 [f"{font}: missing (run `sealscan firmware font`)"])
    return font.read_bytes()


def parse_manifest(data: bytes) -> dict[str, str] | None:
    """The files map of a device's firmware.json; None if it is not a well-formed one."""
    try:
        raw = json.loads(data)
    except ValueError:
        return None
    files = raw.get("files") if isinstance(raw, dict) else None
    if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        return None
    return dict(files)
