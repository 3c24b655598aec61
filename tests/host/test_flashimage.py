"""The flash formats a scanner carries, read and written by sealscan.flashimage and checked
against the maintained tools: esp-idf-defs (ESP-IDF's partition table code),
esp-idf-nvs-partition-gen (Espressif's NVS image generator), littlefs-python, esptool."""

from __future__ import annotations

import hashlib
import io
import os
import struct

import pytest
from esp_idf_nvs_partition_gen import nvs_partition_gen as gen

from sealscan.flashimage import FlashImageError, lfs
from sealscan.flashimage.appimage import check_release
from sealscan.flashimage.layout import TABLE_OFFSET, micropython_table, read_layout
from sealscan.flashimage.nvs import BLOB_DATA, PAGE, NvsError, NvsPartition, read_nvs
from sealsim.rom.images import release_image

MB = 1 << 20


def _flash(chip: str = "esp32", size: int = 4 * MB) -> bytearray:
    flash = bytearray(b"\xff" * size)
    image = release_image(chip, flash_size=size)
    base = 0x1000 if chip == "esp32" else 0
    flash[base:base + len(image)] = image
    return flash


# ----------------------------------------------------------------- partition table -------

def test_layout_is_esp32_generic_with_the_vfs_main_c_registers():
    layout = read_layout(_flash())
    rows = [(p.label, p.offset, p.size, p.registered) for p in layout.partitions]
    assert rows == [("nvs", 0x9000, 0x6000, False), ("phy_init", 0xF000, 0x1000, False),
                    ("factory", 0x10000, 0x1F0000, False),
                    ("vfs", 0x200000, 0x200000, True)]
    assert read_layout(_flash("esp32s3", 8 * MB)).get("vfs").size == 6 * MB


def test_a_table_with_its_own_vfs_row_is_used_as_it_is():
    from esp_idf_defs.partitions import PartitionTable

    csv = ("nvs, data, nvs, 0x9000, 0x6000,\nfactory, app, factory, 0x10000, 0x1F0000,\n"
           "vfs, data, fat, 0x200000, 0x100000,\n")
    flash = _flash()
    flash[TABLE_OFFSET:TABLE_OFFSET + 0xC00] = PartitionTable.from_csv(csv).to_binary()
    vfs = read_layout(flash).get("vfs")
    assert (vfs.offset, vfs.size, vfs.registered) == (0x200000, 0x100000, False)


@pytest.mark.parametrize("damage, message", [
    (lambda f: f.__setitem__(slice(TABLE_OFFSET, TABLE_OFFSET + 0xC00), b"\xff" * 0xC00),
     "no partition table"),
    (lambda f: f.__setitem__(TABLE_OFFSET + 40, f[TABLE_OFFSET + 40] ^ 1), "MD5"),
    (lambda f: f.__setitem__(TABLE_OFFSET + 32, 0x12), "corrupt partition table"),
])
def test_damaged_partition_tables_are_one_line_errors(damage, message):
    flash = _flash()
    damage(flash)
    with pytest.raises(FlashImageError, match=message) as e:
        read_layout(flash)
    assert "\n" not in str(e.value)


def test_micropython_table_is_what_esp_idf_defs_writes_for_the_csv():
    from esp_idf_defs.partitions import PartitionTable

    table = PartitionTable.from_binary(micropython_table())
    assert [(p.name, p.offset, p.size) for p in table] == [
        ("nvs", 0x9000, 0x6000), ("phy_init", 0xF000, 0x1000), ("factory", 0x10000, 0x1F0000)]


# ----------------------------------------------------------------- NVS --------------------

def _generated(entries: list[tuple[str, str, object]], size: int = 0x6000) -> bytes:
    """An NVS partition from Espressif's generator (the size argument excludes the page the
    library keeps free, as its CLI computes it)."""
    out = io.BytesIO()
    nvs = gen.nvs_open(out, size - PAGE, gen.Page.VERSION2)
    gen.write_entry(nvs, "sealscan", "namespace", "", "")
    for key, encoding, value in entries:
        gen.write_entry(nvs, key, "data", encoding, value)
    gen.nvs_close(nvs)
    return out.getvalue()


