"""Flashing a scanner's MicroPython image over the ESP serial bootloader, with esptool.

The order is what keeps a depot safe: the image is checked against the board file's pinned
sha256 (or, for an `unpinned` board, the one the technician typed) before the port is even
opened; the chip is identified and compared with the board's chip before anything is
written; the flash chip must be at least as big as the board says; after writing, esptool
verifies the image by MD5 and we verify it once more, explicitly, over the whole range.

Like esptool's own commands, the functions take an open connection (`connect()` yields
esptool's `esp`); the CLI loads and checks the image, opens the port once and calls them.
Every failure is a `FlashingError` subclass whose str() is one actionable line.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import serial
from esptool import cmds as esp_cmds
from esptool.logger import log as esp_log
from esptool.targets import CHIP_DEFS
from esptool.util import FatalError, flash_size_bytes

from sealscan.boards import Board
from sealscan.errors import EXIT_INPUT, SealscanError, file_problem

ROM_BAUD = 115200
DEFAULT_BAUD = 460800  # what MicroPython's own instructions use
BEFORE_MODES = ("default-reset", "usb-reset", "no-reset")
AFTER_MODES = ("hard-reset", "no-reset")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class FlashingError(SealscanError):
    """Flashing did not happen or did not complete. str() is one line (exit 1)."""


class ImageUnreadable(FlashingError):
    """The image file is missing, unreadable, empty or too big for the board's flash."""

    exit_code = EXIT_INPUT


class ImageRefused(FlashingError):
    """The image is not the one the board file (or the technician) vouches for."""


class FlashPortError(FlashingError):
    """No bootloader could be reached on the port, or the connection was lost."""


class WrongChip(FlashingError):
    """The chip on the port is not the board's chip, or its flash is too small."""


class VerifyFailed(FlashingError):
    """What the flash holds after writing is not the image."""


@dataclass(frozen=True)
class ChipInfo:
    port: str
    chip: str  # board-file spelling: esp32, esp32s3
    description: str  # e.g. "ESP32-D0WD-V3 (revision v3.1)"
    mac: str
    flash_size: int | None  # bytes, from the flash chip's JEDEC id; None if unknown

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FlashResult:
    board: str
    image: str
    sha256: str
    offset: int
    size: int
    chip: ChipInfo
    verified: bool

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "chip": self.chip.to_dict()}


def is_sha256(text: str) -> bool:
    """Whether `text` is a sha256 as a technician may type it (64 hex digits, any case)."""
    return bool(_SHA256_RE.match(text.strip().lower()))


def expected_sha256(board: Board, given: str | None) -> str:
    """The sha256 an image for `board` must have: the board's pin, or `given` if unpinned."""
    if given is not None:
        given = given.strip().lower()
        if not _SHA256_RE.match(given):
            raise ImageRefused(f"--sha256 {given!r} is not 64 hex digits")
    if board.image_pinned:
        if given is not None and given != board.image_sha256:
            raise ImageRefused(f"--sha256 {given} contradicts the pin in {board.path}: "
                               f"{board.image_sha256}")
        return board.image_sha256
    if given is None:
        raise ImageRefused(f"board {board.name} has no pinned image hash (sha256 = "
                           "\"unpinned\"): pass --sha256 with the hash from the release page")
    return given


def load_image(board: Board, image: Path | str, sha256: str | None = None) -> bytes:
    """Read the image and check it against the expected hash and the board's flash."""
    expected = expected_sha256(board, sha256)
    path = Path(image)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ImageUnreadable(f"cannot read image {file_problem(path, e)}") from None
    if not data:
        raise ImageUnreadable(f"image {path} is empty")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ImageRefused(f"image {path} has sha256 {actual}, expected {expected}: "
                           "refusing to flash it")
    room = board.flash_size - board.flash_offset
    if len(data) > room:
        raise ImageUnreadable(f"image {path} is {len(data)} bytes; only {room} fit after "
                              f"0x{board.flash_offset:x} in {board.name}'s flash")
    return data


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def _chip_key(esp: Any) -> str:
    for key, cls in CHIP_DEFS.items():
        if cls.CHIP_NAME == esp.CHIP_NAME:
            return key
    return esp.CHIP_NAME.lower()


def _port_of(esp: Any) -> str:
    return str(esp._port.port)


@contextmanager
def connect(port: str, *, before: str = "default-reset", quiet: bool = True) -> Iterator[Any]:
    """esptool's connection to the ROM bootloader on `port` (FlashPortError if none answers),
    closed on exit; a serial error inside the block is a FlashPortError too."""
    if before not in BEFORE_MODES:
        raise FlashingError(f"unknown reset mode {before!r} (one of {', '.join(BEFORE_MODES)})")
    esp_log.set_verbosity("silent" if quiet else "auto")
    try:
        esp = esp_cmds.detect_chip(port, ROM_BAUD, before, connect_attempts=3)
    except FatalError as e:
        first = _first_line(e)
        hint = ""
        if "Permission denied" in str(e):
            hint = " (add your user to the dialout group)"
        elif "doesn't exist" in str(e) or "No such file" in str(e):
            hint = " (is the scanner plugged in? `ls /dev/ttyUSB* /dev/ttyACM*`)"
        raise FlashPortError(f"no ESP bootloader on {port}: {first}{hint}") from None
    except (serial.SerialException, OSError) as e:
        raise FlashPortError(f"cannot use {port}: {_first_line(e)}") from None
    try:
        yield esp
    except serial.SerialException as e:
        raise FlashPortError(f"lost the connection to {port}: {_first_line(e)}") from None
    finally:
        try:
            esp._port.close()
        except Exception:  # noqa: BLE001 - the port may already be gone
            pass


