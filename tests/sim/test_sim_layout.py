"""The simulator stays in parts (docs/simulator.md, "Parts"): no file over 400 lines, no two
modules with the same name (one `device.py`, not one per package)."""

from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SIMULATOR = ROOT / "simulator"
MAX_LINES = 400


def _sources():
    return [p for p in SIMULATOR.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            and p.suffix in (".py", ".pyi", ".md", ".toml", ".txt")]


def test_no_simulator_file_over_400_lines():
    sources = _sources()
    assert len(sources) > 20, "simulator sources not found"
    long = {str(p.relative_to(ROOT)): n for p in sources
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these into parts (at most {MAX_LINES} lines): {long}"


def test_no_two_simulator_modules_share_a_name():
    # shims/device/ replaces unix-port built-ins (time, socket) and is exempt by design;
    # __init__/__main__ are per package.
    names = Counter(p.name for p in (SIMULATOR / "sealsim").rglob("*.py")
                    if p.name not in ("__init__.py", "__main__.py"))
    assert not [n for n, c in names.items() if c > 1], names.most_common(3)