def test_reader_reads_what_the_esp_idf_generator_writes():
    cert = os.urandom(6000)  # > one page: a blob in chunks over two pages
    image = _generated([("provisioned", "i32", "1"), ("config_serial", "i32", "-7"),
                        ("device_id", "binary", b"dev-17"), ("tls_cert", "binary", cert),
                        ("carrier", "string", "SF"), ("count", "u8", "200")])
    view = read_nvs(image)
    assert view.items() == {("sealscan", "provisioned"): 1, ("sealscan", "config_serial"): -7,
                            ("sealscan", "device_id"): b"dev-17", ("sealscan", "tls_cert"): cert,
                            ("sealscan", "carrier"): b"SF\0", ("sealscan", "count"): 200}
    assert view.keys() == {"sealscan": ["carrier", "config_serial", "count", "device_id",
                                        "provisioned", "tls_cert"]}
    assert len({e.page for e in view.entries if e.type == BLOB_DATA}) == 2
    assert all(e.crc_ok for e in view.entries) and all(p.header_ok for p in view.pages
                                                        if p.state != 0xFFFFFFFF)


def test_writer_lays_out_a_fresh_partition_byte_for_byte_as_the_generator():
    cert = os.urandom(6000)
    expected = _generated([("provisioned", "i32", "1"), ("device_id", "binary", b"dev-17"),
                           ("tls_cert", "binary", cert), ("config_serial", "i32", "3")])
    buf = bytearray(b"\xff" * 0x6000)
    nvs = NvsPartition(buf)
    nvs.set_int("sealscan", "provisioned", 1)
    nvs.set_blob("sealscan", "device_id", b"dev-17")
    nvs.set_blob("sealscan", "tls_cert", cert)
    nvs.set_int("sealscan", "config_serial", 3)
    assert bytes(buf) == expected


def test_writer_continues_a_generated_partition_and_erased_values_stay_readable():
    buf = bytearray(_generated([("device_id", "binary", b"dev-17")]))
    nvs = NvsPartition(buf)
    nvs.set_blob("sealscan", "last_scan", b"id=" + b"11010519491231002X")
    nvs.set_blob("sealscan", "device_id", b"dev-18")  # a new version, the old one erased
    assert nvs.erase_key("sealscan", "last_scan")
    view = read_nvs(buf)
    assert view.items() == {("sealscan", "device_id"): b"dev-18"}
    erased = [e for e in view.entries if e.state == "erased"]
    assert {e.key for e in erased} == {"last_scan", "device_id"}
    assert b"11010519491231002X" in b"".join(e.payload for e in erased)
    chunks = sorted(e.chunk for e in view.entries if e.type == BLOB_DATA)
    assert chunks == [0, 0, 128]  # blob versions alternate between chunk starts 0 and 128


def test_writer_reclaims_the_page_with_most_erased_entries_and_keeps_one_free():
    buf = bytearray(b"\xff" * 0x3000)  # 3 pages: the smallest read/write NVS partition
    nvs = NvsPartition(buf)
    for n in range(400):
        nvs.set_int("sealscan", "counter", n)
        nvs.set_blob("sealscan", "blob", struct.pack("<I", n) * 10)
    view = read_nvs(buf)
    assert view.items() == {("sealscan", "counter"): 399,
                            ("sealscan", "blob"): struct.pack("<I", 399) * 10}
    assert sum(1 for p in view.pages if p.state == 0xFFFFFFFF) >= 1
    assert all(e.crc_ok for e in view.entries)


def test_writer_refuses_what_does_not_fit_and_bad_keys():
    nvs = NvsPartition(bytearray(b"\xff" * 0x3000))
    with pytest.raises(NvsError, match="1-15 bytes"):
        nvs.set_int("sealscan", "k" * 16, 1)
    with pytest.raises(NvsError, match="full|no free page"):
        for n in range(40):
            nvs.set_blob("sealscan", f"k{n}", bytes(1000))


