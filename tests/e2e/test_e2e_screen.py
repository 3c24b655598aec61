"""What stays on the courier's screen: a masked identity leaves it on cancel (BACK), logout and
timeout, BACK never brings back an earlier record's verdict, and the UI language follows the
device's NVS and a config code."""

import time

from test_e2e_capture import login, screen
from test_e2e_faults import capture

from sealscan import codes
from sealscan.fonttool import words
from sealsim.endtoend import WAYBILLS

SURNAME = "欧阳"  # CANARY_NAME's compound surname: the visible part of its masked form


def shows_identity(dev) -> bool:
    text = "\n".join(screen(dev))
    return SURNAME in text or "1******2X" in text


def test_back_logout_and_timeout_leave_no_identity_on_screen(scanner, upstream):
    dev, keys = scanner()
    login(dev, keys)
    mark = len(dev.output)
    capture(dev, upstream, WAYBILLS[0])
    dev.wait_for("record 0 verdict ok", 30, since=mark)
    accepted = words("REC_ACCEPTED")
    dev.wait_until(lambda: accepted in "\n".join(screen(dev)), 10, "the verdict")
    assert shows_identity(dev)
    # a new identity held, then BACK: neither it nor the earlier record's verdict comes back
    dev.scan(upstream.identity())
    dev.wait_until(lambda: words("SCAN_WAYBILL").split("\n")[0] in screen(dev), 10, "held")
    dev.press("back")
    dev.wait_until(lambda: words("CANCELLED").split("\n")[0] in screen(dev), 10, "cancelled")
    assert not shows_identity(dev) and accepted not in "\n".join(screen(dev))
    # BACK with nothing held logs out: nothing of any capture
    dev.wait_until(lambda: "back" not in dev.keys_down, 10, "BACK released")
    time.sleep(0.3)  # the firmware polls its keys every 50 ms: let it see the release
    dev.press("back")
    dev.wait_until(lambda: words("NOT_LOGGED_IN") in screen(dev), 10, "logged out")
    assert not shows_identity(dev)
    # a held identity times out (60 s on the device's clock) and leaves the screen
    login(dev, keys)
    dev.scan(upstream.identity())
    dev.wait_until(lambda: shows_identity(dev), 10, "the identity held")
    dev.skew_clock(61)
    dev.wait_until(lambda: not shows_identity(dev), 10, "the identity gone after the timeout")
    assert words("ID_TIMED_OUT").split("\n")[0] in screen(dev)
    assert upstream.records(keys.device_id) and len(upstream.records(keys.device_id)) == 1


def test_config_code_switches_the_screen_to_english_and_it_stays(scanner, upstream):
    dev, keys = scanner()
    login(dev, keys)
    dev.wait_until(lambda: words("SCAN_BOTH").split("\n")[0] in screen(dev), 10, "Chinese")
    code = codes.make_config(keys.config_key, ssid="depot", password="depot-secret",
                             upstream_url=upstream.url, expires_at=int(time.time()) + 600,
                             serial=1, lang="en")
    mark = len(dev.output)
    dev.scan(code)
    dev.wait_for("config applied, serial 1", 20, since=mark)
    dev.wait_until(lambda: "Settings updated" in screen(dev), 10, "English words")
    assert dev.nvs()["lang"] == b"en"
    dev.power_cut()
    mark = len(dev.output)
    dev.power_on()
    dev.wait_for("ready", 30, since=mark)
    dev.wait_until(lambda: "Scan your badge" in screen(dev), 10, "English after a reboot")
