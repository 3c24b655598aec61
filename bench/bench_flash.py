"""`sealscan audit --dump` speed on a 4 MB dump: seconds and MB/s on one core (goal: at
least 20 MB/s), for a deployed and provisioned scanner and for one whose filesystem is full
of old text (every free block holding digit-heavy data: the pattern search's worst case).
Floor measured in the same run: sha256 over the same 4 MB (memory speed on this machine).

And what the device pays for being its flash.bin: MicroPython mounting the firmware's files
and reading them all, from LittleFS over the esp32.Partition shim (today's boot) against a
host folder through VfsPosix (the folder boot before it), and a whole device boot.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import tempfile
import time
from pathlib import Path

from sealscan.boards import DEFAULT_BOARD, load_board
from sealscan.device.firmware import MANIFEST, build_firmware
from sealscan.device.flashaudit import audit_dump
from sealscan.paths import SHIMS_DIR
from sealsim import micropython as mp
from sealsim.flashstore import FlashStore
from sealsim.scenario import start_device

GOAL_MBS = 20.0


def _median(f, n=5):
    return statistics.median(f() for _ in range(n))


def _dirty_text(rng: random.Random, size: int) -> bytes:
    alphabet = b"0123456789" * 4 + b"ABCDEFGHIJKLMNOPQRSTUVWXYZ ,.:=\n"
    return bytes(rng.choice(alphabet) for _ in range(size))


def main() -> None:
    board = load_board(DEFAULT_BOARD)
    build = build_firmware(board)
    files = {"/" + k: v for k, v in build.files.items()}
    files["/" + MANIFEST] = build.manifest()
    with tempfile.TemporaryDirectory() as tmp:
        store = FlashStore(board, Path(tmp))
        store.write_release()
        store.put_files(files)
        nvs = store.nvs()
        nvs.set_blob("sealscan", "device_id", b"dev-17")
        nvs.set_blob("sealscan", "tls_cert", bytes(800))
        nvs.set_int("sealscan", "provisioned", 1)
        clean = store.flash.read(0, board.flash_size)
        rng = random.Random(1)
        chunk = _dirty_text(rng, 64 * 1024)
        with store.filesystem() as fs:  # fill the filesystem, then delete it all again
            n = 0
            while True:
                try:
                    with fs.open(f"/junk{n}.txt", "wb") as f:
                        f.write(chunk)
                except Exception:  # noqa: BLE001 - the filesystem is full
                    break
                n += 1
            for i in range(n + 1):
                try:
                    fs.remove(f"/junk{i}.txt")
                except Exception:  # noqa: BLE001
                    pass
        dirty = store.flash.read(0, board.flash_size)
        store.close()

    floor = _median(lambda: _timed(lambda: hashlib.sha256(clean).digest()))
    rows = []
    for name, data in (("deployed + provisioned", clean), ("vfs full of old text", dirty)):
        report = audit_dump(data, board)
        t = _median(lambda d=data: _timed(lambda: audit_dump(d, board)), 3)
        rows.append((name, t, len(data) / t / 1e6, t / floor, len(report.findings)))
    print(f"{'4 MB dump':<26}{'seconds':>9}{'MB/s':>9}{'x sha256':>10}{'findings':>10}")
    for name, t, mbs, ratio, hits in rows:
        print(f"{name:<26}{t:>9.3f}{mbs:>9.1f}{ratio:>10.1f}{hits:>10}")
    print(f"floor: sha256 of 4 MB {floor * 1000:.1f} ms; goal >= {GOAL_MBS:.0f} MB/s: "
          + ("met" if min(r[2] for r in rows) >= GOAL_MBS else "NOT met"))
    print()
    boot_costs(board, files)


_READ_ALL = """
import os, time, vfs
t = time.ticks_us()
%s
n = 0
for name in os.listdir("/m"):
    with open("/m/" + name, "rb") as f:
        n += len(f.read())
print("US", time.ticks_diff(time.ticks_us(), t), n)
"""
_POSIX = 'vfs.mount(vfs.VfsPosix(os.getenv("DIR")), "/m")'
_LFS = """vfs.mount(vfs.VfsPosix(os.getenv("DIR")), "/s")
fl = open("/s/flash.bin", "r+b")
vfs.umount("/s")
import esp32
esp32._attach(fl, os.getenv("SEALSIM_PARTS"))
vfs.mount(esp32.Partition.find(esp32.Partition.TYPE_DATA, label="vfs")[0], "/m")"""


def _read_all(mount: str, env: dict[str, str], heap: int) -> float:
    proc = mp.run(["-c", _READ_ALL % mount], heap_bytes=heap,
                  path=mp.module_path(str(SHIMS_DIR)), env=env, timeout=60)
    out = proc.stdout.decode().split()
    if "US" not in out:
        raise RuntimeError(proc.stdout.decode() + proc.stderr.decode())
    return int(out[out.index("US") + 1]) / 1e6


def boot_costs(board, files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "folder"
        folder.mkdir()
        for name, data in files.items():
            (folder / name.lstrip("/")).write_bytes(data)
        store = FlashStore(board, Path(tmp))
        store.write_release()
        store.put_files(files)
        parts = store.partitions_env()
        store.close()
        heap = 512 * 1024
        posix = _median(lambda: _read_all(_POSIX, {"DIR": str(folder)}, heap))
        lfs = _median(lambda: _read_all(_LFS, {"DIR": tmp, "SEALSIM_PARTS": parts}, heap))

        def boot() -> float:
            t = time.perf_counter()
            with start_device(board, Path(tmp) / f"d{time.monotonic_ns()}", firmware=None,
                              files={"main.py": "print('up')\n"}) as dev:
                dev.wait_for("up")
                return time.perf_counter() - t

        booted = _median(boot, 3)
    print(f"{'mount + read the firmware files':40}{'seconds':>10}{'ratio':>8}")
    print(f"{'host folder (VfsPosix, before)':40}{posix:>10.4f}{1:>8.1f}")
    print(f"{'flash.bin (LittleFS, Partition shim)':40}{lfs:>10.4f}{lfs / posix:>8.1f}")
    print(f"{'whole device boot to main.py output':40}{booted:>10.3f}")


def _timed(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t
