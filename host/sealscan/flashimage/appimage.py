"""Is the MicroPython release in a flash image the one the board file pins? esptool's own
image code reads the bootloader (at the board's offset) and the app (at the app partition):
magic, segments, checksum and the appended SHA-256 must be right and the chip id must be the
board's chip. The pin is the sha256 of the release file, which MicroPython's makeimg.py
lays out as bootloader, partition table and app with FF between them, ending with the app
image: so the pinned range is [board offset, app offset + app image length), with the data
partitions inside it (nvs, phy_init) read as FF, as the file has them. Writing the release
therefore erases NVS on a real board too.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from esptool.bin_image import LoadFirmwareImage
from esptool.targets import CHIP_DEFS
from esptool.util import FatalError

from sealscan.flashimage import FlashImageError


@dataclass(frozen=True)
class ImageCheck:
    offset: int  # where the release starts (the board's flash offset)
    app_offset: int
    app_length: int  # bytes of the app image, digest included
    sha256: str  # of [offset, app_offset + app_length)
    pin: str  # the board's pin, or "unpinned"
    problems: tuple[str, ...]

    @property
    def matches_pin(self) -> bool:
        return self.pin != "unpinned" and self.sha256 == self.pin

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "problems": list(self.problems), "matches_pin": self.matches_pin}


def _load(chip: str, data: bytes, what: str) -> tuple[object, int]:
    """esptool's image object and the image's length (digest included), or FlashImageError."""
    if data[:1] != b"\xe9":
        raise FlashImageError(f"no {what} image (magic {data[:1].hex() or 'none'}, not e9)")
    try:
        image = LoadFirmwareImage(chip, data)
    except (FatalError, RuntimeError, ValueError, OSError, IndexError) as e:
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise FlashImageError(f"malformed {what} image: {text}") from None
    except Exception as e:  # struct.error on a truncated header
        raise FlashImageError(f"malformed {what} image: {type(e).__name__}: {e}") from None
    length = getattr(image, "data_length", None)
    if length is None:
        raise FlashImageError(f"{what} image has no appended SHA-256 digest")
    problems = []
    if image.calculate_checksum() != image.checksum:
        problems.append("checksum")
    if getattr(image, "stored_digest", None) != getattr(image, "calc_digest", None):
        problems.append("SHA-256 digest")
    if image.chip_id != CHIP_DEFS[chip].IMAGE_CHIP_ID:
        problems.append(f"chip id {image.chip_id} (not {chip})")
    if problems:
        raise FlashImageError(f"{what} image is corrupt: wrong {', '.join(problems)}")
    return image, length + 32


def app_image_length(chip: str, flash: bytes | memoryview, app_offset: int, app_size: int
                     ) -> int:
    """Length of the valid app image at `app_offset`, or FlashImageError."""
    return _load(chip, bytes(flash[app_offset:app_offset + app_size]), "app")[1]


def check_release(chip: str, flash: bytes | memoryview, offset: int, app_offset: int,
                  app_size: int, pin: str, blank: tuple[tuple[int, int], ...] = ()
                  ) -> ImageCheck:
    """Check bootloader and app and hash the release range, reading the (start, end) ranges
    in `blank` (data partitions) as FF. Structural damage to the app raises FlashImageError;
    a damaged bootloader or a hash that is not the pin is a problem in the result (the dump
    is still readable)."""
    problems = []
    try:
        _load(chip, bytes(flash[offset:offset + 0x8000 - offset]), "bootloader")
    except FlashImageError as e:
        problems.append(str(e))
    length = app_image_length(chip, flash, app_offset, app_size)
    release = bytearray(flash[offset:app_offset + length])
    for lo, hi in blank:
        lo, hi = max(lo, offset) - offset, min(hi, app_offset + length) - offset
        if lo < hi:
            release[lo:hi] = b"\xff" * (hi - lo)
    digest = hashlib.sha256(release).hexdigest()
    if pin == "unpinned":
        problems.append("the board pins no image hash (sha256 = \"unpinned\")")
    elif digest != pin:
        problems.append(f"release sha256 {digest} is not the board's pin {pin}")
    return ImageCheck(offset, app_offset, length, digest, pin, tuple(problems))
