"""Hardware smoke kit (`make hil PORT=/dev/ttyUSB0`, `sealscan hil --port P`): one scanner on
the bench against a local reference upstream, with the depot's own commands, and the numbers
that replace the simulator's projections.

    1. upstream    `sealscan upstream init` (its certificate names --upstream-host, the address
                   the board reaches this computer at), a TEST identity issuer, `serve`
    2. deploy      `sealscan deploy --port P --board B`
    3. provision   test keys (`codes init-key`), `sealscan provision` (Wi-Fi from --wifi-ssid
                   and $SEALSCAN_WIFI_PASS), `sealscan upstream import`
    4. boot        a hard reset (machine.reset); the console must show "ready" and "session
                   started" within --timeout (a board's clock is set by NTP first; the upload
                   in step 6 proves it is inside the certificate's validity); from here the
                   app keeps the console locked
    5. scan        a badge, a TEST identity and a waybill: injected by `scan` (the simulator's
                   scan engine) or shown as QR codes for the operator to scan with the GM65
    6. ack         "record 0 verdict ok" on the console and the record in the upstream's store;
                   the app's own times for that upload: all of it, and its TCP connect + TLS
                   handshake (firmware/uplink.py times them)
    7. numbers     maintenance mode (the operator powers the board on holding BACK; the app
                   does not start, the console opens), then on the board:
                   micropython.mem_info(), esp32.idf_heap_info(esp32.HEAP_DATA), one X25519
                   and one session setup, timed with time.ticks_us()

Every step prints one line; the first failure ends the run (HilError). The work directory
keeps the upstream and keys (TEST keys only: never use them in the field).
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CARRIER = "SF"
WAYBILL = "SF1234567890123"
TEST_ID = "11010519491231002X"  # the GB 11643 sample number: a TEST identity
STEPS = ("upstream", "deploy", "provision", "boot", "scan", "ack", "numbers")


class HilError(Exception):
    """A step of the smoke run failed (the message names it)."""


@dataclass
class HilResult:
    steps: list[tuple[str, str]] = field(default_factory=list)  # (step, what it saw)
    numbers: dict[str, object] = field(default_factory=dict)
    mem_info: str = ""


def needs() -> str:
    """What a run needs, for someone who has not given a port."""
    return (
        "sealscan hil needs a scanner on a serial port:\n"
        "  make hil PORT=/dev/ttyUSB0 [BOARD=esp32-devkitc-gm65] [WIFI_SSID=bench-ap]\n"
        "  (or: sealscan hil --port /dev/ttyUSB0 --board ... --wifi-ssid ...)\n"
        "- the board flashed with its MicroPython image (sealscan flash write); if it runs\n"
        "  the sealscan app, powered on holding BACK (maintenance mode: the console opens)\n"
        "- Wi-Fi the board can join: --wifi-ssid and SEALSCAN_WIFI_PASS in the environment,\n"
        "  with NTP reachable from it (pool.ntp.org)\n"
        "- this computer reachable from that network: --upstream-host is the address the\n"
        "  board connects to (the upstream's certificate names it)\n"
        "- a GM65 on the board and a screen to show QR codes on (the operator scans them)\n"
        "`sealscan ports` lists the serial ports with ESP32 USB bridges.")


def _sealscan(*args: str, env: dict[str, str] | None = None,
              timeout: float = 180) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "sealscan", *args], capture_output=True,
                       text=True, timeout=timeout, env=env)
    if r.returncode:
        raise HilError(f"`sealscan {' '.join(args[:2])}` failed: "
                       f"{(r.stderr or r.stdout).strip()[-400:]}")
    return r


class Console:
    """The board's console read line by line (pyserial), for the app's event lines."""

    def __init__(self, port: str):
        import serial

        self.ser = serial.Serial(port, 115200, timeout=0)
        self.text = ""
        self._line = ""  # the part of the last line not echoed yet

    def wait(self, pattern: str, timeout: float, echo: Callable[[str], None]) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        start = len(self.text)
        while True:
            m = re.search(pattern, self.text[start:])
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                tail = self.text[-400:].strip()
                raise HilError(f"no {pattern!r} on the console within {timeout:g} s; "
                               f"last output:\n{tail}")
            select.select([self.ser.fileno()], [], [], min(left, 0.2))
            data = self.ser.read(4096).decode("utf-8", "replace")
            self.text += data
            *done, self._line = (self._line + data).split("\n")
            for line in done:
                if line.startswith("sealscan:"):
                    echo("   | " + line.rstrip())

    def close(self) -> None:
        self.ser.close()


# Run on the board in maintenance mode (no app, no Wi-Fi: the boot zeroed the free heap, so
# the TLS handshake is timed by the app itself, in its upload: step 6): the numbers the
# simulator can only project.
MEASURE = """\
import gc, time, micropython
gc.collect()
micropython.mem_info()
try:
    import esp32
    print("IDF_HEAP", esp32.idf_heap_info(esp32.HEAP_DATA))
