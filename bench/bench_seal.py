"""Sealing cost, queue heap and session setup of the firmware sealer, measured under the
simulator's MicroPython (v1.28.0 esp32sim: 32-bit, 16-bit mpz digits) from .mpy in the ESP32
board's memory (bench/fw_seal_bench.py runs there).

Ratios are against floors measured in the same run:
  - capture -> sealed (Sealer.seal: validate, CBOR, ratchet, AAD, CCM, queue, wipes) against
    the crypto floor: one AES-CCM over the same lengths plus the two ratchet HMACs;
  - heap held per queued sealed record (the one preallocated queue over the records it holds)
    against the sealed record's own size, and the naive list of bytes for comparison;
  - session setup (HPKE psk sender, two X25519) and the longest asyncio loop stall during it,
    projected to an ESP32 at x85-x140 (MicroPython's published ESP32 vs x86 scores).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sealscan import boards, fwtools
from sealsim import micropython as mp

SCRIPT = Path(__file__).with_name("fw_seal_bench.py")
ESP32_FACTORS = (85, 140)
GOAL_SEAL_RATIO = 2.0
GOAL_HEAP_RATIO = 1.15
GOAL_STALL_MS = 50.0


def measure() -> dict[str, float]:
    board = boards.load_board(boards.DEFAULT_BOARD)
    with tempfile.TemporaryDirectory() as tmp:
        fwtools.compile_firmware(out=Path(tmp))
        proc = mp.run([str(SCRIPT)], heap_bytes=board.memory.initial_heap_bytes, board=board,
                      path=mp.module_path(tmp), timeout=300)
    text = proc.stdout.decode()
    if proc.returncode != 0:
        raise RuntimeError(f"MicroPython bench failed:\n{text}{proc.stderr.decode()}")
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        values[key] = float(value)
    return values


def rows(v: dict[str, float]) -> list[tuple[str, str, str, str]]:
    lo, hi = ESP32_FACTORS
    floor = v["floor_ccm_us"] + v["floor_hmac2_us"]
    seal_ratio = v["seal_us"] / floor
    per_record = v["queue_heap_bytes"] / v["queue_records"]
    heap_ratio = per_record / v["sealed_bytes"]
    list_ratio = v["list_heap_bytes"] / v["queue_records"] / v["sealed_bytes"]
    stall_ms = v["stall_us"] / 1000
    return [
        ("crypto floor: 1 CCM + 2 HMAC", f"{floor:.1f} us",
         f"CCM {v['floor_ccm_us']:.1f} + HMACs {v['floor_hmac2_us']:.1f} us", ""),
        ("capture -> sealed (Sealer.seal)", f"{v['seal_us']:.1f} us",
         f"{seal_ratio:.2f}x floor", _goal(seal_ratio <= GOAL_SEAL_RATIO, "<= 2x")),
        ("sealed record size", f"{v['sealed_bytes']:.0f} B", "", ""),
        ("heap per queued record (queue)", f"{per_record:.0f} B",
         f"{heap_ratio:.3f}x sealed size ({v['queue_records']:.0f} in 16 KiB)",
         _goal(heap_ratio <= GOAL_HEAP_RATIO, "<= 1.15x")),
        ("heap per record (list of bytes)", f"{v['list_heap_bytes'] / v['queue_records']:.0f} B",
         f"{list_ratio:.3f}x sealed size", "for comparison"),
        ("session setup, yielding", f"{v['session_us'] / 1000:.1f} ms",
         f"{v['session_us'] / v['session_blocking_us']:.2f}x the blocking "
         f"{v['session_blocking_us'] / 1000:.1f} ms",
         f"ESP32 {v['session_us'] * lo / 1e6:.2f}-{v['session_us'] * hi / 1e6:.2f} s"),
        ("longest loop stall in setup", f"{stall_ms:.2f} ms",
         f"ESP32 {stall_ms * lo:.0f}-{stall_ms * hi:.0f} ms "
         f"(worst run {v['stall_worst_us'] / 1000:.2f} ms unix)",
         _goal(stall_ms * hi <= GOAL_STALL_MS, "<= 50 ms projected")),
    ]


def _goal(ok: bool, goal: str) -> str:
    return f"{'meets' if ok else 'MISSES'} goal {goal}"


def main() -> None:
    table = rows(measure())
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    print("MicroPython unix port, .mpy, heap of", boards.DEFAULT_BOARD)
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
