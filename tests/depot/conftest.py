"""Depot command tests: the real `sealscan` commands, mpremote's serial transport, and a
simulated scanner on its console pty (sealsim). Nothing below the CLI is mocked."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from sealscan.cli import cli
from sealscan.codes import save_key_file
from sealscan.upstream.config import init_state

BOARD = "esp32-devkitc-gm65"
# Canaries: if any of these shows up in output, a log or a clear file, a secret leaked.
BADGE_KEY = bytes(range(0x40, 0x60))
CONFIG_KEY = bytes(range(0x80, 0xA0))
WIFI_PASS = "canary-wifi-Pa55w0rd"


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def sealscan(*args: str, env: dict[str, str] | None = None) -> Run:
    """Run the real CLI in-process; stdout and stderr kept apart."""
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


@dataclass
class Depot:
    root: Path
    upstream: Path
    badge_key: Path
    config_key: Path
    entries: Path

    def provision_args(self, port: str, device_id: str = "dev-17") -> list[str]:
        return ["provision", "--port", port, "--device-id", device_id, "--upstream",
                self.upstream, "--carrier", "SF", "--badge-key", self.badge_key,
                "--config-key", self.config_key, "--wifi-ssid", "depot-ap",
                "--entries", self.entries]

    def provision(self, port: str, *extra: str, device_id: str = "dev-17") -> Run:
        return sealscan(*self.provision_args(port, device_id), *extra,
                        env={"SEALSCAN_WIFI_PASS": WIFI_PASS})


@pytest.fixture
def depot(tmp_path) -> Depot:
    root = tmp_path / "depot"
    root.mkdir()
    init_state(root / "upstream")
    save_key_file(BADGE_KEY, root / "badge.key")
    save_key_file(CONFIG_KEY, root / "config.key")
    return Depot(root, root / "upstream", root / "badge.key", root / "config.key",
                 root / "entries.jsonl")


@pytest.fixture
def blank(sim_devices):
    """A simulated scanner with MicroPython and nothing of ours on it (a board.json only,
    as the simulator needs one to wire its peripherals)."""
    dev = sim_devices(BOARD, "scanner", firmware=None, files={"boot.py": "# default\n"})
    dev.wait_for(">>> ")
    return dev


def deploy(dev, *args: str) -> Run:
    """`sealscan deploy` on a simulated device, then wait until the reset boot is done, so
    the next command meets a settled board. (The simulator starts MicroPython through a
    CPython wrapper; a Ctrl-C in its first instants used to kill it. DeviceLink retries
    entering the raw REPL anyway, as a board that is still booting can drop the keys.)"""
    mark = len(dev.output)
    run = sealscan("deploy", "--port", dev.port, *args)
    if run.code == 0 and "--no-reset" not in args:
        dev.wait_for(">>> ", since=dev.wait_for("soft reboot", since=mark))
    return run


@pytest.fixture
def deployed(blank):
    run = deploy(blank, "--board", BOARD)
    assert run.code == 0, run.text
    return blank


def nvs(dev) -> dict[str, bytes]:
    """NVS namespace sealscan from the device's flash.bin, each value tagged as the shim's
    wire has it (b"i" + i32 little-endian, b"b" + blob)."""
    return {k: b"i" + struct.pack("<i", v) if isinstance(v, int) else b"b" + v
            for k, v in dev.nvs().items()}


def leaked(secret: bytes, text: str | bytes) -> bool:
    """The secret in any of the usual printable spellings."""
    import base64

    blob = text.encode() if isinstance(text, str) else bytes(text)
    forms = [secret, secret.hex().encode(), secret.hex().upper().encode(),
             base64.b64encode(secret), base64.urlsafe_b64encode(secret).rstrip(b"="),
             repr(secret).encode()]
    return any(f in blob for f in forms)


def files_in(dev) -> dict[str, bytes]:
    """The device's files as its flash.bin holds them (LittleFS mounted with littlefs-python:
    this also proves the filesystem mounts)."""
    return {name[1:]: data for name, data in sorted(dev.files().items())}


os.environ.pop("SEALSCAN_PORT", None)
