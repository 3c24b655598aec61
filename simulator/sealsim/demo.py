"""`make demo`: what sealscan can show today, run for real.

Today the demo loads every board file, runs the firmware's code checks under the MicroPython
unix port inside the ESP32 board's 110 KB heap on sample codes a courier might scan, then
boots the simulator's test app on a simulated ESP32 handheld: a code is scanned by the GM65
model, the screen the firmware draws is shown here, the power is cut and restored, and the
flash audit checks that the scanned code never reached flash. The end-to-end demo (the real
app sealing records and uploading them to the reference upstream) replaces the test app once
the firmware and upstream land.
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
    if proc.returncode:
        return proc.returncode
    return simulated_device(board)


def simulated_device(board: boards.Board) -> int:
    from sealsim.audit import Snapshot, audit
    from sealsim.scenario import start_device

    print(f"simulated {board.name} running the simulator's test app:")
    with tempfile.TemporaryDirectory() as tmp, start_device(board, Path(tmp) / "dev") as dev:
        dev.wait_for("app ready")
        before = Snapshot.take(dev.state)
        dev.scan("EA123456785CN")
        dev.wait_until(lambda: "EA123456785CN" in dev.screen_text(), 20, "the scan on screen")
        print("  screen after scanning EA123456785CN:")
        print("\n".join("    |" + line + "|" for line in dev.screen_lines()))
        print("  text on screen:", " | ".join(dev.screen_text()))
        print("  buzzer/LED:", ", ".join(ev for _, ev in dev.events[-4:]))
        dev.power_cut()
        mark = len(dev.output)
        dev.power_on()
        dev.wait_for("app ready", since=mark)
        print(f"  power cut and back: booted again (boot #{dev.boots}), console on {dev.port}")
        report = audit(before, dev.state, ["EA123456785CN"], journal=dev.writes)
        print("  " + report.summary().replace("\n", "\n  "))
        return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
