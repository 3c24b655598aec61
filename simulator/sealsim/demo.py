"""`make demo`: what sealscan can show today, run for real.

Today (foundation stage) the demo loads every board file, then runs the firmware's code
checks under the MicroPython unix port inside the ESP32 board's 110 KB heap, on sample codes
a courier might scan. The end-to-end demo (simulated scanner sealing records and uploading
them to the reference upstream) replaces this once the simulator and upstream land.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from sealscan import boards, fwtools
from sealsim import micropython as mp

_SNIPPET = """
import checkdigits, gc
for code in ("11010519491231002X", "110105194912310021", "EA123456785CN",
             "EA123456784CN", "106141411928374657"):
    ok = (checkdigits.resident_id(code) or checkdigits.upu_s10(code)
          or checkdigits.sscc18(code))
    print("  %-20s %s" % (code[:3] + "*" * (len(code) - 5) + code[-2:],
                          "check digit ok" if ok else "REJECTED: check digit wrong"))
gc.collect()
print("  heap: %d bytes used of %d" % (gc.mem_alloc(), gc.mem_alloc() + gc.mem_free()))
"""


def main() -> int:
    print("sealscan demo (foundation stage): boards, and firmware code checks on MicroPython")
    for b in boards.load_all():
        print(f"  board {b.name}: {b.chip}, heap budget {b.heap_kib} KiB")
    board = boards.load_board(boards.DEFAULT_BOARD)
    with tempfile.TemporaryDirectory() as tmp:
        fwtools.compile_firmware(out=Path(tmp))
        proc = mp.run(["-c", _SNIPPET], heap_bytes=board.heap_bytes, path=mp.module_path(tmp))
    print(f"firmware (.mpy) under MicroPython, {board.name} heap:")
    sys.stdout.write(proc.stdout.decode())
    sys.stderr.write(proc.stderr.decode())
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
