"""`make demo`: the sealscan story end to end, run for real and printed for a person.

A reference upstream is made and served over loopback HTTPS; an empty simulated ESP32
handheld gets the real firmware and its keys through `sealscan deploy` and `sealscan provision`
over its console; a courier logs in with a badge and captures a parcel (identity QR + waybill):
the record is sealed at once, uploaded, stored once and acked with a verdict. Then Wi-Fi goes
away (overdue alarm after 30 s on the device's clock, identity scans refused, cleared by the
ack once Wi-Fi is back) and the power is cut with a record in RAM. Screens are shown as the
text the firmware drew; the flash audit and the console are searched for the canary identity.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from sealscan.device.flashaudit import audit_dump
from sealscan.fonttool import words
from sealsim import endtoend as kit
from sealsim.audit import Snapshot, audit
from sealsim.screen import term_pad

_COLS = 24  # terminal columns of the 128x64 screen's widest text row


def show(dev, title: str) -> None:  # noqa: ANN001 - a sealsim Device
    lines = kit.frame_text(dev.frame())
    print(f"  screen: {title}")
    print("    +" + "-" * _COLS + "+")
    for line in lines:
        print(f"    |{term_pad(line, _COLS)}|")
    print("    +" + "-" * _COLS + "+")


def console(dev, since: int) -> int:  # noqa: ANN001
    text = bytes(dev.output[since:]).decode("utf-8", "replace")
    for line in text.splitlines():
        if line.startswith("sealscan:"):
            print("    console> " + line)
    return len(dev.output)


def main() -> int:
    t0 = time.monotonic()
    print("sealscan demo: a simulated ESP32 handheld, the real firmware, the real upstream\n")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        up = kit.Upstream(work / "upstream").start()
        try:
            return story(up, work, t0)
        finally:
            up.stop()


def story(up: kit.Upstream, work: Path, t0: float) -> int:
    board = kit.board()
    print(f"1. upstream: `sealscan upstream init` + `serve` on {up.url} (TLS, self-signed cert "
          "pinned by devices), a TEST identity issuer trusted")
    dev = kit.device(board, work / "scanner")
    try:
        print(f"2. depot: an empty {board.name} on {dev.port}: `sealscan deploy`, "
              "`sealscan provision` (keys made on the host), `sealscan upstream import`")
        keys = kit.provision_with_depot_tools(dev, up, work / "depot", "sz-017")
        dev.wait_for("session started", 30)
        before = Snapshot.take(dev.state)
        written = len(dev.writes)
        mark = console(dev, 0)
        print("   canary identity: resident id, name, phone (must never be seen or stored)")

        print("3. the courier scans their badge, then the sender's identity QR and the waybill")
        dev.scan(keys.badge())
        dev.wait_for("courier logged in", 20, since=mark)
        token = up.identity()
        dev.scan(token)
        dev.wait_until(lambda: "证件 1******2X" in kit.frame_text(dev.frame()), 20, "masked id")
        show(dev, "identity held: the surname 欧阳 as glyphs, the given name hidden")
        dev.scan(kit.WAYBILLS[0])
        dev.wait_for("record 0 verdict ok", 30, since=mark)
        dev.wait_until(lambda: words("REC_ACCEPTED") in "".join(kit.frame_text(dev.frame())),
                       10, "the verdict")
        mark = console(dev, mark)
        show(dev, "sealed at capture, uploaded, acked by the upstream: verdict ok")

        print("4. Wi-Fi goes away; the next record waits in RAM")
        overdue = words("OVERDUE").split("\n")[0]
        dev.set_wifi(False)
        dev.wait_for("wifi down", 20, since=mark)
        dev.scan(up.identity())
        dev.scan(kit.WAYBILLS[1])
        dev.wait_for("sealed record 1", 20, since=mark)
        print("   30 s pass on the device's clock without an ack (simulator clock control)")
        dev.skew_clock(31)
        dev.wait_for("alarm overdue", 20, since=mark)
        dev.wait_until(lambda: overdue in kit.frame_text(dev.frame()), 10, "alarm")
        dev.scan(up.identity())
        dev.wait_for("scan refused: Upload overdue", 20, since=mark)
        buzz = sum(1 for _, e in dev.events if "buzzer" in e)
        mark = console(dev, mark)
        show(dev, f"overdue alarm (buzzer events so far: {buzz}); new identities refused")
        dev.set_wifi(True)
        dev.wait_for("alarm cleared", 30, since=mark)
        dev.wait_until(lambda: overdue not in kit.frame_text(dev.frame()), 10,
                       "the alarm gone")
        mark = console(dev, mark)
        show(dev, "Wi-Fi back: acked, alarm cleared")

        print("5. power cut with a record sealed but not yet acked (Wi-Fi off)")
        dev.set_wifi(False)
        queued = up.identity()
        dev.scan(queued)
        dev.scan(kit.WAYBILLS[2])
        dev.wait_for("sealed record 2", 20, since=mark)
        mark = console(dev, mark)
        dev.power_cut()
        print("   power cut: RAM is gone; the record was never on flash (the courier rescans)")

        recs = up.records(keys.device_id)
        sealed = [r.sealed for _, r in recs]
        canaries = [*kit.CANARIES, token, queued, *kit.WAYBILLS[:3], *sealed]
        report = audit(before, dev.state, canaries, journal=dev.writes[written:],
                       allowed=set())
        seen = kit.all_screen_text(dev) + bytes(dev.output).decode("utf-8", "replace")
        leaked = [c for c in kit.CANARIES if c in seen]
        dump = audit_dump((dev.state / "flash.bin").read_bytes(), dev.board)
    finally:
        dev.close()

    print("\n6. results")
    print(f"   upstream store: {len(recs)} record(s) for {keys.device_id}, indices "
          f"{[r.index for _, r in recs]}, verdicts {[r.verdict for _, r in recs]}")
    for s in up.stats():
        print(f"   `sealscan upstream stats`: device {s['device_id']}: records {s['records']}, "
              f"duplicates {s['duplicates']}, late {s['late']}, rejects {s['rejects']}")
    print("   " + report.summary().replace("\n", "\n   "))
    print(f"   `sealscan audit --dump flash.bin`: {len(dump.files)} files, "
          f"{dump.nvs_erased} erased NVS entries, {dump.free_blocks_with_data} free blocks "
          f"with old data searched: {len(dump.findings)} record-like finding(s)")
    print(f"   screens and console searched for the canary identity: "
          f"{'LEAKED ' + str(len(leaked)) if leaked else 'none found'}")
    ok = report.ok and not leaked and not dump.findings and [r.index for _, r in recs] == [0, 1]
    print(f"\ndemo {'passed' if ok else 'FAILED'} in {time.monotonic() - t0:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
