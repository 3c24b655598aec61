"""The simulated chip paces its serial line at the baud rate (8N1: 10 bit times per byte), so
staging times measured against it are those of a real USB-UART bridge. Only lower bounds are
asserted: a busy machine can make the wire slower, never faster."""

import time

from rom_helpers import esptool, ok

from sealsim.rom import SimulatedChip

ESP32_BOARD = "esp32-devkitc-gm65"
SIZE = 0x6000  # 24 KiB read back through the stub


def _read_seconds(tmp_path, name, baud, pace):
    chip = SimulatedChip(ESP32_BOARD, tmp_path / name, pace=pace)
    chip.start()
    try:
        out = tmp_path / f"{name}.bin"
        t0 = time.monotonic()
        ok(esptool(chip.port, "--baud", str(baud), "read-flash", "0x0", hex(SIZE), str(out)))
        return time.monotonic() - t0, out.stat().st_size
    finally:
        chip.stop()
        assert chip.error is None, chip.error


def test_bytes_cross_the_wire_no_faster_than_the_baud_rate(tmp_path):
    seconds, size = _read_seconds(tmp_path, "slow", 115200, pace=True)
    assert size == SIZE
    assert seconds >= SIZE * 10 / 115200  # >= 2.1 s for the data alone
    fast, _ = _read_seconds(tmp_path, "fast", 921600, pace=True)
    assert fast >= SIZE * 10 / 921600

