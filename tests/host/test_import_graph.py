"""No import cycles in the firmware, the host package or the simulator, and the host never
imports the simulator (the simulator depends on the host, not the reverse).

The graphs are read with `ast` (nothing is imported or run): every `import` in a module,
at top level or inside a function, is an edge, because a function-level import is how a
cycle hides (it works until someone moves it up). A cycle is a strongly connected
component of more than one module, or a module importing itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# (directory, package name or None for a flat module directory as on a device)
GRAPHS = {
    "firmware": (ROOT / "firmware", None),
    "host": (ROOT / "host" / "sealscan", "sealscan"),
    "simulator": (ROOT / "simulator" / "sealsim", "sealsim"),
    "shims": (ROOT / "simulator" / "shims", None),
}

# Cycles known today, each removed by an issue in flight: the test fails (strict xfail)
# as soon as the cycle is gone, so the entry is deleted with the fix.
KNOWN: dict[str, tuple[set[str], str]] = {}


def _module_names(root: Path, package: str | None) -> dict[str, Path]:
    names = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        if package is None:
            if len(rel.parts) > 1 and rel.parts[0] != "device":  # shims/device: same names
                continue
            names[rel.name] = path
        else:
            parts = [package, *rel.parts]
            if parts[-1] == "__init__":
                parts.pop()
            names[".".join(parts)] = path
    return names


def imports(path: Path, module: str, is_package: bool) -> list[str]:
    """Every name `path` imports, relative imports resolved; `from a import b` gives `a.b`
    (the graph takes the nearest module: `a.b` if b is a submodule, else `a`)."""
    tree = ast.parse(path.read_bytes(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            out += [f"{prefix}.{alias.name}" for alias in node.names]
    return out


def graph(root: Path, package: str | None) -> dict[str, set[str]]:
    names = _module_names(root, package)
    edges: dict[str, set[str]] = {}
    for name, path in names.items():
        found = imports(path, name, path.name == "__init__.py")
        targets = set()
        for imp in found:
            # `import a.b.c` also runs a and a.b; the nearest module in the graph counts
            parts = imp.split(".")
            while parts and ".".join(parts) not in names:
                parts.pop()
            if parts:
                targets.add(".".join(parts))
        edges[name] = targets - ({name} if path.name == "__init__.py" else set())
    return edges


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with a cycle (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, ()):
                found.append(comp)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_no_import_cycle(name, request):
    root, package = GRAPHS[name]
    edges = graph(root, package)
    assert len(edges) > 3, f"{root}: no modules found"
    found = cycles(edges)
    if name in KNOWN:
        known, reason = KNOWN[name]
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
        assert known in found, f"the known cycle {sorted(known)} is not one of {found}"
        found.remove(known)
        assert not found, f"import cycles in {root}: {[sorted(c) for c in found]}"
        pytest.fail(f"known import cycle {sorted(known)}: {reason}")
    assert not found, f"import cycles in {root}: {[sorted(c) for c in found]}"


def test_host_never_imports_the_simulator():
    offenders = []
    for path in sorted((ROOT / "host").rglob("*.py")):
        for imp in imports(path, "sealscan", False):
            if imp.split(".")[0] == "sealsim":
                offenders.append(f"{path.relative_to(ROOT)}: {imp}")
    assert not offenders, offenders


def test_cycle_finder_finds_cycles():
    # The finder itself: a three-module ring, a self-import, and an acyclic tail.
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert sorted(map(sorted, cycles(edges))) == [["a", "b", "c"], ["d"]]


def test_imports_resolves_relative_and_submodules(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("from . import sib\nfrom .sub import x\ndef f():\n    import lazy.mod\n")
    assert set(imports(src, "pkg.m", False)) == {"pkg.sib", "pkg.sub.x", "lazy.mod"}
    assert set(imports(src, "pkg", True)) == {"pkg.sib", "pkg.sub.x", "lazy.mod"}