except (ImportError, AttributeError) as e:
    print("IDF_HEAP none", type(e).__name__)
import asyncio, bootload, config, esp32, sealer, x25519
cfg = bootload.read_config(esp32.NVS(config.NAMESPACE))
t = time.ticks_us()
x25519.x25519(bytes(range(32)), cfg.upstream_pk)
print("X25519_US", time.ticks_diff(time.ticks_us(), t))
s = sealer.Sealer(cfg.device_id, cfg.device_key, cfg.upstream_pk, 2048)
t = time.ticks_us()
asyncio.run(s.start_session())
print("SESSION_US", time.ticks_diff(time.ticks_us(), t))
del s
gc.collect()
print("FREE", gc.mem_free())
"""


def _qr(text: str, out: Callable[[str], None]) -> None:
    import io

    import qrcode

    q = qrcode.QRCode(border=2)
    q.add_data(text)
    buf = io.StringIO()
    q.print_ascii(out=buf, invert=True)
    out(buf.getvalue())


def run(port: str, board: str, work: Path, *, wifi_ssid: str, upstream_host: str,
        scan: Callable[[str], None] | None = None,
        maintenance: Callable[[], None] | None = None, timeout: float = 60,
        out: Callable[[str], None] = print) -> HilResult:
    """One smoke run on the scanner at `port` (see the module text); `scan` injects a code
    into the scan engine (the simulator), None asks the operator to scan QR codes;
    `maintenance` power-cycles the board holding BACK (the simulator), None asks the
    operator to."""
    from sealscan import codes

    res = HilResult()

    def step(name: str, seen: str) -> None:
        res.steps.append((name, seen))
        out(f"ok  {name:<9} {seen}")

    work.mkdir(parents=True, exist_ok=True)
    up = work / "upstream"
    if not (up / "upstream.pub").exists():
        _sealscan("upstream", "init", "-d", str(up), "--host", upstream_host)
    issuer = codes.new_test_issuer()
    pub = work / "issuer.json"
    pub.write_text(json.dumps(codes.issuer_public_data(issuer)))
    _sealscan("upstream", "trust-issuer", "-d", str(up), "--allow-test-issuer", str(pub))
    serve = subprocess.Popen(
        [sys.executable, "-m", "sealscan", "upstream", "serve", "-d", str(up), "--host",
         "0.0.0.0" if upstream_host not in ("127.0.0.1", "localhost") else "127.0.0.1",
         "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    console: Console | None = None
    try:
        assert serve.stdout is not None
        line = serve.stdout.readline()
        m = re.search(r"listening on https://[^:]+:(\d+)", line)
        if not m:
            raise HilError(f"the upstream did not start: {line.strip()}")
        url = f"https://{upstream_host}:{m.group(1)}"
        step("upstream", url)

        _sealscan("deploy", "--port", port, "--board", board, "--no-reset", timeout=600)
        step("deploy", f"firmware for {board}")

        keys = {}
        for k in ("badge", "config"):
            keys[k] = work / f"{k}.key"
            if not keys[k].exists():
                _sealscan("codes", "init-key", "--out", str(keys[k]))
        device_id = f"hil-{int(time.time()) % 100000}"
        entries = work / f"entries-{device_id}.jsonl"
        env = dict(os.environ)
        env.setdefault("SEALSCAN_WIFI_PASS", "")
        _sealscan("provision", "--port", port, "--device-id", device_id, "--upstream", str(up),
                  "--upstream-url", url, "--carrier", CARRIER, "--badge-key",
                  str(keys["badge"]), "--config-key", str(keys["config"]), "--wifi-ssid",
                  wifi_ssid, "--entries", str(entries), "--board", board, "--force",
                  "--no-restart", env=env)
        _sealscan("upstream", "import", "-d", str(up), str(entries))
        step("provision", f"device {device_id}, TEST keys in {work}")

        console = Console(port)
        # out of a raw REPL the depot tools may have left, then a hard reset
        console.ser.write(b"\r\x03\x03\x02\r\nimport machine\r\nmachine.reset()\r\n")
        t0 = time.monotonic()
        console.wait(r"sealscan: ready", timeout, out)
        console.wait(r"sealscan: session started, free (\d+)", timeout, out)
        ntp = "set by NTP" if "clock set by NTP" in console.text else "already right"
        step("boot", f"ready and a session in {time.monotonic() - t0:.1f} s, clock {ntp}")

        now = int(time.time())
        badge = codes.make_badge(codes.load_key_file(keys["badge"]), courier_id="hil",
                                 display_name="HIL", carrier=CARRIER, expires_at=now + 3600)
        ident = codes.make_identity_token(issuer, id_type=11, id_number=TEST_ID,
                                          name="测试", phone="13800000000",
                                          issued_at=now - 60, expires_at=now + 3600)
        t0 = time.monotonic()
        for what, code in (("the badge", badge), ("the identity", ident),
                           ("the waybill", WAYBILL)):
            if scan is not None:
                scan(code)
            else:
                out(f"scan {what} now:")
                _qr(code, out)
            console.wait({"the badge": r"courier logged in", "the identity": r"held",
                          "the waybill": r"sealed record 0"}[what], timeout * 2, out)
        step("scan", "badge, TEST identity and waybill read; record 0 sealed")

        console.wait(r"record 0 verdict ok", timeout, out)
        acked = time.monotonic() - t0
        m = re.search(r"batch of \d+ acked \d+ rejected \d+ in (\d+) ms, tls (\d+) ms",
                      console.text)
        res.numbers["upload_ms"] = int(m.group(1)) if m else None
        res.numbers["tls_handshake_ms"] = int(m.group(2)) if m else None
        stats = json.loads(_sealscan("upstream", "stats", "-d", str(up), "--json").stdout)
        mine = [d for d in stats if d.get("device_id") == device_id]
        if not mine or not mine[0].get("records"):
            raise HilError(f"the upstream has no record of {device_id}: {stats}")
        step("ack", f"record 0 acked (verdict ok) and stored, {acked:.1f} s after the scans")

        if maintenance is not None:
            maintenance()
        else:
            out("power the scanner off, hold BACK, power it on; let go when it says "
                "maintenance mode")
        console.wait(r"maintenance mode", timeout * 5, out)
        console.close()
        console = None
        numbers, res.mem_info = measure(port)
        res.numbers.update(numbers)
        step("numbers", ", ".join(f"{k} {v}" for k, v in res.numbers.items()))
        out(res.mem_info)
        return res
    finally:
        if console is not None:
            console.close()
        serve.terminate()
        serve.wait(15)


def measure(port: str) -> tuple[dict[str, object], str]:
    """Run MEASURE on a board in maintenance mode: (numbers, mem_info text)."""
    from sealscan.device.link import DeviceError, open_link

    try:
        with open_link(port, timeout=5) as link:
            text = link.exec(MEASURE)
    except DeviceError as e:
        raise HilError(f"measuring on the board failed: {e}") from e
    nums: dict[str, object] = {}
    for key, label in (("X25519_US", "x25519_ms"), ("SESSION_US", "session_setup_ms")):
        m = re.search(key + r" (\d+)", text)
        nums[label] = round(int(m.group(1)) / 1000, 1) if m else None
    m = re.search(r"IDF_HEAP (.*)", text)
    nums["idf_heap_data"] = m.group(1).strip() if m else None
    m = re.search(r"FREE (\d+)", text)
    nums["gc_free"] = int(m.group(1)) if m else None
    mem = "\n".join(line for line in text.splitlines()
                    if line.startswith(("stack:", "GC:", " No.", " Max", "mem:")))
    return nums, mem
