"""Board files: the shipped boards pass; every malformed one gets a one-line error."""

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from sealscan import boards
from sealscan.cli import cli

DEVKITC = boards.BOARDS_DIR / "esp32-devkitc-gm65.toml"


def test_shipped_boards_load():
    found = {b.name: b for b in boards.load_all()}
    assert set(found) >= {"esp32-devkitc-gm65", "esp32s3-devkitc-st7789"}
    esp32 = found["esp32-devkitc-gm65"]
    assert esp32.chip == "esp32" and esp32.flash_offset == 0x1000 and esp32.heap_kib == 110
    s3 = found["esp32s3-devkitc-st7789"]
    assert s3.chip == "esp32s3" and s3.flash_offset == 0 and s3.display["driver"] == "st7789"


def _variant(tmp_path: Path, edit) -> Path:
    data = tomllib.loads(DEVKITC.read_text())
    edit(data)
    path = tmp_path / "esp32-devkitc-gm65.toml"
    path.write_text(_dump(data))
    return path


def _dump(data, prefix=""):
    # Minimal TOML writer for the test's flat tables (tomllib has no writer).
    lines, tables = [], []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append((k, v))
        else:
            lines.append(f"{k} = {_value(v)}")
    for k, v in tables:
        lines.append(f"[{k}]")
        lines += [f"{kk} = {_value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


def _value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace('"', '\\"') + '"'
    return repr(v)


def _set(path, value):
    def edit(d):
        *parents, last = path.split(".")
        for p in parents:
            d = d[p]
        d[last] = value
    return edit


def _delete(path):
    def edit(d):
        *parents, last = path.split(".")
        for p in parents:
            d = d[p]
        del d[last]
    return edit


@pytest.mark.parametrize("edit, field, words", [
    (_delete("chip"), "chip", "is missing"),
    (_set("chip", "esp8266"), "chip", "unknown chip"),
    (_set("heap_kib", "110"), "heap_kib", "must be an integer"),
    (_set("heap_kib", 4), "heap_kib", "outside"),
    (_set("flash_size", "3MB"), "flash_size", "must be one of"),
    (_set("firmware.offset", 0), "firmware.offset", "wrong for esp32"),
    (_set("firmware.sha256", "abc"), "firmware.sha256", "64 lowercase hex"),
    (_set("firmware.image", "micropython.elf"), "firmware.image", ".bin"),
    (_set("scan_engine.tx", 6), "scan_engine.tx", "SPI flash"),
    (_set("scan_engine.tx", 12), "scan_engine.tx", "strapping pin"),
    (_set("scan_engine.tx", 34), "scan_engine.tx", "input-only"),
    (_set("scan_engine.tx", 24), "scan_engine.tx", "does not exist"),
    (_set("scan_engine.tx", True), "scan_engine.tx", "boolean"),
    (_set("scan_engine.uart", 0), "scan_engine.uart", "not free"),
    (_set("scan_engine.baud", 12345), "scan_engine.baud", "baud"),
    (_set("scan_engine.model", "mystery"), "scan_engine.model", "unknown scan engine"),
    (_set("pins.led", 17), "pins.led", "already used by scan_engine.tx"),
    (_set("pins.laser", 13), "pins.laser", "unknown pin role"),
    (_set("display.driver", "ili9999"), "display.driver", "unknown display"),
    (_set("display.address", 0x27), "display.address", "not an SSD1306 address"),
    (_delete("display.sda"), "display.sda", "is missing"),
    (_set("name", "other-name"), "name", "must match the file name"),
    (_set("colour", "blue"), "colour", "unknown field"),
    (_set("scan_engine", 5), "scan_engine", "must be a table"),
])
def test_malformed_board_one_line_error(tmp_path, edit, field, words):
    path = _variant(tmp_path, edit)
    with pytest.raises(boards.BoardError) as err:
        boards.load_board_file(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {field}: "), message
    assert words in message


@pytest.mark.parametrize("content, words", [
    (b"chip = ", "not valid TOML"),
    (b"\xff\xfe garbage", "not UTF-8"),
])
def test_unreadable_board_file(tmp_path, content, words):
    path = tmp_path / "x.toml"
    path.write_bytes(content)
    with pytest.raises(boards.BoardError, match=words) as err:
        boards.load_board_file(path)
    assert str(err.value).startswith(f"{path}: ")


def test_unknown_board_name_lists_known():
    with pytest.raises(boards.BoardError, match="known: esp32-devkitc-gm65"):
        boards.load_board("nope")


def test_cli_check_reports_file_and_field(tmp_path):
    bad = _variant(tmp_path, _set("pins.buzzer", 7))
    result = CliRunner().invoke(cli, ["boards", "check", str(DEVKITC), str(bad)])
    assert result.exit_code == 3
    assert f"ok: {DEVKITC}" in result.output
    assert f"error: {bad}: pins.buzzer: GPIO 7 is wired to the SPI flash on esp32" in \
        result.output


def test_device_config_is_wiring_only():
    cfg = boards.load_board("esp32-devkitc-gm65").device_config()
    assert cfg["scan_engine"]["uart"] == 2 and cfg["pins"]["buzzer"] == 25
    assert "firmware" not in cfg
