"""`sealscan stage` against a simulated station: ROM bootloaders and MicroPython consoles of
both boards, a real upstream over HTTPS. Faults as a depot meets them: a cable pulled
mid-flash, the wrong chip in a slot, a scanner staged before; Ctrl-C in the middle; canary
keys that must never appear in output, receipts or state."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sealscan.codes import save_key_file
from sealsim import endtoend as e2ekit
from sealsim.rom import Faults, SimulatedChip
from sealsim.station import release_images, scanner

BOARDS = ["esp32-devkitc-gm65", "esp32s3-devkitc-st7789"]
BADGE_KEY = bytes(range(0x40, 0x60))  # canaries
CONFIG_KEY = bytes(range(0x80, 0xA0))
WIFI_PASS = "canary-wifi-Pa55w0rd"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    up = e2ekit.Upstream(tmp_path_factory.mktemp("stage-up") / "state").start()
    yield up
    up.stop()


@pytest.fixture
def station(tmp_path, upstream):
    """make(boards, faults={i: Faults}) -> scanners; closes them at the end."""
    made = []
    images = release_images(tmp_path, BOARDS, app_size=0x20000)
    save_key_file(BADGE_KEY, tmp_path / "badge.key")
    save_key_file(CONFIG_KEY, tmp_path / "config.key")

    def make(boards, faults=None, prefix="s"):
        out = []
        for i, b in enumerate(boards):
            name = f"{prefix}{i}"
            out.append(scanner(b, tmp_path / name, name=name, link_dir=tmp_path / "by-id",
                               faults=(faults or {}).get(i)))
        made.extend(out)
        return out

    make.images = images
    make.root = tmp_path
    yield make
    for s in made:
        s.close()


def stage_cmd(make, upstream, scanners, out, *extra):
    cmd = [sys.executable, "-m", "sealscan", "stage", "--json", "--before", "no-reset",
           "--upstream", str(upstream.dir), "--upstream-url", upstream.url, "--carrier", "SF",
           "--badge-key", str(make.root / "badge.key"), "--config-key",
           str(make.root / "config.key"), "--wifi-ssid", "depot", "--out", str(out),
           "--retries", "1", *extra]
    for b, (path, sha) in make.images.items():
        cmd += ["--image", f"{b}={path}", "--sha256", f"{b}={sha}"]
    for s in scanners:
        cmd += ["--port", s.spec]
    return cmd


def run_stage(make, upstream, scanners, out, *extra):
    r = subprocess.run(stage_cmd(make, upstream, scanners, out, *extra), capture_output=True,
                       text=True, timeout=600, env=dict(os.environ, SEALSCAN_WIFI_PASS=WIFI_PASS))
    return r, json.loads(r.stdout) if r.stdout.strip().startswith("{") else None


def by_port(summary):
    return {d["port"]: d for d in summary["devices"]}


def flash_sha(s):
    return hashlib.sha256((s.chip.state_dir / "flash.bin").read_bytes()).hexdigest()


def no_key_anywhere(texts, out: Path, scanners):
    keys = [BADGE_KEY, CONFIG_KEY, WIFI_PASS.encode()]
    for s in scanners:
        key = s.device.nvs().get("device_key")
        if key:
            keys.append(key)
    blobs = [t.encode() for t in texts]
    blobs += [p.read_bytes() for p in out.rglob("*") if p.is_file()]
    for k in keys:
        for b in blobs:
            assert k not in b and k.hex().encode() not in b.lower()
    return len(keys)


def test_eight_scanners_staged_at_once_with_a_dropped_cable_a_wrong_chip_and_one_done(
        station, upstream, tmp_path):
    boards = [BOARDS[i % 2] for i in range(8)]
    out = tmp_path / "out"
    # scanner 7 was staged in an earlier session of this station
    scanners = station(boards, faults={2: Faults(drop_after_blocks=2),
                                       4: Faults(wrong_model=True)})
    ids = tmp_path / "ids.csv"
    with open(ids, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["port", "device_id", "board"])
        for i, (s, b) in enumerate(zip(scanners, boards, strict=True)):
            w.writerow([s.chip.port, f"depot7-{i:02d}", b])
    first, summary = run_stage(station, upstream, scanners[7:], out, "--ids-csv", str(ids))
    assert first.returncode == 0, first.stderr
    assert summary["counts"] == {"staged": 1}

    r, summary = run_stage(station, upstream, scanners, out, "--ids-csv", str(ids))
    pass  # rc checked below
    assert summary is not None, (r.returncode, r.stdout[:3000], r.stderr[-3000:])
    rows = by_port(summary)
    status = {i: rows[s.chip.port]["status"] for i, s in enumerate(scanners)}
    assert status == {0: "staged", 1: "staged", 2: "failed", 3: "staged", 4: "failed",
                      5: "staged", 6: "staged", 7: "already staged"}
    assert rows[scanners[2].chip.port]["detail"].startswith("flash:")
    assert "wrong device in this slot" in rows[scanners[4].chip.port]["detail"]
    assert "dropped" in scanners[2].chip.events
    receipts = {json.loads(p.read_text())["device_id"]: json.loads(p.read_text())
                for p in (out / "receipts").glob("*.json")}
    assert set(receipts) == {f"depot7-{i:02d}" for i in (0, 1, 3, 5, 6, 7)}
    for i in (0, 1, 3, 5, 6, 7):
        rec = receipts[f"depot7-{i:02d}"]
        assert rec["board"] == boards[i] and rec["mac"] == scanners[i].chip.mac_text
        assert rec["image_sha256"] == station.images[boards[i]][1] and rec["e2e"] == "acked"
        assert len(rec["entry_sha256"]) == 64 and rec["firmware"]
    devices = {d["device_id"] for d in upstream.stats()}
    assert set(receipts) <= devices and "depot7-04" not in devices
    assert "depot7-02" not in devices  # never provisioned: its flash never finished
    # every staged device runs the app, provisioned
    for i in (0, 1, 3, 5, 6):
        scanners[i].device.wait_for(f"sealscan: ready, device depot7-{i:02d}", 30)

    # the cable is plugged back in: a second run finishes that one and touches nothing else
    old = scanners[2].chip
    scanners[2].replug(SimulatedChip(boards[2], old.state_dir, device_id="s2", link=old.link))
    before = {i: flash_sha(s) for i, s in enumerate(scanners) if i != 2}  # NVS, files, all
    r2, summary2 = run_stage(station, upstream, scanners, out, "--ids-csv", str(ids))
    rows2 = by_port(summary2)
    status2 = {i: rows2[s.chip.port]["status"] for i, s in enumerate(scanners)}
    assert status2 == {**{i: "already staged" for i in (0, 1, 3, 5, 6, 7)}, 2: "staged",
                       4: "failed"}
    after = {i: flash_sha(s) for i, s in enumerate(scanners) if i != 2}
    assert after == before
    assert "depot7-02" in {d["device_id"] for d in upstream.stats()}
    assert no_key_anywhere([first.stdout, first.stderr, r.stdout, r.stderr, r2.stdout,
                            r2.stderr], out, scanners) >= 8


def test_ctrl_c_mid_way_leaves_nothing_counted_that_is_not_and_a_rerun_completes(
        station, upstream, tmp_path):
    scanners = station(BOARDS + BOARDS[:1], prefix="c")
    out = tmp_path / "out"
    # a bigger image: the flash takes a few seconds at the paced 921600 baud
    station.images = release_images(tmp_path, BOARDS, app_size=0x80000, prefix="big-")
    proc = subprocess.Popen(stage_cmd(station, upstream, scanners, out, "--ids", "cc-{n:02d}"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, SEALSCAN_WIFI_PASS=WIFI_PASS))
    deadline = time.monotonic() + 60
    while not any("stub" in s.chip.events for s in scanners):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1
    assert "stopping: each scanner finishes its current step" in stderr
    summary = json.loads(stdout)
    assert set(summary["counts"]) == {"interrupted"}
    assert not list((out / "receipts").glob("*.json"))  # nothing counted as staged
    assert not {d["device_id"] for d in upstream.stats()} & {"cc-01", "cc-02", "cc-03"}
    r, summary = run_stage(station, upstream, scanners, out, "--ids", "cc-{n:02d}")
    assert r.returncode == 0, r.stderr
    assert summary["counts"] == {"staged": 3}
    ids = {d["device_id"] for d in summary["devices"]}
    assert ids == {"cc-01", "cc-02", "cc-03"}  # the same ids: no orphaned numbers
    assert ids <= {d["device_id"] for d in upstream.stats()}
    no_key_anywhere([stdout, stderr, r.stdout, r.stderr], out, scanners)
