"""pytest fixtures for scenarios on simulated devices (registered in tests/conftest.py).

    def test_something(sim_devices):
        dev = sim_devices("esp32-devkitc-gm65", "courier1", firmware=FW_DIR)
        dev.wait_for("ready")

Every device started through the fixture is switched off after the test, pass or fail.
"""

from __future__ import annotations

import contextlib

import pytest

from sealsim.device import Device
from sealsim.scenario import TESTFW_DIR, start_device


@pytest.fixture
def sim_devices(tmp_path):
    """`sim_devices(board="esp32-devkitc-gm65", name="dev", **start_device_kwargs)` starts a
    device whose state directory is tmp_path/name (default firmware: the test app)."""
    started: list[Device] = []

    def make(board: str = "esp32-devkitc-gm65", name: str = "dev", **kwargs) -> Device:
        kwargs.setdefault("firmware", TESTFW_DIR)
        dev = start_device(board, tmp_path / name, **kwargs)
        started.append(dev)
        return dev

    yield make
    for dev in started:
        with contextlib.suppress(Exception):
            dev.close()
