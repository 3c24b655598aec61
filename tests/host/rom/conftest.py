"""Fixtures for driving the unmodified esptool against simulated ROM bootloaders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sealsim.rom import Faults, SimulatedChip


@pytest.fixture
def chips(tmp_path: Path) -> Iterator:
    """Factory: chips(board, name="dev1", faults=None) -> a started SimulatedChip."""
    started: list[SimulatedChip] = []

    def make(board: str, name: str = "dev1", faults: Faults | None = None,
             **kwargs) -> SimulatedChip:
        # the wire's pace at the baud rate has its own test (test_rom_pacing.py); here it
        # would only cost CI time
        kwargs.setdefault("pace", False)
        chip = SimulatedChip(board, tmp_path / name, faults=faults, **kwargs)
        chip.start()
        started.append(chip)
        return chip

    yield make
    for chip in started:
        chip.stop()
        assert chip.error is None, chip.error
