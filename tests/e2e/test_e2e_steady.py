"""The firmware at its steady state, in the board's memory model (simulator/interp): after the
first session and uploads, with the heap grown and TLS using the same RAM, a courier logs out
and in again, a config code is applied, a long identity token goes through, the session
rotates after an hour, and a full queue is uploaded, on both boards. The interpreter's
high-water marks are asserted: no allocation was refused and the board kept a minimum of free
RAM at its worst moment."""

import time

from test_e2e_capture import login

from sealscan import codes
from sealscan.fonttool import words
from sealsim.device import SimDeviceError
from sealsim.endtoend import WAYBILLS

MIN_FREE_RAM = 4 * 1024  # lowest free point of the whole scenario (ESP32: ~11 KB measured)


def capture(dev, upstream, waybill, i, **identity):
    mark = len(dev.output)
    dev.scan(upstream.identity(**identity))
    dev.scan(waybill)
    dev.wait_for(f"sealed record {i}", 30, since=mark)


def test_steady_esp32(scanner, upstream):
    steady_state(scanner, upstream, "esp32-devkitc-gm65")


def test_steady_esp32s3(scanner, upstream):
    steady_state(scanner, upstream, "esp32s3-devkitc-st7789")


def steady_state(scanner, upstream, board):
    """Relogin, config code, long token, rotation, full queue at steady state; marks asserted."""
    dev, keys = scanner(board=board)
    login(dev, keys)
    capture(dev, upstream, WAYBILLS[0], 0)
    dev.wait_for("record 0 verdict ok", 30)
    # the Wi-Fi goes, a record waits, the Wi-Fi comes back: uploaded over a new TLS connection
    dev.set_wifi(False)
    capture(dev, upstream, WAYBILLS[1], 1)
    time.sleep(1)
    dev.set_wifi(True)
    dev.wait_for("record 1 verdict ok", 40)
    # log out (BACK with nothing held) and a courier logs in again: works at steady state
    mark = len(dev.output)
    dev.press("back")
    dev.wait_until(lambda: words("NOT_LOGGED_IN") in dev.screen_text(), 10,
                   "the logged-out screen")
    dev.scan(keys.badge("courier-9"))
    dev.wait_for("courier logged in: courier-9", 20, since=mark)
    # a config code (same upstream, new Wi-Fi name) at steady state
    cfg = dict(ssid="depot-2", password="another-secret", upstream_url=upstream.url,
               expires_at=int(time.time()) + 600)
    dev.scan(codes.make_config(keys.config_key, serial=4, **cfg))  # type: ignore[arg-type]
    dev.wait_for("config applied, serial 4", 20, since=mark)
    # the longest identity token the issuer makes (64-character name, 20-digit phone)
    capture(dev, upstream, WAYBILLS[2], 2, name="欧阳" * 32, phone="8" * 20)
    dev.wait_for("record 2 verdict ok", 40, since=mark)
    # an hour passes: the session rotates (a second HPKE setup at steady state, TLS in use)
    mark = len(dev.output)
    dev.pass_time(3400)
    dev.set_clock(time.time())  # the wall clock as the upstream's (NTP would say the same)
    dev.wait_for("session started", 30, since=mark)
    capture(dev, upstream, WAYBILLS[3], 0)  # record indices start again in a new session
    dev.wait_for("record 0 verdict ok", 40, since=mark)
    # a full queue while the uplink is away, then everything acked
    dev.set_wifi(False)
    i, full = 1, False
    while i < 37 and not full:
        mark = len(dev.output)
        dev.scan(upstream.identity())
        dev.scan(f"SF{i:013d}")
        try:
            dev.wait_for(f"sealed record {i}", 8, since=mark)
            i += 1
        except SimDeviceError:
            full = words("WAIT_QUEUE").split("\n")[0] in dev.screen_text()
            assert full, dev.screen_text()  # held for queue space, and the screen says so
    # the 110 KB board's queue (6 KiB) fills; the S3's (64 KiB) takes all 36 offered
    assert full == (board == "esp32-devkitc-gm65"), (board, i)
    dev.set_wifi(True)
    dev.wait_until(lambda: len(upstream.records(keys.device_id)) >= 3 + i, 120,
                   "every record acked")
    marks = dev.memory()
    print(board, "records", i, marks.to_dict())
    assert marks.refused == 0, marks
    assert marks.free_min >= MIN_FREE_RAM, marks
    assert marks.tls_peak > 16 * 1024, marks  # the uploads' TLS was charged to the budget
