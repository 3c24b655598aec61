"""The GM65 model speaks the module's serial protocol; firmware reads it over a real UART."""

import os

from sealsim import gm65

# Examples printed in the GM65 user manual (§8.2 read zone bit, §8.3/8.4 replies).
MANUAL_READ = bytes.fromhex("7E 00 07 01 00 0A 01 EE 8A".replace(" ", ""))
MANUAL_SAVE = bytes.fromhex("7E 00 09 01 00 00 00 DE C8".replace(" ", ""))


def _engine():
    out = []
    return gm65.GM65(out.append), out


def test_frames_and_crc_match_the_manual():
    assert gm65.frame(0x07, 0x000A, b"\x01") == MANUAL_READ
    assert gm65.frame(0x09, 0x0000, b"\x00") == MANUAL_SAVE
    assert gm65.reply(b"\x3e") == bytes.fromhex("020000013EE4AC")
    assert gm65.WRITE_OK == bytes.fromhex("02000001003331")


def test_read_write_save_replies():
    eng, out = _engine()
    eng.zone[0x0A] = 0x3E
    eng.receive(MANUAL_READ)
    assert out == [bytes.fromhex("020000013EE4AC")]  # the manual's example answer
    out.clear()
    eng.receive(bytes.fromhex("7E0008010000D5ABCD"))  # AB CD: CRC not checked
    assert out == [gm65.WRITE_OK] and eng.mode == gm65.MODE_COMMAND
    out.clear()
    eng.receive(MANUAL_SAVE)
    assert out == [gm65.WRITE_OK] and eng.eeprom[0] == 0xD5


def test_wrong_crc_and_garbage_get_no_reply_and_do_not_block_the_next_frame():
    eng, out = _engine()
    bad = bytearray(MANUAL_READ)
    bad[-1] ^= 1
    eng.receive(bytes(bad))
    assert out == []
    rng = bytes(range(256)) * 4 + os.urandom(4096) + b"\x7e\x00\x42\x7e"
    for i in range(0, len(rng), 97):  # in odd-sized pieces, as a UART delivers them
        eng.receive(rng[i:i + 97])
    out.clear()
    eng.receive(b"\x7e\x00\x07")  # a frame split across reads...
    eng.receive(MANUAL_READ[3:])
    assert out and out[-1][:4] == b"\x02\x00\x00\x01"


def test_command_mode_holds_a_code_until_triggered():
    eng, out = _engine()
    eng.receive(gm65.frame(0x08, 0x0000, b"\xd5"))  # command-triggered mode
    out.clear()
    eng.scan("EA123456785CN")
    assert out == []  # nothing until the host triggers a read
    eng.receive(gm65.frame(0x08, 0x0002, b"\x01"))
    assert out == [gm65.WRITE_OK, b"EA123456785CN\r"]
    eng.scan("106141411928374657")
    assert out[-1] == b"EA123456785CN\r"  # one read per trigger
    eng.trigger_pin(0)  # the trigger line pulled low reads too
    assert out[-1] == b"106141411928374657\r"


UART_MAIN = """
import json, time
from machine import UART, Pin
cfg = json.load(open("board.json"))["scan_engine"]
u = UART(cfg["uart"], cfg["baud"], tx=cfg["tx"], rx=cfg["rx"], timeout=50)
ok = Pin(json.load(open("board.json"))["pins"]["key_ok"], Pin.IN, Pin.PULL_UP)

def exchange(frame):
    u.write(frame)
    time.sleep_ms(30)
    got = b""
    while True:
        chunk = u.read()
        if not chunk:
            return got
        got += chunk

print("mode reply", exchange(b"\\x7e\\x00\\x08\\x01\\x00\\x00\\xd5\\xab\\xcd").hex())
print("armed")
while ok.value():
    time.sleep_ms(10)
print("trigger reply", exchange(b"\\x7e\\x00\\x08\\x01\\x00\\x02\\x01\\xab\\xcd").hex())
import os
u.write(os.urandom(2048))  # noise towards the module
print("read reply", exchange(b"\\x7e\\x00\\x07\\x01\\x00\\x00\\x01\\xab\\xcd").hex())
print("done")
"""


def test_firmware_uart_gets_documented_replies_and_scans(sim_devices):
    dev = sim_devices(firmware=None, files={"main.py": UART_MAIN})
    dev.wait_for("armed")
    assert "mode reply " + gm65.WRITE_OK.hex() in dev.output.decode()
    dev.scan("EA123456785CN")  # held in front of a command-mode module
    dev.press("ok")
    dev.wait_for("done")
    out = dev.output.decode()
    assert "trigger reply " + (gm65.WRITE_OK + b"EA123456785CN\r").hex() in out
    assert "read reply " + gm65.reply(b"\xd5").hex() in out  # zone 0x0000 after the noise


def test_random_bytes_on_the_link_do_not_hang_device_or_simulator(sim_devices):
    dev = sim_devices()
    dev.wait_for("app ready")
    for _ in range(20):
        dev.scan_raw(os.urandom(512))
    dev.scan_raw(b"\r")  # end the noise, or it would prefix the next code
    dev.scan("EA123456785CN")
    dev.wait_for("scan: EA123456785CN")
    assert dev.running
    assert dev.exec("print('alive')").strip() == "alive"


def test_line_speed_must_match_the_module(sim_devices):
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    read = "import time\ntime.sleep_ms(100)\nd = u.read()\nprint(d.hex() if d else None)"
    dev.exec("from machine import UART\nu = UART(2, 115200, timeout=100)")  # module: 9600
    dev.scan("EA123456785CN")
    garbled = dev.exec(read).strip()
    assert garbled != "None" and b"EA123456785CN".hex() not in garbled
    dev.exec("u.write(b'\\x7e\\x00\\x07\\x01\\x00\\x00\\x01\\xab\\xcd')")
    assert dev.exec(read).strip() == "None"  # the module cannot read a misclocked command
    dev.exec("u.init(9600, timeout=100)")
    dev.exec("u.write(b'\\x7e\\x00\\x07\\x01\\x00\\x00\\x01\\xab\\xcd')")
    assert dev.exec(read).strip() == gm65.reply(b"\xd4").hex()
    # Switch the module to 115200 (zone 0x2A-0x2B = 3 MHz / 115200 = 26): the reply still
    # comes at 9600, then the UART must follow.
    dev.exec("u.write(" + repr(gm65.frame(0x08, 0x2A, b"\x1a\x00")) + ")")
    assert dev.exec(read).strip() == gm65.WRITE_OK.hex()
    assert dev.gm65.baud == 115200
    dev.exec("u.init(115200, timeout=100)")
    dev.scan("EA123456785CN")
    assert dev.exec(read).strip() == b"EA123456785CN\r".hex()
