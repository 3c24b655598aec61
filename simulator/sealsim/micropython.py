"""Running code under the simulator's interpreter: MicroPython v1.28.0's unix port in the
esp32sim variant (simulator/interp/, built by `make setup`): 32-bit, the esp32 port's feature
level, float and mpz settings, epoch 2000, a GC heap that starts at the board's initial size
and grows on demand out of one RAM budget shared with mbedTLS, and a device clock the harness
sets. This module is the one place that finds the executable.

The module path puts the simulator's hardware shims (machine, network, esp32, ...) ahead of
the built-ins, then the firmware, then the frozen modules (asyncio, ntptime, requests...).
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from sealscan.boards import Board
from sealscan.paths import INTERP_BIN_DIR, SHIMS_DIR
from sealsim.ramclock import budget_env

MPSIDE_DIR = Path(__file__).parent / "mpside"  # MicroPython-side helpers (test runner, ...)
RELEASE = "1.28.0"  # the boards' image (boards/*.toml) and this interpreter


class MicroPythonNotFound(RuntimeError):
    pass


def micropython_exe() -> str:
    """The esp32sim interpreter built by `make setup` ($SEALSIM_MICROPYTHON overrides)."""
    override = os.environ.get("SEALSIM_MICROPYTHON")
    exe = Path(override) if override else INTERP_BIN_DIR / "micropython"
    if not exe.exists():
        raise MicroPythonNotFound(
            f"the simulator's MicroPython ({exe}) is not built: run `make setup` (it builds "
            f"MicroPython v{RELEASE} from ../shared/vendor, see simulator/interp/build.sh)")
    return str(exe)


@functools.cache
def interp_info() -> dict[str, object]:
    """What the interpreter says about itself: path, release, word size, build."""
    exe = micropython_exe()
    proc = subprocess.run(
        [exe, "-c", "import sys; v=sys.implementation.version; "
                    "print('%d.%d.%d' % v[:3], sys.maxsize, sys.implementation._build, "
                    "sys.implementation._mpy & 0xff)"],
        capture_output=True, text=True, timeout=30, env=environment(".frozen"))
    release, maxsize, build, mpy = proc.stdout.split()
    return {"path": exe, "release": release, "word_bits": 32 if int(maxsize) == 2**31 - 1
            else 64, "variant": build, "mpy_version": int(mpy)}


def module_path(*dirs: Path | str, shims: bool = True) -> str:
    """MICROPYPATH: shims, then the given dirs in order, then `.frozen`."""
    parts = [str(SHIMS_DIR)] if shims else []
    parts += [str(d) for d in dirs]
    parts.append(".frozen")
    return os.pathsep.join(parts)


def command(args: Sequence[str], heap_bytes: int) -> list[str]:
    """`heap_bytes` is the GC heap's first area; it grows from the budget in the environment."""
    return [micropython_exe(), "-X", f"heapsize={heap_bytes}", *args]


def board_env(board: Board, record: Path | str | None = None) -> dict[str, str]:
    """The board's RAM budget (and the shared clock/marks record, if any) for the interpreter."""
    return budget_env(board.memory.ram_bytes, board.memory.wifi_bytes, record)


def environment(path: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["MICROPYPATH"] = path
    env.pop("MICROPYINSPECT", None)
    for key in ("SEALSIM_RAM_BYTES", "SEALSIM_RAM_RESERVED", "SEALSIM_SHM",
                "SEALSIM_SHIM_CREDIT"):
        env.pop(key, None)  # only what this run is given
    if extra:
        env.update(extra)
    return env


def run(args: Sequence[str], *, heap_bytes: int, path: str, timeout: float = 120,
        env: dict[str, str] | None = None, cwd: Path | str | None = None,
        input: bytes | None = None, board: Board | None = None
        ) -> subprocess.CompletedProcess[bytes]:
    """Run `micropython ARGS` to completion; output is captured. With `board`, the heap starts
    at its initial size and grows from its RAM budget (`heap_bytes` is then ignored)."""
    extra = dict(env or {})
    if board is not None:
        heap_bytes = board.memory.initial_heap_bytes
        extra = {**board_env(board), **extra}
    return subprocess.run(
        command(args, heap_bytes), env=environment(path, extra), cwd=cwd, input=input,
        capture_output=True, timeout=timeout,
    )
