"""A simulated device is its flash.bin: what esptool writes through the ROM bootloader is what
boots, LittleFS and NVS live in it in their real formats, and `sealscan audit` reads it the
same from a dump file and through the ROM."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from sealscan.cli import cli
from sealscan.device.flashaudit import audit_dump
from sealsim.rom.images import release_image

BOARD = "esp32-devkitc-gm65"
ID = "11010519491231002X"
PHONE = "13812345678"
WAYBILL = "EA123456785CN"


def esptool(port: str, *args: str) -> str:
    run = subprocess.run([sys.executable, "-m", "esptool", "--port", port, "--before",
                          "no-reset", *args], capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def write_release(dev, path, seed: int = 1) -> int:
    """esptool write-flash of a release at the board's offset, then power on; the console
    offset where that boot starts."""
    path.write_bytes(release_image("esp32", seed=seed))
    with dev.download_mode() as port:
        esptool(port, "write-flash", "0x1000", str(path))
    mark = len(dev.output)
    dev.power_on()
    return mark


def audit(*args):
    result = CliRunner().invoke(cli, ["audit", *map(str, args)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_a_new_device_boots_micropython_from_its_flash_and_formats_its_filesystem(sim_devices):
    dev = sim_devices(firmware=None)  # nothing deployed: flash holds MicroPython only
    dev.wait_for(">>> ")
    assert b"Performing initial setup" in dev.output
    assert dev.files() == {"/boot.py": dev.files()["/boot.py"]}
    assert dev.files()["/boot.py"].startswith(b"# This file is executed on every boot")
    layout = [p["label"] for p in audit_dump((dev.state / "flash.bin").read_bytes(),
                                             dev.board).partitions]
    assert layout == ["nvs", "phy_init", "factory", "vfs"]


def test_erase_flash_then_write_flash_boots_with_a_fresh_filesystem(sim_devices, tmp_path):
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n", "notes.txt": "x"})
    dev.wait_for("up")
    with dev.download_mode() as port:
        esptool(port, "erase-flash")
    mark = len(dev.output)
    dev.power_on()  # nothing to boot: the ROM says so and stays there
    dev.wait_until(lambda: dev.halted, 10, "halt")
    assert "invalid header: 0xffffffff" in dev.output[mark:].decode()
    assert not dev.running
    mark = write_release(dev, tmp_path / "micropython.bin")
    dev.wait_for(">>> ", since=mark)
    assert b"Performing initial setup" in dev.output[mark:]
    assert sorted(dev.files()) == ["/boot.py"]


@pytest.mark.parametrize("where, what", [(0x1000 + 0x200, "bootloader image is corrupt"),
                                         (0x10000 + 0x200, "app image is corrupt")])
def test_a_damaged_image_does_not_boot(sim_devices, where, what):
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    dev.power_cut()
    with open(dev.state / "flash.bin", "r+b") as f:
        f.seek(where)
        byte = f.read(1)[0]
        f.seek(where)
        f.write(bytes([byte ^ 0x40]))
    dev.power_on()
    dev.wait_until(lambda: dev.halted, 10, "halt")
    assert what in dev.halted and not dev.running


def test_write_flash_of_a_new_release_keeps_the_filesystem_and_erases_nvs(sim_devices,
                                                                        tmp_path):
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    dev.exec("import esp32\nesp32.NVS('sealscan').set_i32('provisioned', 1)")
    assert dev.nvs() == {"provisioned": 1}
    mark = write_release(dev, tmp_path / "micropython-2.bin", seed=2)
    dev.wait_for("up", since=mark)
    assert b"Performing initial setup" not in dev.output[mark:]
    assert dev.files()["/main.py"] == b"print('up')\n"
    # A MicroPython release file is FF from the partition table to the app (makeimg.py), so
    # writing it erases the nvs partition, on a board as here: reprovision after flashing.
    assert dev.nvs() == {}


def test_the_device_reads_an_nvs_partition_made_by_espressifs_generator(sim_devices):
    import io

    from esp_idf_nvs_partition_gen import nvs_partition_gen as gen

    out = io.BytesIO()
    nvs = gen.nvs_open(out, 0x6000 - 0x1000, gen.Page.VERSION2)
    gen.write_entry(nvs, "sealscan", "namespace", "", "")
    gen.write_entry(nvs, "provisioned", "data", "i32", "1")
    gen.write_entry(nvs, "tls_cert", "data", "binary", bytes(range(256)) * 20)  # 2 pages
    gen.nvs_close(nvs)
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    dev.power_cut()
    with open(dev.state / "flash.bin", "r+b") as f:
        f.seek(0x9000)
        f.write(out.getvalue())
    mark = len(dev.output)
    dev.power_on()
    dev.wait_for("up", since=mark)
    got = dev.exec("import esp32, hashlib, binascii\nn = esp32.NVS('sealscan')\n"
                   "b = bytearray(6000)\nk = n.get_blob('tls_cert', b)\n"
                   "print(n.get_i32('provisioned'), k, "
                   "binascii.hexlify(hashlib.sha256(b[:k]).digest()).decode())")
    import hashlib
    assert got.split() == ["1", "5120", hashlib.sha256(bytes(range(256)) * 20).hexdigest()]


def test_a_corrupt_filesystem_stops_the_boot_as_micropython_does(sim_devices):
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    dev.power_cut()
    part = 0x200000
    with open(dev.state / "flash.bin", "r+b") as f:
        for block in (0, 1):
            f.seek(part + block * 4096 + 8)
            f.write(b"\x5a" * 64)
    mark = len(dev.output)
    dev.power_on()
    dev.wait_for("The filesystem appears to be corrupted", since=mark)


PLANTS = {
    "deleted file": (f"with open('/scan.log', 'w') as f:\n f.write('x' * 6000 + 'id={ID}')\n"
                     "import os\nos.remove('/scan.log')", "vfs", "identity number"),
    "overwritten file": (f"with open('/n.txt', 'w') as f:\n f.write('tel={PHONE}')\n"
                         "with open('/n.txt', 'w') as f:\n f.write('nothing')",
                         "vfs", "phone number"),
    "erased NVS key": ("import esp32\nn = esp32.NVS('sealscan')\n"
                       f"n.set_blob('last', b'{WAYBILL}')\nn.commit()\nn.erase_key('last')\n"
                       "n.commit()", "nvs", "waybill"),
}


@pytest.mark.parametrize("plant", list(PLANTS))
def test_record_data_the_device_no_longer_shows_is_found_in_its_flash(sim_devices, plant):
    code, partition, kind = PLANTS[plant]
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    dev.exec(code)
    dev.power_cut()
    flash = (dev.state / "flash.bin").read_bytes()
    rc, out, err = audit("--dump", dev.state / "flash.bin", "--board", BOARD, "--json")
    report = json.loads(out)
    hits = [f for f in report["findings"] if f["kind"] == kind]
    assert rc == 1 and len(hits) == 1, out + err
    hit = hits[0]
    assert hit["partition"] == partition
    base = 0x200000 if partition == "vfs" else 0x9000
    assert base <= hit["offset"] < base + (0x200000 if partition == "vfs" else 0x6000)
    canary = {"identity number": ID, "phone number": PHONE, "waybill": WAYBILL}[kind]
    assert flash[hit["offset"]:hit["offset"] + len(canary)] == canary.encode()
    assert canary not in out and canary[2:-2] not in hit["masked"]
    if partition == "nvs":
        assert hit["where"].endswith("sealscan/last (erased)")


def test_deploy_and_provision_land_in_flash_bin_and_survive_a_power_cut(sim_devices):
    dev = sim_devices()  # the test app deployed before boot, into LittleFS
    dev.wait_for("app ready")
    dev.exec("import esp32\nn = esp32.NVS('sealscan')\nn.set_blob('device_id', b'dev-9')\n"
             "n.set_i32('provisioned', 1)\nn.commit()")
    dev.power_cut()
    assert dev.nvs() == {"device_id": b"dev-9", "provisioned": 1}
    assert "/main.py" in dev.files() and "/board.json" in dev.files()
    mark = len(dev.output)
    dev.power_on()
    dev.wait_for("app ready", since=mark)
    out = dev.exec("import esp32\nb = bytearray(16)\nn = esp32.NVS('sealscan')\n"
                   "print(bytes(b[:n.get_blob('device_id', b)]), n.get_i32('provisioned'))")
    assert out.strip() == "b'dev-9' 1"


def test_audit_through_the_rom_of_a_simulated_device_equals_the_audit_of_its_file(
        sim_devices):
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    dev.exec(PLANTS["deleted file"][0])
    with dev.download_mode() as port:
        via_port = subprocess.run([sys.executable, "-m", "sealscan", "audit", "--port", port,
                                   "--before", "no-reset", "--board", BOARD, "--baud",
                                   "921600", "--json"],
                                  capture_output=True, text=True, timeout=300)
    assert via_port.returncode == 1, via_port.stderr
    rc, via_file, _ = audit("--dump", dev.state / "flash.bin", "--board", BOARD, "--json")
    a, b = json.loads(via_port.stdout), json.loads(via_file)
    a.pop("source"), b.pop("source")
    assert a == b and any(f["kind"] == "identity number" for f in a["findings"])

