"""The application on a simulated ESP32 against the real upstream: heap and capture latency.

Heap: what the app leaves free (gc.mem_free(), esp32 semantics: heap free + the largest area
the heap could still add from the board's RAM) at "ready", at the lowest point of a session
setup (watched by sealsim.endtoend.SETUP_WATCH_MAIN) and after it (floor: what a bare main.py
finds free on the same simulated device). The board's RAM as one budget, with TLS:
bench_memory.py. Latency (floor: a waybill scan until the app reports it held,
i.e. the UART + parsing + screen path): identity + waybill until sealed, and until the
upstream's authenticated ack over HTTPS.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from pathlib import Path

from sealscan.fonttool import STRIKES
from sealsim import endtoend as kit
from sealsim.scenario import start_device

_N = 8
_READY_FREE = rb"ready, device \S+ free (\d+)\r?\n"
_SESSION_FREE = rb"session started, free (\d+)\r?\n"
_BARE_MAIN = "import gc\ngc.collect()\nprint('FREE', gc.mem_free(), 'END')\n"


def main() -> None:
    board = kit.board()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with start_device(board, work / "bare", firmware=None,
                          files={"main.py": _BARE_MAIN}) as dev:
            dev.wait_for("END")
            bare_free = int(dev.output.decode().split("FREE")[1].split()[0])
        up = kit.Upstream(work / "up").start()
        try:
            keys = kit.provision(work / "dev", board, kit.build_firmware(work / "fw"), up)
            dev = kit.device(board, work / "dev")
            try:
                dev.wait_until(lambda: re.search(_SESSION_FREE, bytes(dev.output)), 30,
                               "session started line")
                out = bytes(dev.output)
                m = re.search(_READY_FREE, out)
                app_free = int(m.group(1)) if m else 0
                m = re.search(_SESSION_FREE, out)
                session_free = int(m.group(1)) if m else 0
                dev.scan(keys.badge())
                dev.wait_for("logged in")
                held, sealed, acked = [], [], []
                for i in range(_N):
                    token = up.identity()
                    mark = len(dev.output)
                    t = time.perf_counter()
                    dev.scan(f"SF{i:013d}")
                    dev.wait_for("held", since=mark)
                    held.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    dev.scan(token)
                    dev.wait_for(f"sealed record {i}", since=mark)
                    sealed.append(time.perf_counter() - t)
                    dev.wait_for(f"record {i} verdict", since=mark)
                    acked.append(time.perf_counter() - t)
            finally:
                dev.close()
            # the lowest free heap of a session setup: a second device whose main.py
            # watches the setup (kit.SETUP_WATCH_MAIN)
            kit.provision(work / "dev2", board, kit.build_firmware(work / "fw2"), up,
                          device_id="scanner-2")
            kit.watch_session_setup(work / "dev2", board)
            dev = kit.device(board, work / "dev2")
            try:
                dev.wait_until(lambda: re.search(kit.SETUP_LOW, bytes(dev.output)), 30,
                               "setup low line")
                out = bytes(dev.output)
                m = re.search(kit.SETUP_LOW, out)
                setup_low = int(m.group(1)) if m else 0
                m = re.search(_READY_FREE, out)  # what the watcher itself costs
                watcher = app_free - (int(m.group(1))) if m else 0
            finally:
                dev.close()
        finally:
            up.stop()
    modules = module_heap()
    font_heap = font_resident()
    floor = statistics.median(held)
    print(f"{'measure':46} {'value':>12} {'ratio':>8}")
    print(f"{'free heap, bare main.py (floor)':46} {bare_free:9d} B {1:8.2f}")
    print(f"{'free heap, app ready':46} {app_free:9d} B "
          f"{app_free / bare_free:8.2f}")
    print(f"{'free heap, lowest during session setup (idem)':46} {setup_low:9d} B "
          f"{setup_low / bare_free:8.2f}")
    print(f"{'  (the watching main.py costs, at ready)':46} {watcher:9d} B "
          f"{watcher / bare_free:8.2f}")
    print(f"{'free heap, first session started (idem)':46} {session_free:9d} B "
          f"{session_free / bare_free:8.2f}")
    print(f"{'waybill scan -> held (floor)':46} {floor * 1000:9.1f} ms {1:8.1f}")
    for name, vals in (("identity scan -> sealed", sealed), ("identity scan -> acked (HTTPS)",
                                                              acked)):
        med = statistics.median(vals)
        print(f"{name:46} {med * 1000:9.1f} ms {med / floor:8.1f}")

    print()
    print(f"{'firmware module (boot order)':30} {'heap':>9} {'share':>8}  when loaded")
    total = sum(n for _, n in modules)
    for name, n in modules:
        print(f"{name:30} {n:7d} B {n / total:8.2f}  "
              f"{_TRANSIENT.get(name, 'boot, resident')}")
    print(f"{'total':30} {total:7d} B {1:8.2f}")

    print()
    print(f"{'font (glyphs from flash)':46} {'value':>12} {'ratio':>8}")
    for what, n in font_heap:
        print(f"{what:46} {n:9d} B {n / _FONT_BUDGET:8.2f}")
    for size, strike in STRIKES.items():
        n = strike.asset.stat().st_size
        print(f"{f'font asset on flash, {size} px (font{size}.bin)':46} {n:9d} B "
              f"{n / STRIKES[12].asset.stat().st_size:8.2f}")


# Each module's heap when imported after its dependencies (so its own cost only): bytecode,
# globals, and whatever qstr pool growth its names trigger (pools grow in chunks, so a chunk
# lands on whichever module fills the previous one). Shims and native modules first, as on a
# simulated device. The first block is what boot loads; the transient ones load after.
_BOOT_ORDER = ("wipe", "transient", "config", "hmac256", "cborenc", "aesccm", "cose",
               "ackmac", "answer", "batch", "record", "sealq", "sealer", "checkdigits",
               "cbordec", "base45", "mask", "waybill", "idtoken", "flow", "scanline",
               "ssd1306", "display", "view", "uplink", "handheld", "app")
_TRANSIENT = {"bootload": "boot only, released",
              "x25519": "session setup (stage 1: DH), released",
              "hkdf": "session setup (stage 2: key schedule), released",
              "hpkeks": "session setup (stage 2: key schedule), released",
              "mac0": "badge/config code, released",
              "texts": "never (ids folded in at build time, words in font.bin)",
              "st7789": "ESP32-S3 board's screen only"}
_MEASURE = """
import gc, sys
import machine, network, esp32, socket, time, ntptime, framebuf, json, tls, deflate, io
import hashlib, cryptolib, os, asyncio
for m in sys.argv[1].split(","):
    gc.collect(); a = gc.mem_alloc()
    __import__(m)
    gc.collect(); print("HEAP", m, gc.mem_alloc() - a)
