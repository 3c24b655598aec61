"""The flash audit: canaries planted in a file, NVS or RTC memory are found and named."""

import pytest

from sealsim.audit import AuditFailed, Snapshot, audit

ID = "11010519491231002X"  # canary resident id (valid check character)
NAME = "欧阳娜娜"
PHONE = "13812345678"
WAYBILL = "EA123456785CN"
SEALED = bytes.fromhex("d08343a1010aa1054d")  # start of a COSE_Encrypt0, as a byte canary
CANARIES = [ID, NAME, PHONE, WAYBILL, SEALED]

PLANT = {
    "file": (f"f = open('/log.txt', 'w')\nf.write('scan ' + {ID!r})\nf.close()",
             "fs/log.txt", ID),
    "nvs": (f"import esp32\nn = esp32.NVS('cache')\nn.set_blob('last', {NAME!r}.encode())\n"
            "n.commit()", "nvs/cache.nvs (NVS namespace 'cache', key 'last')", NAME),
    "rtc": (f"import machine\nmachine.RTC().memory(b'x' + {SEALED!r})",
            "rtc.bin (RTC memory)", SEALED.hex()),
    "nvs-uncommitted": (f"import esp32\nesp32.NVS('cfg').set_blob('p', {PHONE!r}.encode())",
                        "nvs/cfg.nvs (NVS namespace 'cfg', key 'p')", PHONE),
}


@pytest.mark.parametrize("where", list(PLANT))
def test_planted_write_fails_the_audit_naming_where(sim_devices, where):
    code, place, canary = PLANT[where]
    dev = sim_devices()
    dev.wait_for("app ready")
    before = Snapshot.take(dev.state)
    dev.scan(WAYBILL)  # record data passes through RAM only
    dev.wait_for("scan: " + WAYBILL)
    dev.exec(code)
    report = audit(before, dev.state, CANARIES, journal=dev.writes)
    assert not report.ok
    assert [h.where for h in report.hits] == [place]
    assert report.hits[0].canary == canary
    with pytest.raises(AuditFailed, match=place.split(" ")[0]):
        report.check()
    assert any(path == place.split(" ")[0] for path, _ in report.writes)


def test_clean_run_passes_and_reports_no_writes(sim_devices):
    dev = sim_devices()
    dev.wait_for("app ready")
    before = Snapshot.take(dev.state)
    for code in (WAYBILL, ID, PHONE):
        dev.scan(code)
        dev.wait_for("scan: " + code)
    dev.set_wifi(False)
    dev.power_cut()
    mark = len(dev.output)
    dev.power_on()
    dev.wait_for("app ready", since=mark)
    report = audit(before, dev.state, CANARIES, journal=dev.writes, allowed=set())
    report.check()
    assert report.writes == []


def test_allowed_writes_and_unexpected_ones(sim_devices):
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    before = Snapshot.take(dev.state)
    dev.exec("import esp32\nn = esp32.NVS('sealscan')\nn.set_i32('boots', 3)\nn.commit()\n"
             "open('/notes.txt', 'w').write('hello')")
    report = audit(before, dev.state, CANARIES, journal=dev.writes,
                   allowed={"nvs/sealscan.nvs"})
    assert report.hits == []
    assert report.unexpected == ["fs/notes.txt"]
    assert ("nvs/sealscan.nvs", "set 'boots': 4 bytes") in report.writes
    with pytest.raises(AuditFailed, match="UNEXPECTED write to fs/notes.txt"):
        report.check()


def test_flash_image_is_scanned(tmp_path):
    state = tmp_path / "dev"
    state.mkdir(parents=True)
    before = Snapshot.take(state)
    image = bytearray(b"\xff" * 65536)  # no partition table: searched raw
    image[40000:40000 + len(PHONE)] = PHONE.encode("utf-16-le")[: len(PHONE)]
    image[50000:50000 + 22] = PHONE.encode("utf-16-le")
    (state / "flash.bin").write_bytes(bytes(image))
    report = audit(before, state, CANARIES)
    assert [(h.where, h.form, h.offset) for h in report.hits] == [
        ("flash.bin 0xc350", "utf-16-le", 50000)]
    assert report.writes == [("flash.bin (image)", "added")]


def test_deleted_file_is_found_in_the_flash_image_by_partition_and_address(sim_devices):
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    before = Snapshot.take(dev.state)
    dev.exec(f"f = open('/log.txt', 'w')\nf.write('x' * 5000 + {ID!r})\nf.close()\n"
             "import os\nos.remove('/log.txt')")
    report = audit(before, dev.state, CANARIES, journal=dev.writes)
    assert [h.canary for h in report.hits] == [ID]
    assert report.hits[0].where.startswith("flash.bin 0x2")
    assert "[vfs] vfs block" in report.hits[0].where and "(free" in report.hits[0].where
    assert report.writes == []  # the file came and went: only the raw flash still has it


def test_nvs_behaves_like_esp32_and_survives_power_cut(sim_devices):
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    out = dev.exec("""
import esp32
n = esp32.NVS('sealscan')
n.set_i32('boots', -7)
n.set_blob('key', b'\\x01\\x02\\x03')
buf = bytearray(8)
print(n.get_i32('boots'), n.get_blob('key', buf), bytes(buf[:3]))
try:
    n.get_i32('missing')
except OSError as e:
    print('missing', e.errno)
n.erase_key('boots')
try:
    n.get_i32('boots')
except OSError as e:
    print('erased', e.errno)
n.commit()
""")
    assert out.split("\n")[:3] == ["-7 3 b'\\x01\\x02\\x03'", "missing -4354", "erased -4354"]
    dev.power_cut()
    mark = len(dev.output)
    dev.power_on()
    dev.wait_for("up", since=mark)
    assert dev.exec("import esp32\nb = bytearray(3)\n"
                    "print(esp32.NVS('sealscan').get_blob('key', b), b)").strip() \
        == "3 bytearray(b'\\x01\\x02\\x03')"


def test_sweep_finds_a_canary_in_every_form_at_any_depth_and_skips_what_is_allowed(tmp_path):
    import base64
    import re

    from sealsim.audit import sweep

    canary = "欧阳金丝雀"
    raw = canary.encode()
    planted = {
        "a/raw.log": b"x" + raw + b"y",
        "a/b/utf16.bin": canary.encode("utf-16-le"),
        "hex.txt": b"..." + raw.hex().encode(),
        "b64-0.txt": base64.b64encode(raw + b"tail"),
        "b64-1.txt": base64.b64encode(b"h" + raw),
        "b64-2.txt": base64.b64encode(b"he" + raw + b"t"),
        "token.log": b"scanned RNID1:" + b"6BF" * 20,
        "store/upstream.db": raw + b"RNID1:" + b"6BF" * 20,
        "clean.txt": b"nothing here",
    }
    for name, data in planted.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    hits = sweep(tmp_path, [canary], patterns={"token": re.compile(rb"RNID1:[0-9A-Z]{40}")},
                 allowed=lambda p: p.name == "upstream.db")
    found = {h.where for h in hits}
    assert found == {n for n in planted if n not in ("store/upstream.db", "clean.txt")}
