"""The key lease (docs/protocol.md 6.2) on the simulator's clock: without an authenticated ack
for the lease the handheld refuses identities and says why, an ack (an empty batch when there
is nothing to send) renews it, a clock stepped back never extends it, and after the second
limit the keys are wiped as on a revocation."""

import time

from test_e2e_capture import login
from test_e2e_faults import capture, text
from test_e2e_revoke import WIPED, nvs, raw_flash

from sealscan.fonttool import words
from sealsim.endtoend import WAYBILLS

HOUR = 3600
WHY, ALARM = words("LEASE_ALARM").split("\n")  # the alarm's two lines


def test_lease_expires_refuses_identities_renews_on_an_ack_then_wipes(scanner, upstream):
    dev, keys = scanner(lease=(72 * HOUR, 336 * HOUR))
    login(dev, keys)
    dev.set_wifi(False)
    dev.wait_for("wifi down", 20)
    mark = len(dev.output)
    dev.skew_clock(72 * HOUR + 5)
    dev.wait_for("lease expired: identities refused", 20, since=mark)
    dev.wait_until(lambda: ALARM in text(dev) and WHY in text(dev), 10, "the lease screen")
    mark = len(dev.output)
    dev.scan(upstream.identity())
    dev.wait_for("scan refused: Key lease expired", 20, since=mark)
    # the clock stepped back does not give the lease back
    dev.skew_clock(-200 * HOUR)
    dev.wait_until(lambda: "lease renewed" not in dev.output[mark:].decode(), 3, "no renewal")
    mark = len(dev.output)
    dev.scan(upstream.identity())
    dev.wait_for("scan refused: Key lease expired", 20, since=mark)
    dev.skew_clock(128 * HOUR)
    # Wi-Fi back: with nothing queued, an empty batch asks for an authenticated ack
    mark = len(dev.output)
    dev.set_wifi(True)
    dev.wait_for("lease renewed", 30, since=mark)
    assert "batch of 0 acked 0" in dev.output[mark:].decode()
    dev.wait_until(lambda: ALARM not in text(dev), 10, "the lease screen gone")
    mark = len(dev.output)
    capture(dev, upstream, WAYBILLS[0])
    dev.wait_for("record 0 verdict ok", 30, since=mark)
    # cut off past the second limit: the keys go, as on a revocation. (The ack renews the
    # lease at the alarm task's next tick, 0.25 s: let it, before the clock jumps.)
    mark = len(dev.output)
    dev.set_wifi(False)
    dev.wait_for("wifi down", 20, since=mark)
    time.sleep(1)
    mark = len(dev.output)
    dev.skew_clock(336 * HOUR + 5)
    dev.wait_for("KEY LEASE OVER - RETURN TO DEPOT", 20, since=mark)
    dev.wait_until(lambda: all(w in text(dev) for w in words("LEASE_OVER").split("\n")), 10,
                   "the wiped screen")
    stored = nvs(dev)
    assert not set(WIPED) & set(stored) and stored["revoked"] == 2
    assert keys.device_key not in raw_flash(dev) and keys.badge_key not in raw_flash(dev)
    mark = len(dev.output)
    dev.scan(keys.badge())
    dev.wait_for("scan refused: Return it to the depot", 20, since=mark)


def test_a_clock_stepped_back_never_extends_the_lease(scanner, upstream):
    # an 8 s lease: the monotonic clock ends it even though the wall clock went back a day
    dev, keys = scanner(lease=(8, 3600))
    login(dev, keys)
    dev.set_wifi(False)
    dev.wait_for("wifi down", 20)
    mark = len(dev.output)
    dev.skew_clock(-24 * HOUR)
    dev.wait_for("lease expired: identities refused", 30, since=mark)