def test_reader_reports_leftovers_in_free_slots():
    buf = bytearray(_generated([("device_id", "binary", b"dev-17")]))
    view = read_nvs(buf)
    last = max(e.slot + e.span for e in view.entries if e.page == 0)
    at = 64 + 32 * last
    buf[at:at + 20] = b"tel=13812345678 ...."  # a write cut before its bitmap update
    leftover = [e for e in read_nvs(buf).entries if e.state == "leftover"]
    assert [(e.page, e.slot) for e in leftover] == [(0, last)]


# ----------------------------------------------------------------- LittleFS ---------------

def test_vfs_geometry_is_micropythons_and_deleted_data_stays_in_free_blocks():
    region = bytearray(b"\xff" * (2 * MB))
    lfs.mkfs(region)
    fs = lfs.mount(region)
    stat = fs.fs_stat()
    assert (stat.block_size, stat.block_count, stat.disk_version) == (4096, 512, 0x00020001)
    with fs.open("/main.py", "wb") as f:
        f.write(b"import app\napp.main()\n")
    with fs.open("/log.bin", "wb") as f:
        f.write(b"x" * 9000 + b"11010519491231002X" + b"y" * 3000)
    fs.mkdir("/lib")
    fs.remove("/log.bin")
    fs.unmount()
    tree = lfs.walk(region)
    assert [(e.path, e.is_dir) for e in tree.entries] == [("/lib", True), ("/main.py", False)]
    assert tree.contents == {"/main.py": b"import app\napp.main()\n"}
    block = bytes(region).index(b"11010519491231002X") // lfs.BLOCK
    assert tree.owner(block) is None  # no longer in the tree, bytes still there
    assert tree.owner(0) == lfs.META and tree.owner(1) == lfs.META


def test_an_erased_or_damaged_vfs_does_not_mount():
    region = bytearray(b"\xff" * (64 * lfs.BLOCK))
    with pytest.raises(lfs.LfsError, match="erased"):
        lfs.walk(region)
    lfs.mkfs(region)
    for block in (0, 1):  # both superblock copies
        region[block * lfs.BLOCK + 8:block * lfs.BLOCK + 40] = os.urandom(32)
    with pytest.raises(lfs.LfsError, match="corrupt LittleFS superblock"):
        lfs.walk(region)


# ----------------------------------------------------------------- app image --------------

@pytest.mark.parametrize("chip, size", [("esp32", 4 * MB), ("esp32s3", 8 * MB)])
def test_release_check_hashes_the_release_range_esptool_validates(chip, size):
    flash = _flash(chip, size)
    image = release_image(chip, flash_size=size)
    base = 0x1000 if chip == "esp32" else 0
    pin = hashlib.sha256(image).hexdigest()
    check = check_release(chip, flash, base, 0x10000, 0x1F0000, pin)
    assert check.matches_pin and check.problems == ()
    assert base + len(image) == 0x10000 + check.app_length
    assert check_release(chip, flash, base, 0x10000, 0x1F0000, "0" * 64).problems[0].startswith(
        "release sha256")
    flash[0x10000 + 100] ^= 1
    with pytest.raises(FlashImageError, match="app image is corrupt"):
        check_release(chip, flash, base, 0x10000, 0x1F0000, pin)
    flash[0x10000] = 0xFF
    with pytest.raises(FlashImageError, match="no app image"):
        check_release(chip, flash, base, 0x10000, 0x1F0000, pin)


def test_writer_leaves_an_equal_value_alone_as_the_library_does():
    buf = bytearray(b"\xff" * 0x3000)
    nvs = NvsPartition(buf)
    nvs.set_blob("sealscan", "device_id", b"dev-17")
    nvs.set_int("sealscan", "provisioned", 1)
    before = bytes(buf)
    nvs.set_blob("sealscan", "device_id", b"dev-17")
    nvs.set_int("sealscan", "provisioned", 1)
    assert bytes(buf) == before
    nvs.set_int("sealscan", "provisioned", 2)
    assert bytes(buf) != before and nvs.get_typed("sealscan", "provisioned") == (0x14, 2)
