"""The device contract (docs/device.md) against the code, in both directions: the NVS keys the
firmware reads ⊆ what `sealscan provision` writes ⊆ the contract; a key written and never
read, or in the contract and never written, is drift and fails. The firmware's reads and
writes are found in its source (calls with a literal key), provisioning's by running it
against a simulated scanner."""

from __future__ import annotations

import ast
import re

from conftest import nvs

from sealscan.device.contract import CONTRACT_FILES
from sealscan.device.firmware import BOARD_JSON, FONT_BIN, MAIN_PY, MANIFEST
from sealscan.device.provision import NVS_KEYS
from sealscan.paths import FIRMWARE_DIR, REPO

DOC = REPO / "docs" / "device.md"
_READS = {"get_blob", "get_i32"}
_HELPER_READS = {"blob", "text"}  # bootload.read_config's helpers
_WRITES = {"set_blob", "set_i32"}


def contract() -> dict[str, dict[str, str]]:
    """docs/device.md's NVS table: key -> {type, written by, read by}."""
    rows: dict[str, dict[str, str]] = {}
    section = DOC.read_text().split("## NVS namespace `sealscan`", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        m = re.match(r"\| `(\w+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|", line)
        if m:
            rows[m[1]] = {"type": m[2].strip(), "writers": m[3].strip(),
                          "readers": m[4].strip()}
    return rows


def contract_files() -> set[str]:
    section = DOC.read_text().split("## Files", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", section, re.M))


def firmware_keys() -> tuple[set[str], set[str]]:
    """(keys read, keys written) by the firmware: NVS calls with a literal key."""
    reads: set[str] = set()
    writes: set[str] = set()
    for path in FIRMWARE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and node.args and
                    isinstance(node.args[0], ast.Constant) and
                    isinstance(node.args[0].value, str)):
                continue
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            key = node.args[0].value
            if name in _READS or (name in _HELPER_READS and path.name == "bootload.py"):
                reads.add(key)
            elif name in _WRITES:
                writes.add(key)
    return reads, writes


def drift(contract_keys: set[str], reads: set[str], provisioned: set[str],
          app_writes: set[str]) -> list[str]:
    """Every way the code and the contract disagree (empty: they agree)."""
    problems = [f"firmware reads {k}, provisioning does not write it"
                for k in sorted(reads - provisioned)]
    problems += [f"provisioning writes {k}, not in the contract"
                 for k in sorted(provisioned - contract_keys)]
    problems += [f"the firmware writes {k}, not in the contract"
                 for k in sorted(app_writes - contract_keys)]
    problems += [f"{k} is written, never read by the firmware"
                 for k in sorted((provisioned | app_writes) - reads)]
    problems += [f"{k} is in the contract, never written"
                 for k in sorted(contract_keys - provisioned - app_writes)]
    return problems


def test_the_drift_check_catches_each_kind_of_drift():
    keys = {"a", "b"}
    assert drift(keys, {"a", "b"}, {"a", "b"}, {"b"}) == []
    assert drift(keys, {"a", "b", "c"}, {"a", "b"}, set()) == [
        "firmware reads c, provisioning does not write it"]
    assert drift(keys, {"a", "b"}, {"a", "b", "c"}, set()) == [
        "provisioning writes c, not in the contract", "c is written, never read by the firmware"]
    assert drift(keys, {"a"}, {"a", "b"}, set()) == ["b is written, never read by the firmware"]
    assert drift(keys | {"c"}, {"a", "b"}, {"a", "b"}, set()) == [
        "c is in the contract, never written"]
    assert drift(keys, {"a", "b"}, {"a", "b"}, {"x"}) == [
        "the firmware writes x, not in the contract", "x is written, never read by the firmware"]


def test_firmware_reads_what_provisioning_writes_and_the_contract_lists(deployed, depot):
    rows = contract()
    reads, app_writes = firmware_keys()
    assert reads, "no NVS reads found in the firmware: the source scan is broken"
    assert depot.provision(deployed.port).code == 0
    provisioned = set(nvs(deployed))
    assert drift(set(rows), reads, provisioned, app_writes) == []
    # the table's columns say the same as the code
    assert {k for k, r in rows.items() if "config code" in r["writers"]} == app_writes
    assert {k for k, r in rows.items() if "provision" in r["writers"]} == provisioned
    assert {k for k, r in rows.items() if "firmware" in r["readers"]} == reads
    # the host's own table (verify, audit) is the contract, types included
    assert NVS_KEYS == {k: r["type"].split()[0] for k, r in rows.items()}


def test_the_files_table_is_what_deploy_writes_and_audit_allows():
    assert contract_files() == {"main.py", "<module>.mpy", BOARD_JSON, FONT_BIN, MANIFEST}
    assert CONTRACT_FILES == {"main.py", BOARD_JSON, MANIFEST}
    assert MAIN_PY == b"import app\napp.main()\n"
    # what the firmware opens is in the table
    opened = {d.value for path in FIRMWARE_DIR.glob("*.py")
              for node in ast.walk(ast.parse(path.read_text()))
              if isinstance(node, ast.FunctionDef) and node.name == "load_board"
              for d in node.args.defaults if isinstance(d, ast.Constant)}
    assert opened == {BOARD_JSON}
    fonts = {node.value.value for node in ast.parse((FIRMWARE_DIR / "bootload.py").read_text()).body
             if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "FONT"
             and isinstance(node.value, ast.Constant)}
    assert fonts == {FONT_BIN}


def test_the_deploy_set_is_what_the_app_can_import():
    # Deploy only what runs: every module deploy puts on a device is reachable by imports from
    # main.py (at top level or inside a function: transient modules, the board's display
    # driver); test-only modules (tests/firmware/helpers) are never deployed.
    from sealscan.boards import DEFAULT_BOARD, load_board
    from sealscan.device.firmware import build_firmware

    deployed = {n[:-4] for n in build_firmware(load_board(DEFAULT_BOARD)).files
                if n.endswith(".mpy")}
    edges = {}
    for path in FIRMWARE_DIR.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        edges[path.stem] = names
    reachable, todo = set(), ["main"]
    while todo:
        m = todo.pop()
        if m not in reachable and m in edges:
            reachable.add(m)
            todo += edges[m]
    assert deployed == reachable - {"main"}  # main.py goes as source
    helpers = {p.stem for p in (REPO / "tests" / "firmware" / "helpers").glob("*.py")}
    assert {"hpke", "opener"} <= helpers and not helpers & deployed
