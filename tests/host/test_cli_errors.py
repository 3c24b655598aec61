"""Exit codes and hints that hold everywhere, tried as a new user would: one error funnel
(errors carry their exit code, printed once as one line), bad flag values exit 2, a missing
file says "not found", hints give commands that work as printed, Ctrl-C says what state it
left."""

from __future__ import annotations

import inspect
import re
import shlex

import pytest
from click.testing import CliRunner

from sealscan import errors
from sealscan.cli import cli


def run(*args: str, **kw):
    return CliRunner().invoke(cli, [str(a) for a in args], **kw)


def one_line_error(r, code: int) -> str:
    assert r.exit_code == code, (r.exit_code, r.output)
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert "Traceback" not in r.output
    return lines[0]


@pytest.fixture
def keys(tmp_path):
    key = tmp_path / "badge.key"
    assert run("codes", "init-key", "--out", key).exit_code == 0
    issuer = tmp_path / "issuer.json"
    assert run("codes", "init-issuer", "--out", issuer).exit_code == 0
    return key, issuer


def provision_args(tmp_path, key, **flags):
    args = {"--port": "/dev/null", "--device-id": "dev-1", "--upstream": tmp_path / "up",
            "--carrier": "SF", "--badge-key": key, "--config-key": key, "--wifi-ssid": "ap",
            "--entries": tmp_path / "e.jsonl"} | flags
    return [x for kv in args.items() for x in kv]


@pytest.mark.parametrize("flag, value, says", [
    ("--device-id", "bad id", "device id"),
    ("--device-id", "x" * 33, "device id"),
    ("--carrier", "NOPE", "carrier 'NOPE'"),
    ("--wifi-ssid", "s" * 33, "SSID"),
    ("--upstream-url", "http://10.0.0.2", "must be https://"),
])
def test_bad_provision_flag_values_exit_2_before_anything_is_read(tmp_path, keys, flag, value,
                                                                   says):
    r = run("provision", *provision_args(tmp_path, keys[0], **{flag: value}))
    assert r.exit_code == 2, r.output
    assert f"Invalid value for '{flag}'" in r.output and says in r.output
    assert not (tmp_path / "e.jsonl").exists()


def test_bad_flag_values_exit_2_in_flash_and_codes(tmp_path, keys):
    key, issuer = keys
    r = run("flash", "write", "--port", "/dev/null", "--board", "esp32-devkitc-gm65",
            "--image", tmp_path / "x.bin", "--sha256", "abc")
    assert r.exit_code == 2 and "not 64 hex digits" in r.output
    r = run("codes", "badge", "--key-file", key, "--courier-id", "c" * 60, "--name", "n",
            "--carrier", "SF")
    assert r.exit_code == 2 and "Invalid value" in r.output
    r = run("codes", "identity", "--issuer-key", issuer, "--id-number", "123", "--name", "n",
            "--phone", "13800138000")
    assert r.exit_code == 2 and "'--id-number'" in r.output
    r = run("upstream", "init", "--dir", tmp_path / "up", "--port", "99999")
    assert r.exit_code == 2 and not (tmp_path / "up").exists()


def test_a_missing_file_says_not_found(tmp_path, keys):
    key, _ = keys
    missing = tmp_path / "missing.key"
    line = one_line_error(run("codes", "badge", "--key-file", missing, "--courier-id", "c",
                              "--name", "n", "--carrier", "SF"), 3)
    assert line == f"error: {missing}: not found"
    line = one_line_error(run("codes", "identity", "--issuer-key", missing, "--id-number", "1",
                              "--name", "n", "--phone", "1"), 3)
    assert line == f"error: {missing}: not found"
    r = run("upstream", "init", "--dir", tmp_path / "up")
    assert r.exit_code == 0, r.output
    line = one_line_error(run("provision", *provision_args(tmp_path, key,
                                                           **{"--badge-key": missing})), 3)
    assert line.startswith(f"error: {missing}: not found")
    assert "not a" not in line


def test_hints_give_commands_that_work_as_printed(tmp_path, keys, monkeypatch):
    # `--upstream nowhere` once suggested `sealscan upstream init nowhere`, which fails
    monkeypatch.chdir(tmp_path)
    line = one_line_error(run("provision", *provision_args(tmp_path, keys[0],
                                                           **{"--upstream": "nowhere"})), 3)
    hint = re.search(r"run `sealscan ([^`]+)`", line)
    assert hint, line
    r = run(*shlex.split(hint[1]))
    assert r.exit_code == 0, r.output
    r = run("provision", *provision_args(tmp_path, keys[0], **{"--upstream": "nowhere"}))
    assert "upstream.json: not found" not in r.output  # the hint fixed what it named


