"""Firmware modules the host runs too, so one rule has one implementation.

Some firmware modules are plain Python that both interpreters run: the check characters of
identity numbers and waybills (`checkdigits`) and the masking policy (`mask`). The host loads
those very files from the firmware tree instead of keeping a second copy that could drift.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from types import ModuleType

from sealscan.paths import FIRMWARE_DIR

SHARED = ("checkdigits", "mask")


@cache
def load(name: str) -> ModuleType:
    if name not in SHARED:
        raise ValueError(f"{name!r} is not a firmware module shared with the host")
    path = FIRMWARE_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"sealscan._firmware_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load firmware module {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
