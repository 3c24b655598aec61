"""The application's memory on the ESP32 board, in the board's own model (simulator/interp):
one internal-RAM budget (boards/*.toml [memory]) from which the GC heap grows and mbedTLS
allocates, beside the Wi-Fi share. The interpreter keeps the high-water marks at every
allocation; a change that eats the headroom fails here (bench/bench_app.py measures it)."""

import re

from sealscan.fonttool import words
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


def test_when_ram_runs_out_the_courier_is_told_and_nothing_is_lost(tmp_path, firmware_build,
                                                                   upstream):
    # A board with 25 KB less RAM than the reference one: the app boots and seals, but the
    # heap has grown into the RAM a TLS connection needs, so mbedTLS's allocations are refused
    # (as on an ESP32: ENOMEM from the handshake). The screen must say so, and the record stays
    # queued.
    import dataclasses

    from sealscan.boards import Memory

    ref = e2ekit.board()
    small = dataclasses.replace(ref, memory=Memory(
        ram_kib=ref.memory.ram_kib - 25, wifi_kib=ref.memory.wifi_kib,
        initial_heap_kib=ref.memory.initial_heap_kib))
    keys = e2ekit.provision(tmp_path / "dev", small, firmware_build, upstream,
                            device_id="low-ram-1")
    dev = e2ekit.device(small, tmp_path / "dev")
    try:
        dev.wait_for("session started", 30)
        dev.scan(keys.badge())
        dev.wait_for("logged in", 20)
        dev.scan(upstream.identity())
        dev.scan("SF1234567890123")
        dev.wait_for("sealed record 0", 20)
        dev.wait_for("upload failed", 20)
        dev.wait_until(lambda: words("LOW_MEMORY").split("\n")[0] in dev.screen_text(), 10,
                       "the screen telling the courier")
        marks = dev.memory()
        assert marks.refused > 0 and marks.used_peak <= marks.budget, marks
        assert "待传1条" in dev.screen_text()[0]  # still queued, not dropped
    finally:
        dev.close()
