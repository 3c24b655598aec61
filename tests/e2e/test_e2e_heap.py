"""The application's memory on the ESP32 board, in the board's own model (simulator/interp):
one internal-RAM budget (boards/*.toml [memory]) from which the GC heap grows and mbedTLS
allocates, beside the Wi-Fi share. The interpreter keeps the high-water marks at every
allocation; a change that eats the headroom fails here (bench/bench_app.py measures it)."""

import re

from sealsim import endtoend as e2ekit

# Lowest free internal RAM over the first session (TLS uploads included), and gc.mem_free()
# (esp32 semantics: heap free + largest block the heap could still add) at ready/session.
MIN_FREE_RAM = 8 * 1024
MIN_FREE_AT_READY = 24 * 1024
MIN_FREE_AFTER_SESSION = 16 * 1024


def test_free_memory_at_ready_and_after_the_first_session(scanner):
    dev, _keys = scanner()
    ready = rb"ready, device \S+ free (\d+)\r?\n"
    session = rb"session started, free (\d+)\r?\n"
    dev.wait_until(lambda: re.search(session, bytes(dev.output)), 30, "session started line")
    out = bytes(dev.output)
    ready, session = re.search(ready, out), re.search(session, out)
    assert ready and session, out[-400:]
    marks = dev.memory()
    print("ready", ready.group(1), "session", session.group(1), marks.to_dict())
    assert int(ready.group(1)) >= MIN_FREE_AT_READY
    assert int(session.group(1)) >= MIN_FREE_AFTER_SESSION
    assert marks.refused == 0, marks
    assert marks.free_min >= MIN_FREE_RAM, marks


def test_lowest_free_heap_during_the_first_session_setup(scanner):
    # the same device with a main.py that watches the setup (sealsim.endtoend.SETUP_WATCH_MAIN)
    dev, _keys = scanner(setup_watch=True)
    dev.wait_until(lambda: re.search(e2ekit.SETUP_LOW, bytes(dev.output)), 30, "setup low line")
    out = bytes(dev.output)
    low = re.search(e2ekit.SETUP_LOW, out)
    assert low and b"session started" in out, out[-400:]
    print("setup low", low.group(1), dev.memory().to_dict())
    assert int(low.group(1)) >= MIN_FREE_RAM
