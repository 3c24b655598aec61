# Runs under MicroPython (see tests/README.md). These prove the harness really uses it.
import gc
import sys


def test_runs_on_micropython():
    # Fails under CPython: the harness must run firmware tests on the interpreter that ships.
    assert sys.implementation.name == "micropython", sys.implementation.name


def test_heap_is_board_budget():
    # The unix port is started with the board's heap: allocating past it must fail.
    gc.collect()
    total = gc.mem_free() + gc.mem_alloc()
    assert total <= 110 * 1024, total
    try:
        big = bytearray(total + 1024)
    except MemoryError:
        return
    raise AssertionError("allocated %d bytes beyond a %d-byte heap" % (len(big), total))


def test_firmware_form_is_what_harness_says():
    import os

    import checkdigits

    # By default the firmware runs from mpy-cross output, as deployed; --fw-source runs .py.
    form = os.getenv("MPYTEST_FW_FORM")
    assert form in ("mpy", "py"), form
    assert checkdigits.__file__.endswith("." + form), checkdigits.__file__