def test_ctrl_c_says_what_state_it_left(tmp_path, keys, monkeypatch):
    from sealscan import flashing
    from sealscan.device import link

    def interrupt(*_a, **_kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(flashing, "load_image", lambda *_a, **_kw: b"image")
    monkeypatch.setattr(flashing, "connect", interrupt)
    r = run("flash", "write", "--port", "/dev/null", "--board", "esp32-devkitc-gm65", "--image",
            tmp_path / "x.bin", "--sha256", "0" * 64)
    assert r.exit_code == errors.EXIT_INTERRUPTED
    assert r.output.startswith("interrupted: the flash may hold part of the image")
    monkeypatch.setattr(link.DeviceLink, "__init__", interrupt)
    for args in (["deploy", "--board", "esp32-devkitc-gm65"], ["verify"], ["audit", "--repl"],
                 ["audit", "--board", "esp32-devkitc-gm65"]):  # the last: reading the flash
        r = run(*args, "--port", "/dev/null")
        assert r.exit_code == errors.EXIT_INTERRUPTED, (args, r.output)
        assert r.output.startswith("interrupted: "), r.output
        assert ("run `sealscan deploy` again" if args[0] == "deploy"
                else "nothing was changed") in r.output
    r = run("provision", *provision_args(tmp_path, keys[0], **{"--upstream": None}),
            "--upstream-pk", keys[0], "--upstream-url", "https://x", "--tls-cert", keys[0])
    assert r.exit_code == 3  # an unrelated input error still wins before the device is opened


def test_library_errors_carry_their_exit_code():
    from sealscan import boards, flashing, fwtools
    from sealscan.device import deploy, link, provision
    from sealscan.upstream import errors as up

    assert link.DeviceError("x").exit_code == errors.EXIT_FAILURE
    assert provision.AlreadyProvisioned("x").exit_code == errors.EXIT_FAILURE
    assert deploy.WrongBoard("x").exit_code == errors.EXIT_FAILURE
    assert flashing.ImageUnreadable("x").exit_code == errors.EXIT_INPUT
    assert flashing.FlashPortError("x").exit_code == errors.EXIT_FAILURE
    assert fwtools.FirmwareCheckError("x", []).exit_code == errors.EXIT_INPUT
    assert boards.BoardError("p", "f", "m").exit_code == errors.EXIT_INPUT
    assert up.UpstreamConfigError("x").exit_code == errors.EXIT_INPUT
    assert up.AlreadyInitialised("x").exit_code == errors.EXIT_FAILURE
    assert up.ProvisioningEntryError("x").exit_code == errors.EXIT_INPUT


def test_library_functions_take_an_open_connection():
    # as esptool's commands take an open `esp`: the CLI opens the port once
    from sealscan import flashing
    from sealscan.device import deploy, provision
    from sealscan.device import inspect as insp

    for f in (deploy.deploy, insp.verify, insp.audit, provision.provision):
        first = next(iter(inspect.signature(f).parameters.values()))
        assert first.name == "link" and "DeviceLink" in str(first.annotation), f
    for f in (flashing.identify, flashing.flash_image):
        assert next(iter(inspect.signature(f).parameters)) == "esp", f


# the protocol's named errors, once in each implementation of it (docs/protocol.md)
_SAME_ERROR_TWO_IMPLEMENTATIONS = {"MalformedRecord", "MalformedAnswer"}


def test_distinct_error_classes_have_distinct_names():
    # the host's classes, the firmware's and the simulator's: no name twice for two things
    import ast

    from sealscan.paths import REPO

    seen: dict[str, str] = {}
    dup = []
    for root in ("host", "firmware", "simulator"):
        for path in (REPO / root).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef) and (
                        node.name.endswith(("Error", "Exception")) or any(
                            getattr(b, "id", getattr(b, "attr", "")).endswith(
                                ("Error", "Exception")) for b in node.bases)):
                    where = str(path.relative_to(REPO))
                    if node.name in _SAME_ERROR_TWO_IMPLEMENTATIONS:
                        continue
                    if node.name in seen and seen[node.name] != where:
                        dup.append(f"{node.name}: {seen[node.name]} and {where}")
                    seen.setdefault(node.name, where)
    assert dup == []
