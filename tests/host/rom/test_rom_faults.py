"""Each injected fault makes the unmodified esptool fail with its own error, never hang."""

from __future__ import annotations

import os
import time

from rom_helpers import ESP32_BOARD, S3_BOARD, compressible, esptool, flash_bytes, output

from sealsim.rom import Faults


def test_corrupted_block_is_caught_by_md5(chips, tmp_path):
    for loader in ([], ["--no-stub"]):
        chip = chips(S3_BOARD, f"dev{len(loader)}", faults=Faults(corrupt_write=True))
        image = compressible(0x9000, seed=2)
        path = tmp_path / "image.bin"
        path.write_bytes(image)
        result = esptool(chip.port, *loader, "write-flash", "0x10000", str(path))
        assert result.returncode != 0
        assert "MD5 of file does not match data in flash!" in output(result)
        written = flash_bytes(chip, 0x10000, len(image))
        assert written != image
        assert sum(a != b for a, b in zip(written, image, strict=True)) == 1
        assert "corrupted" in chip.events


def test_port_dropping_mid_transfer_fails_with_a_serial_error(chips, tmp_path):
    # The host uses the by-id link: once freed, /dev/pts/N may go to some other program.
    link = tmp_path / "usb-Silicon_Labs_CP2102-if00-port0"
    chip = chips(ESP32_BOARD, faults=Faults(drop_after_blocks=3), link=link)
    path = tmp_path / "image.bin"
    path.write_bytes(os.urandom(0x8000))
    result = esptool(chip.port, "--no-stub", "write-flash", "0x10000", str(path), timeout=60)
    text = output(result)
    assert result.returncode != 0
    # esptool notices the lost port, tries to reconnect, then gives up with pySerial's error.
    assert "Lost connection, retrying..." in text
    assert "A serial exception error occurred" in text
    assert "Hash of data verified" not in text
    assert "dropped" in chip.events
    # The device is gone: its by-id link is removed and the chip stops serving. (Not checked:
    # whether /dev/pts/N exists; the kernel hands freed pty numbers to the next program.)
    assert not os.path.lexists(link)
    deadline = time.monotonic() + 10
    while chip.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not chip.running


def test_port_that_comes_back_lets_esptool_recover(chips, tmp_path):
    # A flaky USB hub: the port vanishes mid-write and reappears (new pty, same by-id name).
    # esptool reconnects, uploads its stub again and rewrites the whole image.
    link = tmp_path / "usb-Silicon_Labs_CP2102-if00-port0"
    chip = chips(ESP32_BOARD, faults=Faults(drop_after_blocks=2, replug_after=0.5), link=link)
    image = compressible(0x30000, seed=9)
    path = tmp_path / "image.bin"
    path.write_bytes(image)
    result = esptool(chip.port, "write-flash", "--no-compress", "0x10000", str(path),
                     timeout=60)
    text = output(result)
    assert result.returncode == 0, text
    assert "Lost connection, retrying..." in text and "Hash of data verified." in text
    assert os.path.realpath(link) == chip.tty  # the link follows the new pty
    assert chip.events.count("stub") == 2 and "replugged" in chip.events
    assert flash_bytes(chip, 0x10000, len(image)) == image
