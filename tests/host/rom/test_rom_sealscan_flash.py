"""`sealscan flash` over esptool-as-a-library, against the simulated ROM bootloader."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from rom_helpers import ESP32_BOARD, S3_BOARD, flash_bytes

from sealscan import flashing
from sealscan.boards import BOARDS_DIR, load_board
from sealsim.rom import Faults
from sealsim.rom.images import release_image


def sealscan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sealscan", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def release(tmp_path):
    def make(board_name: str, seed: int = 1):
        board = load_board(board_name)
        data = release_image(board.chip, flash_size=board.flash_size, seed=seed)
        path = tmp_path / f"{board.name}-{seed}.bin"
        path.write_bytes(data)
        return board, path, data, hashlib.sha256(data).hexdigest()
    return make


def board_copy(tmp_path, name: str, old: str, new: str):
    """A copy of a board file with one line changed (the file name must stay the board's)."""
    text = (BOARDS_DIR / f"{name}.toml").read_text()
    assert old in text
    path = tmp_path / "depot-boards" / f"{name}.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text.replace(old, new))
    return load_board(str(path))


@pytest.mark.parametrize("board_name", [ESP32_BOARD, S3_BOARD])
def test_cli_writes_a_release_and_verifies(chips, release, board_name):
    board, path, data, digest = release(board_name)
    chip = chips(board_name)
    result = sealscan("flash", "write", "--port", chip.port, "--board", board_name,
                      "--image", str(path), "--sha256", digest, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verified"] is True and report["sha256"] == digest
    assert report["offset"] == board.flash_offset
    assert report["chip"]["mac"] == chip.mac_text and report["chip"]["chip"] == board.chip
    assert flash_bytes(chip, board.flash_offset, len(data)) == data
    assert f"baud {flashing.DEFAULT_BAUD}" in chip.events



def flash(port, board, image, *, sha256=None, before="default-reset"):
    """What `sealscan flash write` does: check the image, open the port once, write."""
    data = flashing.load_image(board, image, sha256)
    with flashing.connect(port, before=before) as esp:
        return flashing.flash_image(esp, board, image, data)

def test_cli_info_reads_the_chip(chips):
    chip = chips(S3_BOARD)
    result = sealscan("flash", "info", "--port", chip.port, "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info == {"port": chip.port, "chip": "esp32s3", "mac": chip.mac_text,
                    "description": "ESP32-S3 (QFN56) (revision v0.2)", "flash_size": 8 << 20}


def test_pinned_board_refuses_an_image_with_another_hash(chips, release, tmp_path):
    _, good_path, good, digest = release(ESP32_BOARD, seed=1)
    _, other_path, _, other_digest = release(ESP32_BOARD, seed=2)
    # The depot pinned the hash of the release it verified once.
    board = board_copy(tmp_path, ESP32_BOARD, 'sha256 = "unpinned"', f'sha256 = "{digest}"')
    chip = chips(ESP32_BOARD)
    with pytest.raises(flashing.ImageRefused, match="expected " + digest):
        flashing.load_image(board, other_path)
    # A technician's --sha256 cannot overrule the pin, even when it matches the image.
    with pytest.raises(flashing.ImageRefused, match="contradicts the pin"):
        flashing.load_image(board, other_path, sha256=other_digest)
    assert chip.events == []  # refused before anything reached the chip
    assert flash_bytes(chip, 0, 0x20000) == b"\xff" * 0x20000
    result = flash(chip.port, board, good_path)
    assert result.verified and flash_bytes(chip, 0x1000, len(good)) == good


def test_unpinned_board_needs_the_technicians_hash(chips, release):
    board, path, _, digest = release(ESP32_BOARD)
    chip = chips(ESP32_BOARD)
    result = sealscan("flash", "write", "--port", chip.port, "--board", ESP32_BOARD,
                      "--image", str(path))
    assert result.returncode == 1 and "pass --sha256" in result.stderr
    wrong = sealscan("flash", "write", "--port", chip.port, "--board", ESP32_BOARD,
                     "--image", str(path), "--sha256", "0" * 64)
    assert wrong.returncode == 1 and f"has sha256 {digest}" in wrong.stderr
    garbage = sealscan("flash", "write", "--port", chip.port, "--board", ESP32_BOARD,
                       "--image", str(path), "--sha256", "xyz")
    assert garbage.returncode == 2 and "not 64 hex digits" in garbage.stderr  # a bad flag value
    missing = sealscan("flash", "write", "--port", chip.port, "--board", ESP32_BOARD,
                       "--image", str(path) + ".nope", "--sha256", digest)
    assert missing.returncode == 3 and "cannot read image" in missing.stderr
    assert chip.events == []


def test_wrong_chip_is_detected_before_writing(chips, release):
    board, path, _, digest = release(ESP32_BOARD)
    chip = chips(ESP32_BOARD, faults=Faults(wrong_model=True))
    with pytest.raises(flashing.WrongChip, match="has an ESP32-S3, but esp32-devkitc-gm65"):
        flash(chip.port, board, path, sha256=digest)
    assert chip.flash_path.read_bytes() == b"\xff" * board.flash_size


def test_corrupted_write_is_reported_as_a_verify_failure(chips, release):
    board, path, _, digest = release(S3_BOARD)
    chip = chips(S3_BOARD, faults=Faults(corrupt_write=True))
    result = sealscan("flash", "write", "--port", chip.port, "--board", S3_BOARD,
                      "--image", str(path), "--sha256", digest)
    assert result.returncode == 1
    assert "does not read back" in result.stderr and "MD5" in result.stderr


def test_no_bootloader_on_the_port_is_a_port_error(tmp_path):
    with pytest.raises(flashing.FlashPortError, match="is the scanner plugged in"):
        with flashing.connect(str(tmp_path / "ttyUSB9")) as esp:
            flashing.identify(esp)


def test_board_whose_flash_is_bigger_than_the_chips_is_refused(chips, release, tmp_path):
    board, path, _, digest = release(ESP32_BOARD)
    big = board_copy(tmp_path, ESP32_BOARD, 'flash_size = "4MB"', 'flash_size = "16MB"')
    chip = chips(ESP32_BOARD)  # a 4 MB part
    with pytest.raises(flashing.WrongChip, match="has 4 MB of flash"):
        flash(chip.port, big, path, sha256=digest)
    assert flash_bytes(chip, 0, 0x20000) == b"\xff" * 0x20000


def test_cable_pulled_mid_write_is_a_port_error(chips, release, tmp_path):
    board, path, _, digest = release(ESP32_BOARD)
    chip = chips(ESP32_BOARD, faults=Faults(drop_after_blocks=1), link=tmp_path / "ttyUSB-x")
    with pytest.raises(flashing.FlashPortError, match="lost the connection"):
        flash(chip.port, board, path, sha256=digest, before="no-reset")
    assert "dropped" in chip.events
