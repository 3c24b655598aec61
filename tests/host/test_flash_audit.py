"""`sealscan audit --dump` / `--port`: a scanner's whole flash against the device contract
and searched for record data, including what the filesystem and NVS no longer show."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from flashdump import CANARY_ID, CANARY_PHONE, CANARY_S10, DeviceFlash, pinned_board

from sealscan.cli import cli
from sealscan.device.flashaudit import audit_dump
from sealscan.flashimage.layout import TABLE_OFFSET


def run(*args):
    result = CliRunner().invoke(cli, ["audit", *map(str, args)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def device(tmp_path):
    return DeviceFlash(pinned_board(tmp_path))


def _audit(device, tmp_path, *extra):
    path = device.dump(tmp_path / "flash.bin")
    return run("--dump", path, "--board", device.board.path, *extra)


def test_a_deployed_provisioned_scanner_audits_clean(device, tmp_path):
    code, out, err = _audit(device, tmp_path)
    assert code == 0, out + err
    assert "image: sha256" in out and "= the board's pin" in out
    assert "partition vfs       0x0200000 0x0200000 (registered at boot)" in out
    assert "NVS sealscan: badge_key, carrier, config_key," in out
    assert out.rstrip().endswith("clean")
    report = json.loads(_audit(device, tmp_path, "--json")[1])
    assert report["clean"] and report["image"]["matches_pin"]
    assert not [f for f in report["files"] if not f["contract"]]


def test_a_deleted_file_with_record_data_is_found_in_its_free_block(device, tmp_path):
    device.write("/scanlog.bin", b"\0" * 5000 + f"id={CANARY_ID}".encode() + b"\0" * 5000)
    device.remove("/scanlog.bin")
    code, out, err = _audit(device, tmp_path)
    assert code == 1, out + err
    hit = [line for line in out.splitlines() if "identity number" in line]
    assert len(hit) == 1, out
    at = bytes(device.data).index(CANARY_ID.encode())
    assert hit[0] == (f"RECORD DATA [vfs] vfs block {(at - 0x200000) // 4096} (free: not in "
                      f"the current tree, old data) {at:#x}: identity number "
                      "1***************2X")
    assert CANARY_ID not in out + err


def test_an_overwritten_small_file_leaves_its_old_bytes_in_the_metadata_log(device, tmp_path):
    device.write("/notes.txt", f"tel={CANARY_PHONE} waybill={CANARY_S10}".encode())
    device.write("/notes.txt", b"nothing here")
    code, out, _ = _audit(device, tmp_path, "--json")
    report = json.loads(out)
    assert code == 1
    assert "/notes.txt: not in the device contract (docs/device.md)" in report["flagged"]
    kinds = {(f["kind"], f["partition"]) for f in report["findings"]}
    assert kinds == {("phone number", "vfs"), ("waybill", "vfs")}
    for f in report["findings"]:
        assert "metadata log" in f["where"] and f["offset"] >= 0x200000
    assert CANARY_PHONE not in out and CANARY_S10 not in out


def test_a_live_file_is_named_by_path(device, tmp_path):
    device.write("/cache.txt", f"{CANARY_ID}\n".encode())
    report = json.loads(_audit(device, tmp_path, "--json")[1])
    assert [(f["where"], f["offset"], f["kind"]) for f in report["findings"]
            if f["where"].startswith("fs:")] == [("fs:/cache.txt", 0, "identity number")]


def test_an_nvs_key_set_and_erased_is_found_with_its_entry(device, tmp_path):
    device.nvs.set_blob("sealscan", "last_scan", f"tel={CANARY_PHONE}".encode())
    device.nvs.erase_key("sealscan", "last_scan")
    code, out, _ = _audit(device, tmp_path)
    assert code == 1
    hit = [line for line in out.splitlines() if line.startswith("RECORD DATA")]
    assert len(hit) == 1 and hit[0].startswith("RECORD DATA [nvs] nvs page 0 entry ")
    assert "sealscan/last_scan (erased) 0x" in hit[0] and hit[0].endswith(
        "phone number 1********78")
    at = int(hit[0].split(") ")[1].split(":")[0], 16)
    assert bytes(device.data)[at:at + 11] == CANARY_PHONE.encode()
    assert "FLAG" not in out  # the key itself is gone; its bytes are the finding


def test_nvs_keys_outside_the_contract_are_flagged_masked(device, tmp_path):
    device.nvs.set_int("cache", f"n{CANARY_PHONE}", 5)
    code, out, _ = _audit(device, tmp_path)
    assert code == 1
    assert "FLAG NVS cache/n1********78: not in the device contract (docs/device.md)" in out


def test_an_image_that_is_not_the_pin_is_flagged(device, tmp_path):
    device.data[0x1000 + 0x100] ^= 0x01  # the bootloader: the app still parses
    code, out, _ = _audit(device, tmp_path)
    assert code == 1 and "FLAG image: bootloader image is corrupt" in out
    assert "FLAG image: release sha256" in out


@pytest.mark.parametrize("damage, message", [
    (lambda d: d[:-4096], "truncated: not a whole dump"),
    (lambda d: d + b"\xff" * 4096, "too long: not a whole dump"),
    (lambda d: d[:TABLE_OFFSET + 40] + bytes([d[TABLE_OFFSET + 40] ^ 1]) + d[TABLE_OFFSET + 41:],
     "corrupt partition table at 0x8000: MD5"),
])
def test_malformed_dumps_are_one_clear_error_and_exit_3(device, tmp_path, damage, message):
    data = damage(bytes(device.dump(tmp_path / "good.bin").read_bytes()))
    bad = tmp_path / "bad.bin"
    bad.write_bytes(data)
    code, out, err = run("--dump", bad, "--board", device.board.path)
    assert code == 3 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_corrupt_littlefs_superblock_is_unreadable_but_nvs_is_still_audited(device, tmp_path):
    device.nvs.set_blob("sealscan", "last_scan", CANARY_ID.encode())
    path = device.dump(tmp_path / "flash.bin")
    data = bytearray(path.read_bytes())
    for block in (0, 1):
        data[0x200000 + block * 4096 + 8:0x200000 + block * 4096 + 60] = b"\x5a" * 52
    path.write_bytes(data)
    code, out, err = run("--dump", path, "--board", device.board.path)
    assert code == 3 and "Traceback" not in out + err
    assert "error: vfs at 0x200000: corrupt LittleFS superblock" in err
    assert "sealscan/last_scan" in out and "identity number" in out


def test_audit_needs_a_board_and_one_source(device, tmp_path):
    path = device.dump(tmp_path / "flash.bin")
    assert run("--dump", path)[0] == 2
    assert run("--dump", path, "--port", "/dev/null", "--board", device.board.path)[0] == 2


def test_audit_of_a_4mb_dump_is_fast_enough_to_be_a_depot_step(device):
    report = audit_dump(bytes(device.data), device.board)
    assert report.clean and report.scanned_bytes > 4_000_000 - 0x10000 - 0xC000


def test_the_windowed_record_search_finds_what_a_whole_search_finds():
    import random

    from sealscan.device.records import scan

    rng = random.Random(7)
    planted = [CANARY_ID.encode(), CANARY_PHONE.encode(), CANARY_S10.encode(),
               b"106141411928374657", b"SF1234567890123", b"JDAB12345678901", b"DPK123456789012",
               b"RNID1:6BFOXN*TS0BI$ZD-PHE1BG1S+5J0", b"440524188001010014",
               b"\x83\x44\xa1\x01\x18\x1e\xa1\x05\x4d" + bytes(13) + b"\x58\x80"]
    noise = b"0123456789" * 3 + b"ABCDEFJKPSTXY:-\xff\x00 x"
    for _ in range(30):
        data = bytearray(rng.choice(noise) for _ in range(rng.randrange(50, 3000)))
        for _ in range(rng.randrange(0, 8)):
            item = rng.choice(planted)
            at = rng.randrange(0, len(data))
            data[at:at + len(item)] = item
        data = bytes(data)
        assert scan(data, "x") == scan(data, "x", whole=True)


def test_damaged_dumps_give_a_report_or_a_clear_error_never_a_crash(device):
    import random

    from sealscan.flashimage import FlashImageError

    device.write("/x.txt", f"tel={CANARY_PHONE}".encode())
    device.remove("/x.txt")
    device.fs.unmount()
    base = bytes(device.data)
    rng = random.Random(3)
    regions = [(0x1000, 0x1100), (0x8000, 0x8C00), (0x9000, 0xF000), (0x10000, 0x10100),
               (0x200000, 0x208000)]  # bootloader, table, NVS, app header, LittleFS metadata
    outcomes = set()
    for _ in range(60):
        data = bytearray(base)
        for _ in range(rng.randrange(1, 300)):
            lo, hi = rng.choice(regions)
            data[rng.randrange(lo, hi)] = rng.randrange(256)
        try:
            report = audit_dump(bytes(data), device.board)
            outcomes.add("unreadable part" if report.unreadable else "report")
        except FlashImageError as e:
            assert "\n" not in str(e)
            outcomes.add("error")
    assert outcomes == {"report", "unreadable part", "error"}
