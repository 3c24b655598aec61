"""Staging wall time: `sealscan stage` on N = 1 and N = 8 simulated scanners (both boards mixed)
at 921600 baud with an image of a real MicroPython release's size, against a real upstream.

The ROM simulator paces its serial line at the baud rate (~92 KB/s at 921600), so the flash
step costs what it costs on a USB-UART bridge; the goal is N = 8 within 1.5x of N = 1 (the
scanners must not wait for each other). Per-stage means are printed for both runs. Each run
is a `sealscan stage` process, as a technician runs it; the simulated chips and consoles run
in this process and in their MicroPython processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sealscan.codes import save_key_file
from sealsim import endtoend as e2ekit
from sealsim.station import release_images, scanner

BOARDS = ["esp32-devkitc-gm65", "esp32s3-devkitc-st7789"]
APP_SIZE = 0x180000  # ESP32_GENERIC v1.26.0 is ~1.6 MB; its app ~1.5 MB
GOAL = 1.5


def _stage(root: Path, up: e2ekit.Upstream, n: int, images: dict) -> dict:
    scs = [scanner(BOARDS[i % 2], root / f"n{n}-{i}", name=f"n{n}-{i}",
                   link_dir=root / "by-id") for i in range(n)]
    try:
        cmd = [sys.executable, "-m", "sealscan", "stage", "--json", "--before", "no-reset",
               "--upstream", str(up.dir), "--upstream-url", up.url, "--carrier", "SF",
               "--badge-key", str(root / "badge.key"), "--config-key",
               str(root / "config.key"), "--wifi-ssid", "depot", "--out", str(root / f"out{n}"),
               "--ids", f"bench{n}-{{n:02d}}", "--baud", "921600"]
        for b, (path, sha) in images.items():
            cmd += ["--image", f"{b}={path}", "--sha256", f"{b}={sha}"]
        for s in scs:
            cmd += ["--port", s.spec]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800,
                           env=dict(os.environ, SEALSCAN_WIFI_PASS="depot-secret"))
        summary = json.loads(r.stdout)
        if summary["counts"] != {"staged": n}:
            raise SystemExit(f"bench_stage: N={n} did not stage: {summary['counts']}")
        return summary
    finally:
        for s in scs:
            s.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        images = release_images(root, BOARDS, app_size=APP_SIZE)
        sizes = [p.stat().st_size for p, _ in images.values()]
        save_key_file(os.urandom(32), root / "badge.key")
        save_key_file(os.urandom(32), root / "config.key")
        up = e2ekit.Upstream(root / "up").start()
        try:
            one = _stage(root, up, 1, images)
            eight = _stage(root, up, 8, images)
        finally:
            up.stop()
    steps = ["identify", "flash", "deploy", "provision", "verify", "register", "e2e"]
    print(f"image {min(sizes) / 1e6:.2f}-{max(sizes) / 1e6:.2f} MB, 921600 baud (paced)")
    print(f"{'measure':32} {'N=1':>10} {'N=8':>10} {'ratio':>8}")
    w1, w8 = one["wall_seconds"], eight["wall_seconds"]
    print(f"{'wall time to stage all':32} {w1:9.1f}s {w8:9.1f}s {w8 / w1:8.2f}"
          f"   goal <= {GOAL} ({'met' if w8 / w1 <= GOAL else 'NOT met'})")
    for s in steps:
        a = one["step_seconds_mean"].get(s, 0.0)
        b = eight["step_seconds_mean"].get(s, 0.0)
        print(f"{'  mean ' + s:32} {a:9.2f}s {b:9.2f}s {b / a if a else 0:8.2f}")
