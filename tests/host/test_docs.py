"""The project's own docs stay true: every test docs/design.md names exists, and no file
cites a design or device document that is not in the repository."""

from __future__ import annotations

import ast
import re

from sealscan.paths import REPO

DOCS = REPO / "docs"


def _tests_in(path):
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test_")}


def test_every_test_named_by_the_design_exists():
    text = (DOCS / "design.md").read_text()
    cited = re.findall(r"`(tests/[\w/]+(?:\.py)?)(?:::(\w+))?`", text)
    assert len(cited) > 20
    for path, name in cited:
        target = REPO / path
        assert target.exists(), path
        if name:
            assert name in _tests_in(target), f"{path}::{name}"


def test_no_citation_of_documents_outside_the_repository():
    # DESIGN.md and DEVICE.md were cited for a long time without being in the repository
    pattern = re.compile(r"\bDESIGN(?:\.md)?\b|\bDEVICE\.md\b|\bFACTS\.md\b")
    roots = ("firmware", "host", "simulator", "tests", "bench", "docs", "boards")
    found = []
    for root in roots:
        for path in (REPO / root).rglob("*"):
            if path.suffix not in (".py", ".md", ".toml", ".txt") or path.name == "test_docs.py":
                continue
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(REPO)}:{n}")
    for path in (REPO / "README.md", REPO / "Makefile", REPO / "requirements-typings.txt"):
        if pattern.search(path.read_text()):
            found.append(str(path.relative_to(REPO)))
    assert found == []


# firmware/README.md's layer map: a module imports from its own layer or the ones below
_LAYERS = {
    "app": {"main", "bootcheck", "app", "bootload", "handheld", "flow", "view", "config",
            "clock", "netkeep", "lease", "revoke"},
    "drivers": {"display", "ssd1306", "st7789", "uplink"},
    "protocol": {"sealer", "sealq", "batch", "answer", "ackmac", "record", "cose"},
    "codecs": {"cbordec", "cborenc", "base45", "idtoken", "mac0", "waybill", "checkdigits",
               "mask", "scanline"},
    "crypto": {"x25519", "hpkeks", "hkdf", "hmac256", "aesccm"},
    "support": {"wipe", "transient", "texts"},
}
_ORDER = ["app", "protocol", "drivers", "codecs", "crypto", "support"]  # as in the table


def test_firmware_modules_import_only_down_the_layer_map():
    fw = REPO / "firmware"
    layer_of = {m: layer for layer, mods in _LAYERS.items() for m in mods}
    assert set(layer_of) == {p.stem for p in fw.glob("*.py")}, "a module outside the map"
    readme = (fw / "README.md").read_text()
    for m in layer_of:
        assert f"`{m}`" in readme, m
    wrong = []
    for m, layer in layer_of.items():
        for n in ast.walk(ast.parse((fw / f"{m}.py").read_text())):
            names = [a.name for a in n.names] if isinstance(n, ast.Import) else \
                [n.module] if isinstance(n, ast.ImportFrom) and n.module else []
            for dep in names:
                if dep in layer_of and _ORDER.index(layer_of[dep]) < _ORDER.index(layer):
                    wrong.append(f"{m} ({layer}) imports {dep} ({layer_of[dep]})")
    assert wrong == []
