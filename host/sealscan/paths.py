"""Where the project's own trees are, for a source checkout (editable install)."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = Path(os.environ.get("SEALSCAN_FIRMWARE", REPO / "firmware"))
BOARDS_DIR = Path(os.environ.get("SEALSCAN_BOARDS", REPO / "boards"))
SHIMS_DIR = REPO / "simulator" / "shims"
TYPINGS_DIR = Path(os.environ.get("SEALSCAN_TYPINGS", REPO / ".venv" / "typings"))
BUILD_DIR = REPO / "build"
# MicroPython v1.28.0 built by `make setup` (simulator/interp/build.sh): the simulator's
# interpreter and the mpy-cross that compiles firmware for the boards.
INTERP_BIN_DIR = Path(os.environ.get("SEALSCAN_INTERP_BIN", BUILD_DIR / "interp" / "bin"))
