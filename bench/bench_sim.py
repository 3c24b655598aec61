"""Simulator costs: boot time, link round trip, frame capture, and the heap the shims use.

Floors measured in the same run: a bare `micropython -c pass` start (boot), and a plain
method call in MicroPython (round trip). Memory: what the shims take (credited back to the
board's RAM budget, since on a board they are native code) and what main.py finds free
(gc.mem_free(), esp32 semantics: heap free + the largest area the heap could still add).
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from sealscan.boards import DEFAULT_BOARD, load_board
from sealsim import micropython as mp
from sealsim.scenario import start_device

_HEAP = """
import gc
gc.collect()
print("FREE", gc.mem_free())
"""

_RPC = """
import time, machine
p = machine.Pin(27, machine.Pin.IN)
t = time.ticks_us()
for i in range(500):
    p.value()
print("RPC", time.ticks_diff(time.ticks_us(), t) / 500)
t = time.ticks_us()
for i in range(500):
    p.mode()
print("LOCAL", time.ticks_diff(time.ticks_us(), t) / 500)
print("END")
"""


def _median(f, n=5):
    return statistics.median(f() for _ in range(n))


def main() -> None:
    board = load_board(DEFAULT_BOARD)

    def bare():
        t = time.perf_counter()
        subprocess.run(mp.command(["-c", "pass"], board.memory.initial_heap_bytes), check=True,
                       env=mp.environment(mp.module_path()))
        return time.perf_counter() - t

    with tempfile.TemporaryDirectory() as tmp:
        def boot():
            t = time.perf_counter()
            with start_device(board, Path(tmp) / f"d{time.monotonic_ns()}",
                              firmware=None, files={"main.py": "print('up')\n"}) as dev:
                dev.wait_for("up")
                return time.perf_counter() - t

        floor, booted = _median(bare), _median(boot)
        with start_device(board, Path(tmp) / "rpc", firmware=None,
                          files={"main.py": _HEAP + _RPC}) as dev:
            dev.wait_for("END")
            out = dev.output.decode().split()
            rpc = float(out[out.index("RPC") + 1])
            local = float(out[out.index("LOCAL") + 1])
            free = int(out[out.index("FREE") + 1])
            shim_heap = dev.memory().shim_heap
        with start_device(board, Path(tmp) / "app") as dev:
            dev.wait_for("app ready")
            n0, t = dev.panel.frame_count, time.perf_counter()
            for i in range(20):
                dev.scan(f"EA{i:08d}5CN")
                dev.wait_for(f"scan: EA{i:08d}5CN")
            frames = dev.panel.frame_count - n0
            per_scan = (time.perf_counter() - t) / 20

    print(f"{'measure':44} {'value':>12} {'ratio':>8}")
    print(f"{'micropython -c pass (floor)':44} {floor * 1000:9.1f} ms {1:8.1f}")
    print(f"{'device boot to main.py output':44} {booted * 1000:9.1f} ms {booted / floor:8.1f}")
    print(f"{'local method call in device (floor)':44} {local:9.1f} us {1:8.1f}")
    print(f"{'Pin.value() round trip to the host':44} {rpc:9.1f} us {rpc / local:8.1f}")
    print(f"{'scan -> app printed it (incl. redraw)':44} {per_scan * 1000:9.1f} ms "
          f"{per_scan / floor:8.1f}")
    print(f"{'frames captured per scan':44} {frames / 20:12.1f}")
    offer = board.memory.ram_bytes - board.memory.wifi_bytes
    print(f"{'shim heap, credited to the board budget':44} {shim_heap:9d} B "
          f"{shim_heap / offer:8.1%}")
    print(f"{'free for main.py (RAM less Wi-Fi ' + str(offer) + ' B)':44} {free:9d} B "
          f"{free / offer:8.1%}")
