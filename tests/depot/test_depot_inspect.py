"""`sealscan verify` and `sealscan audit` against a simulated scanner; `sealscan ports`."""

import json

import pytest
from conftest import BADGE_KEY, BOARD, CONFIG_KEY, WIFI_PASS, leaked, nvs, sealscan
from serial.tools.list_ports_common import ListPortInfo

from sealscan.device.ports import describe
from sealscan.device.records import scan

# Canary record data: valid check characters, so they look exactly like the real thing.
CANARY_ID = "11010519491231002X"
CANARY_PHONE = "13812345678"
CANARY_S10 = "EA123456785CN"
CANARY_TOKEN = "RNID1:6BFOXN*TS0BI$ZD-PHE1BG1S+5J0"


@pytest.fixture
def provisioned(deployed, depot):
    run = depot.provision(deployed.port, "--no-restart")
    assert run.code == 0, run.text
    return deployed


def test_provision_then_verify_passes_and_shows_names_only(provisioned):
    run = sealscan("verify", "--port", provisioned.port)
    assert run.code == 0, run.text
    assert run.out.startswith(f"device dev-17 on {provisioned.port}: board {BOARD}")
    assert run.out.rstrip().endswith("ok")
    report = json.loads(sealscan("verify", "--port", provisioned.port, "--json").out)
    assert report["ok"] and report["device_id"] == "dev-17" and report["problems"] == []
    assert "device_key" in report["nvs_keys"] and "provisioned" in report["nvs_keys"]
    device_key = nvs(provisioned)["device_key"][1:]
    for secret in (device_key, BADGE_KEY, CONFIG_KEY, WIFI_PASS.encode()):
        assert not leaked(secret, run.text) and not leaked(secret, json.dumps(report))


def test_verify_fails_on_each_kind_of_mismatch(provisioned):
    board = json.loads(provisioned.files()["/board.json"])
    board["pins"]["buzzer"] = 2
    provisioned.exec("import os, esp32\n"  # tampered on the device itself, in its flash
                     "with open('/sealer.mpy', 'wb') as f:\n f.write(b'tampered')\n"
                     "os.remove('/x25519.mpy')\n"
                     f"with open('/board.json', 'w') as f:\n f.write({json.dumps(board)!r})\n"
                     "esp32.NVS('sealscan').erase_key('badge_key')\n")
    run = sealscan("verify", "--port", provisioned.port)
    assert run.code == 1
    for line in ("MISMATCH sealer.mpy: differs from the local build",
                 "MISMATCH x25519.mpy: missing on the device",
                 "MISMATCH board.json: differs from the board config",
                 "MISMATCH NVS sealscan/badge_key: missing"):
        assert line in run.out
    assert run.out.rstrip().endswith("FAILED: 4 problem(s)")


def test_verify_a_deployed_but_unprovisioned_device_lists_every_missing_key(deployed):
    report = json.loads(sealscan("verify", "--port", deployed.port, "--json").out)
    assert not report["ok"] and report["device_id"] is None
    assert "NVS sealscan/device_key: missing" in report["problems"]
    assert not [p for p in report["problems"] if not p.startswith("NVS")]


def test_clean_provisioned_device_audits_clean(provisioned):
    run = sealscan("audit", "--repl", "--port", provisioned.port, "--sim-state",
                   provisioned.state)
    assert run.code == 0, run.text
    assert run.out.rstrip().endswith("clean")
    assert "NVS sealscan: badge_key, carrier," in run.out
    without_state = json.loads(sealscan("audit", "--repl", "--port", provisioned.port,
                                        "--json").out)
    # esp32.Partition reads the nvs partition on the simulator as on a board: listed too
    assert without_state["clean"] and without_state["nvs_listed"]
    assert "device_key" in without_state["nvs"]["sealscan"]


