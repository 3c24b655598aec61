"""Fixtures for the simulator's own tests: devices that are always switched off."""

from __future__ import annotations

import contextlib

import pytest

from sealsim.scenario import start_device


@pytest.fixture
def devices(tmp_path):
    """`devices(board, name, **kw)` starts a device in tmp_path/name; all are closed after."""
    started = []

    def make(board="esp32-devkitc-gm65", name="dev", **kwargs):
        dev = start_device(board, tmp_path / name, **kwargs)
        started.append(dev)
        return dev

    yield make
    for dev in started:
        with contextlib.suppress(Exception):
            dev.close()
