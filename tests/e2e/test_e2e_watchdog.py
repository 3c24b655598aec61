"""The watchdog (issue 10): the app starts machine.WDT (handheld.WDT_MS) and feeds it from its
loop; a native call that never returns stops the loop and the board resets (RAM lost, so the
capture held in it is gone; nothing was ever on flash), then the app comes back. The depot's
console (maintenance mode, issue 14: the app's console is locked) is not reset under it."""

from test_e2e_capture import login

from sealsim.audit import Snapshot, audit
from sealsim.device import WDT_RESET
from sealsim.endtoend import CANARIES, WAYBILLS

WDT_MS = 10000  # firmware/handheld.py WDT_MS, as documented


def test_a_hung_native_call_makes_the_watchdog_reset_the_board_and_nothing_is_on_flash(
        scanner, upstream):
    dev, keys = scanner(wifi=False)
    dev.set_clock(946684800 + 3600)  # NTP will be needed...
    dev.ntp = "hang"  # ...and its call never returns (a wedged lwIP socket)
    login_mark = len(dev.output)
    dev.wait_for("ready", 30)
    dev.wait_until(lambda: any(e == f"watchdog {WDT_MS} ms" for _, e in list(dev.events)),
                   10, "the watchdog started")
    before = Snapshot.take(dev.state)
    written = len(dev.writes)
    dev.scan(keys.badge())
    dev.wait_for("courier logged in", 20, since=login_mark)
    token = upstream.identity()
    dev.scan(token)
    dev.scan(WAYBILLS[0])  # held in RAM: the clock is not set
    dev.wait_for("held, waiting", 20, since=login_mark)
    boots = dev.boots
    dev.set_wifi(True)  # NTP is tried: the loop hangs in it, nobody feeds the watchdog
    dev.wait_for("rst:0x10 (RTCWDT_RTC_RESET)", WDT_MS / 1000 + 15, since=login_mark)
    assert dev.reset_cause == WDT_RESET and dev.boots == boots + 1
    report = audit(before, dev.state, [*CANARIES, token, WAYBILLS[0]],
                   journal=dev.writes[written:], allowed=set())
    report.check()
    assert report.writes == []
    # the app is back; with NTP answering it goes on as after any boot
    mark = len(dev.output)
    dev.ntp = "ok"
    dev.wait_for("clock set by NTP", 30, since=mark)
    login(dev, keys)
    m2 = len(dev.output)
    dev.scan(upstream.identity())
    dev.scan(WAYBILLS[1])
    dev.wait_for("record 0 verdict ok", 30, since=m2)


def test_the_depot_console_is_not_reset_under_it(scanner):
    dev, _keys = scanner()
    dev.wait_for("session started", 30)  # the app has started its watchdog
    # the depot's way in: maintenance mode (power off, BACK held at power-on); the chip reset
    # stopped the app's watchdog and the app never started, so none runs under the console
    dev.maintenance()
    out = dev.exec("import time\ntime.sleep(12)\nprint('still here')", timeout=30)
    assert "still here" in out
    assert not any("watchdog reset" in e for _, e in dev.events)
