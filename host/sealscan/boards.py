"""Board files: one TOML file per supported board (boards/*.toml), checked against a schema.

A board file says which chip the scanner is built on, which MicroPython image it runs (name,
sha256, flash offset), the heap budget the firmware must live within, and how the scan engine,
display, buzzer, LED and keys are wired. Every error names the file and the field, on one line:

    boards/x.toml: scan_engine.tx: GPIO 6 is wired to the SPI flash on esp32
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealscan.errors import EXIT_INPUT, SealscanError
from sealscan.paths import BOARDS_DIR


class BoardError(ValueError, SealscanError):
    """A board file that cannot be used. str() is one line naming file and field (exit 3)."""

    exit_code = EXIT_INPUT

    def __init__(self, path: Path | str, field_name: str, message: str):
        self.path = str(path)
        self.field = field_name
        self.message = message
        where = f"{self.path}: {field_name}: " if field_name else f"{self.path}: "
        super().__init__(where + message)


@dataclass(frozen=True)
class Chip:
    """What a board file may wire on one chip family."""

    name: str
    gpios: frozenset[int]
    input_only: frozenset[int]
    reserved: dict[int, str]  # GPIO -> why it must not be used
    flash_offset: int  # where the MicroPython release image starts
    uarts: frozenset[int]


def _r(*ranges: tuple[int, int]) -> frozenset[int]:
    return frozenset(n for lo, hi in ranges for n in range(lo, hi + 1))


CHIPS: dict[str, Chip] = {
    # ESP32 (WROOM-32E): GPIO 6-11 drive the module's SPI flash; 0, 2, 5, 12, 15 are strapping
    # pins read at reset; 34-39 are input-only without pull-ups; 20, 24, 28-31 do not exist.
    "esp32": Chip(
        name="esp32",
        gpios=_r((0, 19), (21, 23), (25, 27), (32, 39)),
        input_only=_r((34, 39)),
        reserved={
            **{n: "is wired to the SPI flash" for n in range(6, 12)},
            0: "is a strapping pin (boot mode)",
            2: "is a strapping pin (boot mode)",
            5: "is a strapping pin (SDIO timing)",
            12: "is a strapping pin (flash voltage)",
            15: "is a strapping pin (boot log)",
            1: "is UART0 TX, the USB console",
            3: "is UART0 RX, the USB console",
        },
        flash_offset=0x1000,
        uarts=frozenset({1, 2}),
    ),
    # ESP32-S3 (WROOM-1 N8R8): GPIO 26-32 drive flash, 33-37 the octal PSRAM; 0, 3, 45, 46 are
    # strapping pins; 19/20 are the native USB the console runs on; 43/44 are UART0.
    "esp32s3": Chip(
        name="esp32s3",
        gpios=_r((0, 21), (26, 48)),
        input_only=frozenset(),
        reserved={
            **{n: "is wired to the SPI flash" for n in range(26, 33)},
            **{n: "is wired to the octal PSRAM" for n in range(33, 38)},
            0: "is a strapping pin (boot mode)",
            3: "is a strapping pin (JTAG source)",
            45: "is a strapping pin (flash voltage)",
            46: "is a strapping pin (boot mode)",
            19: "is USB D- (the console)",
            20: "is USB D+ (the console)",
            43: "is UART0 TX",
            44: "is UART0 RX",
        },
        flash_offset=0x0,
        uarts=frozenset({1, 2}),
    ),
}

SCAN_ENGINES = ("gm65",)
DISPLAYS = {"ssd1306": "i2c", "st7789": "spi"}
FLASH_SIZES = {"2MB": 2 << 20, "4MB": 4 << 20, "8MB": 8 << 20, "16MB": 16 << 20}
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_IMAGE_RE = re.compile(r"^[A-Za-z0-9_.-]+\.bin$")

# Roles a GPIO can play; inputs may use input-only pins.
_OUTPUT_PINS = ("scan_engine.tx", "scan_engine.trigger", "pins.buzzer", "pins.led",
                "display.sda", "display.scl", "display.sck", "display.mosi", "display.cs",
                "display.dc", "display.rst", "display.backlight")
_INPUT_PINS = ("scan_engine.rx", "pins.key_ok", "pins.key_back")


@dataclass(frozen=True)
class Memory:
    """The board's RAM as one budget (docs/boards.md, docs/simulator.md): what the ESP-IDF heap
    offers when MicroPython starts, the share Wi-Fi/lwIP hold, and the GC heap's first area.
    The GC heap grows from the rest, and mbedTLS allocates from it too."""
    ram_kib: int           # internal RAM (or PSRAM budget) free when MicroPython starts
    wifi_kib: int          # of which Wi-Fi/lwIP hold while up
    initial_heap_kib: int  # MICROPY_GC_INITIAL_HEAP_SIZE for the chip

    @property
    def ram_bytes(self) -> int:
        return self.ram_kib * 1024

    @property
    def wifi_bytes(self) -> int:
        return self.wifi_kib * 1024

    @property
    def initial_heap_bytes(self) -> int:
        return self.initial_heap_kib * 1024

    def to_dict(self) -> dict[str, int]:
        return {"ram_kib": self.ram_kib, "wifi_kib": self.wifi_kib,
                "initial_heap_kib": self.initial_heap_kib}


@dataclass(frozen=True)
class Board:
    path: Path
    name: str
    description: str
    chip: str
    flash_size: int
    heap_kib: int
    image: str
    image_sha256: str
    flash_offset: int
    scan_engine: dict[str, Any]
    display: dict[str, Any]
    pins: dict[str, int]
    memory: Memory
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def heap_bytes(self) -> int:
        return self.heap_kib * 1024

    @property
    def image_pinned(self) -> bool:
        return self.image_sha256 != "unpinned"

    def device_config(self) -> dict[str, Any]:
        """What the firmware reads at boot (board.json on the device): wiring only."""
        return {
            "board": self.name,
            "chip": self.chip,
            "heap_kib": self.heap_kib,
            "scan_engine": dict(self.scan_engine),
            "display": dict(self.display),
            "pins": dict(self.pins),
        }

    def device_config_json(self) -> str:
        return json.dumps(self.device_config(), sort_keys=True, separators=(",", ":"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "path": str(self.path),
            "chip": self.chip,
            "flash_size": self.flash_size,
            "heap_kib": self.heap_kib,
            "memory": self.memory.to_dict(),
            "firmware": {
                "image": self.image,
                "sha256": self.image_sha256,
                "offset": self.flash_offset,
            },
            **self.device_config(),
        }


class _Reader:
    """Typed field access that raises BoardError naming the file and dotted field."""

    def __init__(self, path: Path, data: dict[str, Any]):
        self.path = path
        self.data = data

    def fail(self, name: str, message: str) -> BoardError:
        return BoardError(self.path, name, message)

    def get(self, name: str, kind: type | tuple[type, ...], *, required: bool = True) -> Any:
        node: Any = self.data
        parts = name.split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, dict):
                raise self.fail(".".join(parts[:i]), "must be a table")
            if part not in node:
                if required:
                    raise self.fail(name, "is missing")
                return None
            node = node[part]
        # bool is an int in Python; a board file saying `tx = true` is wrong, not GPIO 1.
        if isinstance(node, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(name, f"must be {_kind_name(kind)}, not a boolean")
        if not isinstance(node, kind):
            raise self.fail(name, f"must be {_kind_name(kind)}, not {type(node).__name__}"
                                  f" {node!r}"[:120])
        return node

    def table(self, name: str) -> dict[str, Any]:
        return self.get(name, dict)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {int: "an integer", str: "a string", dict: "a table", bool: "a boolean"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _check_gpio(r: _Reader, chip: Chip, name: str, pin: int, used: dict[int, str]) -> None:
    if pin not in chip.gpios:
        raise r.fail(name, f"GPIO {pin} does not exist on {chip.name}")
    if pin in chip.reserved:
        raise r.fail(name, f"GPIO {pin} {chip.reserved[pin]} on {chip.name}")
    if pin in chip.input_only and name in _OUTPUT_PINS:
        raise r.fail(name, f"GPIO {pin} is input-only on {chip.name}")
    if pin in used:
        raise r.fail(name, f"GPIO {pin} is already used by {used[pin]}")
    used[pin] = name


_TOP_KEYS = {"name", "description", "chip", "flash_size", "heap_kib", "memory", "firmware",
             "scan_engine", "display", "pins"}
_MEMORY_KEYS = {"ram_kib", "wifi_kib", "initial_heap_kib"}


def parse_board(path: Path, data: dict[str, Any]) -> Board:
    """Check one board's data (as loaded from TOML) and return the Board."""
    r = _Reader(path, data)
    for key in data:
        if key not in _TOP_KEYS:
            raise r.fail(key, f"unknown field (expected one of {', '.join(sorted(_TOP_KEYS))})")

    name = r.get("name", str)
    if not _NAME_RE.match(name):
        raise r.fail("name", "must be 1-48 characters of a-z, 0-9 and '-'")
    if name != path.stem:
        raise r.fail("name", f"{name!r} must match the file name {path.stem!r}")
    description = r.get("description", str)

    chip_name = r.get("chip", str)
    if chip_name not in CHIPS:
        raise r.fail("chip", f"unknown chip {chip_name!r} (supported: {', '.join(CHIPS)})")
    chip = CHIPS[chip_name]

    flash_size_name = r.get("flash_size", str)
    if flash_size_name not in FLASH_SIZES:
        raise r.fail("flash_size", f"must be one of {', '.join(FLASH_SIZES)}")

    heap_kib = r.get("heap_kib", int)
    if not 48 <= heap_kib <= 8192:
        raise r.fail("heap_kib", f"{heap_kib} is outside 48..8192 KiB")

    mem = r.table("memory")
    for key in mem:
        if key not in _MEMORY_KEYS:
            raise r.fail(f"memory.{key}", "unknown field "
                                          f"(expected one of {', '.join(sorted(_MEMORY_KEYS))})")
    ram_kib = r.get("memory.ram_kib", int)
    wifi_kib = r.get("memory.wifi_kib", int)
    initial_kib = r.get("memory.initial_heap_kib", int)
    if not 64 <= ram_kib <= 16384:
        raise r.fail("memory.ram_kib", f"{ram_kib} is outside 64..16384 KiB")
    if not 0 <= wifi_kib < ram_kib:
        raise r.fail("memory.wifi_kib", f"{wifi_kib} must be 0 or more and below ram_kib")
    if not 16 <= initial_kib <= ram_kib - wifi_kib:
        raise r.fail("memory.initial_heap_kib",
                     f"{initial_kib} must be 16 or more and fit in ram_kib - wifi_kib")
    memory = Memory(ram_kib=ram_kib, wifi_kib=wifi_kib, initial_heap_kib=initial_kib)

    image = r.get("firmware.image", str)
    if not _IMAGE_RE.match(image):
        raise r.fail("firmware.image", "must be a .bin file name")
    sha256 = r.get("firmware.sha256", str)
    if sha256 != "unpinned" and not _SHA256_RE.match(sha256):
        raise r.fail("firmware.sha256", "must be 64 lowercase hex digits (or \"unpinned\")")
    offset = r.get("firmware.offset", int)
    if offset != chip.flash_offset:
        raise r.fail("firmware.offset", f"0x{offset:x} is wrong for {chip.name}: MicroPython "
                                        f"images start at 0x{chip.flash_offset:x}")

    used: dict[int, str] = {}
    se = r.table("scan_engine")
    model = r.get("scan_engine.model", str)
    if model not in SCAN_ENGINES:
        raise r.fail("scan_engine.model", f"unknown scan engine {model!r}")
    uart = r.get("scan_engine.uart", int)
    if uart not in chip.uarts:
        raise r.fail("scan_engine.uart", f"UART {uart} is not free on {chip.name} "
                                         f"(use {', '.join(map(str, sorted(chip.uarts)))})")
    baud = r.get("scan_engine.baud", int)
    if baud not in (9600, 19200, 38400, 57600, 115200):
        raise r.fail("scan_engine.baud", f"{baud} is not a GM65 baud rate")
    for pin_name in ("tx", "rx", "trigger"):
        _check_gpio(r, chip, f"scan_engine.{pin_name}", r.get(f"scan_engine.{pin_name}", int),
                    used)

    disp = r.table("display")
    driver = r.get("display.driver", str)
    if driver not in DISPLAYS:
        raise r.fail("display.driver", f"unknown display {driver!r} "
                                       f"(supported: {', '.join(DISPLAYS)})")
    for dim in ("width", "height"):
        value = r.get(f"display.{dim}", int)
        if not 32 <= value <= 480:
            raise r.fail(f"display.{dim}", f"{value} is outside 32..480")
    bus_pins = ("sda", "scl") if DISPLAYS[driver] == "i2c" else (
        "sck", "mosi", "cs", "dc", "rst", "backlight")
    for pin_name in bus_pins:
        _check_gpio(r, chip, f"display.{pin_name}", r.get(f"display.{pin_name}", int), used)
    if DISPLAYS[driver] == "i2c":
        address = r.get("display.address", int)
        if address not in (0x3C, 0x3D):
            raise r.fail("display.address", f"0x{address:x} is not an SSD1306 address")

    pins = r.table("pins")
    for pin_name in ("buzzer", "led", "key_ok", "key_back"):
        _check_gpio(r, chip, f"pins.{pin_name}", r.get(f"pins.{pin_name}", int), used)
    for extra in pins:
        if extra not in ("buzzer", "led", "key_ok", "key_back"):
            raise r.fail(f"pins.{extra}", "unknown pin role")

    return Board(
        path=path, name=name, description=description, chip=chip_name,
        flash_size=FLASH_SIZES[flash_size_name], heap_kib=heap_kib, image=image,
        image_sha256=sha256, flash_offset=offset, scan_engine=dict(se), display=dict(disp),
        pins=dict(pins), memory=memory, raw=data,
    )


def load_board_file(path: Path | str) -> Board:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise BoardError(path, "", "no such board file") from None
    except UnicodeDecodeError as e:
        raise BoardError(path, "", f"not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise BoardError(path, "", e.strerror or str(e)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise BoardError(path, "", f"not valid TOML: {e}") from None
    return parse_board(path, data)


def board_paths(boards_dir: Path = BOARDS_DIR) -> list[Path]:
    return sorted(boards_dir.glob("*.toml"))


def load_board(name_or_path: str, boards_dir: Path = BOARDS_DIR) -> Board:
    """A board by name (boards/NAME.toml) or by path to a .toml file."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        return load_board_file(name_or_path)
    path = boards_dir / f"{name_or_path}.toml"
    if not path.exists():
        known = ", ".join(p.stem for p in board_paths(boards_dir)) or "none"
        raise BoardError(path, "", f"no board named {name_or_path!r} (known: {known})")
    return load_board_file(path)


def load_all(boards_dir: Path = BOARDS_DIR) -> list[Board]:
    return [load_board_file(p) for p in board_paths(boards_dir)]


DEFAULT_BOARD = "esp32-devkitc-gm65"
