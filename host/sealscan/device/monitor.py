"""`sealscan monitor`: follow a scanner's console with a defensive masker in front.

The firmware already masks what it prints (docs/design.md I4); the monitor masks again, because a
depot terminal is where a firmware bug would otherwise put an identity number in front of
people. It only reads: nothing is sent to the device, so main.py keeps running.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import serial

from sealscan.device.link import PortError, check_port
from sealscan.device.records import mask_console

_MAX_LINE = 4096


def follow(port: str, emit: Callable[[str], None], *, seconds: float | None = None) -> int:
    """Print the console line by line, masked, until `seconds` pass (forever if None) or
    KeyboardInterrupt. Returns the number of lines shown."""
    check_port(port)
    try:
        ser = serial.serial_for_url(port, baudrate=115200, timeout=0.2, exclusive=True)
    except (serial.SerialException, OSError):
        raise PortError(f"{port}: cannot open the port (is another program holding it?)"
                        ) from None
    shown = 0
    buf = bytearray()
    last = time.monotonic()
    end = None if seconds is None else time.monotonic() + seconds
    try:
        while end is None or time.monotonic() < end:
            try:
                data = ser.read(256)
            except (serial.SerialException, OSError):
                raise PortError(f"{port}: the device went away") from None
            now = time.monotonic()
            if data:
                buf += data
                last = now
            while b"\n" in buf or len(buf) > _MAX_LINE:
                cut = buf.find(b"\n")
                cut = _MAX_LINE if cut < 0 else cut + 1
                line, buf[:] = bytes(buf[:cut]), buf[cut:]
                emit(mask_console(line.decode("utf-8", "replace").rstrip("\r\n")))
                shown += 1
            if buf and now - last > 0.5:  # a prompt without a newline
                emit(mask_console(buf.decode("utf-8", "replace")))
                buf.clear()
                shown += 1
    finally:
        ser.close()
    return shown
