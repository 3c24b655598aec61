# Runs under MicroPython (see tests/README.md). These prove the harness really uses it.
import gc
import sys


def test_runs_on_micropython():
    # Fails under CPython: the harness must run firmware tests on the interpreter that ships.
    assert sys.implementation.name == "micropython", sys.implementation.name


def test_interpreter_is_the_boards_release_and_32_bit():
    # The boards flash v1.28.0 (boards/*.toml); the ESP32 is a 32-bit machine.
    assert sys.implementation.version[:3] == (1, 28, 0), sys.implementation.version
    assert sys.maxsize == 2**31 - 1, sys.maxsize
    assert sys.implementation._build == "esp32sim", sys.implementation._build


def test_heap_starts_small_and_grows_from_the_board_budget():
    # As on an ESP32 (v1.21+): the GC heap starts at the chip's initial size and adds areas
    # out of the board's RAM budget (less the Wi-Fi share) until that runs out.
    import _sealsim

    budget, reserved, used, _, heap = _sealsim.mem()[:5]
    assert heap <= 64 * 1024, heap
    assert used == reserved + heap, (used, reserved, heap)
    gc.collect()
    offered = gc.mem_free() + gc.mem_alloc()  # esp32: free includes the largest new split
    assert offered <= budget - reserved, (offered, budget, reserved)
    keep = []
    try:
        while True:
            keep.append(bytearray(4096))
    except MemoryError:
        pass
    budget, reserved, used, peak, heap = _sealsim.mem()[:5]
    assert heap > 2 * 56 * 1024, heap  # it grew
    assert used <= budget and peak <= budget, (used, peak, budget)
    assert budget - used < 16 * 1024, (budget, used)  # it grew until the budget ran out


def test_firmware_form_is_what_harness_says():
    import os

    import checkdigits

    # By default the firmware runs from mpy-cross output, as deployed; --fw-source runs .py.
    form = os.getenv("MPYTEST_FW_FORM")
    assert form in ("mpy", "py"), form
    assert checkdigits.__file__.endswith("." + form), checkdigits.__file__