"""


# The font's resident heap: its code (display.py's open_font/text/draw: display.py measured
# against a copy without them, each in its own process) plus the open font (file object,
# glyph buffer and its FrameBuffer, header), and what drawing every text leaves behind
# (nothing: no glyph and no text is kept). The budget: 1 KiB for code and buffer.
_FONT_BUDGET = 1024
_FONT_MEASURE = """
import gc, sys, framebuf
gc.collect(); a = gc.mem_alloc()
display = __import__(sys.argv[3])
gc.collect(); print("FONT module", gc.mem_alloc() - a)
print("FONT wordbits", 64 if sys.maxsize > 2 ** 32 else 32)
if sys.argv[3] == "display":
    gc.collect(); a = gc.mem_alloc()
    display.open_font(sys.argv[1], 0)
    gc.collect(); print("FONT open", gc.mem_alloc() - a)
    d = framebuf.FrameBuffer(bytearray(128 * 64 // 8), 128, 64, framebuf.MONO_VLSB)
    def every_text():
        for lang in (0, 1):
            for i in range(int(sys.argv[2])):
                display.draw(d, display.text(i, lang).replace("\\n", " "), 0, 0, None)
    every_text()
    gc.collect(); a = gc.mem_alloc()
    every_text()
    gc.collect(); print("FONT drawn", gc.mem_alloc() - a)
"""


def font_resident() -> list[tuple[str, int]]:
    from sealscan import fwtools
    from sealscan.fonttool import text_table
    from sealscan.paths import FIRMWARE_DIR, SHIMS_DIR
    from sealsim import micropython as mp

    got: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        full = (FIRMWARE_DIR / "display.py").read_text(encoding="utf-8")
        bare = full[:full.index("_HEAD = const(")] + full[full.index("def open_display("):]
        (src / "display.py").write_text(full, encoding="utf-8")
        (src / "display_nofont.py").write_text(bare, encoding="utf-8")
        fw = Path(tmp) / "fw"
        fwtools.compile_firmware(src, fw)
        script = Path(tmp) / "font_measure.py"
        script.write_text(_FONT_MEASURE)
        for module in ("display_nofont", "display"):
            proc = mp.run([str(script), str(STRIKES[12].asset), str(len(text_table()[1])),
                           module], heap_bytes=1 << 20,
                          path=mp.module_path(SHIMS_DIR / "device", fw))
            for line in proc.stdout.decode().splitlines():
                if line.startswith("FONT "):
                    key = "bare" if module != "display" and "module" in line else line.split()[1]
                    if key == "wordbits" and module != "display":
                        continue
                    got[key] = int(line.split()[2])
    if set(got) != {"bare", "module", "open", "drawn", "wordbits"}:
        raise RuntimeError("font heap measurement failed: " + proc.stderr.decode())
    code = got["module"] - got["bare"]
    rows = [("font code (display.open_font, text, draw)", code),
            ("open font (glyph buffer, FrameBuffer; file only while drawing)", got["open"]),
            ("font code + buffer, resident (budget 1 KiB)", code + got["open"]),
            ("left after drawing every text (none kept)", got["drawn"])]
    if got["wordbits"] == 64:  # this port is 64-bit: what a 32-bit ESP32 pays (measured
        # on the same .mpy files: 32-bit builds need 0.69x the heap of 64-bit ones)
        rows.insert(3, ("  the same on a 32-bit ESP32 (x0.69)",
                        round((code + got["open"]) * 0.69)))
    return rows


def module_heap() -> list[tuple[str, int]]:
    from sealscan.paths import FIRMWARE_DIR, SHIMS_DIR
    from sealsim import micropython as mp

    with tempfile.TemporaryDirectory() as tmp:
        fw = kit.build_firmware(Path(tmp) / "fw")
        script = Path(tmp) / "measure.py"
        script.write_text(_MEASURE)
        names = _BOOT_ORDER + tuple(_TRANSIENT)
        assert {p.stem for p in FIRMWARE_DIR.glob("*.py")} - {"main"} == set(names)
        proc = mp.run([str(script), ",".join(names)], heap_bytes=1 << 20,
                      path=mp.module_path(SHIMS_DIR / "device", fw))
    rows = [line.split() for line in proc.stdout.decode().splitlines()
            if line.startswith("HEAP ")]
    if len(rows) != len(names):
        raise RuntimeError("module heap measurement failed: " + proc.stderr.decode())
    return [(r[1], int(r[2])) for r in rows]


if __name__ == "__main__":
    main()
