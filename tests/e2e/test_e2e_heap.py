"""Heap budget of the application on the ESP32 board (110 KiB; the simulator's TLS allowance
removed): what is free at "ready" and once the first session is set up. A budget, not a
timing: a change that eats the headroom again fails here (bench/bench_app.py measures it)."""

import re

from sealsim.endtoend import TLS_HEAP_BYTES

# measured 11680 B at ready, 3968 B after the first session (tasks running, HPKE released);
# before the heap work: 608-864 B and -6.5 KB (over budget)
MIN_FREE_AT_READY = 8 * 1024
MIN_FREE_AFTER_SESSION = 2 * 1024


def test_free_heap_at_ready_and_after_the_first_session(scanner):
    dev, _keys = scanner()
    ready = rb"ready, device \S+ free (\d+)\r?\n"
    session = rb"session started, free (\d+)\r?\n"
    dev.wait_until(lambda: re.search(session, bytes(dev.output)), 30, "session started line")
    out = bytes(dev.output)
    ready, session = re.search(ready, out), re.search(session, out)
    assert ready and session, out[-400:]
    assert int(ready.group(1)) - TLS_HEAP_BYTES >= MIN_FREE_AT_READY
    assert int(session.group(1)) - TLS_HEAP_BYTES >= MIN_FREE_AFTER_SESSION
