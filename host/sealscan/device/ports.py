"""Serial port discovery (pyserial): which port is a scanner, and what to do about it."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

# USB bridges found on ESP32 boards: (VID, PID) -> (name, hint).
KNOWN_BRIDGES: dict[tuple[int, int], tuple[str, str]] = {
    (0x10C4, 0xEA60): ("Silicon Labs CP210x", "USB-UART bridge of many ESP32 DevKitC boards"),
    (0x1A86, 0x7523): ("WCH CH340", "USB-UART bridge; some boards need the BOOT button held "
                                    "while flashing"),
    (0x1A86, 0x55D4): ("WCH CH9102", "USB-UART bridge of newer ESP32 DevKitC boards"),
    (0x0403, 0x6001): ("FTDI FT232R", "USB-UART bridge"),
    (0x0403, 0x6015): ("FTDI FT231X", "USB-UART bridge"),
    (0x303A, 0x1001): ("Espressif USB-JTAG/serial", "ESP32-S3/C3 native USB port: the port "
                                                    "disappears briefly on each reset"),
}


@dataclass(frozen=True)
class PortInfo:
    device: str
    vid_pid: str | None  # "10C4:EA60"
    bridge: str | None
    description: str
    serial_number: str | None
    likely_scanner: bool
    hint: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe(port: ListPortInfo) -> PortInfo:
    """What a listed port probably is, with a hint for the technician."""
    vid, pid = port.vid, port.pid
    known = KNOWN_BRIDGES.get((vid, pid)) if vid is not None and pid is not None else None
    if known:
        bridge, hint = known
    elif vid is not None:
        bridge, hint = None, "USB serial device of an unknown kind: probably not a scanner"
    else:
        bridge, hint = None, "not a USB device (built-in UART or a virtual port)"
    if known and not (os.access(port.device, os.R_OK | os.W_OK)):
        hint += "; permission denied: add your user to the port's group (e.g. dialout)"
    return PortInfo(
        device=port.device,
        vid_pid=f"{vid:04X}:{pid:04X}" if vid is not None and pid is not None else None,
        bridge=bridge,
        description=port.description or "",
        serial_number=port.serial_number,
        likely_scanner=known is not None,
        hint=hint,
    )


def discover(include_all: bool = False) -> list[PortInfo]:
    """Serial ports, likely scanners first; without `include_all`, USB ports only."""
    ports = [describe(p) for p in list_ports.comports()]
    if not include_all:
        ports = [p for p in ports if p.vid_pid is not None]
    return sorted(ports, key=lambda p: (not p.likely_scanner, p.device))