def _chip_info(esp: Any, port: str) -> ChipInfo:
    size_text = esp_cmds.detect_flash_size(esp)
    return ChipInfo(
        port=port,
        chip=_chip_key(esp),
        description=esp.get_chip_description(),
        mac=":".join(f"{b:02x}" for b in esp.read_mac()),
        flash_size=flash_size_bytes(size_text) if size_text else None,
    )


def identify(esp: Any) -> ChipInfo:
    """Which chip is on the connection: model, revision, MAC, flash size."""
    port = _port_of(esp)
    try:
        return _chip_info(esp, port)
    except FatalError as e:
        raise FlashPortError(f"{port}: {_first_line(e)}") from None


def _stub_session(esp: Any, board: Board, baud: int, note: str) -> Any:
    """The board's chip (WrongChip otherwise) running esptool's stub at `baud`, flash
    attached."""
    port = _port_of(esp)
    wanted = CHIP_DEFS[board.chip].CHIP_NAME
    if esp.CHIP_NAME != wanted:
        raise WrongChip(f"{port} has an {esp.CHIP_NAME}, but {board.name} is built on an "
                        f"{wanted}: wrong board file or wrong device{note}")
    try:
        esp = esp_cmds.run_stub(esp)
        if baud > ROM_BAUD:
            esp.change_baud(baud)
        esp_cmds.attach_flash(esp)
    except FatalError as e:
        raise FlashPortError(f"{port}: {_first_line(e)}") from None
    return esp


def flash_image(esp: Any, board: Board, image: Path | str, data: bytes, *,
                baud: int = DEFAULT_BAUD, after: str = "hard-reset") -> FlashResult:
    """Write `data` (load_image(board, image): checked before the port was opened) at the
    board's offset on the connection, after every check of the chip, and verify it."""
    port = _port_of(esp)
    digest = hashlib.sha256(data).hexdigest()
    if after not in AFTER_MODES:
        raise FlashingError(f"unknown reset mode {after!r} (one of {', '.join(AFTER_MODES)})")
    esp = _stub_session(esp, board, baud, "; nothing was written")
    try:
        info = _chip_info(esp, port)
    except FatalError as e:
        raise FlashPortError(f"{port}: {_first_line(e)}") from None
    if info.flash_size is not None and info.flash_size < board.flash_size:
        raise WrongChip(f"{port} has {info.flash_size >> 20} MB of flash, {board.name} "
                        f"needs {board.flash_size >> 20} MB; nothing was written")
    try:
        esp_cmds.write_flash(esp, [(board.flash_offset, data)])
    except FatalError as e:
        text = _first_line(e)
        if "MD5" in text or "flash region is empty" in text:
            raise VerifyFailed(f"{port}: written data does not read back: {text}") from None
        if "connect" in text or "serial" in text.lower():  # esptool's reconnect gave up
            raise FlashPortError(f"lost the connection to {port} while writing: {text}"
                                 ) from None
        raise FlashingError(f"{port}: writing failed: {text}") from None
    try:
        esp_cmds.verify_flash(esp, [(board.flash_offset, data)])
    except FatalError as e:
        raise VerifyFailed(f"{port}: verification after writing failed: "
                           f"{_first_line(e)}") from None
    try:
        esp_cmds.reset_chip(esp, after)
    except FatalError:
        pass  # the image is written and verified; a failed reset is not a failed flash
    return FlashResult(board=board.name, image=str(image), sha256=digest,
                       offset=board.flash_offset, size=len(data), chip=info, verified=True)


def read_whole_flash(esp: Any, board: Board, *, baud: int = DEFAULT_BAUD) -> bytes:
    """The board's whole flash, read on the connection with esptool's stub (as `esptool
    read-flash 0 SIZE`): what an auditor trusts, since the firmware on the device takes no
    part in it. The chip must be the board's chip."""
    port = _port_of(esp)
    esp = _stub_session(esp, board, baud, "")
    try:
        data = esp_cmds.read_flash(esp, 0, board.flash_size, no_progress=True)
    except FatalError as e:
        raise FlashPortError(f"{port}: reading the flash failed: {_first_line(e)}") from None
    try:
        esp_cmds.reset_chip(esp, "hard-reset")
    except FatalError:
        pass
    if not isinstance(data, bytes) or len(data) != board.flash_size:
        raise FlashPortError(f"{port}: read {len(data or b'')} bytes of {board.flash_size}")
    return data
