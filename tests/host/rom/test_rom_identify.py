"""esptool identifies simulated chips as it would real ones: model, revision, MAC, flash."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from rom_helpers import ESP32_BOARD, S3_BOARD, esptool, ok, output

from sealsim.rom import Faults, RomSimError, SimulatedChip


def _mac(text: str) -> str:
    found = re.findall(r"^MAC:\s+([0-9a-f:]{17})", text, re.MULTILINE)
    assert found, text
    return found[-1]


@pytest.mark.parametrize("board, chip_type", [
    (ESP32_BOARD, "ESP32-D0WD-V3 (revision v3.1)"),
    (S3_BOARD, "ESP32-S3 (QFN56) (revision v0.2)"),
])
def test_chip_id_and_read_mac_identify_the_model_and_the_device(chips, board, chip_type):
    a = chips(board, "dev-a")
    b = chips(board, "dev-b")
    text = ok(esptool(a.port, "chip-id"))
    assert f"Chip type:          {chip_type}" in text
    assert _mac(text) == a.mac_text
    mac_a = _mac(ok(esptool(a.port, "--no-stub", "read-mac")))
    mac_b = _mac(ok(esptool(b.port, "read-mac")))
    # Each device has its own factory MAC (Espressif OUI), stable across connections.
    assert mac_a == a.mac_text and mac_b == b.mac_text and mac_a != mac_b
    assert mac_a.startswith("24:0a:c4:")
    assert _mac(ok(esptool(a.port, "read-mac"))) == mac_a


@pytest.mark.parametrize("board, device, size", [
    (ESP32_BOARD, "4016", "4MB"), (S3_BOARD, "4017", "8MB")])
def test_flash_id_reads_the_spi_flash_through_spi0(chips, board, device, size):
    chip = chips(board)
    for stub in ([], ["--no-stub"]):
        text = ok(esptool(chip.port, *stub, "flash-id"))
        assert "Manufacturer: ef" in text
        assert f"Device: {device}" in text
        assert f"Detected flash size: {size}" in text


@pytest.mark.parametrize("board, named, actual", [
    (ESP32_BOARD, "esp32", "ESP32-S3"), (S3_BOARD, "esp32s3", "ESP32")])
def test_wrong_model_is_refused_by_esptool(chips, board, named, actual):
    chip = chips(board, faults=Faults(wrong_model=True))
    result = esptool(chip.port, "--chip", named, "flash-id")
    assert result.returncode != 0
    expected = f"This chip is {actual}, not {named.upper().replace('ESP32S3', 'ESP32-S3')}"
    assert expected in output(result)
    # Autodetection reports what the chip claims to be.
    assert f"Detecting chip type... {actual}\n" in ok(esptool(chip.port, "chip-id"))


def test_stub_session_ends_with_reset_to_rom_when_port_closes(chips):
    chip = chips(ESP32_BOARD)
    first = ok(esptool(chip.port, "--after", "no-reset", "flash-id"))
    assert "Stub flasher running." in first
    # A real chip left running the stub would answer SYNC with 0; ours was reset by the close.
    second = ok(esptool(chip.port, "--after", "no-reset", "flash-id"))
    assert "Stub flasher is already running" not in second
    assert "Uploading stub flasher..." in second
    assert chip.events.count("stub") == 2 and "reset" in chip.events


def test_default_reset_on_a_pty_only_warns_and_connects(chips):
    chip = chips(S3_BOARD)
    text = ok(esptool(chip.port, "flash-id", before="default-reset"))
    assert "Detected flash size: 8MB" in text


def test_line_noise_before_connecting_is_ignored(chips):
    chip = chips(ESP32_BOARD)
    fd = os.open(chip.port, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, os.urandom(300) + b"\xc0\xdb\x00\xc0" + b"\x00\x08\x24")
    finally:
        os.close(fd)
    assert "Detected flash size: 4MB" in ok(esptool(chip.port, "flash-id"))


def test_baud_rate_is_simulated_a_host_at_the_wrong_rate_gets_no_answer(chips):
    serial = pytest.importorskip("serial")
    from sealsim.rom import slip

    chip = chips(ESP32_BOARD)
    sync = slip.encode(bytes([0, 0x08, 36, 0, 0, 0, 0, 0]) + b"\x07\x07\x12\x20" + b"\x55" * 32)
    reply = slip.encode(bytes([1, 0x08, 4, 0]) + (0x20120707).to_bytes(4, "little") + bytes(4))

    def replies(port) -> int:
        data = b""
        while chunk := port.read(4096):
            data += chunk
        return data.count(reply)

    with serial.Serial(chip.port, 115200, timeout=0.5) as port:
        port.write(sync)
        assert port.read(len(reply)) == reply  # the ROM locked on at 115200
        assert replies(port) == 7  # it answers every sync 8 times
        port.baudrate = 460800  # the chip was never told
        port.write(sync)
        # A pty has no line rate: the chip samples the port's setting when it reads, so wait
        # until it has read these bytes before switching back.
        deadline = time.monotonic() + 10
        while "garbled" not in chip.events and time.monotonic() < deadline:
            time.sleep(0.01)
        port.baudrate = 115200
        port.write(sync)
        # Only the sync sent at the chip's rate was answered (the chip answers in order).
        assert replies(port) == 8


def test_console_entry_prints_the_port_and_serves_esptool(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "sealsim.rom", "--board", S3_BOARD,
                             "--state", str(tmp_path / "dev")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/")
        assert "Detected flash size: 8MB" in ok(esptool(port, "flash-id"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0, proc.stderr.read()
    assert (tmp_path / "dev" / "flash.bin").stat().st_size == 8 << 20


def test_bad_setup_is_a_clear_error(tmp_path):
    with pytest.raises(RomSimError, match="no board named"):
        SimulatedChip("no-such-board", tmp_path / "x")
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "flash.bin").write_bytes(b"\xff" * 1024)
    with pytest.raises(RomSimError, match="flash is 4194304"):
        SimulatedChip(ESP32_BOARD, tmp_path / "y")
    result = subprocess.run([sys.executable, "-m", "sealsim.rom", "--state",
                             str(tmp_path / "y")], capture_output=True, text=True, timeout=30)
    assert result.returncode == 3 and "error:" in result.stderr
