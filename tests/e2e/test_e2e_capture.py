"""The product's promise end to end: the real firmware on a simulated ESP32 handheld, the real
upstream over real HTTPS. Canary identities must never reach a screen, the console or flash."""

import time

from sealscan.device.flashaudit import audit_dump
from sealscan.fonttool import words
from sealsim.audit import Snapshot, audit
from sealsim.endtoend import (
    CANARIES,
    CANARY_LATIN_NAME,
    CANARY_PASSPORT,
    CANARY_PHONE2,
    WAYBILLS,
    all_screen_text,
    frame_text,
)


def login(dev, keys):
    dev.wait_for("session started", 30)
    mark = len(dev.output)
    dev.scan(keys.badge())
    dev.wait_for("courier logged in: courier-7", 20, since=mark)


def screen(dev):
    return frame_text(dev.frame())


def test_capture_sealed_uploaded_acked_once_masked_and_nothing_on_flash(scanner, upstream):
    dev, keys = scanner(depot=True)  # deployed and provisioned by the depot's commands
    dev.wait_for("ready", 30)
    before = Snapshot.take(dev.state)
    written = len(dev.writes)
    login(dev, keys)
    token = upstream.identity()
    # identity first, then waybill
    mark = len(dev.output)
    dev.scan(token)
    dev.scan(WAYBILLS[0])
    dev.wait_for("record 0 verdict ok", 30, since=mark)
    accepted = words("REC_ACCEPTED")
    dev.wait_until(lambda: accepted in "\n".join(screen(dev)), 10, "the verdict on screen")
    shown = screen(dev)
    # the Chinese surname as glyphs, the given name hidden; id: first 1 and last 2 only
    assert shown[1:3] == ["欧阳***  " + accepted, "证件 1******2X"]
    # waybill first, then a foreign passport with a Latin name
    passport = upstream.identity(id_type=18, id_number=CANARY_PASSPORT, name=CANARY_LATIN_NAME,
                                 phone=CANARY_PHONE2)
    mark = len(dev.output)
    dev.scan(WAYBILLS[1])
    dev.wait_until(lambda: screen(dev)[1:3] == ["运单 ******0123", ""], 10,
                   "the held waybill, no identity yet")
    dev.scan(passport)
    dev.wait_for("record 1 verdict ok", 30, since=mark)
    dev.wait_until(lambda: screen(dev)[1] == "C******  " + accepted, 10, "the second verdict")

    # stored exactly once each, as scanned, by this courier
    recs = upstream.records(keys.device_id)
    assert [r.index for _, r in recs] == [0, 1]
    assert [r.waybill for _, r in recs] == WAYBILLS[:2]
    assert [r.identity_token for _, r in recs] == [token.encode(), passport.encode()]
    assert {r.courier_id for _, r in recs} == {"courier-7"}
    assert {r.carrier for _, r in recs} == {"SF"}
    assert all(abs(r.capture_time - time.time()) < 300 for _, r in recs)
    stats = [s for s in upstream.stats() if s["device_id"] == keys.device_id]
    assert stats[0]["records"] == 2 and stats[0]["duplicates"] == 0

    # masked everywhere a person looks; nothing of a record on flash
    seen = all_screen_text(dev)
    console = dev.output.decode("utf-8", "replace")
    for canary in CANARIES:
        assert canary not in seen
        assert canary not in console
    assert CANARY_LATIN_NAME[:4] not in seen  # the initial only
    sealed = [r.sealed for _, r in recs]
    report = audit(before, dev.state, [*CANARIES, token, passport, *WAYBILLS[:2], *sealed],
                   journal=dev.writes[written:], allowed=set())
    report.check()
    assert report.writes == []
    # and the depot's audit of the whole flash (deleted blocks, erased NVS entries included)
    dump = audit_dump((dev.state / "flash.bin").read_bytes(), dev.board)
    assert dump.findings == [] and dump.unreadable == [], dump.findings


def test_refusals_keep_the_flow_and_never_seal(scanner, upstream):
    dev, keys = scanner()
    dev.wait_for("ready", 30)
    mark = len(dev.output)
    dev.scan(upstream.identity())  # not logged in yet
    dev.wait_for("scan refused: Not logged in / Scan your badge first", 20, since=mark)
    login(dev, keys)
    for code, why, shown in [
        (keys.badge(carrier="YTO"), "Badge not for SF", "不是SF的工牌"),
        (upstream.identity(expires_at=int(time.time()) - 5), "ID code expired", "身份码已过期"),
        (upstream.identity(id_number="110105194912310021", allow_invalid_id=True),
         "ID code not valid", "身份码无效"),
        ("YT1234567890123", "Not a SF waybill / Scan a SF waybill", "不是SF的运单"),
        # damaged (base45/zlib/CBOR broken, as after a UART overrun): scan it again
        ("RNID1:" + "A" * 30, "Code not readable / Scan it again", "无法识别此码"),
        ("RNCB1:" + "00", "Badge not valid", "工牌无效"),
    ]:
        mark = len(dev.output)
        dev.scan(code)
        dev.wait_for("scan refused: " + why, 20, since=mark)
        dev.wait_until(lambda s=shown: s in screen(dev), 10, "the refusal on screen")
    assert upstream.records(keys.device_id) == []
    assert "failed" not in dev.output.decode("utf-8", "replace")


def test_the_same_firmware_on_the_esp32s3_board_with_an_st7789(scanner, upstream):
    # Boards are data: other pins, UART1, an SPI colour panel; nothing in the firmware changes.
    dev, keys = scanner(board="esp32s3-devkitc-st7789")
    login(dev, keys)
    mark = len(dev.output)
    dev.scan(WAYBILLS[3])
    dev.scan(upstream.identity())
    dev.wait_for("record 0 verdict ok", 30, since=mark)
    dev.wait_until(lambda: words("REC_ACCEPTED") in screen(dev), 10,
                   "the verdict on the ST7789")
    assert "证件 1******2X" in screen(dev) and "寄件人 欧阳***" in screen(dev)
    assert len(upstream.records(keys.device_id)) == 1
