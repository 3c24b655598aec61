"""The device clock as a board has it (issue 10): an ESP32 reads 2000-01-01 after power-on and
its mbedTLS checks the pinned certificate's dates against that clock. Nothing is sealed with a
clock outside the pin's validity (a record's capture time must be true) and nothing is
uploaded; the screen says why; NTP is tried again with backoff until it answers; then the held
capture is sealed, uploaded and acked. Holds whether the simulator's mbedTLS reads the host
clock or the device clock: the firmware never starts a handshake it knows would fail."""

import time

from sealsim.endtoend import WAYBILLS, frame_text

EPOCH_2000 = 946684800
HELD = "已暂存 等待网络"  # texts.WAIT_NETWORK (zh): a capture held, not sealed


def text(dev):
    return "\n".join(frame_text(dev.frame()))


def held_until_ntp_answers(dev, keys, upstream, state_text, valid_for=86400):
    """Wi-Fi up, NTP silent: the capture is held, nothing is sealed or sent, NTP is retried
    with backoff; then NTP answers and the held capture goes through. Badge and identity
    are valid `valid_for` seconds (a clock far ahead must still take them)."""
    mark = len(dev.output)
    dev.set_wifi(True)
    dev.wait_for("session started", 30)  # sessions need Wi-Fi only, not the clock
    dev.scan(keys.badge(expires_in=valid_for))
    dev.wait_for("courier logged in", 20, since=mark)
    token = upstream.identity(expires_at=int(time.time()) + valid_for)
    dev.scan(token)
    dev.scan(WAYBILLS[0])
    dev.wait_until(lambda: HELD in text(dev), 20, "the capture held for the clock")
    assert f"clock: {state_text}" in dev.output.decode()  # the console says why
    # a second parcel while one is held would pair with half of it: refused
    m2 = len(dev.output)
    dev.scan(upstream.identity(name="另一个人"))
    dev.wait_for("scan refused: Held: no network yet / Please wait", 20, since=m2)
    # NTP tried again and again, further apart each time (1, 2, 4 s ...)
    dev.wait_for("NTP: next try in 4 s", 30, since=mark)
    out = dev.output[mark:].decode()
    assert "next try in 1 s" in out and "next try in 2 s" in out
    assert "sealed record" not in out and "alarm overdue" not in out
    assert dev.net_connects == 0  # no upload attempted: no TLS connection at all
    assert upstream.records(keys.device_id) == []
    # NTP answers: the clock is set, the held capture sealed with the true time, acked
    mark = len(dev.output)
    dev.ntp = "ok"
    dev.wait_for("clock set by NTP", 30, since=mark)
    dev.wait_for("clock: OK", 20, since=mark)
    dev.wait_for("record 0 verdict ok", 30, since=mark)
    (_, rec), = upstream.records(keys.device_id)
    assert rec.identity_token == token.encode() and rec.waybill == WAYBILLS[0]
    assert abs(rec.capture_time - time.time()) < 120
    dev.wait_until(lambda: HELD not in text(dev), 10, "the held capture gone from the screen")


def test_boot_at_2000_with_ntp_silent_holds_the_capture_until_ntp_answers(scanner, upstream):
    dev, keys = scanner(wifi=False)
    dev.set_clock(EPOCH_2000 + 3600)  # an ESP32 after power-on
    dev.ntp = "lost"
    dev.wait_for("clock: CLOCK NOT SET", 20)
    held_until_ntp_answers(dev, keys, upstream, "CLOCK NOT SET")


def test_certificate_not_yet_valid_by_the_device_clock_is_a_state(scanner, upstream):
    dev, keys = scanner(wifi=False)
    dev.set_clock(1735689600)  # 2025-01-01: a plausible clock, before the pin's notBefore
    dev.ntp = "lost"
    dev.wait_for("clock: CERT: NOT YET", 20)
    held_until_ntp_answers(dev, keys, upstream, "CERT: NOT YET")


def test_certificate_expired_by_the_device_clock_is_a_state(scanner, upstream):
    dev, keys = scanner(wifi=False)
    dev.set_clock(time.time() + 20 * 366 * 86400)  # past the pin's notAfter
    dev.ntp = "lost"
    dev.wait_for("clock: CERT: EXPIRED", 20)
    held_until_ntp_answers(dev, keys, upstream, "CERT: EXPIRED", valid_for=30 * 366 * 86400)
