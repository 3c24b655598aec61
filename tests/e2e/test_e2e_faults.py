"""Faults a handheld meets: Wi-Fi gone, a late ack (overdue alarm), power cut with records in
RAM, forged or garbled answers, garbage from the scan engine."""

import os

from test_e2e_capture import login

from sealscan.fonttool import words
from sealsim.audit import Snapshot, audit
from sealsim.endtoend import CANARIES, WAYBILLS, AnswerTamperer, all_screen_text, frame_text

SENDING = words("REC_SENDING")
OVERDUE = words("OVERDUE").split("\n")[0]


def text(dev):
    return "\n".join(frame_text(dev.frame()))


def queued(n):
    return words("ONLINE").replace("%d", str(n))


def capture(dev, upstream, waybill):
    token = upstream.identity()
    mark = len(dev.output)
    dev.scan(token)
    dev.scan(waybill)
    dev.wait_for("sealed record", 20, since=mark)
    return token


def test_wifi_off_record_waits_overdue_alarm_then_acked_and_cleared(scanner, upstream):
    dev, keys = scanner()
    login(dev, keys)
    dev.set_wifi(False)
    dev.wait_for("wifi down", 20)
    capture(dev, upstream, WAYBILLS[0])
    dev.wait_until(lambda: SENDING in text(dev), 10, "the record waiting")
    # 30 s pass on the device's clock without an ack (the wall clock is the simulator's)
    mark = len(dev.output)
    dev.skew_clock(31)
    dev.wait_for("alarm overdue", 20, since=mark)
    dev.wait_until(lambda: OVERDUE in text(dev), 10, "the alarm on screen")
    dev.wait_until(lambda: any("buzzer" in e for _, e in dev.events), 10, "the buzzer")
    # new identity scans are refused until the backlog clears; nothing was stored meanwhile
    mark = len(dev.output)
    dev.scan(upstream.identity())
    dev.wait_for("scan refused: Upload overdue", 20, since=mark)
    assert upstream.records(keys.device_id) == []
    mark = len(dev.output)
    dev.set_wifi(True)
    dev.wait_for("record 0 verdict ok", 30, since=mark)
    dev.wait_for("alarm cleared", 20, since=mark)
    dev.wait_until(lambda: OVERDUE not in text(dev), 10, "the alarm gone")
    assert len(upstream.records(keys.device_id)) == 1
    # and scanning works again
    mark = len(dev.output)
    capture(dev, upstream, WAYBILLS[1])
    dev.wait_for("record 1 verdict ok", 30, since=mark)
    assert [r.index for _, r in upstream.records(keys.device_id)] == [0, 1]


def test_power_cut_with_a_queued_record_leaves_nothing_on_flash(scanner, upstream):
    dev, keys = scanner(wifi=False)
    dev.wait_for("ready", 30)
    before = Snapshot.take(dev.state)
    written = len(dev.writes)
    # no session without Wi-Fi (entropy): the capture waits, held in RAM
    login_mark = len(dev.output)
    dev.scan(keys.badge())
    dev.wait_for("courier logged in", 20, since=login_mark)
    token = upstream.identity()
    dev.scan(token)
    dev.scan(WAYBILLS[2])
    dev.wait_until(lambda: words("WAIT_NETWORK").split("\n")[0] in text(dev), 10,
                   "the held capture")
    dev.set_wifi(True)
    dev.wait_for("sealed record 0", 30)
    dev.set_wifi(False)  # the record can only be in RAM now... or on flash, which it must not
    dev.power_cut()
    report = audit(before, dev.state, [*CANARIES, token, WAYBILLS[2]],
                   journal=dev.writes[written:], allowed=set())
    report.check()
    assert report.writes == []
    mark = len(dev.output)
    dev.set_wifi(True)
    dev.power_on()
    dev.wait_for("session started", 30, since=mark)
    assert queued(0) in text(dev)  # RAM is gone: nothing survived to be sent
    assert upstream.records(keys.device_id) == []


def test_forged_garbled_and_failed_answers_drop_nothing(scanner, upstream):
    mitm = AnswerTamperer(upstream)
    try:
        dev, keys = scanner(url=mitm.url)
        login(dev, keys)
        token = capture(dev, upstream, WAYBILLS[3])
        for mode in ("forge", "garble", "error"):
            mitm.mode = mode
            n = len(mitm.seen)
            dev.wait_until(lambda n=n, mode=mode: mode in mitm.seen[n:], 30, f"a {mode} answer")
            assert queued(1) in text(dev) and SENDING in text(dev)
            assert "verdict" not in dev.output.decode()
        # the upstream stored it at the first try; the retries are duplicates, acked again
        assert len(upstream.records(keys.device_id)) == 1
        mitm.mode = None
        dev.wait_for("record 0 verdict ok", 30)
        dev.wait_until(lambda: queued(0) in text(dev), 10, "the queue empty")
        recs = upstream.records(keys.device_id)
        assert len(recs) == 1 and recs[0][1].identity_token == token.encode()
        out = dev.output.decode()
        assert "answer refused" in out and "upload answered 500" in out
    finally:
        mitm.close()


def test_uart_garbage_is_refused_and_the_flow_goes_on(scanner, upstream):
    dev, keys = scanner()
    login(dev, keys)
    noise = [
        os.urandom(200).replace(b"\r", b""),  # no CR: joins the next line, which is refused
        b"\r",
        b"\xff\xfe\xfd\x80\r",  # not UTF-8
        b"X" * 5000 + b"\r",  # over-long: dropped whole
        b"\x00\x01\x02\r\n",
        b"RNID1:" + b"\x80" * 50 + b"\r",
        b"RNCB1:%%%%\r",
        b"RNCF1:\r",
    ]
    for chunk in noise:
        dev.scan_raw(chunk)
    dev.wait_until(lambda: dev.output.count(b"scan refused") >= 6, 30, "every line refused")
    mark = len(dev.output)
    capture(dev, upstream, WAYBILLS[0])
    dev.wait_for("record 0 verdict ok", 30, since=mark)
    out = dev.output.decode("utf-8", "replace")
    assert "failed" not in out and "Traceback" not in out
    for canary in CANARIES:
        assert canary not in out and canary not in all_screen_text(dev)


def test_unset_clock_is_set_by_ntp_before_records_are_captured(scanner, upstream):
    import time

    dev, keys = scanner(wifi=False)
    dev.set_clock(946684800 + 3600)  # an ESP32 after power-on: 2000-01-01
    dev.wait_for("ready", 30)
    mark = len(dev.output)
    dev.set_wifi(True)
    dev.wait_for("clock set by NTP", 20, since=mark)
    login(dev, keys)
    capture(dev, upstream, WAYBILLS[0])
    dev.wait_for("record 0 verdict ok", 30, since=mark)
    (_, rec), = upstream.records(keys.device_id)
    assert abs(rec.capture_time - time.time()) < 120


def test_ok_key_triggers_a_scan_engine_in_command_mode(scanner, upstream):
    from sealsim.gm65 import MODE_COMMAND

    dev, keys = scanner()
    dev.gm65.zone[0] = (dev.gm65.zone[0] & 0xFC) | MODE_COMMAND  # reads only when triggered
    dev.wait_for("session started", 30)
    mark = len(dev.output)
    dev.scan(keys.badge())  # held in front of the module: read only once triggered
    assert dev.gm65.mode == MODE_COMMAND
    dev.press("ok", hold=0.5)
    dev.wait_for("courier logged in", 20, since=mark)