def test_audit_flags_planted_files_keys_and_records_masked(provisioned):
    provisioned.exec(
        "import os, esp32\n"
        "def w(name, data):\n with open(name, 'wb') as f:\n  f.write(data)\n"
        f"w('/scanlog.txt', b't=1 id={CANARY_ID} tel={CANARY_PHONE}\\n')\n"
        "os.mkdir('/lib')\n"
        f"w('/lib/cache.bin', b'\\x00\\x01{CANARY_S10}\\xff')\n"
        f"w('/main.py', b'import app\\napp.main()\\n# {CANARY_TOKEN}\\n')\n"
        f"esp32.NVS('sealscan').set_blob('last_scan', b'{CANARY_ID}')\n"
        "esp32.NVS('cache').set_i32('n', 5)\n"
        f"w('/call-{CANARY_PHONE}.log', b'empty')\n")

    run = sealscan("audit", "--repl", "--port", provisioned.port, "--sim-state",
                   provisioned.state)
    assert run.code == 1, run.text
    for line in ("FLAG /scanlog.txt: not in the device contract (docs/device.md)",
                 "FLAG /lib: not in the device contract (docs/device.md)",
                 "FLAG /lib/cache.bin: not in the device contract (docs/device.md)",
                 "FLAG /main.py: changed since deploy",
                 "FLAG NVS sealscan/last_scan: not in the device contract (docs/device.md)",
                 "FLAG NVS cache/n: not in the device contract (docs/device.md)",
                 "RECORD DATA fs:/scanlog.txt @7: identity number 1***************2X",
                 "RECORD DATA fs:/scanlog.txt @30: phone number 1********78",
                 "RECORD DATA fs:/lib/cache.bin @2: waybill EA*********CN",
                 "RECORD DATA fs:/main.py @24: identity token RNID1:…(28 characters)",
                 "RECORD DATA nvs:sealscan/last_scan @0: identity number",
                 "FLAG /call-1********78.log: not in the device contract (docs/device.md)",
                 "RECORD DATA name:/call-1********78.log @6: phone number 1********78"):
        assert line in run.out, line
    report = json.loads(sealscan("audit", "--repl", "--port", provisioned.port, "--sim-state",
                                 provisioned.state, "--json").out)
    assert len(report["findings"]) == 6
    # The matched data itself never appears, in any output.
    for canary in (CANARY_ID, CANARY_PHONE, CANARY_S10, CANARY_TOKEN, CANARY_TOKEN[6:]):
        assert canary not in run.text and canary not in json.dumps(report)
    device_key = nvs(provisioned)["device_key"][1:]
    assert not leaked(device_key, run.text) and not leaked(BADGE_KEY, run.text)


def test_record_scanner_needs_valid_check_characters():
    assert scan(b"11010519491231002X 440524188001010014", "x")[1].kind == "identity number"
    assert scan(b"11010519491231002Y 110105194912310021", "x") == []  # wrong check chars
    assert scan(b"EA123456784CN", "x") == []  # S10 with a wrong check digit
    assert [f.kind for f in scan(b"106141411928374657 SF1234567890123", "x")] == \
        ["waybill", "waybill"]


def _port(device, vid=None, pid=None):
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.description = vid, pid, "USB Serial"
    return info


def test_ports_names_known_bridges_and_hints():
    cp = describe(_port("/dev/ttyUSB0", 0x10C4, 0xEA60))
    assert cp.vid_pid == "10C4:EA60" and cp.likely_scanner and "CP210x" in cp.bridge
    jtag = describe(_port("/dev/ttyACM0", 0x303A, 0x1001))
    assert jtag.likely_scanner and "disappears briefly" in jtag.hint
    for vid, pid in ((0x1A86, 0x7523), (0x1A86, 0x55D4), (0x0403, 0x6001), (0x0403, 0x6015)):
        assert describe(_port("/dev/ttyUSB1", vid, pid)).likely_scanner
    other = describe(_port("/dev/ttyUSB2", 0x2341, 0x0043))
    assert not other.likely_scanner and "unknown kind" in other.hint
    assert "not a USB device" in describe(_port("/dev/ttyS0")).hint
    run = sealscan("ports", "--all", "--json")
    assert run.code == 0 and isinstance(json.loads(run.out), list)

